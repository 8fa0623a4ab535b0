"""The outbox dispatcher: claim recipients, render, re-check, send and record each digest.

Guarantees (issue 8, "Guarantees"):

- Claim before you act (STYLE.md #6): a batch leases up to `recipients` recipients
  (channel, address; one `outbox_lease` row each, until the lease's end) and lists every
  due message of theirs in `outbox_claim` under its digest (recipient and notice kind):
  two INSERT … SELECT, and not one write to a message, so a message is written once, when
  its outcome is recorded, as in the floor. A recipient's messages never split at a batch
  edge (one digest per recipient and kind per run), and a digest's rows are exactly those
  listed when it was rendered, whatever arrives for that recipient meanwhile. The
  recipients are those of the oldest due rows not leased, read in index order from a
  partial index of the live rows (`ix_outbox_message_due_at`), and their due rows are
  found through another (`ix_outbox_message_due_recipient`): a claim costs what its batch
  holds, whatever the backlog or the number ever sent, and nothing sorts every due row. On
  PostgreSQL each recipient is taken under a transaction-level advisory lock tried without
  waiting, so concurrent runs take disjoint recipients without waiting for each other. The
  run renews its leases (heartbeat), so a claim never expires while its run is alive; a
  crashed run's recipients are taken over once their lease has passed (its list dropped:
  the messages themselves are still pending).
- Each digest's outcome is committed right after the server answered, so a crash between
  send and record re-sends at most that one digest, once, with the same Message-ID
  (`digest_id` depends only on the message keys). No transaction is open while a channel
  talks to a server.
- Just before a digest is sent its rows are checked again (`digest_stale`: answered,
  waived, extended, the contact or address withdrawn since it was queued); if anything no
  longer applies, the recipient's stale rows are dropped with their reason and the rest
  goes back to the queue, rendered afresh by a later batch. That check rides on the
  previous digest's record transaction, so a digest costs one commit, as the floor's.
- What a batch reads is bounded by its recipients, not by their items: each digest's
  first `NoticeConfig.max_items` rows (TRACKER_NOTICE_MAX_ITEMS), its totals by aggregate
  (notifications/render.py). On PostgreSQL a delivered digest is recorded in one
  statement (`_sent_statement`).
- The whole run is bounded by `run_timeout` seconds of an injectable monotonic clock: at
  the limit, the rows still claimed go back to pending untouched (no attempt counted).
- Transient failures retry on a schedule spread over days (`BACKOFF`); a setup failure
  (server unreachable or silent, login refused) defers the run's other messages of that
  channel without spending their attempts; permanent refusals are dead letters (FAILED)
  with their reason, listed by `tracker outbox` and put back by `tracker outbox retry`.
- Quiet days: outside the send window (working days of the WorkCalendar, 08:30–18:00
  Asia/Shanghai by default; settings) nothing is claimed: messages wait, never dropped.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Date,
    String,
    Text,
    and_,
    bindparam,
    cast,
    delete,
    exists,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session, sessionmaker

import tracker.sql
from notifications.channels.base import Channel, DeliveryError, Digest
from notifications.render import NoticeConfig, message_rows, notice_kind_sql, render_digests
from tracker.dates.workdays import SHANGHAI, WorkCalendar
from tracker.directory.addresses import AddressError
from tracker.directory.addresses import check as check_address
from tracker.enums import ChannelKind, MessageKind, NoticeKind, OutboxStatus, RequestState
from tracker.models import (
    Contact,
    ContactAddress,
    DeliveryAttempt,
    Escalation,
    OutboxClaim,
    OutboxLease,
    OutboxMessage,
    ProgressRequest,
)
from tracker.models.outbox import DUE_STATES
from tracker.sql import refresh_statistics

# Waits after attempt 1, 2, … (then daily): 5 min, 15 min, 1 h, 3 h, 6 h, 12 h, 1 d, 1 d …
# With MAX_ATTEMPTS = 10 the retries span 3 days 22 h 20 min, so an outage of a day (or a
# long weekend of a broken mail relay) loses nothing (issue 8, "Guarantees").
BACKOFF = (dt.timedelta(minutes=5), dt.timedelta(minutes=15), dt.timedelta(hours=1),
           dt.timedelta(hours=3), dt.timedelta(hours=6), dt.timedelta(hours=12))
DAILY = dt.timedelta(days=1)
MAX_ATTEMPTS = 10
LEASE = dt.timedelta(minutes=15)


@dataclass
class DispatchResult:
    sent: int = 0  # messages
    digests: int = 0
    retrying: int = 0
    failed: int = 0
    dropped: int = 0  # no longer applied when their turn came (answered, waived, inactive)
    deferred: int = 0  # put back untouched: channel setup broken, or the run's time is up
    quiet: bool = False  # outside the send window: nothing was claimed
    timed_out: bool = False
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SendWindow:
    """When notices may go out: between `start` and `end` (Asia/Shanghai wall time) on
    working days of the calendar; `rest_days` also allows weekends and public holidays.
    `start = end = None` means any time of day. Source: issue 8 ("Quiet days"); the hours
    come from settings (TRACKER_SEND_HOURS, TRACKER_SEND_ON_REST_DAYS)."""

    start: dt.time | None = dt.time(8, 30)
    end: dt.time | None = dt.time(18, 0)
    rest_days: bool = False

    @classmethod
    def parse(cls, hours: str, rest_days: bool = False) -> SendWindow:
        """`hours` is "HH:MM-HH:MM" (start before end) or "always"/"any" for any time of
        day. Raises ValueError with a Chinese message naming the value."""
        text = hours.strip().lower()
        if text in ("always", "any", "*", "全天"):
            return cls(None, None, rest_days)
        try:
            a, b = (dt.time.fromisoformat(part.strip()) for part in text.replace("–", "-").split("-"))
        except ValueError:
            raise ValueError(f"发送时段“{hours}”格式不对（应为 HH:MM-HH:MM，如 08:30-18:00，"
                             "或 always 表示不限时段）") from None
        if not a < b:
            raise ValueError(f"发送时段“{hours}”的开始时间应早于结束时间")
        return cls(a, b, rest_days)

    def allows(self, now: dt.datetime, calendar: WorkCalendar) -> bool:
        """True when a notice may be sent at the aware instant `now`."""
        local = now.astimezone(SHANGHAI)
        if not self.rest_days and not calendar.is_workday(local.date()):
            return False
        if self.start is None or self.end is None:
            return True
        return self.start <= local.time().replace(tzinfo=None) < self.end


ANY_TIME = SendWindow(None, None, True)


def backoff(attempts: int) -> dt.timedelta:
    """Wait before the next try after `attempts` failed tries (1-based): BACKOFF, then daily."""
    return BACKOFF[attempts - 1] if 1 <= attempts <= len(BACKOFF) else DAILY


# pg_try_advisory_xact_lock(ADVISORY_SPACE, hashtext(recipient)): a recipient being claimed
ADVISORY_SPACE = 0x0D15
# rows of the due index read to choose a batch's recipients, per recipient wanted
SCAN_PER_RECIPIENT = 4


def due_state() -> ColumnElement[bool]:
    """`status IN ('pending', 'sending')` written with literals, the very condition of the
    partial indexes (models.outbox.DUE_SQL): SQLite uses a partial index only when the
    query repeats its condition, and never for bound parameters."""
    return OutboxMessage.status.in_([literal_column(f"'{state}'") for state in DUE_STATES])


def _due(now: dt.datetime) -> ColumnElement[bool]:
    """Due: pending and its time has come. A range on the partial index of the live rows."""
    return and_(due_state(), OutboxMessage.next_attempt_at <= now)


def _free() -> ColumnElement[bool]:
    """The message's recipient is not leased by a batch under way."""
    return ~exists().where(OutboxLease.channel == OutboxMessage.channel,
                           OutboxLease.address == OutboxMessage.address)


