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

from tracker.dates.stored import next_year_warning
from tracker.enums import CircularState, Light, RequestState
from tracker.errors import NotFound
from tracker.models import (
    Agency,
    Assignment,
    Circular,
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
# the board's section of the headline indicators (a request about an indicator has no measure)
INDICATORS = "主要指标"


@dataclass
class BoardFilter:
    plan_id: int | None = None  # None: every loaded plan
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
        return cls(plan_id=num("plan"), agency_id=num("agency"), section=q.get("section") or None,
                   role=q.get("role") if q.get("role") in ("lead", "co", "district") else None,
                   period=q.get("period") or None, level=num("level"), light=light,
                   page=min(max(num("page") or 1, 1), 100_000))


@dataclass
class Board:
    rows: list[dict[str, Any]]
    total: int
    counts: dict[str, int] = field(default_factory=dict)
    # from 1 November, when next year's holiday schedule is not known (tracker.dates.stored)
    calendar_warning: str | None = None


def _base(f: BoardFilter, light: Any) -> Select[Any]:
    q = (
        select(ProgressRequest.id)
        .join(ReportingPeriod, ReportingPeriod.id == ProgressRequest.period_id)
        .outerjoin(Assignment, Assignment.id == ProgressRequest.assignment_id)
        .outerjoin(Measure, Measure.id == Assignment.measure_id)
    )
    if f.plan_id:
        q = q.where(ReportingPeriod.plan_id == f.plan_id)
    if f.agency_id:
        q = q.where(ProgressRequest.agency_id == f.agency_id)
    if f.section == INDICATORS:
        q = q.where(ProgressRequest.indicator_id.is_not(None))
    elif f.section:
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


def board(session: Session, f: BoardFilter, today: dt.date, policy: Policy) -> Board:
    """The filtered, sorted page of requests, with counts per light for the filter.

    `f.plan_id` None covers every loaded plan; each row names its plan. A row's
    `provisional` says its due day was counted over a year the calendar does not cover;
    `calendar_warning` (from 1 November, next year not covered) is the board's banner.
    """
    light = light_sql(today, policy)
    base = _base(f, light).subquery()
    counts: dict[str, int] = dict(session.execute(
        select(light, func.count()).select_from(ProgressRequest)
        .where(ProgressRequest.id.in_(select(base.c.id))).group_by(light)).all())
    total = sum(counts.values())
    if f.light:
        total = counts.get(f.light, 0)
    severity = case((light == "red", 0), (light == "yellow", 1), (light == "green", 2), else_=3)
    rows = session.execute(
        with_subject(select(ProgressRequest, light.label("light"), ReportingPeriod.label, Plan.title,
                            Agency.name, Assignment.role, Measure.id, Measure.code, Measure.title,
                            Measure.section, Indicator.code, Indicator.name, Plan.id,
                            Assignment.position))
        .join(Plan, Plan.id == ReportingPeriod.plan_id)
        .where(ProgressRequest.id.in_(select(base.c.id)))
        .order_by(severity, ProgressRequest.due_on, Agency.id, Measure.position, ProgressRequest.id)
        .limit(f.per_page).offset((f.page - 1) * f.per_page)
    ).all()
    overdue_days = _overdue_days({r[0].due_on for r in rows}, today, policy)
    out = []
    for (req, lt, period, plan_title, agency, role, mid, code, title, section, icode, iname,
         plan_id, position) in rows:
        out.append({
            "id": req.id, "light": lt, "period": period, "plan": plan_title, "plan_id": plan_id,
            "agency": agency, "position": position,
            "role": role, "measure_id": mid, "code": code or icode, "title": title or iname,
            "section": INDICATORS if mid is None else section,  # a measure's may be empty
            "due_on": req.due_on, "state": req.state, "level": req.level,
            "answered_at": req.answered_at, "late": req.answered_late,
            "days_overdue": overdue_days[req.due_on] if lt == "red" else 0,
            "provisional": req.due_provisional,
        })
    return Board(out, total, counts, next_year_warning(policy.calendar, today))


def _overdue_days(due_days: set[dt.date], today: dt.date, policy: Policy) -> dict[dt.date, int]:
    # a handful of distinct due days per page: the calendar is asked once per day
    return {d: max(policy.calendar.between(d, today), 0) for d in due_days}


def heat_table(session: Session, f: BoardFilter, today: dt.date, policy: Policy
               ) -> tuple[list[str], list[tuple[str, dict[str, int], int]]]:
    """Overdue (red) requests per agency and section: (sections, [(agency, cells, total)]).

    The board's filter applies as it does to the board's rows (plan, agency, section, role,
    period, ladder level, light: a light other than red leaves the table empty), so the
    table's cells add up to the board's red count for the same filter. `sections` are the
    chosen plan's sections in catalog order (every plan's when none is chosen, or only the
    filtered one), then 主要指标; rows are sorted by their total, largest first. Two queries.
    """
    light = light_sql(today, policy)
    red = _base(f, light).where(light == Light.RED.value)
    q = (select(Agency.id, Agency.name, func.coalesce(Measure.section, literal(INDICATORS)),
                func.count())
         .select_from(ProgressRequest)
         .join(Agency, Agency.id == ProgressRequest.agency_id)
         .outerjoin(Assignment, Assignment.id == ProgressRequest.assignment_id)
         .outerjoin(Measure, Measure.id == Assignment.measure_id)
         .where(ProgressRequest.id.in_(red))
         .group_by(Agency.id, Agency.name, Measure.section).order_by(Agency.id))
    if f.section:
        sections = [f.section]
    else:
        section_query = select(Measure.section).group_by(Measure.section).order_by(
            func.min(Measure.plan_id), func.min(Measure.position))
        if f.plan_id:
            section_query = section_query.where(Measure.plan_id == f.plan_id)
        sections = [*session.scalars(section_query), INDICATORS]
    # keyed by the agency's id: two cities' 市民政局 are two rows
    table: dict[tuple[int, str], dict[str, int]] = {}
    for agency_id, agency, section, n in session.execute(q):
        table.setdefault((agency_id, agency), {})[section] = n
    rows = sorted(((a, cells, sum(cells.values())) for (_, a), cells in table.items()),
                  key=lambda r: -r[2])
    return sections, rows


def on_time_by_period(session: Session, f: BoardFilter, today: dt.date, policy: Policy
                      ) -> list[tuple[str, int, int]]:
    """(period label, answered on time, requests) per period, in due order (waived excluded).

    The board's filter applies as it does to the board's rows (plan, agency, section, role,
    period, ladder level, light); with no plan chosen, periods of the same label in several
    plans are added up. "On time" is `answered_late` false (tracker.requests.rules); an
    open request counts as not on time. One query.
    """
    light = light_sql(today, policy)
    query = (
        select(ReportingPeriod.label,
               func.sum(case((ProgressRequest.answered_late.is_(False), 1), else_=0)),
               func.count(ProgressRequest.id))
        .join(ProgressRequest, ProgressRequest.period_id == ReportingPeriod.id)
        .where(ProgressRequest.state != RequestState.WAIVED.value,
               ProgressRequest.id.in_(_base(f, light)))
        .group_by(ReportingPeriod.label)
        .order_by(func.min(ReportingPeriod.due_on), ReportingPeriod.label))
    return [(label, int(on or 0), n) for label, on, n in session.execute(query)]


@dataclass
class BoardOptions:
    """What the board's filters and forms offer, for the plan chosen (or all plans)."""

    plans: list[tuple[int, str]]
    agencies: list[tuple[int, str]]
    periods: list[str]
    years: list[tuple[int, str, int]]  # (plan id, plan title, year) with a scorecard
    has_drafts: bool
    governments: list[str]  # whose executive meetings the chosen plan tracks


def board_options(session: Session, plan_id: int | None) -> BoardOptions:
    """The choices of the desk's filters: plans, agencies, periods, scorecard years, and
    whether a circular waits for sign-off. A few small queries."""
    from tracker.annual.meetings import governments
    from tracker.annual.scorecard import years_with_data
    from tracker.directory.agencies import plan_agencies

    plans = [(i, t) for i, t in session.execute(select(Plan.id, Plan.title).order_by(Plan.id))]
    period_query = select(ReportingPeriod.label).group_by(ReportingPeriod.label).order_by(
        func.min(ReportingPeriod.due_on))
    drafts = select(Circular.id).where(Circular.state == CircularState.DRAFT)
    if plan_id:
        period_query = period_query.where(ReportingPeriod.plan_id == plan_id)
        drafts = drafts.where(Circular.plan_id == plan_id)
    real = years_with_data(session, plan_id)  # only years some measure was asked about
    titles = dict(plans)
    years = [(pid, titles.get(pid, ""), y) for pid, y in sorted(real)]
    chosen = session.get(Plan, plan_id) if plan_id else (
        session.get(Plan, plans[0][0]) if len(plans) == 1 else None)
    return BoardOptions(
        plans=plans, agencies=plan_agencies(session, plan_id),
        periods=list(session.scalars(period_query)), years=years,
        has_drafts=session.scalar(drafts.limit(1)) is not None,
        governments=[g for g, _ in governments(session, chosen)] if chosen else [])


def plan_for_page(session: Session, plan_id: int | None) -> Plan | None:
    """The plan a page is about: the one asked for, else the only one loaded (else None)."""
    if plan_id:
        return session.get(Plan, plan_id)
    plans = session.scalars(select(Plan).order_by(Plan.id).limit(2)).all()
    return plans[0] if len(plans) == 1 else None


def chosen_plan(session: Session, plan_id: int | None) -> Plan:
    """As `plan_for_page`, for an action that needs a plan. Raises NotFound (404) when the
    plan asked for is unknown, or when none is asked for and several (or none) are loaded."""
    plan = plan_for_page(session, plan_id)
    if plan is None:
        raise NotFound("请指明规划" if not plan_id else f"没有编号为 {plan_id} 的规划")
    return plan
