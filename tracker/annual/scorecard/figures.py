"""Scorecard figures for one plan year, as pandas DataFrames built by set-based queries.

The rules are `settings.ScoringRules` (DESIGN.md "Scorecard", versioned; printed in the
说明 sheet by `ScoringRules.describe`). Per agency, each part on its own maximum:

- 按时报送 (on_time): on-time rate × weight. Requests of the year's periods, waived ones
  excluded; a report by the (extended) due day is on time. A milestone's request (a
  task's own 完成时限, owed by its lead: tracker.requests.milestones) is one of them, in
  the year of its deadline: a deadline report is owed like a quarterly one and chased by
  the same ladder, so it counts in 应报/按时/完整 and its 督办 and 通报 deduct alike
  (issue 13, build item 5).
- 完整性 (completeness): rate of requests whose first report holds a narrative, and next
  steps unless completed, × weight.
- 牵头任务进展 (progress, lead agencies only): for each measure it leads, the lead's latest
  percent of the year against the share of the plan period elapsed by year end (2017 of
  2016–2020: 40 %), capped at 1, 1 when completed, 0 when never reported; the mean × weight.
- 常务会议 (meetings, the plan's district governments only, when the plan sets the duty):
  the whole weight if the government's executive meeting studied the plan in the year.
- A part that does not apply is NaN ("不适用"); 百分制得分 = Σ points / Σ applicable
  weights × 100. Deductions count documents actually issued (issue 11): each delivered 督办
  notice (one per agency, period and day, `Escalation.notified_at`) and each signed 通报
  naming the agency (`Circular.state` signed). 总分 = max(百分制得分 − 扣分, 0).
- Rounding (ROUND_HALF_UP): rates to `percent_digits`, points to `score_digits` from the
  unrounded rates; 百分制得分 from the rounded points.
- City departments (市级部门: every agency but the plan's district governments) and the
  district governments (区人民政府) are ranked separately; ties by `rank_group`'s rule.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import Session, aliased

from tracker.annual.indicators import trajectory_table
from tracker.annual.meetings import compliant_governments, meeting_counts, meeting_table
from tracker.dates.chinese import cn_period
from tracker.dates.workdays import SHANGHAI, local_date
from tracker.enums import (
    AgencyKind,
    CircularState,
    ExtensionState,
    Level,
    ProgressStatus,
    RequestState,
    Role,
    level_label,
)
from tracker.models import (
    Agency,
    Assignment,
    Circular,
    CircularItem,
    Escalation,
    ExtensionRequest,
    Indicator,
    Measure,
    Plan,
    ProgressReport,
    ProgressRequest,
    ReportingPeriod,
)
from tracker.numbers import percent, round_half_up  # round_half_up re-exported
from tracker.settings import ScoringRules
from tracker.sql import id_set

DEPARTMENTS = "市级部门"
DISTRICTS = "区人民政府"
GROUPS = (DEPARTMENTS, DISTRICTS)

SUMMARY_COLUMNS = [
    "agency_id", "单位", "组别", "应报", "按时", "逾期报送", "未报", "完整",
    "按时报送率(%)", "完整率(%)", "牵头任务数", "牵头任务达成率(%)", "按时报送得分",
    "完整性得分", "牵头任务进展得分", "常务会议得分", "适用满分", "百分制得分",
    "督办通知(份)", "通报(份)", "扣分", "总分", "排名", "获批延期",
]
POINT_COLUMNS = ["按时报送得分", "完整性得分", "牵头任务进展得分", "常务会议得分"]
MEASURE_COLUMNS = [
    "编号", "任务", "领域", "牵头单位", "牵头单位最新状态", "完成进度(%)", "本年应达进度(%)",
    "达成率(%)", "应报", "按时", "逾期报送", "未报", "最高督办级别", "最新进展",
]
INDICATOR_COLUMNS = [
    "编号", "指标", "属性", "报送单位", "单位", "基期值", "目标值", "目标值数值", "本年应达值",
    "本年实际值", "分子", "分母", "数据来源", "是否符合进度", "处理情况",
]
BY_AGENCY_COLUMNS = ["单位", "组别", "催办(项)", "督办(项)", "通报(项)", "督办通知(份)", "通报(份)"]
BY_MEASURE_COLUMNS = ["编号", "任务", "牵头单位", "催办(项)", "督办(项)", "通报(项)"]
BY_RUNG_COLUMNS = ["级别", "事项数", "涉及单位数", "最早发出日期", "最晚发出日期"]
DETAIL_COLUMNS = ["报送期", "编号", "任务", "责任单位", "级别", "截止日期", "发出日期", "报送日期"]
DEDUCTION_COLUMNS = ["单位", "组别", "文书", "标题", "日期", "扣分"]
MEETING_COLUMNS = ["政府", "会议次数", "会议日期", "会议名称及届次", "状态", "是否履职"]
# a district's sheet: 编号, 任务, one column per reporting period, 最高督办级别
DISTRICT_COLUMNS = ["编号", "任务", "最高督办级别"]
RUNG_COLUMN = {Level.REMINDER: "催办(项)", Level.SUPERVISION_NOTICE: "督办(项)",
               Level.CIRCULAR: "通报(项)"}


@dataclass
class Figures:
    """Everything a scorecard prints (the workbook takes nothing else). DataFrame columns
    are the module's *_COLUMNS lists; dates are `datetime.date`; NaN points are 不适用."""

    plan_key: str
    plan_title: str
    year: int
    generated: dt.datetime  # aware; printed in Asia/Shanghai
    data_as_of: dt.date  # Beijing date the data was read (数据截至)
    scoring: ScoringRules
    summary: pd.DataFrame
    measures: pd.DataFrame
    indicators: pd.DataFrame
    escalations_by_agency: pd.DataFrame
    escalations_by_measure: pd.DataFrame
    escalations_by_rung: pd.DataFrame
    escalation_detail: pd.DataFrame  # the CSV beside the workbook, never inside it
    deductions: pd.DataFrame
    meetings: pd.DataFrame
    districts: dict[str, pd.DataFrame] = field(default_factory=dict)
    issued: bool = False
    issuer: str = ""  # the supervision office, for the workbook's properties
    note: str = ""  # e.g. that this card was regenerated, and from which rules
    # a year of more than DETAIL_IN_MEMORY escalations: the detail streamed from the
    # database on each call (escalation_detail is then empty); see `detail_records`
    detail_source: Callable[[], Iterator[tuple[Any, ...]]] | None = field(
        default=None, repr=False, compare=False)
    _detail_digest: pd.DataFrame | None = field(default=None, init=False, repr=False,
                                                compare=False)

    def frames(self) -> list[pd.DataFrame]:
        """The figures' tables in a fixed order (the checkpoint hashes them); a streamed
        detail is represented by its row count and the sha256 of its rows."""
        return [self.summary, self.measures, self.indicators, self.escalations_by_agency,
                self.escalations_by_measure, self.escalations_by_rung, self.detail_frame(),
                self.deductions, self.meetings] + [self.districts[k] for k in sorted(self.districts)]

    def detail_frame(self) -> pd.DataFrame:
        """`escalation_detail`, or for a streamed detail one row (行数, sha256) computed
        by streaming it once."""
        if self.detail_source is None:
            return self.escalation_detail
        if self._detail_digest is None:
            h, n = hashlib.sha256(), 0
            for record in self.detail_source():
                h.update(repr(record).encode())
                n += 1
            self._detail_digest = pd.DataFrame([(n, h.hexdigest())], columns=["行数", "sha256"])
        return self._detail_digest