def claim_query(now: dt.datetime, scan: int):  # type: ignore[no-untyped-def]
    """The head of the queue: the recipients (channel, address) of the `scan` oldest due
    rows whose recipient no batch holds, read in the order of ix_outbox_message_due_at
    (next_attempt_at, id), so the read stops after `scan` rows. SQLite is told the index
    (INDEXED BY): without statistics its planner would rather sort the rows of the
    (status, time) index."""
    return (select(OutboxMessage.channel, OutboxMessage.address).where(_due(now), _free())
            .with_hint(OutboxMessage, "INDEXED BY ix_outbox_message_due_at", "sqlite")
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(scan))


@dataclass(frozen=True)
class Claim:
    """A batch claimed by one run: its token, how many messages it listed, the lease's end."""

    token: str
    count: int
    until: dt.datetime


def lease_statement(dialect: str, now: dt.datetime, *, recipients: int, until: dt.datetime,
                    token: str):  # type: ignore[no-untyped-def]
    """The first half of a claim (see `claim_batch`): INSERT INTO outbox_lease the distinct
    recipients of the oldest due rows not leased (`recipients` × SCAN_PER_RECIPIENT rows
    read in index order, at most `recipients` recipients), with `token` and the lease's end
    `until`. On PostgreSQL only recipients whose advisory lock was free, and ON CONFLICT DO
    NOTHING (another run's lease committed meanwhile); on SQLite (BEGIN IMMEDIATE: one
    writer at a time) the NOT EXISTS of the head suffices. `dialect`: "postgresql" or
    "sqlite"."""
    head = claim_query(now, max(recipients * SCAN_PER_RECIPIENT, 100)).cte("head")
    distinct = select(head.c.channel, head.c.address).distinct().subquery("d")
    columns = (distinct.c.channel, distinct.c.address, literal(token, String),
               literal(until, OutboxLease.until.type))
    names = ["channel", "address", "token", "until"]
    if dialect == "postgresql":
        who = (select(*columns)
               .where(func.pg_try_advisory_xact_lock(
                   ADVISORY_SPACE, func.hashtext(cast(distinct.c.channel, String) + literal(" ")
                                                 + distinct.c.address)))
               .limit(recipients))
        return (pg_insert(OutboxLease.__table__)  # type: ignore[arg-type]
                .from_select(names, who).on_conflict_do_nothing())
    return insert(OutboxLease.__table__).from_select(  # type: ignore[arg-type]
        names, select(*columns).limit(recipients))


