"""What a liaison sees behind their link: the agency's requests, pre-filled, with peers.

Everything is read with a handful of set-based queries for the whole agency, never one
query per item (an agency like 市残联 has ~40 requests a quarter; a district 38).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from tracker.enums import ExtensionState, RequestState, Role
from tracker.models import (
    Agency,
    Assignment,
    Evidence,
    ExtensionRequest,
    Indicator,
    Measure,
    Plan,
    ProgressReport,
    ProgressRequest,
    ReportDraft,
    ReportingPeriod,
)

FIELDS = ("status", "percent", "narrative", "problems", "next_steps")


@dataclass
class Item:
    """One request as the answer form shows it."""

    request_id: int
    plan: str  # the plan's title: one link shows the agency's items of every plan
    period: str
    due_on: dt.date
    due_provisional: bool  # counted over a year the calendar does not cover (暂定)
    state: RequestState
    role: Role | None
    measure_code: str | None
    measure_title: str
    measure_text: str
    section: str
    indicator: dict[str, Any] | None
    latest: dict[str, Any] | None = None  # this request's latest submitted version
    versions: int = 0
    prefill: dict[str, Any] = field(default_factory=dict)
    prefill_source: str = ""  # draft, latest, previous period, or empty
    evidence: list[dict[str, Any]] = field(default_factory=list)
    extension: dict[str, Any] | None = None
    peers: list[dict[str, Any]] = field(default_factory=list)  # lead only
    agency_id: int = 0  # whose item it is: one person may serve several agencies
    agency: str = ""


def _report_dict(r: ProgressReport) -> dict[str, Any]:
    return {"id": r.id, "version": r.version, "status": r.status, "percent": r.percent,
            "narrative": r.narrative, "problems": r.problems, "next_steps": r.next_steps,
            "value": r.value, "submitted_at": r.submitted_at, "late": r.late,
            "review_state": r.review_state, "review_comment": r.review_comment}


def latest_reports(session: Session, request_ids: list[int]) -> dict[int, tuple[ProgressReport, int]]:
    """request id -> (latest version, number of versions), one query."""
    if not request_ids:
        return {}
    ranked = (
        select(ProgressReport.id,
               func.row_number().over(partition_by=ProgressReport.request_id,
                                      order_by=ProgressReport.version.desc()).label("rn"),
               func.count().over(partition_by=ProgressReport.request_id).label("n"))
        .where(ProgressReport.request_id.in_(request_ids)).subquery()
    )
    rows = session.execute(
        select(ProgressReport, ranked.c.n).join(ranked, ranked.c.id == ProgressReport.id)
        .where(ranked.c.rn == 1)
    ).all()
    return {r.request_id: (r, n) for r, n in rows}


def agency_items(session: Session, agency_id: int | Collection[int], today: dt.date
                 ) -> list[Item]:
    """The agency's open requests, and those answered in its latest periods, in plan order.

    `agency_id` may be several agencies (one person serving several, issue 8 item 4): the
    items of all of them, each naming its agency (`Item.agency`); the same few queries.
    """
    agency_ids = [agency_id] if isinstance(agency_id, int) else sorted(set(agency_id))
    # the latest period of each plan (plans may ask quarterly and half-yearly side by side)
    earlier, asked = aliased(ReportingPeriod), aliased(ProgressRequest)
    recent = (select(func.max(earlier.issue_on))
              .join(asked, asked.period_id == earlier.id)
              .where(asked.agency_id == ProgressRequest.agency_id, earlier.issue_on <= today,
                     earlier.plan_id == ReportingPeriod.plan_id)
              .correlate(ReportingPeriod, ProgressRequest)
              .scalar_subquery())
    rows = session.execute(
        select(ProgressRequest, ReportingPeriod.label, Assignment.role, Assignment.measure_id,
               Measure.code, Measure.title, Measure.text, Measure.section, Indicator, Plan.title,
               Agency.name)
        .join(ReportingPeriod, ReportingPeriod.id == ProgressRequest.period_id)
        .join(Plan, Plan.id == ReportingPeriod.plan_id)
        .join(Agency, Agency.id == ProgressRequest.agency_id)
        .outerjoin(Assignment, Assignment.id == ProgressRequest.assignment_id)
        .outerjoin(Measure, Measure.id == Assignment.measure_id)
        .outerjoin(Indicator, Indicator.id == ProgressRequest.indicator_id)
        .where(ProgressRequest.agency_id.in_(agency_ids),
               ProgressRequest.state != RequestState.WAIVED.value,
               or_(ProgressRequest.state == RequestState.OPEN.value,
                   ReportingPeriod.issue_on == recent))
        .order_by(ReportingPeriod.due_on, Plan.id, ProgressRequest.agency_id, Measure.position,
                  Indicator.id)
    ).all()
    items: list[Item] = []
    by_request: dict[int, Item] = {}
    assignment_of: dict[int, int] = {}
    for req, period, role, _mid, code, title, text, section, ind, plan_title, agency in rows:
        item = Item(
            request_id=req.id, plan=plan_title, period=period, due_on=req.due_on,
            due_provisional=req.due_provisional, state=req.state, role=role,
            measure_code=code, measure_title=title or (ind.name if ind else ""),
            measure_text=text or "", section=section or "主要指标",
            indicator=None if ind is None else {
                "code": ind.code, "name": ind.name, "target": ind.target,
                "comparator": ind.comparator, "unit": ind.unit},
            agency_id=req.agency_id, agency=agency,
        )
        items.append(item)
        by_request[req.id] = item
        if req.assignment_id is not None:
            assignment_of[req.id] = req.assignment_id
    _attach_reports(session, by_request, assignment_of)
    _attach_evidence_and_extensions(session, by_request)
    _attach_peers(session, items, rows)
    # what still needs an answer first, then what was answered, each in plan order
    return sorted(items, key=lambda i: i.state != RequestState.OPEN)


def _attach_reports(session: Session, by_request: dict[int, Item],
                    assignment_of: dict[int, int]) -> None:
    latest = latest_reports(session, list(by_request))
    drafts = {d.request_id: d for d in session.scalars(
        select(ReportDraft).where(ReportDraft.request_id.in_(list(by_request))))}
    previous = _previous_period_reports(session, assignment_of, list(by_request))
    for rid, item in by_request.items():
        if rid in latest:
            report, n = latest[rid]
            item.latest, item.versions = _report_dict(report), n
        if rid in drafts:
            item.prefill, item.prefill_source = dict(drafts[rid].fields), "draft"
        elif item.latest:
            item.prefill, item.prefill_source = dict(item.latest), "latest"
        elif rid in previous:
            item.prefill, item.prefill_source = _report_dict(previous[rid]), "previous"


def _previous_period_reports(session: Session, assignment_of: dict[int, int],
                             current: list[int]) -> dict[int, ProgressReport]:
    """For each request, the newest report its assignment gave in an earlier period."""
    if not assignment_of:
        return {}
    ranked = (
        select(ProgressReport.id, ProgressRequest.assignment_id,
               func.row_number().over(
                   partition_by=ProgressRequest.assignment_id,
                   order_by=(ReportingPeriod.ends_on.desc(), ProgressReport.version.desc()),
               ).label("rn"))
        .join(ProgressRequest, ProgressRequest.id == ProgressReport.request_id)
        .join(ReportingPeriod, ReportingPeriod.id == ProgressRequest.period_id)
        .where(ProgressRequest.assignment_id.in_(set(assignment_of.values())),
               ProgressRequest.id.not_in(current))
        .subquery()
    )
    rows = session.execute(
        select(ProgressReport, ranked.c.assignment_id)
        .join(ranked, ranked.c.id == ProgressReport.id).where(ranked.c.rn == 1)
    ).all()
    by_assignment = {aid: r for r, aid in rows}
    return {rid: by_assignment[aid] for rid, aid in assignment_of.items() if aid in by_assignment}


def _attach_evidence_and_extensions(session: Session, by_request: dict[int, Item]) -> None:
    ids = list(by_request)
    for ev in session.scalars(select(Evidence).where(Evidence.request_id.in_(ids))
                              .order_by(Evidence.id)):
        by_request[ev.request_id].evidence.append(
            {"id": ev.id, "filename": ev.filename, "size": ev.size, "report_id": ev.report_id})
    for ext in session.scalars(select(ExtensionRequest).where(ExtensionRequest.request_id.in_(ids))
                               .order_by(ExtensionRequest.id)):
        by_request[ext.request_id].extension = {
            "id": ext.id, "requested_due_on": ext.requested_due_on, "reason": ext.reason,
            "state": ext.state, "note": ext.decision_note,
            "pending": ext.state == ExtensionState.PENDING}


def _attach_peers(session: Session, items: list[Item], rows: Sequence[Any]) -> None:
    """For measures this agency leads: co-agencies' and districts' answers, same period."""
    lead = {(row[0].period_id, row[3]): by for row, by in zip(rows, items, strict=True)
            if row[2] == Role.LEAD}
    if not lead:
        return
    peer = aliased(ProgressRequest)
    conditions = [and_(peer.period_id == p, Assignment.measure_id == m) for p, m in lead]
    peers = session.execute(
        select(peer.id, peer.period_id, Assignment.measure_id, Assignment.role, Agency.name,
               peer.state)
        .join(Assignment, Assignment.id == peer.assignment_id)
        .join(Agency, Agency.id == peer.agency_id)
        .where(or_(*conditions), Assignment.role != Role.LEAD.value)
        .order_by(Assignment.position)
    ).all()
    latest = latest_reports(session, [p[0] for p in peers])
    for rid, period_id, measure_id, role, name, state in peers:
        report = latest.get(rid)
        lead[(period_id, measure_id)].peers.append({
            "agency": name, "role": role, "state": state,
            "report": _report_dict(report[0]) if report else None})


def request_history(session: Session, agency_id: int, request_id: int) -> list[ProgressReport]:
    """Every version of a request's report, oldest first. Empty if not this agency's."""
    return list(session.scalars(
        select(ProgressReport).join(ProgressRequest, ProgressRequest.id == ProgressReport.request_id)
        .where(ProgressRequest.id == request_id, ProgressRequest.agency_id == agency_id)
        .order_by(ProgressReport.version)))
