"""The joins from a progress request to what it is about, shared by the read models.

A request belongs to a period and an agency, and is about either a measure (through its
assignment) or an indicator; the last three joins are outer joins for that reason.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, TypeVarTuple

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from tracker.models import Agency, Assignment, Indicator, Measure, ProgressRequest, ReportingPeriod

Ts = TypeVarTuple("Ts")


def with_subject(query: Select[*Ts]) -> Select[*Ts]:
    """Add the period, agency, assignment, measure and indicator of each request."""
    return (
        query.join(ReportingPeriod, ReportingPeriod.id == ProgressRequest.period_id)
        .join(Agency, Agency.id == ProgressRequest.agency_id)
        .outerjoin(Assignment, Assignment.id == ProgressRequest.assignment_id)
        .outerjoin(Measure, Measure.id == Assignment.measure_id)
        .outerjoin(Indicator, Indicator.id == ProgressRequest.indicator_id)
    )


def among(query: Select[*Ts], request_ids: Collection[int] | Select[Any]) -> Select[*Ts]:
    """`query` (over progress_request) kept to the requests `request_ids`: a few ids (an
    office action's one request) are bound; a SELECT of distinct request ids (the sweep's
    rung, any size) is joined as a derived table, so the database reads the chosen requests
    first and looks up the rest by key. As `id IN (SELECT … FROM progress_request …)` the
    planner may walk the whole table by its key instead (issue 14: 0.9 s per county plan of
    1,000 in a deployment of 1M requests)."""
    if isinstance(request_ids, Select):
        chosen = request_ids.subquery()
        return query.join(chosen, list(chosen.c)[0] == ProgressRequest.id)
    return query.where(ProgressRequest.id.in_(list(request_ids)))


def plan_of_request(session: Session, request_id: int) -> int:
    """The id of the plan a request belongs to (through its reporting period)."""
    return session.scalars(
        select(ReportingPeriod.plan_id)
        .join(ProgressRequest, ProgressRequest.period_id == ReportingPeriod.id)
        .where(ProgressRequest.id == request_id)).one()
