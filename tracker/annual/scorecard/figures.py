"""Scorecard figures for one plan year, as pandas DataFrames built by set-based queries.

Per agency, out of 100 (DESIGN.md, `Weights`): on-time reporting 40, completeness 20,
progress of the measures it leads 30, executive-meeting compliance 10 (district
governments only). Parts that do not apply to an agency are dropped and the rest
re-weighted to 100. Then minus 2 per supervision notice and 5 per circular, floored at 0.

- on time: requests of the year answered by their due day / requests (waived excluded)
- completeness: requests answered with a complete report (a narrative, and next steps
  unless completed) / requests
- progress: mean latest percent reported by the lead for each measure it leads, against
  the expected share of the plan period elapsed by year end (2017 of 2016–2020 = 40 %),
  capped at 1
- a granted extension moves the due day, so a report by the new day is on time; the
  number of granted extensions is shown per agency
- deductions count documents, not items: the overdue items of one agency that reach a
  rung on the same day (one period's batch) are one supervision notice or one circular,
  as the office would issue them; the item counts are shown beside
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session, aliased

from tracker.annual.meetings import governments
from tracker.dates.workdays import SHANGHAI as _SH
from tracker.enums import (
    AgencyKind,
    ExtensionState,
    IndicatorAttribute,
    Level,
    ProgressStatus,
    RequestState,
    Role,
    level_label,
)
from tracker.models import (
    Agency,
    Assignment,
    Escalation,
    ExecutiveMeeting,
    ExtensionRequest,
    Indicator,
    IndicatorValue,
    Measure,
    MeetingCompliance,
    Plan,
    ProgressReport,
    ProgressRequest,
    ReportingPeriod,
)
from tracker.settings import Weights

SUMMARY_COLUMNS = [
    "agency_id", "单位", "类别", "应报", "按时", "逾期报送", "未报", "完整", "牵头任务平均进度",
    "按时报送得分", "完整性得分", "牵头任务进展得分", "常务会议得分", "催办项数", "督办项数",
    "通报项数", "督办通知(份)", "通报(份)", "获批延期", "扣分", "总分",
]


@dataclass
class Figures:
    year: int
    summary: pd.DataFrame
    measures: pd.DataFrame
    indicators: pd.DataFrame
    escalations: pd.DataFrame
    meetings: pd.DataFrame


def expected_share(plan: Plan, year: int) -> float:
    """Share of the plan period elapsed at the end of `year` (linear schedule)."""
    span = plan.last_year - plan.first_year + 1
    return min(max((year - plan.first_year + 1) / span, 0.0), 1.0)


def _year_requests(plan: Plan, year: int):  # type: ignore[no-untyped-def]
    return (
        select(ProgressRequest)
        .join(ReportingPeriod, ReportingPeriod.id == ProgressRequest.period_id)
        .where(ReportingPeriod.plan_id == plan.id, ReportingPeriod.year == year,
               ProgressRequest.state != RequestState.WAIVED.value)
        .subquery()
    )


def _first_reports():  # type: ignore[no-untyped-def]
    """The first version of each request's report (it decides completeness)."""
    return select(ProgressReport).where(ProgressReport.version == 1).subquery()


def compute(session: Session, plan: Plan, year: int, weights: Weights) -> Figures:
    """All scorecard figures for `year`. Raises nothing on an empty year (zeros)."""
    return Figures(
        year=year,
        summary=agency_summary(session, plan, year, weights),
        measures=measure_progress(session, plan, year),
        indicators=indicator_results(session, plan, year),
        escalations=escalation_list(session, plan, year),
        meetings=meeting_results(session, plan, year),
    )


