"""The ledger (台账): the board as filtered, one row per request, for Excel and the CLI.

`ledger_rows` streams the rows from one ordered statement (ranks of codes and periods in
a temporary table, no page limit, no query per row), `ledger_frame` collects them for small
uses,
`ledger_title` names the plan, the filter and the day, and `tracker.desk.ledger_book`
writes the workbook: a print layout first (台账（打印）), the full detail second (台账明细).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    case,
    exists,
    func,
    select,
    text,
)
from sqlalchemy.orm import Session, aliased

from tracker.catalog.codes import code_key
from tracker.dates.chinese import cn_date, cn_period
from tracker.dates.periods import period_order
from tracker.dates.workdays import SHANGHAI
from tracker.desk.board import INDICATORS, BoardFilter, _base, plan_for_page
from tracker.enums import (
    ExtensionState,
    Light,
    ProgressStatus,
    RequestState,
    ReviewState,
    Role,
    level_label,
    role_label,
)
from tracker.models import (
    Agency,
    Assignment,
    ExtensionRequest,
    Indicator,
    Measure,
    Plan,
    ProgressReport,
    ProgressRequest,
    ReportingPeriod,
)
from tracker.policy import Policy
from tracker.requests.rules import light_label, light_sql
from tracker.requests.subjects import with_subject

# the full detail (台账明细); the request's internal id comes last, as 系统编号
LEDGER_COLUMNS = ["规划", "报送期", "编号", "任务或指标", "领域", "责任单位", "角色", "牵头单位",
                  "配合单位", "任务内容", "截止日期", "截止日期说明", "报送时间", "状态", "进展",
                  "完成进度(%)", "督办级别", "灯", "逾期工作日", "最新进展", "备注", "系统编号"]
# a request's row in code order: lead, co-responsible agencies, then districts, as listed
_ROLE_ORDER = {Role.LEAD.value: 0, Role.CO.value: 1, Role.DISTRICT.value: 2}
# the 灯 of an answered request with a green light: its work for the period is done
DONE = "按时报送"
PROVISIONAL_NOTE = "暂定，以国务院办公厅公布的放假安排为准"


def ledger_light(light: Light | str, state: RequestState | str) -> str:
    """The ledger's word for a request's light: 逾期 (red), 临近截止 / 逾期报送 (yellow),
    正常 (green, still open), 按时报送 (green, answered: done), 已免报 (grey).

    As `tracker.requests.rules.light_label`, except that an answered request on time reads
    as done rather than 正常."""
    if Light(light) == Light.GREEN and state == RequestState.ANSWERED:
        return DONE
    return light_label(light, state)


def ledger_note(*, state: RequestState | str, provisional: bool, extended: bool,
                extension_pending: bool, returned: bool, closed: bool) -> str:
    """The short 备注 of a row, from its state: at most a few words joined by "；".

    免报 (waived), 暂定截止日期 (due day counted over a year whose holidays are not yet
    published, issue 9), 已延期 (an extension was granted: 截止日期 is the new day),
    延期待批 (an extension request awaits the office), 报告退回 (the office returned the
    latest report and the request is open again, due on the day the return set), 已办结销号
    (the measure was closed out).
    """
    notes = []
    if state == RequestState.WAIVED:
        notes.append("免报")
    if provisional:
        notes.append("暂定截止日期")
    if extended:
        notes.append("已延期")
    if extension_pending:
        notes.append("延期待批")
    if returned and state == RequestState.OPEN:
        notes.append("报告退回")
    if closed:
        notes.append("已办结销号")
    return "；".join(notes)


def ledger_count(session: Session, f: BoardFilter, today: dt.date, policy: Policy) -> tuple[int, int]:
    """(rows, plans) the ledger of filter `f` will hold: one COUNT over the filter's
    requests (the workbook sizes its sheets and prints the total before streaming)."""
    base = _base(f, light_sql(today, policy))  # the filter's request ids
    n, plans = session.execute(
        select(func.count(), func.count(func.distinct(ReportingPeriod.plan_id)))
        .select_from(ProgressRequest)
        .join(ReportingPeriod, ReportingPeriod.id == ProgressRequest.period_id)
        .where(ProgressRequest.id.in_(base))).one()
    return int(n or 0), int(plans or 0)


# sort ranks computed in Python (code_key, period_order) for the distinct codes and period
# labels of a ledger, held in a temporary table so that the database sorts the rows
_RANKS = Table("tmp_ledger_rank", MetaData(), Column("kind", Integer, primary_key=True),
               Column("key", String(200), primary_key=True), Column("rank", Integer),
               prefixes=["TEMPORARY"])
_CODE, _PERIOD = 1, 2
_LAST = 2**31 - 1


def _fill_ranks(session: Session, base: Any) -> None:
    """Rank the distinct codes and period labels of the filter's requests (`base`, a
    SELECT of request ids) into `_RANKS`: two DISTINCT queries, rows inserted 1,000 a
    statement, then analysed on PostgreSQL. The table is private to the connection and
    emptied first."""
    conn = session.connection()
    _RANKS.create(conn, checkfirst=True)
    conn.execute(_RANKS.delete())
    code = func.coalesce(Measure.code, Indicator.code)
    codes = session.scalars(
        select(code).distinct().select_from(ProgressRequest)
        .outerjoin(Assignment, Assignment.id == ProgressRequest.assignment_id)
        .outerjoin(Measure, Measure.id == Assignment.measure_id)
        .outerjoin(Indicator, Indicator.id == ProgressRequest.indicator_id)
        .where(ProgressRequest.id.in_(base), code.is_not(None))).all()
    labels = session.scalars(
        select(ReportingPeriod.label).distinct()
        .join(ProgressRequest, ProgressRequest.period_id == ReportingPeriod.id)
        .where(ProgressRequest.id.in_(base))).all()
    rows = [{"kind": _CODE, "key": c, "rank": i}
            for i, c in enumerate(sorted(codes, key=code_key))]
    rows += [{"kind": _PERIOD, "key": p, "rank": i}
             for i, p in enumerate(sorted(labels, key=period_order))]
    for start in range(0, len(rows), 1000):
        conn.execute(_RANKS.insert(), rows[start:start + 1000])
    if conn.dialect.name == "postgresql":
        # a temporary table has no statistics: without them PostgreSQL guesses two rows and
        # joins it by a nested loop (10^8 comparisons at 100k rows)
        conn.execute(text(f"ANALYZE {_RANKS.name}"))


def ledger_rows(session: Session, f: BoardFilter, today: dt.date, policy: Policy,
                *, chunk: int = 2000) -> Iterator[dict[str, Any]]:
    """The ledger's rows (dicts keyed by `LEDGER_COLUMNS`), streamed from one statement in
    the order `ledger_frame` documents, `chunk` rows fetched at a time (a server-side
    cursor on PostgreSQL): no page limit, no query per row, memory bounded by the chunk
    and one (lead, co-responsible agencies) pair per measure. The order's ranks of codes
    and periods travel in a temporary table (`_fill_ranks`). Use inside a transaction."""
    light = light_sql(today, policy)
    base = _base(f, light)
    _fill_ranks(session, base)
    measure_ids = (select(Assignment.measure_id)
                   .join(ProgressRequest, ProgressRequest.assignment_id == Assignment.id)
                   .where(ProgressRequest.id.in_(base)))
    leads: dict[int, str] = {}
    cos: dict[int, list[str]] = {}
    for mid, name, role in session.execute(
        select(Assignment.measure_id, Agency.name, Assignment.role)
        .join(Agency, Agency.id == Assignment.agency_id)
        .where(Assignment.measure_id.in_(measure_ids), Assignment.active.is_(True),
               Assignment.role != Role.DISTRICT.value)
        .order_by(Assignment.measure_id, Assignment.position)
    ):
        if role == Role.LEAD:
            leads[mid] = name
        else:
            cos.setdefault(mid, []).append(name)
    who = {mid: (leads.get(mid, ""), "、".join(cos.get(mid, []))) for mid in leads.keys() | cos}
    del leads, cos
    code_rank, period_rank = aliased(_RANKS), aliased(_RANKS)
    last = (select(ProgressReport.request_id, func.max(ProgressReport.version).label("v"))
            .where(ProgressReport.request_id.in_(base))
            .group_by(ProgressReport.request_id).subquery())
    report = aliased(ProgressReport)
    ext = ExtensionRequest

    def extension(state: ExtensionState) -> Any:
        return exists().where(ext.request_id == ProgressRequest.id, ext.state == state.value)

    role_order = case(*[(Assignment.role == r, n) for r, n in _ROLE_ORDER.items()], else_=3)
    stmt = (
        with_subject(select(
            ProgressRequest.id, ProgressRequest.due_on, ProgressRequest.state,
            ProgressRequest.level, ProgressRequest.answered_at, ProgressRequest.due_provisional,
            light.label("light"), ReportingPeriod.label, Plan.title, Agency.name,
            Assignment.role, Measure.id, Measure.code, Measure.title, Measure.section,
            Measure.text, Measure.closed_at, Indicator.code, Indicator.name, report.status,
            report.percent, report.narrative, report.review_state,
            extension(ExtensionState.GRANTED), extension(ExtensionState.PENDING)))
        .join(Plan, Plan.id == ReportingPeriod.plan_id)
        .outerjoin(last, last.c.request_id == ProgressRequest.id)
        .outerjoin(report, and_(report.request_id == ProgressRequest.id,
                                report.version == last.c.v))
        .outerjoin(code_rank, and_(code_rank.c.kind == _CODE,
                                   code_rank.c.key == func.coalesce(Measure.code, Indicator.code)))
        .outerjoin(period_rank, and_(period_rank.c.kind == _PERIOD,
                                     period_rank.c.key == ReportingPeriod.label))
        .where(ProgressRequest.id.in_(base))
        .order_by(Plan.id, func.coalesce(code_rank.c.rank, _LAST),
                  func.coalesce(period_rank.c.rank, _LAST), role_order,
                  func.coalesce(Assignment.position, 0), Agency.name, ProgressRequest.id)
        .execution_options(yield_per=chunk)
    )
    overdue: dict[dt.date, int] = {}  # a handful of distinct due days: the calendar once each
    for (rid, due_on, state, level, answered_at, provisional, lt, period, plan_title, agency,
         role, mid, mcode, mtitle, section, body, closed_at, icode, iname, status, pct,
         narrative, review, granted, pending) in session.execute(stmt):
        lead, co = who.get(mid, ("", "")) if mid is not None else ("", "")
        days = 0
        if lt == Light.RED.value:
            if due_on not in overdue:
                overdue[due_on] = max(policy.calendar.between(due_on, today), 0)
            days = overdue[due_on]
        yield {
            "规划": plan_title, "报送期": period, "编号": mcode or icode,
            "任务或指标": mtitle or iname,
            "领域": INDICATORS if mid is None else section, "责任单位": agency,
            "角色": role_label(role), "牵头单位": lead, "配合单位": co,
            "任务内容": body or "" if mid is not None else "",
            "截止日期": due_on,
            # counted over a year whose holiday schedule is not published yet (issue 9)
            "截止日期说明": PROVISIONAL_NOTE if provisional else "",
            "报送时间": _beijing(answered_at) if answered_at else None,
            "状态": RequestState(state).label,
            "进展": ProgressStatus(status).label if status else "",
            "完成进度(%)": pct if status else None,
            "督办级别": level_label(level),
            "灯": ledger_light(lt, state), "逾期工作日": days or None,
            "最新进展": narrative or "" if status else "",
            "备注": ledger_note(
                state=state, provisional=provisional, extended=bool(granted),
                extension_pending=bool(pending),
                returned=status is not None and review == ReviewState.RETURNED,
                closed=closed_at is not None),
            "系统编号": rid,
        }


def _beijing(at: dt.datetime) -> dt.datetime:
    """A stored moment as a naive Beijing datetime (SQLite returns naive UTC)."""
    aware = at if at.tzinfo else at.replace(tzinfo=dt.UTC)
    return aware.astimezone(SHANGHAI).replace(tzinfo=None)


def ledger_frame(session: Session, f: BoardFilter, today: dt.date,
                 policy: Policy) -> pd.DataFrame:
    """All requests matching the filter (no paging), with the measure's agencies and text,
    as a DataFrame (for the CLI's small extracts and tests; the workbook streams
    `ledger_rows` instead, `tracker.desk.ledger_book.ledger_workbook`).

    Columns are `LEDGER_COLUMNS`; 截止日期 is a date, 报送时间 a naive Beijing datetime (or
    None), 系统编号 the request's id. Rows come in code order (`code_key`: 2.2.1 before
    2.10.1), then reporting period (`period_order`: time order), then lead, co-responsible
    agencies and districts in the plan's order, then agency name and id; with `f.plan_id`
    None (every plan) rows are grouped by plan first and the 规划 column names each row's
    plan. A fixed number of queries, whatever the number of rows.
    """
    return pd.DataFrame(list(ledger_rows(session, f, today, policy)), columns=LEDGER_COLUMNS)


@dataclass(frozen=True)
class LedgerTitle:
    """What heads the ledger: `title` names the plan ("…规划纲要督查台账"), `scope` the
    filter in words ("全部事项" for none), `day` the day it was drawn up (Asia/Shanghai),
    `office` the plan's supervision office (the workbook's author; "" when the ledger
    covers several plans or the plan names none)."""

    title: str
    scope: str
    day: dt.date
    office: str = field(default="", compare=False)

    @property
    def subtitle(self) -> str:
        """The line under the title: "筛选条件：逾期，2017年第一季度　制表日期：2017年4月14日"."""
        return f"筛选条件：{self.scope}　　制表日期：{cn_date(self.day)}"

    def __str__(self) -> str:
        return f"{self.title}（{self.scope}） {cn_date(self.day)}"


def ledger_title(session: Session, f: BoardFilter, today: dt.date) -> LedgerTitle:
    """The ledger's title: the plan (the one filtered on, else the only one loaded, else
    全部规划), the filter that produced it (agency, section, role, period, lowest ladder
    rung, light, in that order), and the day."""
    plan = plan_for_page(session, f.plan_id)
    parts = []
    if f.agency_id:
        parts.append(session.get_one(Agency, f.agency_id).name)
    if f.section:
        parts.append(f.section)
    if f.role:
        parts.append(role_label(f.role, long=True))
    if f.period:
        parts.append(cn_period(f.period))
    if f.level:
        parts.append(f"{level_label(f.level)}及以上")
    if f.light:
        parts.append(Light(f.light).label)
    return LedgerTitle(title=f"{plan.title if plan else '全部规划'}督查台账",
                       scope="，".join(parts) if parts else "全部事项", day=today,
                       office=(plan.supervision_office or "") if plan else "")
