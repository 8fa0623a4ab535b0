"""The outbox dispatcher: claim recipients, re-check, render, send and record each digest.

Guarantees (issue 8, "Guarantees"):

- Claim before you act (STYLE.md #6): one conditional UPDATE stamps every due message of up
  to `recipients` recipients (channel, address) with this run's token, so a recipient's
  messages never split at a batch edge (one digest per recipient and kind per run). While
  a row is claimed its `next_attempt_at` holds the end of the claim (the lease); the run
  renews it (heartbeat) for the rows it still holds, so a claim never expires while its
  run is alive. A crashed run's rows are claimed again once the lease has passed.
- Each digest's outcome is committed right after the server answered, so a crash between
  send and record re-sends at most that one digest, once, with the same Message-ID
  (`digest_id` depends only on the message keys). No transaction is open while a channel
  talks to a server.
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
    String,
    and_,
    cast,
    exists,
    func,
    insert,
    literal,
    select,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.orm import Session, sessionmaker

from notifications.channels.base import Channel, DeliveryError, Digest
from notifications.render import NoticeConfig, message_rows, render_digests
from tracker.dates.workdays import SHANGHAI, WorkCalendar
from tracker.directory.addresses import AddressError
from tracker.directory.addresses import check as check_address
from tracker.enums import ChannelKind, MessageKind, OutboxStatus, RequestState
from tracker.models import (
    Contact,
    ContactAddress,
    DeliveryAttempt,
    Escalation,
    OutboxMessage,
    ProgressRequest,
)

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


def _due(now: dt.datetime):  # type: ignore[no-untyped-def]
    """Due: pending and its time has come, or claimed by a run whose lease has passed.
    One range on the index (status, next_attempt_at)."""
    return and_(OutboxMessage.status.in_([OutboxStatus.PENDING.value, OutboxStatus.SENDING.value]),
                OutboxMessage.next_attempt_at <= now)


def claim_query(now: dt.datetime, recipients: int):  # type: ignore[no-untyped-def]
    """The recipients (channel, address) to claim: those with the oldest due message."""
    return (select(OutboxMessage.channel, OutboxMessage.address).where(_due(now))
            .group_by(OutboxMessage.channel, OutboxMessage.address)
            .order_by(func.min(OutboxMessage.id)).limit(recipients))


def claim(session: Session, now: dt.datetime, *, recipients: int = 500,
          lease: dt.timedelta = LEASE) -> str | None:
    """Stamp every due message of up to `recipients` recipients with a fresh token (one
    set-based UPDATE); the claim lasts until `now + lease`. Returns the token, or None if
    nothing was due. A concurrent run that took the same recipients first wins them; this
    one then picks others. Does not commit."""
    for _ in range(5):  # another run may have won every chosen recipient; choose again
        chosen = session.execute(claim_query(now, recipients)).all()
        if not chosen:
            return None
        token = uuid.uuid4().hex
        n = session.execute(
            update(OutboxMessage)
            .where(_due(now), tuple_(OutboxMessage.channel, OutboxMessage.address)
                   .in_([tuple(c) for c in chosen]))
            .values(status=OutboxStatus.SENDING.value, claim_token=token, claimed_at=now,
                    next_attempt_at=literal(now + lease, OutboxMessage.next_attempt_at.type))
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        if n:
            return token
    return None


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
            token = claim(session, now, recipients=recipients, lease=lease)
        if token is None:
            break
        with factory() as session, session.begin():
            result.dropped += drop_stale(session, token, today)
        with factory() as session:
            ids = list(session.scalars(select(OutboxMessage.id)
                                       .where(OutboxMessage.claim_token == token)))
            digests = render_digests(message_rows(session, ids), now=now, calendar=calendar,
                                     link_for=link_for, config=notices)
        last_beat = clock()
        # channels whose setup failed in this run; a group bot's (its token, signature,
        # keyword) is that bot's alone, so a bot is scoped by its address
        broken: set[object] = set()
        rechecked: set[tuple[ChannelKind, str]] = set()
        for kind, digest, msg_ids in digests:
            # a send starts only if its worst case (the channel's own timeout) fits the run
            if clock() - start + float(getattr(channels.get(kind), "timeout", 0) or 0) > run_timeout \
                    or clock() - start >= run_timeout:
                result.timed_out = True
                break
            if clock() - last_beat >= beat:
                with factory() as session, session.begin():
                    renew(session, token, now + dt.timedelta(seconds=clock() - start) + lease)
                last_beat = clock()
            digest_id = digest.digest_id if isinstance(digest, Digest) else ""
            scope: object = (kind, digest.address) if kind.is_bot and isinstance(digest, Digest) \
                else kind
            if scope in broken:
                continue  # already deferred with the failure's reason
            if isinstance(digest, Digest):
                who = (kind, digest.address)
                if who in rechecked:
                    continue  # given back below: its next digests are rendered afresh
                # checked again just before it goes (a report may have arrived while this
                # batch was sending): if anything of this recipient no longer applies, it is
                # dropped and the rest goes back in the queue, rendered anew on the next run
                with factory() as session:
                    stale = any_stale(session, token, today, who)
                if stale:
                    rechecked.add(who)
                    with factory() as session, session.begin():
                        result.dropped += drop_stale(session, token, today, recipient=who)
                        result.deferred += _release(session, token, now, None, channel=kind,
                                                    address=digest.address)
                    continue
            error = _deliver(channels.get(kind), kind, digest)
            with factory() as session, session.begin():
                _settle(session, token, msg_ids, digest_id, error, now, max_attempts, result)
                if error is not None and error.setup:
                    # the server is unreachable or refuses our login: the others would only
                    # wait for the same failure; they are deferred, their attempts unspent
                    broken.add(scope)
                    result.deferred += _release(
                        session, token, now + backoff(_attempts(session, msg_ids)),
                        str(error), channel=kind,
                        address=digest.address if isinstance(digest, Digest) and isinstance(scope, tuple)
                        else None)
        with factory() as session, session.begin():
            result.deferred += _release(session, token, now, None)  # time up: untouched
        if result.timed_out:
            break
    return result


def renew(session: Session, token: str, until: dt.datetime) -> int:
    """Heartbeat: extend the claim of the rows `token` still holds to `until`. Does not
    commit. Returns how many rows."""
    return session.execute(
        update(OutboxMessage).where(OutboxMessage.claim_token == token,
                                    OutboxMessage.status == OutboxStatus.SENDING.value)
        .values(next_attempt_at=literal(until, OutboxMessage.next_attempt_at.type))
    ).rowcount or 0  # type: ignore[attr-defined]


def _release(session: Session, token: str, due: dt.datetime, reason: str | None,
             channel: ChannelKind | None = None, address: str | None = None) -> int:
    """Give back the rows `token` still holds (of one channel, or one address of it, or
    all): pending again, due at `due`, attempts untouched. Does not commit."""
    query = update(OutboxMessage).where(OutboxMessage.claim_token == token,
                                        OutboxMessage.status == OutboxStatus.SENDING.value)
    if channel is not None:
        query = query.where(OutboxMessage.channel == channel.value)
    if address is not None:
        query = query.where(OutboxMessage.address == address)
    values: dict[str, object] = dict(status=OutboxStatus.PENDING.value, claim_token=None,
                                     next_attempt_at=literal(due, OutboxMessage.next_attempt_at.type))
    if reason is not None:
        values["last_error"] = reason
    return session.execute(query.values(**values)).rowcount or 0  # type: ignore[attr-defined]


def _attempts(session: Session, msg_ids: list[int]) -> int:
    return session.scalar(select(func.max(OutboxMessage.attempts))
                          .where(OutboxMessage.id.in_(msg_ids))) or 1


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


def _stale(mine: Any, today: dt.date | None) -> list[tuple[Any, str]]:
    """The claimed rows (`mine`: a SQL condition) that no longer apply, each query with the
    reason recorded when they are dropped (see `drop_stale`)."""
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
    return and_(OutboxMessage.claim_token == token, OutboxMessage.channel == channel.value,
                OutboxMessage.address == address)


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
    mine = (OutboxMessage.claim_token == token if recipient is None
            else _recipient(token, *recipient))
    n = 0
    for query, reason in _stale(mine, today):
        n += session.execute(
            update(OutboxMessage).where(OutboxMessage.id.in_(query.scalar_subquery()))
            .values(status=OutboxStatus.DROPPED.value, last_error=reason, claim_token=None)
            .execution_options(synchronize_session=False)).rowcount or 0  # type: ignore[attr-defined]
    return n


def any_stale(session: Session, token: str, today: dt.date | None,
              recipient: tuple[ChannelKind, str]) -> bool:
    """Whether any claimed row of one recipient (channel, address) no longer applies: one
    read-only query, run just before that recipient's digest is sent."""
    checks = _stale(_recipient(token, *recipient), today)
    return session.scalar(select(exists(union_all(*(q for q, _ in checks)).subquery().select()))) \
        is True


