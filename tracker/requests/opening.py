"""Opening progress requests (进展调度): one per active assignment per period, set-based."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, field

from sqlalchemy import and_, literal, select, update
from sqlalchemy.orm import Session

from tracker.dates.periods import ensure_periods
from tracker.dates.workdays import local_date
from tracker.directory.holds import not_held
from tracker.enums import MessageKind, PeriodKind, RequestState
from tracker.errors import Forbidden
from tracker.models import Assignment, Indicator, Measure, Plan, ProgressRequest, ReportingPeriod
from tracker.outbox import enqueue_for_requests
from tracker.policy import Policy
from tracker.requests.milestones import ensure_milestones, milestone_assignments
from tracker.requests.rules import next_action_day
from tracker.sql import insert_ignore_from_select, refresh_statistics

REQUEST_COLUMNS = [
    "period_id", "agency_id", "assignment_id", "indicator_id", "issued_on", "original_due_on",
    "due_on", "state", "level", "ladder_round", "next_action_on", "created_at", "due_provisional",
]


@dataclass
class OpenResult:
    periods: list[str] = field(default_factory=list)
    requests_opened: int = 0
    messages_queued: int = 0


def open_due_requests(session: Session, plan: Plan, now: dt.datetime, policy: Policy) -> OpenResult:
    """Open the requests of every period whose issue day has come and whose due day has not.

    Idempotent: a request exists once per (period, assignment) or (period, indicator);
    assignments added to the catalog mid-period get theirs on the next run. Each new
    request queues a notification to the agency's liaisons, except a request of a name
    waiting on the office's review list (held: `directory.holds`). A task's own 完成时限 opens
    as a milestone period beside the quarters (tracker.requests.milestones: the lead
    agencies of the tasks due that day). Does not commit.
    """
    today = local_date(now)
    ensure_periods(session, plan, today.year, policy.rules, policy.calendar)
    ensure_milestones(session, plan, today, policy.rules, policy.calendar)
    periods = session.scalars(
        select(ReportingPeriod).where(
            ReportingPeriod.plan_id == plan.id,
            ReportingPeriod.issue_on <= today,
            ReportingPeriod.due_on >= today,
        ).order_by(ReportingPeriod.issue_on, ReportingPeriod.due_on, ReportingPeriod.label)
    ).all()
    result = OpenResult()
    for period in periods:
        first_rung = next_action_day(period.due_on, 0, policy)
        common = (
            literal(period.id), literal(period.issue_on), literal(period.due_on),
            literal(period.due_on), literal(RequestState.OPEN.value), literal(0), literal(0),
            literal(first_rung), literal(now, ProgressRequest.created_at.type),
            literal(period.due_provisional),
        )
        if period.kind == PeriodKind.MILESTONE:  # the leads of the tasks due that day
            sel = (
                select(common[0], Assignment.agency_id, Assignment.id, literal(None), *common[1:])
                .join(Measure, Measure.id == Assignment.measure_id)
                .where(milestone_assignments(period, plan))
            )
        elif period.kind != PeriodKind.YEAR:  # a quarter or a half year: every assignment
            sel = (
                select(common[0], Assignment.agency_id, Assignment.id, literal(None), *common[1:])
                .join(Measure, Measure.id == Assignment.measure_id)
                .where(Measure.plan_id == plan.id, Measure.active.is_(True),
                       Measure.closed_at.is_(None), Assignment.active.is_(True))
            )
        else:
            sel = select(
                common[0], Indicator.owner_agency_id, literal(None), Indicator.id, *common[1:]
            ).where(Indicator.plan_id == plan.id, Indicator.active.is_(True))
        n = insert_ignore_from_select(
            session, ProgressRequest.__table__, REQUEST_COLUMNS, sel  # type: ignore[arg-type]
        )
        result.requests_opened += n
        result.periods.append(period.label)
        if n or period.opened_at is None:
            result.messages_queued += enqueue_for_requests(
                session,
                and_(ProgressRequest.period_id == period.id,
                     ProgressRequest.state == RequestState.OPEN.value,
                     not_held()),  # a name the office has not confirmed: directory.holds
                kind=MessageKind.PROGRESS_REQUEST, level=0, now=now, channel=policy.channel,
            )
        if period.opened_at is None:
            session.execute(update(ReportingPeriod).where(
                ReportingPeriod.id == period.id, ReportingPeriod.opened_at.is_(None)
            ).values(opened_at=now))
    refresh_statistics(session, ProgressRequest.__table__, result.requests_opened)  # type: ignore[arg-type]
    return result


def owned_state(session: Session, agency_id: int, request_id: int) -> RequestState | None:
    """The state of a request if it belongs to the agency, else None (not its business)."""
    row = session.execute(select(ProgressRequest.agency_id, ProgressRequest.state)
                          .where(ProgressRequest.id == request_id)).first()
    return RequestState(row[1]) if row is not None and row[0] == agency_id else None


def owned_request(session: Session, agency_id: int | Collection[int], request_id: int
                  ) -> ProgressRequest:
    """The agency's own request `request_id`. `agency_id` may be several agencies: a
    liaison's link speaks for every agency its person serves (directory.links.person_agencies).

    Raises Forbidden (403, code "other-agency") when the request is unknown or another
    agency's: a link holder learns nothing about requests that are not theirs.
    """
    req = session.get(ProgressRequest, request_id)
    agencies = {agency_id} if isinstance(agency_id, int) else set(agency_id)
    if req is None or req.agency_id not in agencies:
        raise Forbidden("该事项不属于本单位", code="other-agency")
    return req
