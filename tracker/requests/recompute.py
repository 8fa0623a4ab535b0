"""Recompute due days and ladder days after the calendar changed (issue 9, item 4).

The State Council's holiday notice for a year the calendar package did not cover, or a
change in the middle of a year (January 2020: the Spring Festival break extended to
2 February), moves working days; `tracker calendar load` stores the new days
(tracker.dates.stored) and calls `recompute_due_dates`, which:

- recomputes each reporting period's rule dates (issue day while not opened yet, due day,
  provisional mark) from the current rules on the new calendar, for periods not opened yet
  or with open requests (answered history stays as it was judged); a milestone's (a
  task's 完成时限, tracker.requests.milestones) by its own rule;
- moves the due day of the OPEN requests that still have their period's computed due day
  (an extension's due day was chosen by the office and stays), with `original_due_on`;
- recomputes `next_action_on` (the next ladder rung, +1/+5/+10 working days) of every open
  request that is not held, from its due day and the rung it reached: a rung now due on or
  before today fires on the sweep's next run with its rule date; rungs already fired stay;
- queues one 截止时间调整 notice per moved request and liaison (the dispatcher makes it one
  digest per liaison) naming the old and the new due day, for requests whose request
  notice (报送通知) was sent; one still queued goes out with the new day instead.

Set-based: one UPDATE per changed period and per distinct (due day, rung) pair, one
INSERT … SELECT per moved period and recipient group. Idempotent: run again on the same
calendar it finds nothing to change and queues nothing (the notice key also names the
old and new day).
"""

from __future__ import annotations

import datetime as dt
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import Session, aliased

from tracker.dates.periods import year_specs
from tracker.dates.workdays import local_date
from tracker.enums import MessageKind, OutboxStatus, PeriodKind, RequestState
from tracker.models import (
    AuditEvent,
    OutboxMessage,
    Plan,
    ProgressRequest,
    ReportingPeriod,
)
from tracker.models.outbox import in_claim
from tracker.outbox import enqueue_for_requests
from tracker.policy import Policy
from tracker.requests.milestones import milestone_spec
from tracker.requests.rules import next_action_day
from tracker.sql import id_set


@dataclass
class RecomputeResult:
    periods: list[str] = field(default_factory=list)  # "plan:label old->new"
    requests_moved: int = 0
    ladders_moved: int = 0
    marks_changed: int = 0  # provisional marks set or cleared without a move
    messages_queued: int = 0


def recompute_due_dates(session: Session, now: dt.datetime, policy: Policy, *,
                        reason: str = "", actor: str = "system:calendar") -> RecomputeResult:
    """Bring every plan's open due days and ladder days in line with `policy.calendar`
    (which must include the stored overrides: `Policy.with_session`). `reason` names the
    change in the notices (e.g. "国务院办公厅关于2027年部分节假日安排的通知"). Does not
    commit. Returns what moved; an AuditEvent records it when anything did."""
    result = RecomputeResult()
    cal = policy.calendar
    for plan in session.scalars(select(Plan).order_by(Plan.id)):
        has_open = exists().where(ProgressRequest.period_id == ReportingPeriod.id,
                                  ProgressRequest.state == RequestState.OPEN.value)
        periods = session.scalars(
            select(ReportingPeriod).where(ReportingPeriod.plan_id == plan.id,
                                          ReportingPeriod.opened_at.is_(None) | has_open)
            .order_by(ReportingPeriod.issue_on)).all()
        specs = {s.label: s for y in sorted({p.year for p in periods})
                 for s in year_specs(y, policy.rules, cal, plan.cadence)}
        for period in periods:
            spec = specs.get(period.label)
            if spec is None and period.kind == PeriodKind.MILESTONE:  # a task's 完成时限
                spec = milestone_spec(period.ends_on, policy.rules, cal)
            if spec is None:
                continue
            old = period.due_on
            if period.opened_at is None and period.issue_on != spec.issue_on:
                period.issue_on = spec.issue_on
            same_as_period = and_(ProgressRequest.period_id == period.id,
                                  ProgressRequest.state == RequestState.OPEN.value,
                                  ProgressRequest.due_on == old,
                                  ProgressRequest.original_due_on == old)
            if spec.due_on != old:
                result.periods.append(f"{plan.key}:{period.label} {old}->{spec.due_on}")
                # only where the request notice went out: one still waiting is rendered
                # with the new day when it goes, and a liaison never told of the old day
                # needs no correction
                notice = aliased(OutboxMessage)  # not the outbox rows `_tell` reads and drops
                told = exists().where(
                    notice.request_id == ProgressRequest.id,
                    notice.kind == MessageKind.PROGRESS_REQUEST.value,
                    or_(notice.status == OutboxStatus.SENT.value,  # or being sent now
                        in_claim(notice)))
                if spec.due_on >= local_date(now):  # a past deadline needs no notice
                    result.messages_queued += _tell(session, and_(same_as_period, told), old,
                                                    spec.due_on, now, policy, reason)
                moved = session.execute(
                    update(ProgressRequest).where(same_as_period)
                    .values(due_on=spec.due_on, original_due_on=spec.due_on,
                            due_provisional=spec.due_provisional)
                    .execution_options(synchronize_session=False))
                result.requests_moved += max(moved.rowcount or 0, 0)  # type: ignore[attr-defined]
                period.due_on = spec.due_on
            if period.due_provisional != spec.due_provisional:
                period.due_provisional = spec.due_provisional
            marks = session.execute(
                update(ProgressRequest)
                .where(ProgressRequest.period_id == period.id,
                       ProgressRequest.state == RequestState.OPEN.value,
                       ProgressRequest.due_on == spec.due_on,
                       ProgressRequest.original_due_on == spec.due_on,
                       ProgressRequest.due_provisional.is_not(spec.due_provisional))
                .values(due_provisional=spec.due_provisional)
                .execution_options(synchronize_session=False))
            result.marks_changed += max(marks.rowcount or 0, 0)  # type: ignore[attr-defined]
        session.flush()
        result.ladders_moved += _relad(session, plan, policy)
    if result.periods or result.ladders_moved or result.marks_changed:
        session.add(AuditEvent(at=now, actor=actor, action="calendar.recompute",
                               object_type="calendar", object_id=str(local_date(now)),
                               detail={"periods": result.periods, "moved": result.requests_moved,
                                       "ladders": result.ladders_moved, "reason": reason,
                                       "queued": result.messages_queued}))
    session.flush()
    return result