def _settle(session: Session, token: str, msg_ids: list[int], digest_id: str,
            error: DeliveryError | None, now: dt.datetime, max_attempts: int,
            result: DispatchResult) -> None:
    """Record one digest's outcome for its messages (a few set-based statements); rows
    re-claimed by another run since are no longer ours and stay untouched. A setup failure
    never turns into a dead letter: it is the channel's, not the recipient's."""
    mine = OutboxMessage.claim_token == token
    base = update(OutboxMessage).where(OutboxMessage.id.in_(msg_ids), mine)
    n_prev = 0
    if error is not None:
        n_prev = session.scalar(select(func.max(OutboxMessage.attempts))
                                .where(OutboxMessage.id.in_(msg_ids), mine)) or 0
    if error is None:
        n = session.execute(base.values(
            status=OutboxStatus.SENT.value, sent_at=now, claim_token=None,
            attempts=OutboxMessage.attempts + 1, last_error=None)).rowcount or 0  # type: ignore[attr-defined]
        result.sent += n
        result.digests += 1 if n else 0
        if n:
            _mark_rungs_notified(session, msg_ids, now)
    else:
        result.errors.append(str(error))
        attempt = n_prev + 1
        if error.permanent or (attempt >= max_attempts and not error.setup):
            n = session.execute(base.values(status=OutboxStatus.FAILED.value, claim_token=None,
                                            last_error=str(error), attempts=attempt)).rowcount or 0  # type: ignore[attr-defined]
            result.failed += n
        else:
            n = session.execute(base.values(
                status=OutboxStatus.PENDING.value, last_error=str(error), attempts=attempt,
                claim_token=None,
                next_attempt_at=literal(now + backoff(attempt), OutboxMessage.next_attempt_at.type),
            )).rowcount or 0  # type: ignore[attr-defined]
            result.retrying += n
    if n:
        session.execute(insert(DeliveryAttempt), [
            dict(message_id=i, digest_id=digest_id, attempted_at=now, ok=error is None,
                 permanent=bool(error and error.permanent),
                 error=str(error) if error else None) for i in msg_ids])


