"""The outbox dispatcher: claim, render one digest per recipient, send, settle.

Claim before you act (STYLE.md #6): a conditional UPDATE stamps a batch with this run's
token; a concurrent run claims other rows or none. "sent" is stamped only after the
channel accepted the digest. A crash between sending and settling leaves rows in
`sending`; after `lease` they are claimed again and re-sent with the same Message-ID
(at-least-once, the best SMTP allows). Failures retry with exponential backoff until
`max_attempts`, or stop at once when the channel says the error is permanent.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from notifications.channels.base import Channel, DeliveryError, Digest
from notifications.render import NoticeConfig, message_rows, render_digests
from tracker.dates.workdays import WorkCalendar
from tracker.directory.addresses import AddressError
from tracker.directory.addresses import check as check_address
from tracker.enums import ChannelKind, MessageKind, OutboxStatus, RequestState
from tracker.models import Contact, DeliveryAttempt, OutboxMessage, ProgressRequest


@dataclass
class DispatchResult:
    sent: int = 0  # messages
    digests: int = 0
    retrying: int = 0
    failed: int = 0
    dropped: int = 0  # no longer applied when their turn came (answered, waived, inactive)
    errors: list[str] = field(default_factory=list)


def backoff(attempts: int) -> dt.timedelta:
    """Wait before retry number `attempts` (1-based): 1, 2, 4 … minutes, at most 6 hours."""
    return dt.timedelta(minutes=min(2 ** (attempts - 1), 360))


def claim(session: Session, now: dt.datetime, *, batch: int, lease: dt.timedelta) -> str | None:
    """Stamp up to `batch` due messages with a fresh token; None if nothing was claimed."""
    due = or_(
        and_(OutboxMessage.status == OutboxStatus.PENDING.value,
             OutboxMessage.next_attempt_at <= now),
        and_(OutboxMessage.status == OutboxStatus.SENDING.value,
             OutboxMessage.claimed_at < now - lease),
    )
    ids = session.scalars(select(OutboxMessage.id).where(due).order_by(OutboxMessage.id)
                          .limit(batch)).all()
    if not ids:
        return None
    token = uuid.uuid4().hex
    n = session.execute(
        update(OutboxMessage).where(OutboxMessage.id.in_(ids), due)
        .values(status=OutboxStatus.SENDING.value, claim_token=token, claimed_at=now)
    ).rowcount  # type: ignore[attr-defined]
    return token if n else None


def dispatch(
    factory: sessionmaker[Session],
    channels: Mapping[ChannelKind, Channel],
    *,
    now: dt.datetime,
    calendar: WorkCalendar,
    batch: int = 2000,
    max_batches: int = 50,
    max_attempts: int = 8,
    lease: dt.timedelta = dt.timedelta(minutes=15),
    link_for: Callable[[Contact], str | None] | None = None,
    notices: NoticeConfig | None = None,
) -> DispatchResult:
    """Deliver due outbox messages in bounded batches; returns what happened.

    Each batch: claim (commit), render and send digests, settle (commit). One failing
    recipient never stops the batch (STYLE.md #11).
    """
    result = DispatchResult()
    for _ in range(max_batches):
        with factory() as session, session.begin():
            token = claim(session, now, batch=batch, lease=lease)
        if token is None:
            break
        with factory() as session, session.begin():
            result.dropped += drop_stale(session, token)
        with factory() as session:
            ids = list(session.scalars(select(OutboxMessage.id)
                                       .where(OutboxMessage.claim_token == token)))
            digests = render_digests(message_rows(session, ids), now=now, calendar=calendar,
                                     link_for=link_for, config=notices)
        outcomes: list[tuple[list[int], str, DeliveryError | None]] = []
        broken: dict[Any, DeliveryError] = {}  # a channel (or one bot) that failed as a whole
        for kind, digest, msg_ids in digests:
            digest_id = digest.digest_id if isinstance(digest, Digest) else ""
            # once the server is unreachable or refuses our login, the others would only wait
            # for the same timeout: they are deferred with the same reason, not tried
            # a group bot's setup error (its token, signature, keyword) is that bot's alone
            scope = (kind, digest.address) if kind.is_bot and isinstance(digest, Digest) else kind
            error = broken.get(scope) or _deliver(channels.get(kind), kind, digest)
            if error is not None and error.setup:
                broken[scope] = error
            outcomes.append((msg_ids, digest_id, error))
        with factory() as session, session.begin():
            _settle(session, token, outcomes, now, max_attempts, result)
    return result


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


def drop_stale(session: Session, token: str) -> int:
    """Drop claimed notices that no longer apply, just before sending (DESIGN.md: a report
    stops the ladder): a request or reminder whose request was answered or waived since it
    was queued, and anything to a contact deactivated since. Each drop keeps its reason.
    Returns how many were dropped. Does not commit.
    """
    mine = OutboxMessage.claim_token == token
    answered = (select(OutboxMessage.id)
                .join(ProgressRequest, ProgressRequest.id == OutboxMessage.request_id)
                .where(mine, OutboxMessage.kind.in_([MessageKind.PROGRESS_REQUEST.value,
                                                     MessageKind.PRE_DUE_REMINDER.value,
                                                     MessageKind.ESCALATION.value]),
                       ProgressRequest.state != RequestState.OPEN.value))
    inactive = (select(OutboxMessage.id)
                .join(Contact, Contact.id == OutboxMessage.contact_id)
                .where(mine, Contact.active.is_(False)))
    n = 0
    for query, reason in ((answered, "事项已报送或已免报，不再发送"),
                          (inactive, "联系人已停用，不再发送")):
        n += session.execute(
            update(OutboxMessage).where(OutboxMessage.id.in_(query.scalar_subquery()))
            .values(status=OutboxStatus.DROPPED.value, last_error=reason, claim_token=None)
            .execution_options(synchronize_session=False)).rowcount or 0  # type: ignore[attr-defined]
    return n


def _settle(session: Session, token: str, outcomes: list[tuple[list[int], str, Any]],
            now: dt.datetime, max_attempts: int, result: DispatchResult) -> None:
    attempts = []
    mine = OutboxMessage.claim_token == token  # a reclaimed row is no longer ours to settle
    for msg_ids, digest_id, error in outcomes:
        attempts += [dict(message_id=i, digest_id=digest_id, attempted_at=now, ok=error is None,
                          permanent=bool(error and error.permanent),
                          error=str(error) if error else None) for i in msg_ids]
        base = update(OutboxMessage).where(OutboxMessage.id.in_(msg_ids), mine)
        if error is None:
            session.execute(base.values(status=OutboxStatus.SENT.value, sent_at=now,
                                        attempts=OutboxMessage.attempts + 1, last_error=None))
            result.sent += len(msg_ids)
            result.digests += 1
            continue
        result.errors.append(str(error))
        n = (session.scalar(select(func.max(OutboxMessage.attempts))
                            .where(OutboxMessage.id.in_(msg_ids))) or 0) + 1
        if error.permanent or n >= max_attempts:
            session.execute(base.values(status=OutboxStatus.FAILED.value, last_error=str(error),
                                        attempts=n))
            result.failed += len(msg_ids)
            continue
        session.execute(base.values(status=OutboxStatus.PENDING.value, last_error=str(error),
                                    attempts=n, next_attempt_at=now + backoff(n)))
        result.retrying += len(msg_ids)
    if attempts:
        session.execute(insert(DeliveryAttempt), attempts)