def claim_rows_statement(now: dt.datetime, token: str):  # type: ignore[no-untyped-def]
    """The second half of a claim: INSERT INTO outbox_claim every due message of the
    recipients leased under `token`, each with its digest's notice kind (`notice_kind_sql`),
    found through the partial recipient index."""
    rows = (select(literal(token, String), OutboxMessage.channel, OutboxMessage.address,
                   notice_kind_sql(), OutboxMessage.id)
            .select_from(OutboxLease)
            .join(OutboxMessage, and_(OutboxMessage.channel == OutboxLease.channel,
                                      OutboxMessage.address == OutboxLease.address))
            .where(OutboxLease.token == token, _due(now))
            .with_hint(OutboxMessage, "INDEXED BY ix_outbox_message_due_recipient", "sqlite"))
    return insert(OutboxClaim.__table__).from_select(  # type: ignore[arg-type]
        ["token", "channel", "address", "notice", "message_id"], rows)


def expire_leases(session: Session, now: dt.datetime) -> int:
    """Leases whose end has passed (a crashed run's; a live run renews its own) are given
    up, with the lists of messages they held: those messages were never changed by the
    claim, so they are simply due again. Returns how many leases. Does not commit."""
    passed = select(OutboxLease.token).where(OutboxLease.until <= now)
    session.execute(delete(OutboxClaim).where(OutboxClaim.token.in_(passed.scalar_subquery()))
                    .execution_options(synchronize_session=False))
    return session.execute(delete(OutboxLease).where(OutboxLease.until <= now)
                           .execution_options(synchronize_session=False)
                           ).rowcount or 0  # type: ignore[attr-defined]


def claim_batch(session: Session, now: dt.datetime, *, recipients: int = 500,
                lease: dt.timedelta = LEASE) -> Claim | None:
    """Claim every due message of up to `recipients` recipients (those of the oldest due
    rows) for a fresh token, until `now + lease`: passed leases given up
    (`expire_leases`), the recipients leased (`lease_statement`) and their messages listed
    (`claim_rows_statement`); no message row is written. Returns the claim, or None if
    nothing could be claimed. Does not commit.

    `now` is aware (any zone); `lease` a duration. On PostgreSQL a recipient another run is
    claiming at the same moment is skipped (advisory lock tried, not awaited), so two runs
    never split one recipient nor wait for each other; if every head recipient was taken,
    the claim is tried again (up to 5 times) while due rows of free recipients remain.
    Source: issue 8 ("Guarantees"), issue 14 (item 2).
    """
    dialect = session.get_bind().dialect.name
    until = now + lease
    # the planner must know how many messages are due (a sweep may have queued millions
    # since the last ANALYZE): on stale statistics it joined every due message with its
    # request before keeping the listed ones
    refresh_statistics(session, OutboxMessage.__table__, 1)  # type: ignore[arg-type]
    expire_leases(session, now)
    for _ in range(5):
        token = uuid.uuid4().hex
        # counted afterwards by key: an INSERT … SELECT's rowcount is -1 through psycopg
        session.execute(lease_statement(dialect, now, recipients=recipients, until=until,
                                        token=token))
        if session.scalar(select(exists().where(OutboxLease.token == token))):
            session.execute(claim_rows_statement(now, token))
            n = session.scalar(select(func.count()).select_from(OutboxClaim)
                               .where(OutboxClaim.token == token)) or 0
            if n:
                return Claim(token, n, until)
            session.execute(delete(OutboxLease).where(OutboxLease.token == token))
        if not session.scalar(select(exists().where(_due(now), _free()))):
            return None
    return None


def claim(session: Session, now: dt.datetime, *, recipients: int = 500,
          lease: dt.timedelta = LEASE) -> str | None:
    """`claim_batch`, returning only its token (None if nothing was claimed)."""
    batch = claim_batch(session, now, recipients=recipients, lease=lease)
    return None if batch is None else batch.token


def claimed(token: Any, channel: Any = None, address: Any = None,
            notice: Any = None) -> ColumnElement[bool]:
    """The messages a batch (`token`) claimed and that are still due (not dropped or
    settled since), of one recipient (`channel`, `address`) and notice kind if given; each
    argument a value or a bound parameter. `channel` is ChannelKind's value; `notice`
    NoticeKind's."""
    listed = select(OutboxClaim.message_id).where(OutboxClaim.token == token)
    if channel is not None:
        listed = listed.where(OutboxClaim.channel == channel)
    if address is not None:
        listed = listed.where(OutboxClaim.address == address)
    if notice is not None:
        listed = listed.where(OutboxClaim.notice == notice)
    # the batch's reads (notifications.render) are driven by the list itself, by key
    still_due = tracker.sql.Unindexed(OutboxMessage.__table__.c.status).in_(  # type: ignore[attr-defined]
        [literal_column(f"'{state}'") for state in DUE_STATES])
    return and_(_M_ID.in_(listed.scalar_subquery()), still_due)


_M_ID = OutboxMessage.__table__.c.id  # type: ignore[attr-defined]


