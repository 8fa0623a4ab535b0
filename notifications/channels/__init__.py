"""Delivery channels, one small module each, registered in one plain mapping."""

from __future__ import annotations

from notifications.channels.base import Attachment, Channel, DeliveryError, Digest
from notifications.channels.dingtalk import DingTalkChannel
from notifications.channels.email import EmailChannel
from notifications.channels.feishu import FeishuChannel
from notifications.channels.file import FileChannel
from notifications.channels.webhook import WebhookChannel
from notifications.channels.wecom import WeComChannel

__all__ = ["Attachment", "Channel", "DeliveryError", "DingTalkChannel", "Digest", "EmailChannel",
           "FeishuChannel", "FileChannel", "WeComChannel", "WebhookChannel"]
