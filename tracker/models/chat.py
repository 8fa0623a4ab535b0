"""Group bots (群机器人) of an agency: where its notices are also posted (issue 8)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tracker.enums import ChannelKind
from tracker.models.base import Base
from tracker.models.plan import enum_column


class ChatEndpoint(Base):
    """One group bot of an agency: WeCom, DingTalk, Feishu or a generic JSON webhook.

    The token (the webhook's key / access_token / hook id, or the whole URL of a generic
    webhook) and the signing secret are stored only encrypted (Fernet, TRACKER_CHANNEL_KEY);
    `tracker.directory.bots` encrypts and decrypts them. A removed bot stays, inactive, so
    the outbox rows that name it ("bot:{id}") keep their meaning.
    """

    __tablename__ = "chat_endpoint"
    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    kind: Mapped[ChannelKind] = mapped_column(enum_column(ChannelKind))
    name: Mapped[str] = mapped_column(String(200))
    token_encrypted: Mapped[str] = mapped_column(Text)
    secret_encrypted: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime]