def dispatch(
    factory: sessionmaker[Session],
    channels: Mapping[ChannelKind, Channel],
    *,
    now: dt.datetime,
    calendar: WorkCalendar,
    recipients: int = 500,
    max_batches: int = 50,
    max_attempts: int = MAX_ATTEMPTS,
    lease: dt.timedelta = LEASE,
    run_timeout: float = 240.0,
    window: SendWindow | None = SendWindow(),
    clock: Callable[[], float] = time.monotonic,
    heartbeat: float | None = None,
    link_for: Callable[[Contact], str | None] | None = None,
    notices: NoticeConfig | None = None,
) -> DispatchResult:
    """Deliver due outbox messages; returns what happened.

    `now` (aware) is the time stamped on rows and digests; `clock` (seconds, monotonic)
    measures the run: no digest is started unless the channel's `timeout` (if it has one)
    still fits in `run_timeout` seconds, so a silent server cannot hold the run past it;
    at the limit the rows still claimed go back to pending untouched. The run should end well within
    `lease` (a claim's life, renewed every `heartbeat` seconds, default lease/3). Batches
    claim whole recipients (`recipients` per batch, at most `max_batches`). `window`
    (None: any time) keeps quiet days quiet: outside it nothing is claimed.
    One failing recipient never stops the run (STYLE.md #11).
    """
    result = DispatchResult()
    if window is not None and not window.allows(now, calendar):
        result.quiet = True
        return result
    today = now.astimezone(SHANGHAI).date()
    start = clock()
    beat = heartbeat if heartbeat is not None else lease.total_seconds() / 3
    for _ in range(max_batches):
        if clock() - start >= run_timeout:
            result.timed_out = True
            break
        with factory() as session, session.begin():
            batch = claim_batch(session, now, recipients=recipients, lease=lease)
        if batch is None:
            break
        token = batch.token
        settled = _accounted(result)
        # no re-check of the whole claim here: each digest is checked just before its send
        # (below), and a recipient with anything stale is dropped and given back then
        with factory() as session:
            # each digest's first `max_items` rows only; its totals by aggregate
            listed = (select(OutboxClaim.message_id).where(OutboxClaim.token == token)
                      .subquery("listed"))
            rows = message_rows(session, due_state(), drive=listed,
                                max_items=(notices or NoticeConfig()).max_items)
            digests = render_digests(rows, now=now, calendar=calendar,
                                     link_for=link_for, config=notices)
        # each digest's rows, as SQL: the claim's rows of one recipient and notice kind
        digest_of = {r["msg"].id: (r["msg"].channel, r["msg"].address, r["kind"]) for r in rows}
        del rows
        last_beat = clock()
        # channels whose setup failed in this run; a group bot's (its token, signature,
        # keyword) is that bot's alone, so a bot is scoped by its address
        broken: set[object] = set()
        rechecked: set[tuple[ChannelKind, str]] = set()
        # one connection for the batch's digests (checked out once, not twice a digest),
        # each re-check and each record its own short transaction on it, none open while
        # a channel talks to its server
        with factory.kw["bind"].connect() as conn, factory(bind=conn) as session:
            # a digest's re-check made in the previous digest's record transaction (it is
            # still the last thing before its send), by position in `digests`
            prechecked: dict[int, bool] = {}
            for n, (kind, digest, msg_ids) in enumerate(digests):
                # a send starts only if its worst case (the channel's own timeout) fits the run
                if clock() - start + float(getattr(channels.get(kind), "timeout", 0) or 0) \
                        > run_timeout or clock() - start >= run_timeout:
                    result.timed_out = True
                    break
                if clock() - last_beat >= beat:
                    with session.begin():
                        renew(session, token, now + dt.timedelta(seconds=clock() - start) + lease)
                    last_beat = clock()
                digest_id = digest.digest_id if isinstance(digest, Digest) else ""
                scope = _scope(kind, digest)
                if scope in broken:
                    continue  # already deferred with the failure's reason
                if isinstance(digest, Digest):
                    who = (kind, digest.address)
                    if who in rechecked:
                        continue  # given back below: its next digests are rendered afresh
                    # checked again just before it goes (a report may have arrived while
                    # this batch was sending): if anything of this recipient no longer
                    # applies, it is dropped and the rest goes back in the queue, rendered
                    # anew on the next run
                    stale = prechecked.pop(n, None)
                    if stale is None:
                        with session.begin():
                            stale = digest_stale(session, _params(token, digest_of, msg_ids),
                                                 today)
                    if stale:
                        rechecked.add(who)
                        with session.begin():
                            result.dropped += drop_stale(session, token, today, recipient=who)
                            result.deferred += _release(session, token, now, None, channel=kind,
                                                        address=digest.address)
                        continue
                error = _deliver(channels.get(kind), kind, digest)
                rows_of = _params(token, digest_of, msg_ids)
                # the next digest's re-check rides on this transaction (one commit a digest,
                # as the floor's; on PostgreSQL in the very statement that records this one):
                # the send that follows is still the next thing
                then = (dict(_params(token, digest_of, digests[n + 1][2]), b_today=today)
                        if _to_check(digests, n + 1, broken, rechecked) else None)
                with session.begin():
                    attempt, stale_next = _settle(session, rows_of, digest_id, error, now,
                                                  max_attempts, result, then)
                    if error is not None and error.setup:
                        # the server is unreachable or refuses our login: the others would
                        # only wait for the same failure; they are deferred, their attempts
                        # unspent
                        broken.add(scope)
                        result.deferred += _release(
                            session, token, now + backoff(attempt), str(error), channel=kind,
                            address=digest.address
                            if isinstance(digest, Digest) and isinstance(scope, tuple) else None)
                    if stale_next is not None:
                        prechecked[n + 1] = stale_next
                    elif _to_check(digests, n + 1, broken, rechecked):
                        prechecked[n + 1] = digest_stale(
                            session, _params(token, digest_of, digests[n + 1][2]), today)
        with factory() as session, session.begin():
            if _accounted(result) - settled < batch.count:  # time up: the rest untouched
                result.deferred += _release(session, token, now, None)
            finish(session, token)
        if result.timed_out:
            break
    return result


