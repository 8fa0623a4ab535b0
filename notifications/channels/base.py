"""The channel interface: `send(digest)`, raising DeliveryError(permanent=…) on failure."""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from pydantic import BaseModel, Field


class Attachment(BaseModel):
    """A file sent with a digest (the signed circular's .docx); the email carries it as a
    MIME part, channels that cannot carry files name it in the text instead."""

    filename: str  # may be Chinese: the email encodes it (RFC 2231)
    content: bytes
    media_type: str = "application/octet-stream"  # type/subtype


class Digest(BaseModel):
    """Everything one recipient gets from one dispatcher run, rendered."""

    digest_id: str  # stable for the same set of messages: a retry reuses it (Message-ID)
    address: str
    recipient_name: str
    subject: str
    body: str
    date: dt.datetime  # the dispatcher's `now`: the Date header, simulated or real
    kind: str = ""  # the notice kind (tracker.enums.NoticeKind) the digest gathers
    attachments: list[Attachment] = Field(default_factory=list)


class DeliveryError(Exception):
    """Delivery failed; `permanent` says whether retrying can help. `setup` marks a failure
    of the channel itself (server unreachable or silent, login refused): every other
    message of the run would fail the same way, so the dispatcher defers them at once."""

    def __init__(self, message: str, *, permanent: bool, setup: bool = False):
        super().__init__(message)
        self.permanent = permanent
        self.setup = setup


class Channel(Protocol):
    def send(self, digest: Digest) -> None: ...