def expected_share(plan: Plan, year: int) -> float:
    """Share of the plan period elapsed at the end of `year` (linear schedule, calendar
    years; 2017 of 2016–2020 = 0.4). Rule source: DESIGN.md, progress of led measures."""
    span = plan.last_year - plan.first_year + 1
    return min(max((year - plan.first_year + 1) / span, 0.0), 1.0)


def group_of(plan: Plan, name: str, kind: AgencyKind | str) -> str:
    """The ranking group of an agency in a plan: the plan's district governments rank
    among themselves (区人民政府), every other responsible unit as a city department."""
    return DISTRICTS if kind == AgencyKind.DISTRICT_GOVERNMENT and name in plan.districts \
        else DEPARTMENTS


def attainment(percent: float | None, status: str | None, share: float) -> float:
    """One led measure's attainment of its schedule in 0..1: completed = 1, never reported
    = 0, else the latest percent over the share of the plan elapsed (×100), capped at 1."""
    if status == ProgressStatus.COMPLETED.value:
        return 1.0
    if percent is None:
        return 0.0
    if share <= 0:
        return 1.0
    return min(float(percent) / (share * 100), 1.0)


def _year_requests(plan: Plan, year: int, as_of: dt.date | None = None):  # type: ignore[no-untyped-def]
    """The year's requests, waived ones left out; with `as_of` (a trial card during the
    year) also those neither answered nor past their due day yet: they are not late, and
    not yet on time either (待报送), so they count in no rate."""
    query = (
        select(ProgressRequest)
        .join(ReportingPeriod, ReportingPeriod.id == ProgressRequest.period_id)
        .where(ReportingPeriod.plan_id == plan.id, ReportingPeriod.year == year,
               ProgressRequest.state != RequestState.WAIVED.value)
    )
    if as_of is not None:
        query = query.where(or_(ProgressRequest.state == RequestState.ANSWERED.value,
                                ProgressRequest.due_on < as_of))
    return query.subquery()