def agency_summary(session: Session, plan: Plan, year: int, w: Weights) -> pd.DataFrame:
    req = _year_requests(plan, year)
    first = _first_reports()
    complete = and_(first.c.narrative != "",
                    (first.c.next_steps != "") | (first.c.status == ProgressStatus.COMPLETED.value))
    counts = session.execute(
        select(
            req.c.agency_id,
            func.count(req.c.id),
            func.sum(case((req.c.answered_late.is_(False), 1), else_=0)),
            func.sum(case((req.c.answered_late.is_(True), 1), else_=0)),
            func.sum(case((complete, 1), else_=0)),
        )
        .outerjoin(first, first.c.request_id == req.c.id)
        .group_by(req.c.agency_id)
    ).all()
    esc = session.execute(
        select(req.c.agency_id, Escalation.level, req.c.period_id, Escalation.effective_on,
               func.count())
        .join(Escalation, Escalation.request_id == req.c.id)
        .group_by(req.c.agency_id, Escalation.level, req.c.period_id, Escalation.effective_on)
    ).all()
    granted: dict[int, int] = dict(session.execute(
        select(req.c.agency_id, func.count())
        .join(ExtensionRequest, ExtensionRequest.request_id == req.c.id)
        .where(ExtensionRequest.state == ExtensionState.GRANTED.value)
        .group_by(req.c.agency_id)
    ).all())
    progress = _lead_progress(session, plan, year)
    agencies = session.execute(
        select(Agency.id, Agency.name, Agency.kind)
        .where(Agency.id.in_(select(req.c.agency_id))).order_by(Agency.id)
    ).all()
    compliance = {
        g: ok for g, ok in session.execute(
            select(MeetingCompliance.government, MeetingCompliance.compliant)
            .where(MeetingCompliance.plan_id == plan.id, MeetingCompliance.year == year))
    }
    by_agency = {a: (n, on, late, comp) for a, n, on, late, comp in counts}
    items: dict[tuple[int, int], int] = {}  # overdue items per (agency, level)
    documents: dict[tuple[int, int], int] = {}  # notices per (agency, level): one per batch
    for a, lvl, _period, _day, n in esc:
        items[(a, lvl)] = items.get((a, lvl), 0) + n
        documents[(a, lvl)] = documents.get((a, lvl), 0) + 1
    share = expected_share(plan, year)
    rows = []
    for aid, name, kind in agencies:
        n, on_time, late, comp = by_agency.get(aid, (0, 0, 0, 0))
        if not n:
            continue
        on_time, late, comp = int(on_time or 0), int(late or 0), int(comp or 0)
        parts = {"on_time": (w.on_time, on_time / n), "completeness": (w.completeness, comp / n)}
        led = progress.get(aid)
        if led is not None:
            parts["progress"] = (w.progress, min(led / 100 / share, 1.0) if share else 1.0)
        if plan.meeting_duty and kind == AgencyKind.DISTRICT_GOVERNMENT and name in plan.districts:
            parts["meetings"] = (w.meetings, 1.0 if compliance.get(name) else 0.0)
        applicable = sum(weight for weight, _ in parts.values())
        earned = {k: weight * ratio * 100 / applicable for k, (weight, ratio) in parts.items()}
        notices = documents.get((aid, Level.SUPERVISION_NOTICE.value), 0)
        circulars = documents.get((aid, Level.CIRCULAR.value), 0)
        deduction = notices * w.per_supervision_notice + circulars * w.per_circular
        rows.append({
            "agency_id": aid, "单位": name, "类别": kind.value, "应报": n, "按时": on_time,
            "逾期报送": late, "未报": n - on_time - late, "完整": comp,
            "牵头任务平均进度": round(led, 1) if led is not None else None,
            "按时报送得分": round(earned["on_time"], 2),
            "完整性得分": round(earned["completeness"], 2),
            "牵头任务进展得分": round(earned["progress"], 2) if "progress" in earned else None,
            "常务会议得分": round(earned["meetings"], 2) if "meetings" in earned else None,
            "催办项数": items.get((aid, Level.REMINDER.value), 0),
            "督办项数": items.get((aid, Level.SUPERVISION_NOTICE.value), 0),
            "通报项数": items.get((aid, Level.CIRCULAR.value), 0),
            "督办通知(份)": notices, "通报(份)": circulars, "获批延期": granted.get(aid, 0),
            "扣分": round(deduction, 2),
            "总分": round(max(sum(earned.values()) - deduction, 0.0), 2),
        })
    df = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    if df.empty:
        return df.assign(排名=pd.Series(dtype=int))
    df["排名"] = df["总分"].rank(ascending=False, method="min").astype(int)
    return df.sort_values(["排名", "agency_id"]).reset_index(drop=True)


