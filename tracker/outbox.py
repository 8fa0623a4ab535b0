"""Who is told what: outbox rows written in the same transaction as the state change.

Recipients follow DESIGN.md's ladder: a progress request and a reminder (催办) go to the
agency's liaisons; a supervision notice (督办) to its deputy head in charge with a copy to
the supervision office; a circular (通报) to the supervision office. Each row's `key`
makes writing it idempotent; channels never decide recipients (STYLE.md #8).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    String,
    and_,
    cast,
    delete,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.orm import Session, sessionmaker

from tracker.dates.workdays import SHANGHAI
from tracker.enums import (
    ChannelKind,
    ContactRole,
    Level,
    MessageKind,
    OutboxStatus,
    RequestState,
)
from tracker.models import (
    Agency,
    Assignment,
    ChatEndpoint,
    Contact,
    ContactAddress,
    DeliveryAttempt,
    DeliveryReceipt,
    DeliveryReceiptItem,
    Indicator,
    Measure,
    OutboxMessage,
    Plan,
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
    payload: dict[str, Any] | None = None,
    key_suffix: str = "",
) -> int:
    """Write outbox rows for every request matching `request_filter` (a SQL condition).

    `payload` (the same for every row) and `key_suffix` serve notices such as 截止时间调整
    (DUE_CHANGED: key "due:{request}:r{round}:{key_suffix}:{contact}", the old and new due
    day in the suffix and the payload).

    One INSERT … SELECT per recipient group, and one more for the group's further addresses
    (ContactAddress: the same notice to each, key + ":x{address id}"); idempotent through
    the unique key. Returns the number of rows written.
    """
    groups: list[tuple[Any, ContactRole, bool]] = []
    if kind in (MessageKind.PROGRESS_REQUEST, MessageKind.PRE_DUE_REMINDER,
                MessageKind.DUE_CHANGED) or level == Level.REMINDER:
        groups.append((ProgressRequest.agency_id, ContactRole.LIAISON, False))
    elif level == Level.SUPERVISION_NOTICE:
        groups.append((ProgressRequest.agency_id, ContactRole.DEPUTY_HEAD, False))
        if supervision_office_id is not None:
            groups.append((literal(supervision_office_id), ContactRole.LIAISON, True))
    elif level == Level.CIRCULAR and supervision_office_id is not None:
        groups.append((literal(supervision_office_id), ContactRole.LIAISON, True))
    prefix = {MessageKind.PROGRESS_REQUEST: "req", MessageKind.PRE_DUE_REMINDER: "pre",
              MessageKind.DUE_CHANGED: "due"}.get(kind, "esc")
    columns = OUTBOX_COLUMNS + (["payload"] if payload is not None else [])
    total = 0
    # the further addresses are read only if any is kept (most deployments keep none): an
    # INSERT … SELECT that joins an empty table still walks the requests on SQLite
    extras = (False, True) if session.scalar(
        select(ContactAddress.id).where(ContactAddress.active.is_(True)).limit(1)) is not None \
        else (False,)
    for agency_col, role, is_copy in groups:
        key = literal(f"{prefix}:") + _s(ProgressRequest.id)
        if kind == MessageKind.PRE_DUE_REMINDER:
            # one per round and due day: an extension's new due day gets its own reminder
            key = (key + literal(":r") + _s(ProgressRequest.ladder_round) + literal(":")
                   + _s(ProgressRequest.due_on))
        elif kind == MessageKind.DUE_CHANGED:
            key = key + literal(":r") + _s(ProgressRequest.ladder_round) + literal(f":{key_suffix}")
        elif kind != MessageKind.PROGRESS_REQUEST:
            # a report returned and reopened starts a new round of the ladder
            key = key + literal(":r") + _s(ProgressRequest.ladder_round) + literal(f":{level}")
        key = key + literal(":") + _s(Contact.id)
        for extra in extras:  # the primary address, then each further one (":x{id}")
            sel = (
                select(
                    key + literal(":x") + _s(ContactAddress.id) if extra else key,
                    literal(kind.value), literal(channel.value),
                    ContactAddress.address if extra else Contact.email, Contact.name,
                    ProgressRequest.agency_id, ProgressRequest.id, Contact.id,
                    ReportingPeriod.plan_id, literal(level),
                    true() if is_copy else false(), literal(OutboxStatus.PENDING.value),
                    literal(0), literal(now, OutboxMessage.next_attempt_at.type),
                    literal(now, OutboxMessage.created_at.type),
                    *([literal(payload, OutboxMessage.payload.type)] if payload is not None
                      else []),
                )
                .select_from(ProgressRequest)
                .join(ReportingPeriod, ReportingPeriod.id == ProgressRequest.period_id)
                .join(Contact, and_(Contact.agency_id == agency_col, Contact.role == role,
                                    Contact.active.is_(True)))
                .where(request_filter)
            )
            if extra:
                sel = sel.join(ContactAddress, extra_address_join(Contact.id))
            total += insert_ignore_from_select(
                session, OutboxMessage.__table__, columns, sel  # type: ignore[arg-type]
            )
    if (kind == MessageKind.PROGRESS_REQUEST or level == Level.REMINDER) and session.scalar(
            select(ChatEndpoint.id).where(ChatEndpoint.active.is_(True)).limit(1)) is not None:
        total += _enqueue_bots_for_requests(session, request_filter, kind=kind, level=level,
                                            now=now, prefix=prefix)
    return total


def extra_address_join(contact_id: Any) -> Any:
    """Join condition: the active further email addresses (ContactAddress) of `contact_id`.
    Issue 8, item 2: every notice to a contact also goes to each of them, one row each,
    keyed as the primary row + ":x{address id}" (so `hand_over` can tell them apart)."""
    return and_(ContactAddress.contact_id == contact_id, ContactAddress.active.is_(True),
                ContactAddress.channel == ChannelKind.EMAIL.value)


# --- group bots (issue 8): what goes to an agency's liaisons also goes to its group bots ----

BOT_NOTICES = {MessageKind.REPORT_RETURNED, MessageKind.EXTENSION_DECIDED, MessageKind.WAIVED}


def _enqueue_bots_for_requests(session: Session, request_filter: Any, *, kind: MessageKind,
                               level: int, now: dt.datetime, prefix: str) -> int:
    """One row per matching request and active bot of its agency: channel = the bot's kind,
    address "bot:{id}", key as the liaison's with ":bot{id}" for the contact; no contact,
    so the digest carries no answer link (a group is not a person). One INSERT … SELECT."""
    key = literal(f"{prefix}:") + _s(ProgressRequest.id)
    if kind != MessageKind.PROGRESS_REQUEST:
        key = key + literal(":r") + _s(ProgressRequest.ladder_round) + literal(f":{level}")
    sel = (
        select(
            key + literal(":bot") + _s(ChatEndpoint.id), literal(kind.value), ChatEndpoint.kind,
            literal("bot:") + _s(ChatEndpoint.id), ChatEndpoint.name, ProgressRequest.agency_id,
            ProgressRequest.id, literal(None, OutboxMessage.contact_id.type),
            ReportingPeriod.plan_id, literal(level), false(), literal(OutboxStatus.PENDING.value),
            literal(0), literal(now, OutboxMessage.next_attempt_at.type),
            literal(now, OutboxMessage.created_at.type),
        )
        .select_from(ProgressRequest)
        .join(ReportingPeriod, ReportingPeriod.id == ProgressRequest.period_id)
        .join(ChatEndpoint, and_(ChatEndpoint.agency_id == ProgressRequest.agency_id,
                                 ChatEndpoint.active.is_(True)))
        .where(request_filter)
    )
    return insert_ignore_from_select(
        session, OutboxMessage.__table__, OUTBOX_COLUMNS, sel  # type: ignore[arg-type]
    )


def _bot_rows(session: Session, *, agency_id: int, key_prefix: str, kind: MessageKind,
              payload: dict[str, Any], now: dt.datetime, request_id: int | None,
              plan_id: int | None) -> list[dict[str, Any]]:
    bots = session.execute(select(ChatEndpoint.id, ChatEndpoint.kind, ChatEndpoint.name).where(
        ChatEndpoint.agency_id == agency_id, ChatEndpoint.active.is_(True))).all()
    return [dict(key=f"{key_prefix}:bot{b.id}", kind=kind.value, channel=b.kind.value,
                 address=f"bot:{b.id}", recipient_name=b.name, agency_id=agency_id,
                 request_id=request_id, contact_id=None, plan_id=plan_id, level=0, is_copy=False,
                 payload=payload, status=OutboxStatus.PENDING.value, attempts=0,
                 next_attempt_at=now, created_at=now) for b in bots]


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
    """Write one outbox row per active contact of `role` at an agency, and one per further
    address of theirs (key + ":x{address id}"; issue 8, item 2); idempotent by key.

    `plan_id` names the plan the notice is about (a digest names each item's plan).
    """
    contacts = session.scalars(
        select(Contact).where(Contact.agency_id == agency_id, Contact.role == role,
                              Contact.active.is_(True))
    ).all()
    names = {c.id: c.name for c in contacts}
    # each contact's primary address, then each further one (one query for all contacts)
    targets = [(f"{key_prefix}:{c.id}", c.id, c.email) for c in contacts]
    if contacts:
        targets += [(f"{key_prefix}:{cid}:x{aid}", cid, address) for aid, cid, address in
                    session.execute(select(ContactAddress.id, ContactAddress.contact_id,
                                           ContactAddress.address)
                                    .where(ContactAddress.contact_id.in_(list(names)),
                                           extra_address_join(ContactAddress.contact_id)))]
    rows = [
        dict(key=key, kind=kind.value, channel=channel.value, address=address,
             recipient_name=names[cid], agency_id=agency_id, request_id=request_id,
             contact_id=cid, plan_id=plan_id, level=0,
             is_copy=is_copy, payload=payload, status=OutboxStatus.PENDING.value, attempts=0,
             next_attempt_at=now, created_at=now)
        for key, cid, address in targets
    ]
    if role == ContactRole.LIAISON and not is_copy and kind in BOT_NOTICES:
        rows += _bot_rows(session, agency_id=agency_id, key_prefix=key_prefix, kind=kind,
                          payload=payload, now=now, request_id=request_id, plan_id=plan_id)
    return insert_ignore_values(session, OutboxMessage.__table__, rows)  # type: ignore[arg-type]



def enqueue_to_agencies(
    session: Session,
    agency_ids: Any,
    *,
    key_prefix: str,
    kind: MessageKind,
    payload: dict[str, Any],
    now: dt.datetime,
    channel: ChannelKind,
    role: ContactRole,
    plan_id: int | None = None,
) -> int:
    """`enqueue_to_agency` for every agency of `agency_ids` (a SELECT of agency ids) at
    once: one row per active contact of `role` (key "{key_prefix}:{contact}") and one per
    further address (key + ":x{address id}"), the same payload for all; two INSERT …
    SELECT, whatever the number of agencies. No group bots (they take the notices of
    `BOT_NOTICES` only, by `enqueue_to_agency`). Idempotent by key; returns rows written."""
    total = 0
    for extra in (False, True):
        key = literal(f"{key_prefix}:") + _s(Contact.id)
        sel = (select(key + literal(":x") + _s(ContactAddress.id) if extra else key,
                      literal(kind.value), literal(channel.value),
                      ContactAddress.address if extra else Contact.email, Contact.name,
                      Contact.agency_id, literal(None, OutboxMessage.request_id.type), Contact.id,
                      literal(plan_id, OutboxMessage.plan_id.type), literal(0), false(),
                      literal(OutboxStatus.PENDING.value), literal(0),
                      literal(now, OutboxMessage.next_attempt_at.type),
                      literal(now, OutboxMessage.created_at.type),
                      literal(payload, OutboxMessage.payload.type))
               .where(Contact.agency_id.in_(agency_ids), Contact.role == role.value,
                      Contact.active.is_(True)))
        if extra:
            sel = sel.join(ContactAddress, extra_address_join(Contact.id))
        total += insert_ignore_from_select(
            session, OutboxMessage.__table__, OUTBOX_COLUMNS + ["payload"],  # type: ignore[arg-type]
            sel)
    return total


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


@dataclass(frozen=True)
class DeadLetter:
    """A failed message as the desk lists it (issue 8, item 3: dead letters on the desk)."""

    id: int
    recipient: str  # name
    address: str
    kind: str  # the kind's label; a ladder rung by its level (催办, 督办, 通报)
    is_copy: bool
    plan: str | None
    agency: str | None
    item: str | None  # the measure's code and title (or the indicator's), if about a request
    request_id: int | None
    reason: str
    attempts: int
    last_attempt_at: dt.datetime | None
    status: str = "发送失败"  # the state's label


def dead_letter_count(session: Session) -> int:
    """How many messages failed for good (the desk's badge); uses the (status, due) index."""
    return int(session.scalar(select(func.count()).select_from(OutboxMessage)
                              .where(OutboxMessage.status == OutboxStatus.FAILED.value)) or 0)


def dead_letters(session: Session, *, limit: int = 100, offset: int = 0,
                 message_id: int | None = None, any_status: bool = False) -> list[DeadLetter]:
    """Failed messages, the most recently failed first, with what they were about: one
    query for the page (plan, agency, measure or indicator, last attempt's time in UTC);
    only message `message_id` when given, in whatever state with `any_status`."""
    last = (select(func.max(DeliveryAttempt.attempted_at))
            .where(DeliveryAttempt.message_id == OutboxMessage.id)
            .correlate(OutboxMessage).scalar_subquery())
    rows = session.execute(
        select(OutboxMessage, Plan.title, Agency.name, Measure.code, Measure.title,
               Indicator.code, Indicator.name, last.label("last"))
        .outerjoin(Plan, Plan.id == OutboxMessage.plan_id)
        .outerjoin(Agency, Agency.id == OutboxMessage.agency_id)
        .outerjoin(ProgressRequest, ProgressRequest.id == OutboxMessage.request_id)
        .outerjoin(Assignment, Assignment.id == ProgressRequest.assignment_id)
        .outerjoin(Measure, Measure.id == Assignment.measure_id)
        .outerjoin(Indicator, Indicator.id == ProgressRequest.indicator_id)
        .where(true() if any_status else OutboxMessage.status == OutboxStatus.FAILED.value,
               true() if message_id is None else OutboxMessage.id == message_id)
        .order_by(last.desc(), OutboxMessage.id.desc()).limit(limit).offset(offset)).all()
    out = []
    for m, plan, agency, m_code, m_title, i_code, i_name, at in rows:
        kind = MessageKind(m.kind)
        label = (Level(m.level).label if kind == MessageKind.ESCALATION and m.level in (1, 2, 3)
                 else kind.label)
        item = (f"{m_code} {m_title}" if m_code else f"{i_code} {i_name}" if i_code else None)
        out.append(DeadLetter(m.id, m.recipient_name, m.address, label, m.is_copy, plan, agency,
                              item, m.request_id, m.last_error or "（未记录原因）", m.attempts,
                              at if at is None or at.tzinfo else at.replace(tzinfo=dt.UTC),
                              OutboxStatus(m.status).label))
    return out


def requeue_by_office(session: Session, now: dt.datetime, *, actor: str,
                      message_id: int | None = None) -> int:
    """`requeue_failed` from the desk, recorded in the audit trail (who put what back, when).
    Returns how many went back in the queue (0 when none was failed any more)."""
    from tracker.models import AuditEvent

    n = requeue_failed(session, now, message_id)
    if n:
        session.add(AuditEvent(at=now, actor=actor, action="outbox_requeue",
                               object_type="outbox_message",
                               object_id=str(message_id) if message_id else "all",
                               detail={"count": n}))
    return n


def dead_letters_by_id(session: Session, message_id: int) -> list[DeadLetter]:
    """The dead letter `message_id`, as a list of one (empty if it is not failed)."""
    return dead_letters(session, limit=1, message_id=message_id)


def delivery_attempts(session: Session, message_id: int) -> list[DeliveryAttempt]:
    """Every attempt to deliver message `message_id`, oldest first (`tracker outbox show`)."""
    return list(session.scalars(select(DeliveryAttempt)
                                .where(DeliveryAttempt.message_id == message_id)
                                .order_by(DeliveryAttempt.attempted_at, DeliveryAttempt.id)))


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


# --- archiving: settled messages past their retention, kept as compact receipts ------------

# Messages whose key an enqueue may write again while their subject is live: a request's
# notice, reminder and ladder rungs (opening re-enqueues an open period's open requests; the
# sweep, a due day's open requests at each rung reached; pre_due, the open requests due
# soon), kept while the request is open or its period still opens requests; a meeting
# reminder or warning (`meet:{plan}:{year}:…`, written all year), kept until its year is
# over. A 新填报链接's key counts the liaison's earlier ones, so those are never archived.
# Every other kind is written once by a transition that cannot recur (a circular signed, an
# extension decided, a report returned, a waiver, a meeting returned, an indicator marked,
# a due day moved at a given time).
REQUEST_BOUND = (MessageKind.PROGRESS_REQUEST.value, MessageKind.PRE_DUE_REMINDER.value,
                 MessageKind.ESCALATION.value)
YEAR_BOUND = (MessageKind.MEETING_REMINDER.value, MessageKind.MEETING_WARNING.value)
NEVER_ARCHIVED = (MessageKind.NEW_LINK.value,)
ARCHIVED_STATES = (OutboxStatus.SENT, OutboxStatus.DROPPED)


def archivable(today: dt.date, year_start: dt.datetime) -> Any:
    """SQL condition: an outbox row whose key no enqueue can write again (see
    REQUEST_BOUND above): a request-bound notice whose request is no longer open and whose
    period's due day is before `today`; a meeting notice queued before `year_start`;
    never a 新填报链接; any other kind. `today` is the local date (Asia/Shanghai),
    `year_start` the aware start of its year there."""
    closed = (select(ProgressRequest.id)
              .join(ReportingPeriod, ReportingPeriod.id == ProgressRequest.period_id)
              .where(ProgressRequest.id == OutboxMessage.request_id,
                     ProgressRequest.state != RequestState.OPEN.value,
                     ReportingPeriod.due_on < today)
              .exists())
    return and_(OutboxMessage.kind.not_in(NEVER_ARCHIVED),
                or_(OutboxMessage.kind.not_in(REQUEST_BOUND + YEAR_BOUND),
                    and_(OutboxMessage.kind.in_(REQUEST_BOUND), closed),
                    and_(OutboxMessage.kind.in_(YEAR_BOUND),
                         OutboxMessage.created_at < literal(year_start,
                                                            OutboxMessage.created_at.type))))


@dataclass
class ArchiveResult:
    """What an archiving run did: messages archived, receipts written, batches read."""

    messages: int = 0
    receipts: int = 0
    batches: int = 0


@dataclass(frozen=True)
class _Position:
    """Where a pass over one state stands in the (status, next_attempt_at) index."""

    at: dt.datetime
    id: int


# the columns a receipt keeps of a message and of one of its attempts (DeliveryReceipt)
_MESSAGE_PART = ("status", "kind", "level", "is_copy", "channel", "address", "recipient_name",
                 "plan_id", "agency_id")
_ATTEMPT_PART = ("digest_id", "attempted_at", "ok", "permanent", "error")


def archive_batch(session: Session, now: dt.datetime, *, status: OutboxStatus,
                  retention: dt.timedelta, limit: int = 5000,
                  after: _Position | None = None) -> tuple[int, int, _Position | None]:
    """Archive one bounded batch of settled messages (`status` SENT or DROPPED) settled
    before `now - retention` (calendar time; sent_at, or for a dropped message its last
    due time) and `archivable`: the next `limit` rows after `after` in the (status,
    next_attempt_at) index are read (never more, however many of them must stay), those
    archivable are stamped with a token (PostgreSQL: FOR UPDATE SKIP LOCKED, so two runs
    take different rows), grouped into receipts (`DeliveryReceipt`: one per attempt and
    what the item history shows), linked to their requests (`DeliveryReceiptItem`), and
    deleted with their delivery attempts. Returns (messages archived, receipts written,
    the position to continue from, or None when the pass is over). Does not commit: the
    batch is one transaction, so a crash leaves it whole or untouched.

    Source: issue 14, item 2 (archived after a retention period, their delivery evidence
    kept in a compact form); the retention is `Settings.outbox_retention_days`."""
    cutoff = now - retention
    local = now.astimezone(SHANGHAI)
    year_start = dt.datetime(local.year, 1, 1, tzinfo=SHANGHAI)
    at = literal(cutoff, OutboxMessage.next_attempt_at.type)
    in_state = and_(OutboxMessage.status == status.value, OutboxMessage.next_attempt_at < at)
    if after is not None:
        after_at = literal(after.at, OutboxMessage.next_attempt_at.type)
        in_state = and_(in_state, OutboxMessage.next_attempt_at >= after_at,
                        or_(OutboxMessage.next_attempt_at > after_at, OutboxMessage.id > after.id))
    window = (select(OutboxMessage.next_attempt_at, OutboxMessage.id).where(in_state)
              .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(limit)
              .subquery())
    edge = session.execute(select(window.c.next_attempt_at, window.c.id)
                           .order_by(window.c.next_attempt_at.desc(), window.c.id.desc())
                           .limit(1)).first()
    if edge is None:
        return 0, 0, None
    position = _Position(edge[0], edge[1])
    edge_at = literal(position.at, OutboxMessage.next_attempt_at.type)
    chosen = (select(OutboxMessage.id)
              .where(in_state, OutboxMessage.next_attempt_at <= edge_at,
                     or_(OutboxMessage.next_attempt_at < edge_at, OutboxMessage.id <= position.id),
                     func.coalesce(OutboxMessage.sent_at, OutboxMessage.next_attempt_at) < at,
                     archivable(local.date(), year_start)))
    if session.get_bind().dialect.name == "postgresql":
        chosen = chosen.with_for_update(skip_locked=True)
    token = f"archive:{uuid.uuid4().hex}"
    n = session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(chosen.scalar_subquery()))
                        .values(claim_token=token)
                        .execution_options(synchronize_session=False)).rowcount or 0  # type: ignore[attr-defined]
    if not n:
        return 0, 0, position
    mine = OutboxMessage.claim_token == token
    rows = session.execute(
        select(OutboxMessage.id, OutboxMessage.request_id, OutboxMessage.created_at,
               OutboxMessage.last_error, *(getattr(OutboxMessage, c) for c in _MESSAGE_PART),
               DeliveryAttempt.id.label("attempt_id"),
               *(getattr(DeliveryAttempt, c) for c in _ATTEMPT_PART))
        .outerjoin(DeliveryAttempt, DeliveryAttempt.message_id == OutboxMessage.id)
        .where(mine).order_by(OutboxMessage.id, DeliveryAttempt.id)).all()
    # one receipt per attempt (or per message never attempted) and what a history line shows
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    links: list[tuple[tuple[Any, ...], int, int]] = []  # (group, request, message)
    for r in sorted(rows, key=lambda r: (r.attempt_id is not None, r.attempt_id or 0, r.id)):
        reason = r.last_error if r.status == OutboxStatus.DROPPED else None
        key = (tuple(getattr(r, c) for c in _MESSAGE_PART + _ATTEMPT_PART), r.created_at, reason)
        group = groups.get(key)
        if group is None:
            group = groups[key] = dict(
                {c: getattr(r, c) for c in _MESSAGE_PART + _ATTEMPT_PART},
                permanent=bool(r.permanent), queued_at=r.created_at, reason=reason,
                messages=0, archived_at=now)
        group["messages"] += 1
        if r.request_id is not None:
            links.append((key, r.request_id, r.id))
    ids = list(session.scalars(
        insert(DeliveryReceipt).returning(DeliveryReceipt.id, sort_by_parameter_order=True),
        list(groups.values())))
    receipt_of = dict(zip(groups, ids, strict=True))
    if links:
        session.execute(insert(DeliveryReceiptItem), [
            dict(request_id=request, message_id=message, receipt_id=receipt_of[key])
            for key, request, message in links])
    session.execute(delete(DeliveryAttempt).where(
        DeliveryAttempt.message_id.in_(select(OutboxMessage.id).where(mine)))
        .execution_options(synchronize_session=False))
    session.execute(delete(OutboxMessage).where(mine).execution_options(synchronize_session=False))
    return n, len(ids), position


