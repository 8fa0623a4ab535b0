"""Requests of a name the office has not confirmed: held, then released (issue 13, F5).

A name new to the directory (or a likely variant of another, `directory.variants`) waits
on the office's review list (`directory.review`) until the office maps it to an agency it
already has or accepts it as a new one. The loader added it as an agency so that its
tasks are tracked at once, but nobody answers for it yet (it has no liaison, or one the
office has not checked). The rule (decided for issue 13):

- **held while it waits**: its requests are opened (the board and the ledger count them,
  the review page says how many), but no request notice, 临期提醒 or ladder rung (催办,
  督办, 通报) is sent for them: `waiting_agencies` is part of `ladder_live`, which the sweep
  and the pre-due run read, and of the opening's notice filter;
- **released when the office decides**, as if issued that day: each held open request of
  the agency the name now means gets `issued_on` = the deciding day and keeps its due day
  unless that leaves less time than the request had (its own issue-to-due span in working
  days): then it is due that many working days after the deciding day (`original_due_on`
  keeps the period's day, as for an extension). Its ladder counts from that due day, so
  the agency is never handed rungs it did not receive; the request notice goes to its
  liaisons at once (`release`);
- **mapped** to an existing agency: the held open requests move to that agency's
  assignment of the same measure (and its indicator requests), released as above; one
  whose measure and period that agency was asked already is closed as a duplicate (免报,
  with the reason), answered ones stay as recorded. A request that reached a rung before
  this rule (opened by an older version) stays where it is, like a merge's (`renames`).
  The audit detail lists every request moved, closed or kept.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, exists, select, update
from sqlalchemy.orm import Session, aliased

from tracker.dates.workdays import local_date
from tracker.enums import ExtensionState, MessageKind, RequestState
from tracker.models import Assignment, DirectoryReview, ExtensionRequest, ProgressRequest
from tracker.outbox import enqueue_for_requests
from tracker.policy import Policy
from tracker.requests.rules import next_action_day

OPEN = RequestState.OPEN.value


def waiting_agencies() -> Any:
    """A SELECT of the ids of agencies whose name waits on the review list (kind name,
    state open): their requests are held."""
    return select(DirectoryReview.agency_id).where(
        DirectoryReview.kind == "name", DirectoryReview.state == "open",
        DirectoryReview.agency_id.is_not(None))


def not_held() -> Any:
    """The SQL condition over `ProgressRequest` of requests that are not held."""
    return ProgressRequest.agency_id.not_in(waiting_agencies())


@dataclass
class Moved:
    """What a mapping did to the open requests of the name (request ids)."""

    moved: list[int] = field(default_factory=list)
    closed: list[int] = field(default_factory=list)  # duplicates of the agency's own
    kept: list[int] = field(default_factory=list)  # escalated before the hold existed


def release(session: Session, agency_id: int, now: dt.datetime, policy: Policy) -> int:
    """Release the held requests of agency `agency_id` (its open requests at no rung):
    `redate` them, then `notify` its liaisons. Returns the number released. Does not
    commit; call it once the name no longer waits."""
    released = redate(session, agency_id, now, policy)
    if released:
        notify(session, agency_id, now, policy)
    return released


def redate(session: Session, agency_id: int, now: dt.datetime, policy: Policy) -> int:
    """Re-date the open requests of agency `agency_id` at no rung as issued on the deciding
    day (`now`, Asia/Shanghai; the module's rule) and recount their ladder. Returns how
    many. One UPDATE per distinct (issue day, due day) pair (a few periods)."""
    today = local_date(now)
    scope = and_(ProgressRequest.agency_id == agency_id, ProgressRequest.state == OPEN,
                 ProgressRequest.level == 0)
    pairs = session.execute(select(ProgressRequest.issued_on, ProgressRequest.due_on)
                            .distinct().where(scope)).all()
    count = 0
    cal = policy.calendar
    for issued, due in pairs:
        span = max(cal.between(issued, due), 1)
        new_due = max(due, cal.add(today, span))
        done = session.execute(
            update(ProgressRequest)
            .where(scope, ProgressRequest.issued_on == issued, ProgressRequest.due_on == due)
            .values(issued_on=today, due_on=new_due,
                    next_action_on=next_action_day(new_due, 0, policy))
            .execution_options(synchronize_session=False))
        count += max(done.rowcount or 0, 0)  # type: ignore[attr-defined]
    session.expire_all()
    return count


def notify(session: Session, agency_id: int, now: dt.datetime, policy: Policy) -> int:
    """Queue the request notice (报送通知) of agency `agency_id`'s open requests issued
    today to its liaisons and group bots: those just released (one already told is not
    told twice: the outbox key is per request and contact). Returns the rows queued."""
    return enqueue_for_requests(
        session, and_(ProgressRequest.agency_id == agency_id, ProgressRequest.state == OPEN,
                      ProgressRequest.issued_on == local_date(now)),
        kind=MessageKind.PROGRESS_REQUEST, level=0, now=now, channel=policy.channel)


def move_open_requests(session: Session, from_id: int, to_id: int, *, reason: str,
                       now: dt.datetime) -> Moved:
    """Move the open requests of agency `from_id` (a name that was only another name of
    `to_id`) to `to_id`, by the module's rule: each to `to_id`'s active assignment of the
    same measure (an indicator request: to `to_id`), unless `to_id` was asked for that
    measure and period already: then it is closed (免报) with `reason`; a request at a
    rung already, or whose measure `to_id` has no assignment of, stays. Returns the ids of
    each. Two SELECTs and three UPDATEs, whatever the number; does not commit."""
    mine, theirs = aliased(Assignment), aliased(Assignment)
    other = aliased(ProgressRequest)
    target = (select(theirs.id).join(mine, mine.measure_id == theirs.measure_id)
              .where(mine.id == ProgressRequest.assignment_id, theirs.agency_id == to_id,
                     theirs.active.is_(True))
              .limit(1).scalar_subquery())
    asked = exists().where(other.period_id == ProgressRequest.period_id,
                           other.assignment_id == theirs.id, theirs.agency_id == to_id,
                           theirs.active.is_(True), theirs.measure_id == mine.measure_id,
                           mine.id == ProgressRequest.assignment_id)
    base = and_(ProgressRequest.agency_id == from_id, ProgressRequest.state == OPEN)
    tasks = and_(base, ProgressRequest.assignment_id.is_not(None), ProgressRequest.level == 0,
                 target.is_not(None))
    moving = and_(tasks, ~asked)
    duplicate = and_(tasks, asked)
    indicators = and_(base, ProgressRequest.indicator_id.is_not(None),
                      ProgressRequest.level == 0)
    out = Moved()
    rows = session.execute(select(ProgressRequest.id, moving, duplicate, indicators)
                           .where(base).order_by(ProgressRequest.id)).all()
    for rid, move, dup, ind in rows:
        (out.moved if move or ind else out.closed if dup else out.kept).append(rid)
    # a pending extension of a duplicate has nothing left to decide (as when waived)
    session.execute(update(ExtensionRequest).where(
        ExtensionRequest.state == ExtensionState.PENDING.value,
        ExtensionRequest.request_id.in_(select(ProgressRequest.id).where(duplicate)))
        .values(state=ExtensionState.REFUSED.value, decided_at=now,
                decided_by="system:directory", decision_note="事项已免报")
        .execution_options(synchronize_session=False))
    session.execute(update(ProgressRequest).where(duplicate).values(
        state=RequestState.WAIVED.value, waive_reason=reason, next_action_on=None)
        .execution_options(synchronize_session=False))
    session.execute(update(ProgressRequest).where(moving).values(
        agency_id=to_id, assignment_id=target).execution_options(synchronize_session=False))
    session.execute(update(ProgressRequest).where(indicators).values(
        agency_id=to_id).execution_options(synchronize_session=False))
    session.expire_all()
    return out