def _first_reports():  # type: ignore[no-untyped-def]
    """The first version of each request's report (it decides completeness)."""
    return select(ProgressReport).where(ProgressReport.version == 1).subquery()


def compute(session: Session, plan: Plan, year: int, scoring: ScoringRules, *,
            now: dt.datetime, issued: bool = False) -> Figures:
    """All scorecard figures of `plan` for `year` as the database stands at `now` (aware).
    Raises nothing on an empty year (empty tables)."""
    deductions = deduction_list(session, plan, year, scoring)
    by_rung = escalations_by_rung(session, plan, year)
    return Figures(
        plan_key=plan.key, plan_title=plan.title, year=year, generated=now,
        data_as_of=local_date(now), scoring=scoring,
        summary=agency_summary(session, plan, year, scoring, deductions, local_date(now)),
        measures=measure_progress(session, plan, year, local_date(now)),
        indicators=indicator_results(session, plan, year),
        escalations_by_agency=escalations_by_agency(session, plan, year, deductions),
        escalations_by_measure=escalations_by_measure(session, plan, year),
        escalations_by_rung=by_rung,
        # the rungs per level add up to the detail's rows (`escalation_count`)
        **_detail(session, plan, year, int(by_rung["事项数"].sum())),
        deductions=deductions,
        meetings=meeting_results(session, plan, year),
        districts=district_items(session, plan, year, local_date(now)),
        issued=issued, issuer=plan.supervision_office,
    )


# up to this many escalations the detail is a DataFrame; beyond, it is streamed
DETAIL_IN_MEMORY = 50_000


def _detail(session: Session, plan: Plan, year: int, count: int) -> dict[str, Any]:
    """The detail fields of `Figures`: the DataFrame for a year of at most
    DETAIL_IN_MEMORY escalations (`count`: the year's), else an empty one and a stream over
    the same session."""
    if count <= DETAIL_IN_MEMORY:
        return {"escalation_detail": escalation_detail(session, plan, year)}
    return {"escalation_detail": pd.DataFrame(columns=DETAIL_COLUMNS),
            "detail_source": lambda: escalation_detail_rows(session, plan, year)}


def _agencies(session: Session, plan: Plan, ids: Any) -> dict[int, tuple[str, str]]:
    """id -> (name, group) of the agencies `ids` (a SELECT, or ids from Python, held in a
    temporary table: a national plan names thousands)."""
    if isinstance(ids, Select):
        return _agency_rows(session, plan, ids)
    with id_set(session, ids) as listed:
        return _agency_rows(session, plan, listed)


def _agency_rows(session: Session, plan: Plan, ids: Select[Any]) -> dict[int, tuple[str, str]]:
    return {aid: (name, group_of(plan, name, kind)) for aid, name, kind in session.execute(
        select(Agency.id, Agency.name, Agency.kind).where(Agency.id.in_(ids)))}