def archive_settled(factory: sessionmaker[Session], now: dt.datetime, *,
                    retention: dt.timedelta, limit: int = 5000,
                    max_batches: int | None = None) -> ArchiveResult:
    """Archive every settled message past its retention (`archive_batch`), sent ones then
    dropped ones, one committed transaction per batch of at most `limit` rows read; stops
    after `max_batches` batches (None: when done). Idempotent and safe to run twice or at
    once: an archived message is gone from the outbox, and concurrent runs take different
    rows. `now` is aware; `retention` in calendar time (default 90 days,
    `Settings.outbox_retention_days`)."""
    result = ArchiveResult()
    for status in ARCHIVED_STATES:
        after: _Position | None = None
        while max_batches is None or result.batches < max_batches:
            with factory() as session, session.begin():
                n, receipts, after = archive_batch(session, now, status=status,
                                                   retention=retention, limit=limit, after=after)
            if after is None:
                break  # nothing left to read in this state
            result.batches += 1
            result.messages += n
            result.receipts += receipts
    return result


def archived_count(session: Session) -> int:
    """How many sent messages were archived: each is counted by the receipt of its one
    successful attempt (or, recorded before attempts were, by its only receipt)."""
    return int(session.scalar(select(func.coalesce(func.sum(DeliveryReceipt.messages), 0))
                              .where(DeliveryReceipt.status == OutboxStatus.SENT.value,
                                     or_(DeliveryReceipt.ok.is_(True),
                                         DeliveryReceipt.attempted_at.is_(None)))) or 0)
