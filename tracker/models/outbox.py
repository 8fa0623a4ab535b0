"""Outbox: notifications written in the same transaction as the state change."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tracker.enums import ChannelKind, MessageKind, OutboxStatus
from tracker.models.base import Base
from tracker.models.plan import enum_column


class OutboxMessage(Base):
    """One notification intent to one recipient; `key` makes writing it idempotent.

    Key shapes: `req:{request}:{recipient}` for a progress request,
    `esc:{request}:r{round}:{level}:{recipient}` for a ladder rung,
    `pre:{request}:r{round}:{due day}:{recipient}` for a pre-due reminder (临期提醒),
    `meet:{plan}:{year}:{government}:{kind}:{recipient}` for a meeting reminder.
    A copy to a contact's further address (ContactAddress) has its primary row's key
    followed by `:x{address id}`.
    The dispatcher groups pending messages per (channel, address) into one digest.
    """

    __tablename__ = "outbox_message"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[MessageKind] = mapped_column(enum_column(MessageKind))
    channel: Mapped[ChannelKind] = mapped_column(enum_column(ChannelKind))
    address: Mapped[str] = mapped_column(String(254))
    recipient_name: Mapped[str] = mapped_column(String(200), default="")
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))
    request_id: Mapped[int | None] = mapped_column(ForeignKey("progress_request.id"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id"))  # the recipient
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plan.id"))  # the plan it is about
    level: Mapped[int] = mapped_column(default=0)
    is_copy: Mapped[bool] = mapped_column(default=False)  # 抄送
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status: Mapped[OutboxStatus] = mapped_column(
        enum_column(OutboxStatus), default=OutboxStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime]
    # while claimed (status sending), next_attempt_at holds the end of the claim's lease
    claim_token: Mapped[str | None] = mapped_column(String(64), index=True)
    claimed_at: Mapped[dt.datetime | None]
    sent_at: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime]
    __table_args__ = (Index("ix_outbox_message_due", "status", "next_attempt_at"),)


class DeliveryAttempt(Base):
    """Every attempt to deliver a message, successful or not (one row per message)."""

    __tablename__ = "delivery_attempt"
    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("outbox_message.id"), index=True)
    digest_id: Mapped[str] = mapped_column(String(64))  # shared by the messages sent together
    attempted_at: Mapped[dt.datetime]
    ok: Mapped[bool]
    permanent: Mapped[bool] = mapped_column(default=False)
    error: Mapped[str | None] = mapped_column(Text)