def deduction_list(session: Session, plan: Plan, year: int, scoring: ScoringRules) -> pd.DataFrame:
    """The documents issued against each agency for `year`'s periods, one row per document
    and agency: each delivered 督办 notice (the rungs of one agency, period and day are one
    notice; dated by its first delivery) and each signed 通报 naming the agency (dated by its
    sign-off). Drafts and undelivered notices are not here. Two queries and one over the
    plan's signed circulars."""
    req = _year_requests(plan, year)
    notices = session.execute(
        select(req.c.agency_id, ReportingPeriod.label, Escalation.effective_on,
               func.min(Escalation.notified_at), func.count())
        .join(Escalation, Escalation.request_id == req.c.id)
        .join(ReportingPeriod, ReportingPeriod.id == req.c.period_id)
        .where(Escalation.level == Level.SUPERVISION_NOTICE.value,
               Escalation.notified_at.is_not(None))
        .group_by(req.c.agency_id, ReportingPeriod.label, Escalation.effective_on)
    ).all()
    labels = select(ReportingPeriod.label).where(ReportingPeriod.plan_id == plan.id,
                                                 ReportingPeriod.year == year)
    # per signed circular and agency, the items of the year's periods it named (SQL)
    circulated: list[tuple[int, str, dt.datetime, int]] = [
        (aid, title, signed_at, n) for _cid, title, signed_at, aid, n in session.execute(
            select(Circular.id, Circular.title, Circular.signed_at, CircularItem.agency_id,
                   func.count())
            .join(CircularItem, CircularItem.circular_id == Circular.id)
            .where(Circular.plan_id == plan.id, Circular.state == CircularState.SIGNED.value,
                   CircularItem.period.in_(labels))
            .group_by(Circular.id, Circular.title, Circular.signed_at, CircularItem.agency_id)
            .order_by(Circular.signed_at, Circular.id, CircularItem.agency_id))
        if signed_at is not None]  # always set once signed
    names = _agencies(session, plan, {a for a, *_ in notices} | {a for a, *_ in circulated})
    rows = []
    for aid, label, _day, first, n in notices:
        name, group = names[aid]
        rows.append((name, group, "督办通知", f"{cn_period(label)}逾期未报送督办通知（{n}项）",
                     _local_day(first), scoring.per_supervision_notice))
    for aid, title, signed_at, n in circulated:
        name, group = names[aid]
        rows.append((name, group, "通报", f"{title}（点名{n}项）", _local_day(signed_at),
                     scoring.per_circular))
    df = pd.DataFrame(rows, columns=DEDUCTION_COLUMNS)
    return df.sort_values(["组别", "单位", "日期", "文书"], kind="stable").reset_index(drop=True)


def _local_day(at: dt.datetime) -> dt.date:
    return (at if at.tzinfo else at.replace(tzinfo=dt.UTC)).astimezone(SHANGHAI).date()


def _lead_attainment(session: Session, plan: Plan, year: int) -> pd.DataFrame:
    """Per active led measure: lead agency, the lead's latest percent and status of the
    year, and its attainment (`attainment`)."""
    latest = _latest_lead_reports(plan, year)
    rows = session.execute(
        select(Assignment.agency_id, Measure.id, latest.c.percent, latest.c.status)
        .join(Measure, Measure.id == Assignment.measure_id)
        .outerjoin(latest, latest.c.measure_id == Assignment.measure_id)
        .where(Assignment.role == Role.LEAD.value, Assignment.active.is_(True),
               Measure.plan_id == plan.id, Measure.active.is_(True))
    ).all()
    share = expected_share(plan, year)
    return pd.DataFrame([(a, m, attainment(p, s, share)) for a, m, p, s in rows],
                        columns=["agency_id", "measure_id", "attainment"])


def meeting_compliance(session: Session, plan: Plan, year: int) -> dict[str, bool]:
    """Per government: whether its executive meeting studied the plan in `year`: the
    year-end finding once recorded (`meetings.compliant_governments`), until then whether a
    meeting held in the year has been confirmed by the office so far."""
    found = compliant_governments(session, plan, year)
    counts = meeting_counts(session, plan, year)
    return {g: ok if ok is not None else counts.get(g, 0) >= 1 for g, ok in found.items()}


