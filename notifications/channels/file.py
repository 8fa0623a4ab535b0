"""Writes each digest as an .eml file in a folder (the demo's channel, and an audit copy)."""

from __future__ import annotations

import os
from pathlib import Path

from notifications.channels.base import DeliveryError, Digest
from notifications.channels.email import EmailChannel


class FileChannel:
    def __init__(self, folder: Path, sender: str = "plan-tracker@example.gov.cn"):
        self.folder = folder
        self._builder = EmailChannel("localhost", 0, sender)

    def send(self, digest: Digest) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            target = self.folder / f"{digest.digest_id}.eml"
            tmp = target.with_suffix(".tmp")
            tmp.write_bytes(bytes(self._builder.build(digest)))
            os.replace(tmp, target)  # atomic: a crash never leaves half a file
        except OSError as exc:
            raise DeliveryError(f"cannot write {self.folder}: {exc}", permanent=False) from exc