def _tell(session: Session, moved: Any, old: dt.date, new: dt.date, now: dt.datetime,
          policy: Policy, reason: str) -> int:
    """Queue the 截止时间调整 notices of the requests matching `moved` (due day old -> new).

    A notice of an earlier change still waiting to be sent is superseded (dropped): the
    liaison was last told the day that earlier notice started from, so the new notice
    starts from there too, and none goes when that is the new day itself (a change loaded
    and undone before the dispatcher's turn). The key names this load (`now`), so a move
    seen before (4/10 -> 4/11, back, and again) is told each time it happens.
    """
    pending = (select(OutboxMessage.request_id, OutboxMessage.payload)
               .join(ProgressRequest, ProgressRequest.id == OutboxMessage.request_id)
               .where(moved, OutboxMessage.kind == MessageKind.DUE_CHANGED.value,
                      OutboxMessage.status == OutboxStatus.PENDING.value,
                      ~in_claim()))  # one being sent is told: it stays
    known: dict[int, str] = {}
    for request_id, payload in session.execute(pending):
        first = (payload or {}).get("previous_due_on")
        if first and request_id not in known:
            known[request_id] = first
    if known:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.request_id.in_(select(ProgressRequest.id).where(moved)),
                   OutboxMessage.kind == MessageKind.DUE_CHANGED.value,
                   OutboxMessage.status == OutboxStatus.PENDING.value, ~in_claim())
            .values(status=OutboxStatus.DROPPED.value, last_error="已被新的截止时间调整取代")
            .execution_options(synchronize_session=False))
    queued = 0
    by_start: dict[str, list[int]] = {}
    for request_id, start in known.items():
        by_start.setdefault(start, []).append(request_id)
    # the requests of each start day go into a temporary table (tracker.sql.id_set): a
    # calendar change moves a whole plan's requests, never bound one by one
    with ExitStack() as held:
        groups: list[tuple[Any, str]] = [
            (and_(moved, ProgressRequest.id.not_in(held.enter_context(id_set(session, known))))
             if known else moved, old.isoformat())]
        groups += [(and_(moved, ProgressRequest.id.in_(held.enter_context(id_set(session, ids)))),
                    start) for start, ids in by_start.items()]
        for condition, start in groups:
            if start == new.isoformat():
                continue  # the liaison still has the day they were told: nothing to correct
            queued += enqueue_for_requests(
                session, condition, kind=MessageKind.DUE_CHANGED, level=0, now=now,
                channel=policy.channel, key_suffix=f"{start}>{new}@{now:%Y%m%d%H%M%S}",
                payload={"previous_due_on": start, "due_on": new.isoformat(), "reason": reason})
    return queued


def _relad(session: Session, plan: Plan, policy: Policy) -> int:
    """Recompute `next_action_on` of the plan's open, not held requests: one UPDATE per
    distinct (due day, rung reached) whose next rung day changed. Returns rows changed."""
    periods = select(ReportingPeriod.id).where(ReportingPeriod.plan_id == plan.id)
    live = and_(ProgressRequest.period_id.in_(periods),
                ProgressRequest.state == RequestState.OPEN.value,
                ProgressRequest.next_action_on.is_not(None))  # None: held, or ladder done
    pairs = session.execute(select(ProgressRequest.due_on, ProgressRequest.level,
                                   ProgressRequest.next_action_on).distinct().where(live)).all()
    n = 0
    for due_on, level, current in pairs:
        new = next_action_day(due_on, level, policy)
        if new is None or new == current:
            continue
        res = session.execute(
            update(ProgressRequest)
            .where(live, ProgressRequest.due_on == due_on, ProgressRequest.level == level,
                   ProgressRequest.next_action_on == current)
            .values(next_action_on=new).execution_options(synchronize_session=False))
        n += max(res.rowcount or 0, 0)  # type: ignore[attr-defined]
    return n