def _accounted(result: DispatchResult) -> int:
    """Messages the run has settled so far, whatever their outcome: when a batch's share
    equals what it claimed, none of its rows is still held and nothing is given back."""
    return result.sent + result.retrying + result.failed + result.dropped + result.deferred


def _scope(kind: ChannelKind, digest: Digest | Exception) -> object:
    """What a setup failure breaks: a channel, or for a group bot (its token, signature,
    keyword are that bot's alone) the bot's address."""
    return (kind, digest.address) if kind.is_bot and isinstance(digest, Digest) else kind


def _to_check(digests: list[tuple[ChannelKind, Digest | Exception, list[int]]], n: int,
              broken: set[object], rechecked: set[tuple[ChannelKind, str]]) -> bool:
    """Whether digest `n` exists and will need its re-check before its send, as far as known
    now: False if it could not be rendered or its channel or recipient is set aside."""
    if n >= len(digests):
        return False
    kind, digest, _ = digests[n]
    return (isinstance(digest, Digest) and _scope(kind, digest) not in broken
            and (kind, digest.address) not in rechecked)


def _params(token: str, digest_of: dict[int, tuple[ChannelKind, str, NoticeKind]],
            msg_ids: list[int]) -> dict[str, Any]:
    """The parameters of `_DIGEST` for the digest listing `msg_ids` (its first is enough)."""
    channel, address, notice = digest_of[msg_ids[0]]
    return dict(b_token=token, b_channel=channel.value, b_address=address, b_kind=notice.value)


def renew(session: Session, token: str, until: dt.datetime) -> int:
    """Heartbeat: extend the leases of the batch `token` to `until`. Does not commit.
    Returns how many recipients it holds."""
    return session.execute(
        update(OutboxLease).where(OutboxLease.token == token)
        .values(until=literal(until, OutboxLease.until.type))
    ).rowcount or 0  # type: ignore[attr-defined]


def finish(session: Session, token: str) -> None:
    """The batch `token` is over: its list of messages and its leases go. Does not commit."""
    session.execute(delete(OutboxClaim).where(OutboxClaim.token == token))
    session.execute(delete(OutboxLease).where(OutboxLease.token == token))


def _release(session: Session, token: str, due: dt.datetime, reason: str | None,
             channel: ChannelKind | None = None, address: str | None = None) -> int:
    """Give back the messages `token` still holds (of one channel, or one address of it, or
    all), attempts untouched: with a `reason` (a setup failure) they are due again at `due`
    with that reason recorded; without, they are left as they are (the claim never changed
    them). Their entries leave the batch's list. Returns how many. Does not commit."""
    mine = claimed(token, None if channel is None else channel.value, address)
    if reason is None:
        n = session.scalar(select(func.count()).select_from(OutboxMessage).where(mine)) or 0
    else:
        n = session.execute(update(OutboxMessage).where(mine).values(
            next_attempt_at=literal(due, OutboxMessage.next_attempt_at.type), last_error=reason)
            .execution_options(synchronize_session=False)).rowcount or 0  # type: ignore[attr-defined]
    listed = delete(OutboxClaim).where(OutboxClaim.token == token)
    if channel is not None:
        listed = listed.where(OutboxClaim.channel == channel.value)
    if address is not None:
        listed = listed.where(OutboxClaim.address == address)
    session.execute(listed)
    return int(n)


def _deliver(channel: Channel | None, kind: ChannelKind, digest: Digest | Exception
             ) -> DeliveryError | None:
    """Send one digest; any failure is this digest's alone (None when it was accepted).

    The address is checked again before sending (it may predate the check on entry); a
    digest that cannot be built (an address or name a mail header cannot carry, a template
    error) is a permanent failure naming the reason, never a crash of the run.
    """
    if isinstance(digest, Exception):
        return DeliveryError(f"无法生成通知：{digest}", permanent=True)
    if channel is None:
        return DeliveryError(f"未配置 {kind.label} 渠道", permanent=True)
    try:
        if not kind.is_bot:  # a bot's address is "bot:{id}", resolved by its channel
            digest = digest.model_copy(update={"address": check_address(digest.address)})
        channel.send(digest)
    except DeliveryError as exc:
        return exc
    except AddressError as exc:
        return DeliveryError(f"收件地址无效：{exc}", permanent=True)
    except Exception as exc:  # a message that cannot be built fails alone (STYLE.md #11)
        return DeliveryError(f"无法生成邮件（{type(exc).__name__}：{exc}）", permanent=True)
    return None