def agency_summary(session: Session, plan: Plan, year: int, rules: ScoringRules,
                   deductions: pd.DataFrame, as_of: dt.date | None = None) -> pd.DataFrame:
    """One row per agency asked for progress in `year` (SUMMARY_COLUMNS), ranked within
    its group. `deductions` is `deduction_list`'s table; `as_of` (Beijing date) leaves out
    requests not yet due and not answered (`_year_requests`)."""
    req = _year_requests(plan, year, as_of)
    first = _first_reports()
    complete = and_(first.c.narrative != "",
                    (first.c.next_steps != "") | (first.c.status == ProgressStatus.COMPLETED.value))
    counts = session.execute(
        select(req.c.agency_id, func.count(req.c.id),
               func.sum(case((req.c.answered_late.is_(False), 1), else_=0)),
               func.sum(case((req.c.answered_late.is_(True), 1), else_=0)),
               func.sum(case((complete, 1), else_=0)))
        .outerjoin(first, first.c.request_id == req.c.id)
        .group_by(req.c.agency_id)
    ).all()
    granted: dict[int, int] = dict(session.execute(  # type: ignore[arg-type]
        select(req.c.agency_id, func.count())
        .join(ExtensionRequest, ExtensionRequest.request_id == req.c.id)
        .where(ExtensionRequest.state == ExtensionState.GRANTED.value)
        .group_by(req.c.agency_id)
    ).all())
    led = _lead_attainment(session, plan, year).groupby("agency_id")["attainment"] \
        .agg(["count", "mean"])
    names = _agencies(session, plan, select(req.c.agency_id))
    compliance = meeting_compliance(session, plan, year) if plan.meeting_duty else {}
    docs = deductions.groupby(["单位", "文书"]).size().to_dict()
    pd_, sd = rules.percent_digits, rules.score_digits
    rows = []
    for aid, n, on_time, late, comp in counts:
        name, group = names[aid]
        on_time, late, comp = int(on_time or 0), int(late or 0), int(comp or 0)
        points: dict[str, float] = {
            "按时报送得分": round_half_up(rules.on_time * on_time / n, sd),
            "完整性得分": round_half_up(rules.completeness * comp / n, sd),
        }
        weights = {"按时报送得分": rules.on_time, "完整性得分": rules.completeness}
        n_led, mean = (int(led.at[aid, "count"]), float(led.at[aid, "mean"])) \
            if aid in led.index else (0, math.nan)
        if n_led:
            points["牵头任务进展得分"] = round_half_up(rules.progress * mean, sd)
            weights["牵头任务进展得分"] = rules.progress
        if group == DISTRICTS and name in compliance:
            points["常务会议得分"] = rules.meetings if compliance[name] else 0.0
            weights["常务会议得分"] = rules.meetings
        applicable = sum(weights.values())
        hundred = round_half_up(sum(points.values()) / applicable * 100, sd) if applicable else 0.0
        notices = int(docs.get((name, "督办通知"), 0))
        circulars = int(docs.get((name, "通报"), 0))
        deduction = round_half_up(notices * rules.per_supervision_notice
                                  + circulars * rules.per_circular, sd)
        rows.append({
            "agency_id": aid, "单位": name, "组别": group, "应报": n, "按时": on_time,
            "逾期报送": late, "未报": n - on_time - late, "完整": comp,
            "按时报送率(%)": percent(on_time, n, pd_),
            "完整率(%)": percent(comp, n, pd_),
            "牵头任务数": n_led,
            "牵头任务达成率(%)": round_half_up(100 * mean, pd_) if n_led else math.nan,
            **{c: points.get(c, math.nan) for c in POINT_COLUMNS},
            "适用满分": applicable, "百分制得分": hundred,
            "督办通知(份)": notices, "通报(份)": circulars, "扣分": deduction,
            "总分": round_half_up(max(hundred - deduction, 0.0), sd),
            "排名": 0, "获批延期": int(granted.get(aid, 0)),
        })
    df = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    ranked = [rank_group(df[df["组别"] == g]) for g in GROUPS]
    out = pd.concat([r for r in ranked if not r.empty] or [df.iloc[0:0]], ignore_index=True)
    return out.astype({"排名": int})


TIE_ORDER = [("总分", False), ("按时报送得分", False), ("牵头任务进展得分", False),
             ("完整性得分", False), ("扣分", True)]


def rank_group(df: pd.DataFrame) -> pd.DataFrame:
    """One group's rows ranked (排名 1 = best) by the stated tie rule: 总分, then 按时报送得分,
    牵头任务进展得分 (不适用 after any score), 完整性得分 (higher first), then 扣分 (fewer
    first); rows equal on all of these share a rank (the next rank skips) and are listed
    by name. Rule source: the scorecard's 说明 (ScoringRules.describe, 排名)."""
    if df.empty:
        return df
    names = [f"k{i}" for i in range(len(TIE_ORDER))]
    keys = pd.DataFrame({k: (df[c] if asc else -df[c].fillna(-1.0)).to_numpy(dtype=float)
                         for k, (c, asc) in zip(names, TIE_ORDER, strict=True)})
    keys["单位"] = df["单位"].to_numpy()
    order = keys.sort_values([*names, "单位"], kind="stable").index.to_numpy()
    out = df.iloc[order].reset_index(drop=True)
    ordered_keys = keys.iloc[order][names].reset_index(drop=True)
    # a row whose keys differ from the row before starts a rank (its position); equal rows
    # share the first one's, so the next rank skips
    starts = (ordered_keys != ordered_keys.shift()).any(axis=1)
    position = pd.Series(range(1, len(out) + 1), dtype=float)
    out["排名"] = position.where(starts).ffill().astype(int).to_numpy()
    return out


