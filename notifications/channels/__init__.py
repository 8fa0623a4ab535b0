"""Delivery channels, one small module each, registered in one plain mapping."""

from __future__ import annotations

from notifications.channels.base import Attachment, Channel, DeliveryError, Digest
from notifications.channels.email import EmailChannel
from notifications.channels.file import FileChannel

__all__ = ["Attachment", "Channel", "DeliveryError", "Digest", "EmailChannel", "FileChannel"]
