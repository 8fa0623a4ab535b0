"""Outbox: notifications written in the same transaction as the state change."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ColumnElement, ForeignKey, Index, String, Text, exists, text
from sqlalchemy.orm import Mapped, mapped_column

from tracker.enums import ChannelKind, MessageKind, OutboxStatus
from tracker.models.base import Base
from tracker.models.plan import enum_column

# The states the dispatcher claims from: pending (and sending, a claim state of before
# revision 0022, kept so that such a row is claimed again). Spelled
# out as SQL so that the partial indexes' condition and the claim's are the same text
# (SQLite uses a partial index only for a query that repeats its WHERE term).
DUE_STATES = (OutboxStatus.PENDING.value, OutboxStatus.SENDING.value)
DUE_SQL = "status IN ('pending', 'sending')"


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
    # the archive's batch token (tracker.outbox.archive_settled); a dispatcher's claim is
    # kept apart, in OutboxLease and OutboxClaim, and writes nothing here
    claim_token: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[dt.datetime | None]
    sent_at: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime]
    __table_args__ = (
        # every state by its time: dead letters counted, settled rows archived by age
        Index("ix_outbox_message_due", "status", "next_attempt_at"),
        # the dispatcher's claim (notifications.dispatch): the due rows in time order, and a
        # chosen recipient's due rows; partial, so they hold only the live rows, whatever
        # the number sent. A query uses them when it states DUE_SQL word for word.
        Index("ix_outbox_message_due_at", "next_attempt_at", "id",
              sqlite_where=text(DUE_SQL), postgresql_where=text(DUE_SQL)),
        Index("ix_outbox_message_due_recipient", "channel", "address",
              sqlite_where=text(DUE_SQL), postgresql_where=text(DUE_SQL)),
        # a claim's rows, and one recipient's among them (settle, renew, release); with
        # request and level, a digest's notice of one ladder rung is one seek (settle's
        # rungs-notified UPDATE: without them each rung scanned the whole digest)
        Index("ix_outbox_message_claim", "claim_token", "channel", "address", "request_id",
              "level",
              sqlite_where=text("claim_token IS NOT NULL"),
              postgresql_where=text("claim_token IS NOT NULL")),
        Index("ix_outbox_message_request_id", "request_id"),  # an item's history
    )


class OutboxLease(Base):
    """A recipient (channel, address) taken by one dispatcher batch (`token`) until `until`
    (the lease, renewed by the run's heartbeat). While it holds, no other run claims that
    recipient's messages; a crashed run's lease is taken over once it has passed. Rows
    live only while a batch is under way (notifications.dispatch, issue 14 item 2)."""

    __tablename__ = "outbox_lease"
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)  # ChannelKind's value
    address: Mapped[str] = mapped_column(String(254), primary_key=True)
    token: Mapped[str] = mapped_column(String(64), index=True)
    until: Mapped[dt.datetime]


class OutboxClaim(Base):
    """The messages one dispatcher batch (`token`) took, each under the recipient and
    notice kind of its digest: the claim as a set of its own, so that claiming writes
    narrow rows here (an UNLOGGED table on PostgreSQL) and not a second version of every
    message, and a digest's rows are exactly those read when it was rendered, whatever
    arrives for that recipient meanwhile. Emptied when the batch ends."""

    __tablename__ = "outbox_claim"
    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)  # ChannelKind's value
    address: Mapped[str] = mapped_column(String(254), primary_key=True)
    notice: Mapped[str] = mapped_column(String(32), primary_key=True)
    # no foreign key: a claimed message archived meanwhile leaves a row that matches nothing
    message_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)


def in_claim(message: Any = None) -> ColumnElement[bool]:
    """The message (OutboxMessage, or an alias of it) is listed by a dispatcher batch under
    way: it is being sent. Changes of its recipient leave it to that run, whose re-check
    just before the send drops what no longer applies."""
    return exists().where(OutboxClaim.message_id == (message or OutboxMessage).id)


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


class DeliveryReceipt(Base):
    """Compact delivery evidence of outbox messages archived after the retention period
    (`tracker.outbox.archive_settled`): one row per group of messages that shared one
    delivery attempt (digest, time, outcome) and everything an item's history shows of
    them (kind and rung, copy or not, recipient, address, channel, time queued), with how
    many messages it stands for. A group never attempted (dropped before its turn) has no
    digest and no attempt time. Which requests a receipt was about: `DeliveryReceiptItem`.
    """

    __tablename__ = "delivery_receipt"
    id: Mapped[int] = mapped_column(primary_key=True)
    digest_id: Mapped[str | None] = mapped_column(String(64))  # None: never attempted
    attempted_at: Mapped[dt.datetime | None]
    ok: Mapped[bool | None]
    permanent: Mapped[bool] = mapped_column(default=False)
    error: Mapped[str | None] = mapped_column(Text)
    status: Mapped[OutboxStatus] = mapped_column(enum_column(OutboxStatus))  # sent or dropped
    reason: Mapped[str | None] = mapped_column(Text)  # why dropped (the message's last error)
    kind: Mapped[MessageKind] = mapped_column(enum_column(MessageKind))
    level: Mapped[int] = mapped_column(default=0)
    is_copy: Mapped[bool] = mapped_column(default=False)
    channel: Mapped[ChannelKind] = mapped_column(enum_column(ChannelKind))
    address: Mapped[str] = mapped_column(String(254))
    recipient_name: Mapped[str] = mapped_column(String(200), default="")
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plan.id"))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))
    queued_at: Mapped[dt.datetime]  # the messages' created_at
    messages: Mapped[int]  # how many messages this receipt stands for
    archived_at: Mapped[dt.datetime]


class DeliveryReceiptItem(Base):
    """An archived message about a request, by the receipt(s) of its attempts: three
    integers where the message and its attempts were two rows of text. `message_id` is the
    archived message's id (no longer a row): it keeps an item history's lines in order."""

    __tablename__ = "delivery_receipt_item"
    request_id: Mapped[int] = mapped_column(ForeignKey("progress_request.id"), primary_key=True)
    message_id: Mapped[int] = mapped_column(primary_key=True)
    receipt_id: Mapped[int] = mapped_column(ForeignKey("delivery_receipt.id"), primary_key=True)
