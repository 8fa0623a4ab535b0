"""The supervision office's overdue board: traffic lights, filters, heat table, on-time rate.

The light of a request is `tracker.requests.rules.light` (as SQL: `light_sql`). Days overdue
count working days after the due day. Everything is computed in SQL for the whole filtered
set (one query for the rows, one for the count), never per row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, case, func, literal, select
from sqlalchemy.orm import Session

from tracker.enums import Light, RequestState
from tracker.models import (
    Agency,
    Assignment,
    Indicator,
    Measure,
    Plan,
    ProgressRequest,
    ReportingPeriod,
)
from tracker.policy import Policy
from tracker.requests.rules import light_sql
from tracker.requests.subjects import with_subject

LIGHTS = tuple(light.value for light in Light)


@dataclass
class BoardFilter:
    agency_id: int | None = None
    section: str | None = None
    role: str | None = None
    period: str | None = None  # label, e.g. 2017Q2
    level: int | None = None  # minimum ladder level reached
    light: str | None = None
    page: int = 1
    per_page: int = 50

    @classmethod
    def from_query(cls, q: dict[str, str]) -> BoardFilter:
        def num(key: str) -> int | None:
            try:
                value = int(q[key]) if q.get(key) else None
            except ValueError:
                return None
            return value if value is not None and 0 < value < 2**31 else None

        light = q.get("light") if q.get("light") in LIGHTS else None
        return cls(agency_id=num("agency"), section=q.get("section") or None,
                   role=q.get("role") if q.get("role") in ("lead", "co", "district") else None,
                   period=q.get("period") or None, level=num("level"), light=light,
                   page=min(max(num("page") or 1, 1), 100_000))


@dataclass
class Board:
    rows: list[dict[str, Any]]
    total: int
    counts: dict[str, int] = field(default_factory=dict)


def _base(plan: Plan, f: BoardFilter, light: Any) -> Select[Any]:
    q = (
        select(ProgressRequest.id)
        .join(ReportingPeriod, ReportingPeriod.id == ProgressRequest.period_id)
        .outerjoin(Assignment, Assignment.id == ProgressRequest.assignment_id)
        .outerjoin(Measure, Measure.id == Assignment.measure_id)
        .where(ReportingPeriod.plan_id == plan.id)
    )
    if f.agency_id:
        q = q.where(ProgressRequest.agency_id == f.agency_id)
    if f.section:
        q = q.where(Measure.section == f.section)
    if f.role:
        q = q.where(Assignment.role == f.role)
    if f.period:
        q = q.where(ReportingPeriod.label == f.period)
    if f.level:
        q = q.where(ProgressRequest.level >= f.level)
    if f.light:
        q = q.where(light == f.light)
    return q


def board(session: Session, plan: Plan, f: BoardFilter, today: dt.date, policy: Policy) -> Board:
    """The filtered, sorted page of requests, with counts per light for the filter."""
    light = light_sql(today, policy)
    base = _base(plan, f, light).subquery()
    counts: dict[str, int] = dict(session.execute(
        select(light, func.count()).select_from(ProgressRequest)
        .where(ProgressRequest.id.in_(select(base.c.id))).group_by(light)).all())
    total = sum(counts.values())
    if f.light:
        total = counts.get(f.light, 0)
    severity = case((light == "red", 0), (light == "yellow", 1), (light == "green", 2), else_=3)
    rows = session.execute(
        with_subject(select(ProgressRequest, light.label("light"), ReportingPeriod.label,
                            Agency.name, Assignment.role, Measure.code, Measure.title,
                            Measure.section, Indicator.code, Indicator.name))
        .where(ProgressRequest.id.in_(select(base.c.id)))
        .order_by(severity, ProgressRequest.due_on, Agency.id, Measure.position, ProgressRequest.id)
        .limit(f.per_page).offset((f.page - 1) * f.per_page)
    ).all()
    overdue_days = _overdue_days({r[0].due_on for r in rows}, today, policy)
    out = []
    for req, lt, period, agency, role, code, title, section, icode, iname in rows:
        out.append({
            "id": req.id, "light": lt, "period": period, "agency": agency, "role": role,
            "code": code or icode, "title": title or iname, "section": section or "主要指标",
            "due_on": req.due_on, "state": req.state, "level": req.level,
            "answered_at": req.answered_at, "late": req.answered_late,
            "days_overdue": overdue_days[req.due_on] if lt == "red" else 0,
        })
    return Board(out, total, counts)


def _overdue_days(due_days: set[dt.date], today: dt.date, policy: Policy) -> dict[dt.date, int]:
    # a handful of distinct due days per page: the calendar is asked once per day
    return {d: max(policy.calendar.between(d, today), 0) for d in due_days}


def heat_table(session: Session, plan: Plan, today: dt.date, period: str | None = None
               ) -> tuple[list[str], list[tuple[str, dict[str, int], int]]]:
    """Overdue (red) requests per agency and section: (sections, [(agency, cells, total)])."""
    q = (select(Agency.name, func.coalesce(Measure.section, literal("主要指标")), func.count())
         .select_from(ProgressRequest)
         .join(ReportingPeriod, ReportingPeriod.id == ProgressRequest.period_id)
         .join(Agency, Agency.id == ProgressRequest.agency_id)
         .outerjoin(Assignment, Assignment.id == ProgressRequest.assignment_id)
         .outerjoin(Measure, Measure.id == Assignment.measure_id)
         .where(ReportingPeriod.plan_id == plan.id,
                ProgressRequest.state == RequestState.OPEN.value, ProgressRequest.due_on < today)
         .group_by(Agency.id, Agency.name, Measure.section).order_by(Agency.id))
    if period:
        q = q.where(ReportingPeriod.label == period)
    sections = list(session.scalars(select(Measure.section).where(Measure.plan_id == plan.id)
                                    .group_by(Measure.section).order_by(func.min(Measure.position))))
    sections.append("主要指标")
    table: dict[str, dict[str, int]] = {}
    for agency, section, n in session.execute(q):
        table.setdefault(agency, {})[section] = n
    rows = sorted(((a, cells, sum(cells.values())) for a, cells in table.items()),
                  key=lambda r: -r[2])
    return sections, rows


def on_time_by_period(session: Session, plan: Plan) -> list[tuple[str, int, int]]:
    """(period label, answered on time, requests) per period, in due order (waived excluded)."""
    return [(label, int(on or 0), n) for label, on, n in session.execute(
        select(ReportingPeriod.label,
               func.sum(case((ProgressRequest.answered_late.is_(False), 1), else_=0)),
               func.count(ProgressRequest.id))
        .join(ProgressRequest, ProgressRequest.period_id == ReportingPeriod.id)
        .where(ReportingPeriod.plan_id == plan.id,
               ProgressRequest.state != RequestState.WAIVED.value)
        .group_by(ReportingPeriod.label, ReportingPeriod.due_on)
        .order_by(ReportingPeriod.due_on))]