def _mark_rungs_notified(session: Session, msg_ids: list[int], now: dt.datetime) -> None:
    """Record on each ladder rung (Escalation) that its notice reached its primary
    recipient: one UPDATE for the digest's rows. The scorecard reads this, not the outbox
    (which may be pruned): a 督办 counts once delivered (issue 11). A rung keeps the time of
    its first delivery. Key shape `esc:{request}:r{round}:{level}:{recipient}`."""
    sent = (select(OutboxMessage.id)
            .where(OutboxMessage.id.in_(msg_ids), OutboxMessage.is_copy.is_(False),
                   OutboxMessage.request_id == Escalation.request_id,
                   OutboxMessage.level == Escalation.level,
                   OutboxMessage.key.startswith(
                       literal("esc:") + cast(Escalation.request_id, String) + literal(":r")
                       + cast(Escalation.round, String) + literal(":")
                       + cast(Escalation.level, String) + literal(":")))
            .exists())
    requests = select(OutboxMessage.request_id).where(OutboxMessage.id.in_(msg_ids),
                                                      OutboxMessage.request_id.is_not(None))
    # driven by the digest's requests through the (request, round, level) index: never a
    # scan of every rung still waiting for its notice
    session.execute(update(Escalation)
                    .where(Escalation.request_id.in_(requests), Escalation.notified_at.is_(None),
                           sent)
                    .values(notified_at=literal(now, Escalation.notified_at.type)))