def _latest_lead_reports(plan: Plan, year: int):  # type: ignore[no-untyped-def]
    """Per measure: the lead's most recent report of the year (latest period, latest version)."""
    ranked = (
        select(
            Assignment.measure_id, Assignment.agency_id, ProgressReport.status,
            ProgressReport.percent, ProgressReport.narrative,
            func.row_number().over(
                partition_by=Assignment.measure_id,
                # a milestone ends on its deadline, perhaps a quarter's last day too:
                # then the later report is the latest word
                order_by=(ReportingPeriod.ends_on.desc(), ProgressReport.submitted_at.desc(),
                          ProgressReport.version.desc()),
            ).label("rn"),
        )
        .join(ProgressRequest, ProgressRequest.assignment_id == Assignment.id)
        .join(ReportingPeriod, ReportingPeriod.id == ProgressRequest.period_id)
        .join(ProgressReport, ProgressReport.request_id == ProgressRequest.id)
        .where(Assignment.role == Role.LEAD.value, Assignment.active.is_(True),
               ReportingPeriod.plan_id == plan.id, ReportingPeriod.year == year)
        .subquery()
    )
    return select(ranked).where(ranked.c.rn == 1).subquery()


def measure_progress(session: Session, plan: Plan, year: int,
                     as_of: dt.date | None = None) -> pd.DataFrame:
    """One row per active measure (MEASURE_COLUMNS): the lead's latest report of the year,
    its attainment, and the measure's requests of the year (due by `as_of`, or answered)."""
    req = _year_requests(plan, year, as_of)
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
        .join(lead_asg, and_(lead_asg.measure_id == Measure.id, lead_asg.role == Role.LEAD.value,
                             lead_asg.active.is_(True)))
        .join(lead, lead.id == lead_asg.agency_id)
        .outerjoin(latest, latest.c.measure_id == Measure.id)
        .outerjoin(stats, stats.c.measure_id == Measure.id)
        .where(Measure.plan_id == plan.id, Measure.active.is_(True))
        .order_by(Measure.position)
    ).all()
    share = expected_share(plan, year)
    return pd.DataFrame([{
        "编号": code, "任务": title, "领域": section, "牵头单位": lead_name,
        "牵头单位最新状态": ProgressStatus(status).label if status else "未报送",
        "完成进度(%)": percent if percent is not None else 0,
        "本年应达进度(%)": round_half_up(share * 100, 1),
        "达成率(%)": round_half_up(100 * attainment(percent, status, share), 1),
        "应报": int(n or 0), "按时": int(on or 0), "逾期报送": int(late or 0),
        "未报": int(n or 0) - int(on or 0) - int(late or 0),
        "最高督办级别": level_label(lvl),
        "最新进展": narrative or "",
    } for code, section, title, lead_name, status, percent, narrative, n, on, late, lvl in rows],
        columns=MEASURE_COLUMNS)


def indicator_results(session: Session, plan: Plan, year: int) -> pd.DataFrame:
    """One row per active indicator: the year's value against its trajectory
    (INDICATOR_COLUMNS; the indicator wing's `trajectory_table`)."""
    return trajectory_table(session, plan, year)[INDICATOR_COLUMNS]


def _rung_counts(session: Session, plan: Plan, year: int, *group: Any,
                 join_agency: bool = False) -> list[Any]:
    req = _year_requests(plan, year)
    columns = [g(req) for g in group] + ([Agency.name, Agency.kind] if join_agency else [])
    query = (select(*columns, Escalation.level, func.count()).select_from(req)
             .join(Escalation, Escalation.request_id == req.c.id))
    if join_agency:
        query = query.join(Agency, Agency.id == req.c.agency_id)
    return list(session.execute(query.group_by(*columns, Escalation.level)).all())


def escalations_by_agency(session: Session, plan: Plan, year: int,
                          deductions: pd.DataFrame) -> pd.DataFrame:
    """Overdue items per agency and rung, with the documents issued (BY_AGENCY_COLUMNS)."""
    counts: dict[int, dict[str, int]] = {}
    names: dict[int, tuple[str, str]] = {}
    # the agency named in the same GROUP BY (no second read of the agencies counted)
    for aid, name, kind, level, n in _rung_counts(session, plan, year, lambda r: r.c.agency_id,
                                                  join_agency=True):
        counts.setdefault(aid, {})[RUNG_COLUMN[Level(level)]] = n
        names[aid] = (name, group_of(plan, name, kind))
    docs = deductions.groupby(["单位", "文书"]).size().to_dict()
    rows = [{"单位": names[a][0], "组别": names[a][1],
             **{c: by.get(c, 0) for c in RUNG_COLUMN.values()},
             "督办通知(份)": int(docs.get((names[a][0], "督办通知"), 0)),
             "通报(份)": int(docs.get((names[a][0], "通报"), 0))} for a, by in counts.items()]
    df = pd.DataFrame(rows, columns=BY_AGENCY_COLUMNS)
    return df.sort_values(["组别", "通报(项)", "督办(项)", "催办(项)", "单位"],
                          ascending=[True, False, False, False, True]).reset_index(drop=True)