def _stale(mine: Any, today: Any) -> list[tuple[Any, str]]:
    """The claimed rows (`mine`: a SQL condition) that no longer apply, each query with the
    reason recorded when they are dropped (see `drop_stale`). `today`: a date, a bound
    parameter of one, or None (no check of a moved due day)."""
    answered = (select(OutboxMessage.id)
                .join(ProgressRequest, ProgressRequest.id == OutboxMessage.request_id)
                .where(mine, OutboxMessage.kind.in_([MessageKind.PROGRESS_REQUEST.value,
                                                     MessageKind.PRE_DUE_REMINDER.value,
                                                     MessageKind.ESCALATION.value,
                                                     MessageKind.DUE_CHANGED.value]),
                       ProgressRequest.state != RequestState.OPEN.value))
    inactive = (select(OutboxMessage.id)
                .join(Contact, Contact.id == OutboxMessage.contact_id)
                .where(mine, Contact.active.is_(False)))
    removed = (select(OutboxMessage.id)  # a contact's further address removed since
               .join(ContactAddress, and_(ContactAddress.contact_id == OutboxMessage.contact_id,
                                          ContactAddress.address == OutboxMessage.address))
               .where(mine, ContactAddress.active.is_(False)))
    checks = [(answered, "事项已报送或已免报，不再发送"), (inactive, "联系人已停用，不再发送"),
              (removed, "附加地址已删除，不再发送")]
    if today is not None:
        extended = (select(OutboxMessage.id)
                    .join(ProgressRequest, ProgressRequest.id == OutboxMessage.request_id)
                    .where(mine, OutboxMessage.kind == MessageKind.ESCALATION.value,
                           ProgressRequest.due_on >= today))
        checks.append((extended, "截止日期已延后，事项不再逾期，不再发送"))
    return checks


def _recipient(token: str, channel: ChannelKind, address: str) -> Any:
    return claimed(token, channel.value, address)


# any_stale's query for one recipient, built once (parameters b_token, b_channel, b_address,
# b_today)
_ANY_STALE = select(exists(union_all(*(q for q, _ in _stale(
    claimed(bindparam("b_token"), bindparam("b_channel"), bindparam("b_address")),
    bindparam("b_today", type_=Date)))).subquery().select()))


def drop_stale(session: Session, token: str, today: dt.date | None = None, *,
               recipient: tuple[ChannelKind, str] | None = None) -> int:
    """Drop claimed notices that no longer apply, just before sending (DESIGN.md: a report
    stops the ladder; issue 8: answered, waived, extended or the contact deactivated): a
    request or reminder whose request was answered or waived since it was queued, a ladder
    rung (催办, 督办, 通报) whose request's due day has been moved to `today` or later since
    (an extension: it is no longer overdue; `today` is the dispatcher's local date in
    Asia/Shanghai, None skips this check), and anything to a contact deactivated since (all
    its addresses) or to a further address of a contact removed since. All rows of the
    claim `token`, or only those of one `recipient` (channel, address).
    Each drop keeps its reason. Returns how many were dropped. Does not commit.
    """
    mine = claimed(token) if recipient is None else _recipient(token, *recipient)
    n = 0
    for query, reason in _stale(mine, today):
        n += session.execute(
            update(OutboxMessage).where(OutboxMessage.id.in_(query.scalar_subquery()))
            .values(status=OutboxStatus.DROPPED.value, last_error=reason)
            .execution_options(synchronize_session=False)).rowcount or 0  # type: ignore[attr-defined]
    return n


def any_stale(session: Session, token: str, today: dt.date | None,
              recipient: tuple[ChannelKind, str]) -> bool:
    """Whether any claimed row of one recipient (channel, address) no longer applies: one
    read-only query, run just before that recipient's digest is sent."""
    if today is None:
        checks = _stale(_recipient(token, *recipient), today)
        return session.scalar(select(exists(union_all(*(q for q, _ in checks))
                                            .subquery().select()))) is True
    return session.connection().scalar(_ANY_STALE, dict(
        b_token=token, b_channel=recipient[0].value, b_address=recipient[1], b_today=today)) is True


# One recipient's rows of a claim, and one digest's (recipient and notice kind), with their
# values as named parameters (b_token, b_channel, b_address, b_kind): built once, so that each
# digest's statements cost their execution, not their construction.
# A digest's rows are still ours while the batch holds the recipient's lease (a lease that
# passed and was taken over took the batch's list with it).
_DIGEST = and_(claimed(bindparam("b_token"), bindparam("b_channel"), bindparam("b_address"),
                       bindparam("b_kind")),
               exists().where(OutboxLease.token == bindparam("b_token"),
                              OutboxLease.channel == bindparam("b_channel"),
                              OutboxLease.address == bindparam("b_address")))
# the same for the next digest of a batch (parameters n_channel, n_address, n_kind; the
# token is b_token), checked in the statement that records the one before (`_settle`)
_NEXT = claimed(bindparam("b_token"), bindparam("n_channel"), bindparam("n_address"),
                bindparam("n_kind"))


