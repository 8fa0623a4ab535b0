"""Who is told what: outbox rows written in the same transaction as the state change.

Recipients follow DESIGN.md's ladder: a progress request and a reminder (催办) go to the
agency's liaisons; a supervision notice (督办) to its deputy head in charge with a copy to
the supervision office; a circular (通报) to the supervision office. Each row's `key`
makes writing it idempotent; channels never decide recipients (STYLE.md #8).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import String, and_, cast, false, func, literal, select, true, update
from sqlalchemy.orm import Session

from tracker.enums import ChannelKind, ContactRole, Level, MessageKind, OutboxStatus
from tracker.models import (
    Contact,
    DeliveryAttempt,
    OutboxMessage,
    ProgressRequest,
    ReportingPeriod,
)
from tracker.sql import insert_ignore_from_select, insert_ignore_values

OUTBOX_COLUMNS = [
    "key", "kind", "channel", "address", "recipient_name", "agency_id", "request_id", "contact_id",
    "plan_id", "level",
    "is_copy", "status", "attempts", "next_attempt_at", "created_at",
]


def _s(col: Any) -> Any:
    return cast(col, String)


def enqueue_for_requests(
    session: Session,
    request_filter: Any,
    *,
    kind: MessageKind,
    level: int,
    now: dt.datetime,
    channel: ChannelKind,
    supervision_office_id: int | None = None,
) -> int:
    """Write outbox rows for every request matching `request_filter` (a SQL condition).

    One INSERT … SELECT per recipient group; idempotent through the unique key.
    Returns the number of rows written.
    """
    groups: list[tuple[Any, ContactRole, bool]] = []
    if kind == MessageKind.PROGRESS_REQUEST or level == Level.REMINDER:
        groups.append((ProgressRequest.agency_id, ContactRole.LIAISON, False))
    elif level == Level.SUPERVISION_NOTICE:
        groups.append((ProgressRequest.agency_id, ContactRole.DEPUTY_HEAD, False))
        if supervision_office_id is not None:
            groups.append((literal(supervision_office_id), ContactRole.LIAISON, True))
    elif level == Level.CIRCULAR and supervision_office_id is not None:
        groups.append((literal(supervision_office_id), ContactRole.LIAISON, True))
    prefix = "req" if kind == MessageKind.PROGRESS_REQUEST else "esc"
    total = 0
    for agency_col, role, is_copy in groups:
        key = literal(f"{prefix}:") + _s(ProgressRequest.id)
        if kind != MessageKind.PROGRESS_REQUEST:
            # a report returned and reopened starts a new round of the ladder
            key = key + literal(":r") + _s(ProgressRequest.ladder_round) + literal(f":{level}")
        key = key + literal(":") + _s(Contact.id)
        sel = (
            select(
                key, literal(kind.value), literal(channel.value), Contact.email, Contact.name,
                ProgressRequest.agency_id, ProgressRequest.id, Contact.id, ReportingPeriod.plan_id,
                literal(level),
                true() if is_copy else false(), literal(OutboxStatus.PENDING.value),
                literal(0), literal(now, OutboxMessage.next_attempt_at.type),
                literal(now, OutboxMessage.created_at.type),
            )
            .select_from(ProgressRequest)
            .join(ReportingPeriod, ReportingPeriod.id == ProgressRequest.period_id)
            .join(Contact, and_(Contact.agency_id == agency_col, Contact.role == role,
                                Contact.active.is_(True)))
            .where(request_filter)
        )
        total += insert_ignore_from_select(
            session, OutboxMessage.__table__, OUTBOX_COLUMNS, sel  # type: ignore[arg-type]
        )
    return total


def enqueue_to_agency(
    session: Session,
    *,
    agency_id: int,
    key_prefix: str,
    kind: MessageKind,
    payload: dict[str, Any],
    now: dt.datetime,
    channel: ChannelKind,
    role: ContactRole = ContactRole.LIAISON,
    is_copy: bool = False,
    request_id: int | None = None,
    plan_id: int | None = None,
) -> int:
    """Write one outbox row per active contact of `role` at an agency (idempotent by key).

    `plan_id` names the plan the notice is about (a digest names each item's plan).
    """
    contacts = session.scalars(
        select(Contact).where(Contact.agency_id == agency_id, Contact.role == role,
                              Contact.active.is_(True))
    ).all()
    rows = [
        dict(key=f"{key_prefix}:{c.id}", kind=kind.value, channel=channel.value, address=c.email,
             recipient_name=c.name, agency_id=agency_id, request_id=request_id, contact_id=c.id,
             plan_id=plan_id, level=0,
             is_copy=is_copy, payload=payload, status=OutboxStatus.PENDING.value, attempts=0,
             next_attempt_at=now, created_at=now)
        for c in contacts
    ]
    return insert_ignore_values(session, OutboxMessage.__table__, rows)  # type: ignore[arg-type]



def outbox_counts(session: Session) -> dict[str, int]:
    """Messages per state (待发送, 发送中, 已发送, 发送失败, 已撤销), for `tracker outbox`."""
    return {str(s): n for s, n in session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))}


def requeue_failed(session: Session, now: dt.datetime, message_id: int | None = None) -> int:
    """Put failed messages (dead letters) back in the queue once the cause is fixed: due at
    `now`, attempts reset. One message by id, or all failed ones. Returns how many.
    Does not commit; the dispatcher's next run sends them (each once, by its unique key)."""
    query = update(OutboxMessage).where(OutboxMessage.status == OutboxStatus.FAILED.value)
    if message_id is not None:
        query = query.where(OutboxMessage.id == message_id)
    return max(session.execute(query.values(
        status=OutboxStatus.PENDING.value, attempts=0, claim_token=None,
        next_attempt_at=literal(now, OutboxMessage.next_attempt_at.type))).rowcount or 0, 0)  # type: ignore[attr-defined]


def outbox_message(session: Session, message_id: int
                   ) -> tuple[OutboxMessage, list[DeliveryAttempt]] | None:
    """One outbox message and its delivery attempts, oldest first (two queries), for
    `tracker outbox show ID`; None if there is no such message."""
    msg = session.get(OutboxMessage, message_id)
    if msg is None:
        return None
    attempts = list(session.scalars(select(DeliveryAttempt)
                                    .where(DeliveryAttempt.message_id == message_id)
                                    .order_by(DeliveryAttempt.attempted_at, DeliveryAttempt.id)))
    return msg, attempts