def escalations_by_measure(session: Session, plan: Plan, year: int) -> pd.DataFrame:
    """Overdue items per measure (or indicator) and rung (BY_MEASURE_COLUMNS), in the
    plan's order."""
    req = _year_requests(plan, year)
    lead_asg = aliased(Assignment)
    lead = aliased(Agency)
    owner = aliased(Agency)
    asg = aliased(Assignment)
    # the rungs counted per measure (or indicator) and level first, then the few groups
    # named: joined the other way round, each rung would meet every lead of its measure
    rungs = (
        select(asg.measure_id, req.c.indicator_id, Escalation.level, func.count().label("n"))
        .select_from(req)
        .join(Escalation, Escalation.request_id == req.c.id)
        .outerjoin(asg, asg.id == req.c.assignment_id)
        .group_by(asg.measure_id, req.c.indicator_id, Escalation.level)
        .subquery())
    rows = session.execute(
        select(Measure.code, Measure.title, Measure.position, lead.name, Indicator.id,
               Indicator.code, Indicator.name, owner.name, rungs.c.level, rungs.c.n)
        .select_from(rungs)
        .outerjoin(Measure, Measure.id == rungs.c.measure_id)
        .outerjoin(lead_asg, and_(lead_asg.measure_id == Measure.id, lead_asg.role == Role.LEAD.value))
        .outerjoin(lead, lead.id == lead_asg.agency_id)
        .outerjoin(Indicator, Indicator.id == rungs.c.indicator_id)
        .outerjoin(owner, owner.id == Indicator.owner_agency_id)
    ).all()
    table: dict[tuple[Any, ...], dict[str, Any]] = {}
    for mcode, mtitle, pos, lead_name, ind, icode, iname, owner_name, level, n in rows:
        code, title = mcode or icode, mtitle or iname
        row = table.setdefault((pos if pos is not None else 10**9, ind or 0, code), {
            "编号": code, "任务": title, "牵头单位": lead_name or owner_name,
            **{c: 0 for c in RUNG_COLUMN.values()}})
        row[RUNG_COLUMN[Level(level)]] = n
    return pd.DataFrame([table[k] for k in sorted(table)], columns=BY_MEASURE_COLUMNS)


def escalations_by_rung(session: Session, plan: Plan, year: int) -> pd.DataFrame:
    """Per rung: overdue items, agencies concerned, first and last day (BY_RUNG_COLUMNS)."""
    req = _year_requests(plan, year)
    rows = session.execute(
        select(Escalation.level, func.count(), func.count(func.distinct(req.c.agency_id)),
               func.min(Escalation.effective_on), func.max(Escalation.effective_on))
        .join(Escalation, Escalation.request_id == req.c.id)
        .group_by(Escalation.level).order_by(Escalation.level)
    ).all()
    return pd.DataFrame([(Level(lv).label, n, agencies, first, last)
                         for lv, n, agencies, first, last in rows], columns=BY_RUNG_COLUMNS)


def _detail_query(plan: Plan, year: int) -> Select[Any]:
    req = _year_requests(plan, year)
    return (
        select(ReportingPeriod.label, Measure.code, Measure.title, Indicator.code, Indicator.name,
               Agency.name, Escalation.level, Escalation.effective_on, req.c.due_on,
               req.c.answered_at)
        .join(req, req.c.id == Escalation.request_id)
        .join(ReportingPeriod, ReportingPeriod.id == req.c.period_id)
        .join(Agency, Agency.id == req.c.agency_id)
        .outerjoin(Assignment, Assignment.id == req.c.assignment_id)
        .outerjoin(Measure, Measure.id == Assignment.measure_id)
        .outerjoin(Indicator, Indicator.id == req.c.indicator_id)
        .order_by(Escalation.effective_on, Escalation.level, Agency.id, Measure.position,
                  Escalation.id)
    )


def escalation_count(session: Session, plan: Plan, year: int) -> int:
    """How many rungs were fired for `year`'s requests (the detail's rows): one COUNT."""
    req = _year_requests(plan, year)
    return int(session.scalar(select(func.count()).select_from(Escalation)
                              .join(req, req.c.id == Escalation.request_id)) or 0)