def _stale_exists(digest: ColumnElement[bool]) -> Any:
    """EXISTS: a row of one digest (`digest`, a condition such as `_DIGEST`) that no longer
    applies, by the conditions of `_stale`, each row joined once to its request, contact
    and further address: one scan of the digest's rows through the claim index, never four.
    Its own parameter: b_today."""
    return exists(
        select(OutboxMessage.id)
        .outerjoin(ProgressRequest, ProgressRequest.id == OutboxMessage.request_id)
        .outerjoin(Contact, Contact.id == OutboxMessage.contact_id)
        .outerjoin(ContactAddress, and_(ContactAddress.contact_id == OutboxMessage.contact_id,
                                        ContactAddress.address == OutboxMessage.address))
        .where(digest, or_(
            and_(OutboxMessage.kind.in_([MessageKind.PROGRESS_REQUEST.value,
                                         MessageKind.PRE_DUE_REMINDER.value,
                                         MessageKind.ESCALATION.value,
                                         MessageKind.DUE_CHANGED.value]),
                 ProgressRequest.state != RequestState.OPEN.value),
            Contact.active.is_(False), ContactAddress.active.is_(False),
            and_(OutboxMessage.kind == MessageKind.ESCALATION.value,
                 ProgressRequest.due_on >= bindparam("b_today", type_=Date)))))


_DIGEST_STALE = select(_stale_exists(_DIGEST))


def digest_stale(session: Session, digest: dict[str, Any], today: dt.date) -> bool:
    """Whether any claimed row of one digest (`digest`: the parameters b_token, b_channel,
    b_address, b_kind of `digest_rows`) no longer applies, by the rules of `drop_stale`
    (`today`: the dispatcher's local date): one read-only query, run just before the
    digest is sent."""
    return session.connection().scalar(_DIGEST_STALE, dict(digest, b_today=today)) is True


def digest_rows(token: str, channel: ChannelKind, address: str,
                kind: NoticeKind) -> ColumnElement[bool]:
    """The rows of one digest, as a condition: the claim's rows of one recipient (channel,
    address) and notice kind, exactly as `render_digests` grouped them. Served by the
    claim list's key (token, channel, address, notice); never a list of ids, whatever its
    size."""
    return claimed(token, channel.value, address, kind.value)


_UNLIST = delete(OutboxClaim).where(  # one digest's entries of the batch's list
    OutboxClaim.token == bindparam("b_token"), OutboxClaim.channel == bindparam("b_channel"),
    OutboxClaim.address == bindparam("b_address"), OutboxClaim.notice == bindparam("b_kind"))
RUNGS = {NoticeKind.REMINDER, NoticeKind.SUPERVISION, NoticeKind.CIRCULAR}
_AT = OutboxMessage.next_attempt_at.type
_RECORD = insert(DeliveryAttempt.__table__).from_select(  # type: ignore[arg-type]
    ["message_id", "digest_id", "attempted_at", "ok", "permanent", "error"],
    select(OutboxMessage.id, bindparam("b_digest", type_=String),
           bindparam("b_now", type_=_AT), bindparam("b_ok", type_=Boolean),
           bindparam("b_permanent", type_=Boolean), bindparam("b_error", type_=Text))
    .where(_DIGEST))
_SENT = (update(OutboxMessage.__table__).where(_DIGEST)  # type: ignore[arg-type]
         .values(status=OutboxStatus.SENT.value, sent_at=bindparam("b_now", type_=_AT),
                 attempts=OutboxMessage.attempts + 1, last_error=None))
_ATTEMPTS = select(func.max(OutboxMessage.attempts)).where(_DIGEST)


def _settle(session: Session, digest: dict[str, Any], digest_id: str,
            error: DeliveryError | None, now: dt.datetime, max_attempts: int,
            result: DispatchResult, then: dict[str, Any] | None = None) -> tuple[int, bool | None]:
    """Record one digest's outcome for its messages (`digest`: the parameters b_token,
    b_channel, b_address and b_kind of `_DIGEST`, see `digest_rows`) in a few set-based
    statements: one delivery attempt per message, the ladder rungs it notified, the
    messages' new state. Rows re-claimed by another run since are no longer ours and stay
    untouched. A setup failure never turns into a dead letter: it is the channel's, not
    the recipient's. `then`, the next digest's parameters (those of `_DIGEST` with b_today)
    when it is to be re-checked: on PostgreSQL a delivered digest's statement answers that
    check too. Returns the attempt number just spent (1-based; 0 when it succeeded, as
    nothing waits on it then) and the next digest's check (None: not made). Does not
    commit."""
    attempt = 0 if error is None else (session.connection().scalar(_ATTEMPTS, digest) or 0) + 1
    core = session.connection()  # prebuilt Core statements with their parameters
    if error is None:
        rung = NoticeKind(digest["b_kind"]) in RUNGS
        stale: bool | None = None
        if core.dialect.name == "postgresql":  # one round trip: see _sent_statement
            params = dict(digest, b_now=now, b_digest=digest_id)
            if then is None:
                n = core.scalar(_SENT_PG[rung, False], params) or 0
            else:
                params.update(b_today=then["b_today"], n_channel=then["b_channel"],
                              n_address=then["b_address"], n_kind=then["b_kind"])
                n, stale = core.execute(_SENT_PG[rung, True], params).one()
        else:
            core.execute(_RECORD, dict(digest, b_digest=digest_id, b_now=now, b_ok=True,
                                       b_permanent=False, b_error=None))
            if rung:
                core.execute(_RUNGS_NOTIFIED, dict(digest, b_now=now))
            n = core.execute(_SENT, dict(digest, b_now=now)).rowcount or 0
        result.sent += n
        result.digests += 1 if n else 0
        return attempt, stale
    core.execute(_RECORD, dict(digest, b_digest=digest_id, b_now=now, b_ok=False,
                               b_permanent=error.permanent, b_error=str(error)))
    base = update(OutboxMessage.__table__).where(_DIGEST)  # type: ignore[arg-type]
    result.errors.append(str(error))
    if error.permanent or (attempt >= max_attempts and not error.setup):
        n = core.execute(base.values(status=OutboxStatus.FAILED.value,
                                     last_error=str(error), attempts=attempt), digest).rowcount or 0
        result.failed += n
    else:
        n = core.execute(base.values(
            status=OutboxStatus.PENDING.value, last_error=str(error), attempts=attempt,
            next_attempt_at=literal(now + backoff(attempt), OutboxMessage.next_attempt_at.type),
        ), digest).rowcount or 0
        result.retrying += n
    # settled: they leave the batch's list (still pending, their retry is a later batch's)
    core.execute(_UNLIST, digest)
    return attempt, None


