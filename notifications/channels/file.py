"""Writes each digest as an .eml file in a folder (the demo's channel, and an audit copy)."""

from __future__ import annotations

import os
from email.headerregistry import Group
from email.message import EmailMessage
from pathlib import Path

from notifications.channels.base import DeliveryError, Digest
from notifications.channels.email import EmailChannel


class FileChannel:
    """One .eml file per digest. A group bot's digest (address "bot:{id}", outside
    production, TRACKER_ENV) is written too, addressed to the group by name (an RFC 5322
    group with no members) with its bot in X-Tracker-Address."""

    def __init__(self, folder: Path, sender: str = "plan-tracker@example.gov.cn"):
        self.folder = folder
        self._builder = EmailChannel("localhost", 0, sender)

    def send(self, digest: Digest) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            target = self.folder / f"{digest.digest_id}.eml"
            tmp = target.with_suffix(".tmp")
            tmp.write_bytes(bytes(self._message(digest)))
            os.replace(tmp, target)  # atomic: a crash never leaves half a file
        except OSError as exc:
            raise DeliveryError(f"cannot write {self.folder}: {exc}", permanent=False) from exc

    def _message(self, digest: Digest) -> EmailMessage:
        if "@" in digest.address:
            return self._builder.build(digest)
        msg = self._builder.build(digest.model_copy(update={"address": "bot@invalid"}))
        del msg["To"]
        msg["To"] = Group(digest.recipient_name)
        msg["X-Tracker-Address"] = digest.address
        return msg