def escalation_detail_rows(session: Session, plan: Plan, year: int, *,
                           chunk: int = 5000) -> Iterator[tuple[Any, ...]]:
    """Every rung fired for the year's requests, as DETAIL_COLUMNS tuples in the detail's
    order, streamed from one statement `chunk` rows at a time (a server-side cursor on
    PostgreSQL): memory bounded by the chunk, whatever the number of escalations."""
    # a year has a handful of periods and three rungs: each printed once, then looked up
    periods: dict[str, str] = {}
    rungs = {lv.value: lv.label for lv in Level}
    for (period, mcode, mtitle, icode, iname, agency, level, effective_on, due_on,
         answered_at) in session.connection().execute(_detail_query(plan, year)
                                                      .execution_options(yield_per=chunk)):
        printed = periods.get(period)
        if printed is None:
            printed = periods[period] = cn_period(period)
        yield (printed, mcode or icode, mtitle or iname, agency, rungs[level],
               due_on, effective_on, _local_day(answered_at) if answered_at else None)


def escalation_detail(session: Session, plan: Plan, year: int) -> pd.DataFrame:
    """Every rung fired for the year's requests (DETAIL_COLUMNS) as a DataFrame: the CSV
    beside the workbook, so a province-sized year never meets Excel's row limit. A year
    of more than DETAIL_IN_MEMORY rows is streamed instead (`compute`)."""
    return pd.DataFrame(list(escalation_detail_rows(session, plan, year)),
                        columns=DETAIL_COLUMNS)


def detail_records(figures: Any) -> Iterator[tuple[Any, ...]]:
    """The detail's rows of a `Figures` (or a look-alike without a stream): streamed from
    the database when `figures.detail_source` is set, else from `escalation_detail`."""
    source = getattr(figures, "detail_source", None)
    if source is not None:
        yield from source()
    else:
        yield from figures.escalation_detail.itertuples(index=False, name=None)


def meeting_results(session: Session, plan: Plan, year: int) -> pd.DataFrame:
    """Per government of the plan: its executive meetings of `year` (MEETING_COLUMNS; the
    meeting wing's `meeting_table`)."""
    return meeting_table(session, plan, year)[MEETING_COLUMNS]


def district_items(session: Session, plan: Plan, year: int, today: dt.date) -> dict[str, pd.DataFrame]:
    """Per district government of the plan: one row per task of `year` (编号, 任务, one
    column per reporting period named as printed, "2017年第一季度", holding the request's
    state: 按时报送 / 逾期报送 / 逾期未报 / 待报送 / "" when not asked, then 最高督办级别), in
    the plan's order: a page or two per district when printed (the dates of each report
    are in the ledger and the escalation CSV). One query for all districts."""
    req = _year_requests(plan, year)
    rows = session.execute(
        select(Agency.name, Measure.code, Measure.title, Measure.position, Indicator.code,
               Indicator.name, ReportingPeriod.label, ReportingPeriod.starts_on, req.c.due_on,
               req.c.answered_late, req.c.state, req.c.level)
        .select_from(req)
        .join(Agency, Agency.id == req.c.agency_id)
        .join(ReportingPeriod, ReportingPeriod.id == req.c.period_id)
        .outerjoin(Assignment, Assignment.id == req.c.assignment_id)
        .outerjoin(Measure, Measure.id == Assignment.measure_id)
        .outerjoin(Indicator, Indicator.id == req.c.indicator_id)
        .where(Agency.kind == AgencyKind.DISTRICT_GOVERNMENT.value,
               Agency.name.in_(plan.districts))
    ).all()
    periods = sorted({(row.starts_on, row.label) for row in rows})
    columns = [cn_period(label) for _, label in periods]
    tasks: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {d: {} for d in plan.districts}
    for name, mcode, mtitle, pos, icode, iname, label, _start, due, late, state, level in rows:
        if state == RequestState.ANSWERED.value:
            status = "逾期报送" if late else "按时报送"
        else:
            status = "逾期未报" if due < today else "待报送"
        code = mcode or icode
        row = tasks[name].setdefault((pos if pos is not None else 10**9, code), {
            "编号": code, "任务": mtitle or iname, **{c: "" for c in columns}, "_level": 0})
        row[cn_period(label)] = status
        row["_level"] = max(row["_level"], level or 0)
    out = {}
    for name, by_task in tasks.items():
        if by_task:
            table = [{**{k: v for k, v in r.items() if k != "_level"},
                      "最高督办级别": level_label(r["_level"])} for _, r in sorted(by_task.items())]
            out[name] = pd.DataFrame(table, columns=["编号", "任务", *columns, "最高督办级别"])
    return out