def _latest_lead_reports(plan: Plan, year: int):  # type: ignore[no-untyped-def]
    """Per measure: the lead's most recent report of the year (latest period, latest version)."""
    ranked = (
        select(
            Assignment.measure_id, Assignment.agency_id, ProgressReport.status,
            ProgressReport.percent, ProgressReport.narrative,
            func.row_number().over(
                partition_by=Assignment.measure_id,
                order_by=(ReportingPeriod.ends_on.desc(), ProgressReport.version.desc()),
            ).label("rn"),
        )
        .join(ProgressRequest, ProgressRequest.assignment_id == Assignment.id)
        .join(ReportingPeriod, ReportingPeriod.id == ProgressRequest.period_id)
        .join(ProgressReport, ProgressReport.request_id == ProgressRequest.id)
        .where(Assignment.role == Role.LEAD.value, ReportingPeriod.plan_id == plan.id,
               ReportingPeriod.year == year)
        .subquery()
    )
    return select(ranked).where(ranked.c.rn == 1).subquery()


def _lead_progress(session: Session, plan: Plan, year: int) -> dict[int, float]:
    """Mean latest percent over the measures each agency leads (0 for unreported ones)."""
    latest = _latest_lead_reports(plan, year)
    rows = session.execute(
        select(Assignment.agency_id, func.avg(func.coalesce(latest.c.percent, 0)))
        .join(Measure, Measure.id == Assignment.measure_id)
        .outerjoin(latest, latest.c.measure_id == Assignment.measure_id)
        .where(Assignment.role == Role.LEAD.value, Assignment.active.is_(True),
               Measure.plan_id == plan.id, Measure.active.is_(True))
        .group_by(Assignment.agency_id)
    ).all()
    return {a: float(v) for a, v in rows}


def measure_progress(session: Session, plan: Plan, year: int) -> pd.DataFrame:
    req = _year_requests(plan, year)
    latest = _latest_lead_reports(plan, year)
    lead = aliased(Agency)
    lead_asg = aliased(Assignment)
    asg = aliased(Assignment)
    stats = (
        select(asg.measure_id, func.count(req.c.id).label("n"),
               func.sum(case((req.c.answered_late.is_(False), 1), else_=0)).label("on_time"),
               func.sum(case((req.c.answered_late.is_(True), 1), else_=0)).label("late"),
               func.max(req.c.level).label("max_level"))
        .join(req, req.c.assignment_id == asg.id)
        .group_by(asg.measure_id).subquery()
    )
    rows = session.execute(
        select(Measure.code, Measure.section, Measure.title, lead.name, latest.c.status,
               latest.c.percent, latest.c.narrative, stats.c.n, stats.c.on_time, stats.c.late,
               stats.c.max_level)
        .join(lead_asg, and_(lead_asg.measure_id == Measure.id, lead_asg.role == Role.LEAD.value))
        .join(lead, lead.id == lead_asg.agency_id)
        .outerjoin(latest, latest.c.measure_id == Measure.id)
        .outerjoin(stats, stats.c.measure_id == Measure.id)
        .where(Measure.plan_id == plan.id, Measure.active.is_(True))
        .order_by(Measure.position)
    ).all()
    return pd.DataFrame([{
        "编号": code, "领域": section, "任务": title, "牵头单位": lead_name,
        "牵头单位最新状态": ProgressStatus(status).label if status else "未报送",
        "完成进度(%)": percent if percent is not None else 0,
        "应报": int(n or 0), "按时": int(on or 0), "逾期报送": int(late or 0),
        "未报": int(n or 0) - int(on or 0) - int(late or 0),
        "最高督办级别": level_label(lvl),
        "最新进展": narrative or "",
    } for code, section, title, lead_name, status, percent, narrative, n, on, late, lvl in rows])