def _rungs_notified() -> Any:
    """Record on each ladder rung (Escalation) that its notice reached its primary
    recipient: one UPDATE for a digest's rows (`_DIGEST`'s parameters, and b_now, the time
    recorded). The scorecard reads this, not the outbox (whose settled rows are archived
    after the retention period): a 督办 counts once delivered (issue 11). A rung keeps the
    time of its first delivery. Key shape `esc:{request}:r{round}:{level}:{recipient}`."""
    sent = (select(OutboxMessage.id)
            .where(_DIGEST, OutboxMessage.is_copy.is_(False),
                   OutboxMessage.request_id == Escalation.request_id,
                   OutboxMessage.level == Escalation.level,
                   OutboxMessage.key.startswith(
                       literal("esc:") + cast(Escalation.request_id, String) + literal(":r")
                       + cast(Escalation.round, String) + literal(":")
                       + cast(Escalation.level, String) + literal(":")))
            .exists())
    requests = select(OutboxMessage.request_id).where(_DIGEST,
                                                      OutboxMessage.request_id.is_not(None))
    # driven by the digest's requests through the (request, round, level) index: never a
    # scan of every rung still waiting for its notice
    return (update(Escalation.__table__)  # type: ignore[arg-type]
            .where(Escalation.request_id.in_(requests), Escalation.notified_at.is_(None), sent)
            .values(notified_at=bindparam("b_now", type_=_AT)))


_RUNGS_NOTIFIED = _rungs_notified()


def _sent_statement(rungs: bool, check: bool) -> Any:
    """PostgreSQL: a delivered digest recorded in one statement (one round trip, as the
    floor's): WITH sent AS (UPDATE its messages to sent … RETURNING them), an INSERT of one
    delivery attempt per returned message, and for a ladder rung (`rungs`) the UPDATE of the
    rungs it notified (`_rungs_notified`, on the table, in the same snapshot); returns
    how many messages were sent and, with `check`, whether the next digest (`_NEXT`) holds
    a row that no longer applies (`_stale_exists`), so that its re-check costs no round
    trip of its own. Parameters: `_DIGEST`'s, b_now and b_digest; with `check` also
    n_channel, n_address, n_kind and b_today."""
    outbox = OutboxMessage.__table__
    sent = (update(outbox).where(_DIGEST)  # type: ignore[arg-type]
            .values(status=OutboxStatus.SENT.value, sent_at=bindparam("b_now", type_=_AT),
                    attempts=OutboxMessage.attempts + 1, last_error=None)
            .returning(outbox.c.id, outbox.c.request_id, outbox.c.level, outbox.c.key,
                       outbox.c.is_copy)
            .cte("sent"))
    record = (insert(DeliveryAttempt.__table__)  # type: ignore[arg-type]
              .from_select(["message_id", "digest_id", "attempted_at", "ok", "permanent"],
                           select(sent.c.id, bindparam("b_digest", type_=String),
                                  bindparam("b_now", type_=_AT), literal(True), literal(False)))
              .cte("record"))
    statement = (select(func.count(), _stale_exists(_NEXT)) if check
                 else select(func.count())).select_from(sent).add_cte(record)
    if rungs:
        # `_rungs_notified` as it stands: it reads the digest's rows from the table (the
        # statement's snapshot, before `sent` changed them), whose statistics and indexes
        # the planner knows; read from `sent` (estimated at one row) it chose a nested loop
        # of the rungs over the returned rows, minutes for a digest of 100,000
        statement = statement.add_cte(_RUNGS_NOTIFIED.cte("rung"))
    return statement


_SENT_PG = {(rungs, check): _sent_statement(rungs, check)
            for rungs in (False, True) for check in (False, True)}