def indicator_results(session: Session, plan: Plan, year: int) -> pd.DataFrame:
    owner = aliased(Agency)
    rows = session.execute(
        select(Indicator, owner.name, IndicatorValue.value)
        .join(owner, owner.id == Indicator.owner_agency_id)
        .outerjoin(IndicatorValue, and_(IndicatorValue.indicator_id == Indicator.id,
                                        IndicatorValue.year == year))
        .where(Indicator.plan_id == plan.id, Indicator.active.is_(True))
        .order_by(Indicator.id)
    ).all()
    out = []
    for ind, owner_name, value in rows:
        met = ind.meets(value) if value is not None else None
        out.append({
            "编号": ind.code, "指标": ind.name, "目标值": f"{ind.comparator}{ind.target:g}{ind.unit}",
            "属性": IndicatorAttribute(ind.attribute).label, "报送单位": owner_name,
            f"{year}年实际值": value,
            "是否达标": "未报送" if met is None else ("达标" if met else "未达标"),
            "约束性指标未达标": "是" if ind.attribute == "binding" and met is False else "",
        })
    return pd.DataFrame(out)


def escalation_list(session: Session, plan: Plan, year: int) -> pd.DataFrame:
    req = _year_requests(plan, year)
    rows = session.execute(
        select(ReportingPeriod.label, Measure.code, Indicator.code, Agency.name, Escalation.level,
               Escalation.effective_on, req.c.due_on, req.c.answered_at)
        .join(req, req.c.id == Escalation.request_id)
        .join(ReportingPeriod, ReportingPeriod.id == req.c.period_id)
        .join(Agency, Agency.id == req.c.agency_id)
        .outerjoin(Assignment, Assignment.id == req.c.assignment_id)
        .outerjoin(Measure, Measure.id == Assignment.measure_id)
        .outerjoin(Indicator, Indicator.id == req.c.indicator_id)
        .order_by(Escalation.effective_on, Escalation.level, Agency.id, Measure.position)
    ).all()
    return pd.DataFrame([{
        "报送期": period, "任务/指标": mcode or icode, "责任单位": agency,
        "级别": Level(level).label, "截止日期": due_on, "发出日期": effective_on,
        "报送时间": answered_at.astimezone(_SH).replace(tzinfo=None) if answered_at else None,
    } for period, mcode, icode, agency, level, effective_on, due_on, answered_at in rows],
        columns=["报送期", "任务/指标", "责任单位", "级别", "截止日期", "发出日期", "报送时间"])


def meeting_results(session: Session, plan: Plan, year: int) -> pd.DataFrame:
    found = {
        g: (n, ok) for g, n, ok in session.execute(
            select(MeetingCompliance.government, MeetingCompliance.meetings,
                   MeetingCompliance.compliant)
            .where(MeetingCompliance.plan_id == plan.id, MeetingCompliance.year == year))
    }
    dates: dict[str, list[str]] = {}
    for g, held_on in session.execute(
        select(ExecutiveMeeting.government, ExecutiveMeeting.held_on)
        .where(ExecutiveMeeting.plan_id == plan.id,
               ExecutiveMeeting.held_on.between(dt.date(year, 1, 1), dt.date(year, 12, 31)))
        .order_by(ExecutiveMeeting.held_on)
    ):
        dates.setdefault(g, []).append(held_on.isoformat())
    out = []
    for g, _ in governments(session, plan):
        n, ok = found.get(g, (len(dates.get(g, [])), None))
        out.append({"政府": g, "会议次数": n, "会议日期": "、".join(dates.get(g, [])),
                    "是否履职": "未认定" if ok is None else ("是" if ok else "否")})
    return pd.DataFrame(out)

