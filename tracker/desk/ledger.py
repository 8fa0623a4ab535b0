"""The ledger (台账): the board as filtered, one row per request, for Excel and the CLI.

`ledger_frame` reads the rows (a few set-based queries, whatever the number of rows),
`ledger_title` names the plan, the filter and the day, and `tracker.desk.ledger_book`
writes the workbook: a print layout first (台账（打印）), the full detail second (台账明细).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.catalog.codes import code_key
from tracker.dates.chinese import cn_date, cn_period
from tracker.dates.periods import period_order
from tracker.dates.workdays import SHANGHAI
from tracker.desk.board import BoardFilter, _base, board, plan_for_page
from tracker.enums import (
    ExtensionState,
    Light,
    RequestState,
    ReviewState,
    Role,
    level_label,
    role_label,
)
from tracker.models import Agency, Assignment, ExtensionRequest, Measure, ProgressRequest
from tracker.policy import Policy
from tracker.requests.answer_form import latest_reports
from tracker.requests.rules import light_label, light_sql

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


def ledger_frame(session: Session, f: BoardFilter, today: dt.date,
                 policy: Policy) -> pd.DataFrame:
    """All requests matching the filter (no paging), with the measure's agencies and text.

    Columns are `LEDGER_COLUMNS`; 截止日期 is a date, 报送时间 a naive Beijing datetime (or
    None), 系统编号 the request's id. Rows come in code order (`code_key`: 2.2.1 before
    2.10.1), then reporting period (`period_order`: time order), then lead, co-responsible
    agencies and districts in the plan's order; with `f.plan_id` None (every plan) rows
    are grouped by plan first and the 规划 column names each row's plan. Five queries,
    whatever the number of rows.
    """
    f = BoardFilter(**{**f.__dict__, "page": 1, "per_page": 1_000_000})
    rows = board(session, f, today, policy).rows
    rows.sort(key=lambda r: (r["plan_id"], code_key(r["code"]), period_order(r["period"]),
                             _ROLE_ORDER.get(r["role"] or "", 3), r["position"] or 0,
                             r["agency"], r["id"]))
    # the filter's requests and their measures as subqueries (never lists of ids: a
    # national ledger has a million rows)
    request_ids = _base(f, light_sql(today, policy))
    measure_ids = (select(Assignment.measure_id)
                   .join(ProgressRequest, ProgressRequest.assignment_id == Assignment.id)
                   .where(ProgressRequest.id.in_(request_ids)))
    agencies: dict[int, dict[str, Any]] = {}
    for mid, name, role in session.execute(
        select(Assignment.measure_id, Agency.name, Assignment.role)
        .join(Agency, Agency.id == Assignment.agency_id)
        .join(Measure, Measure.id == Assignment.measure_id)
        .where(Measure.id.in_(measure_ids), Assignment.active.is_(True),
               Assignment.role != Role.DISTRICT.value)
        .order_by(Assignment.measure_id, Assignment.position)
    ):
        entry = agencies.setdefault(mid, {"lead": "", "co": []})
        if role == Role.LEAD:
            entry["lead"] = name
        else:
            entry["co"].append(name)
    measures: dict[int, tuple[str, bool]] = {
        mid: (text, closed_at is not None) for mid, text, closed_at in session.execute(
            select(Measure.id, Measure.text, Measure.closed_at).where(Measure.id.in_(measure_ids)))}
    # (request id, state) of extension requests still pending or granted
    extensions = {(rid, state) for rid, state in session.execute(
        select(ExtensionRequest.request_id, ExtensionRequest.state).where(
            ExtensionRequest.request_id.in_(request_ids),
            ExtensionRequest.state.in_([ExtensionState.PENDING.value,
                                        ExtensionState.GRANTED.value])))}
    latest = latest_reports(session, request_ids)
    out = []
    for r in rows:
        text, closed = measures.get(r["measure_id"], ("", False))
        who = agencies.get(r["measure_id"], {"lead": "", "co": []})
        report = latest.get(r["id"], (None, 0))[0]
        out.append({
            "规划": r["plan"], "报送期": r["period"], "编号": r["code"],
            "任务或指标": r["title"],
            "领域": r["section"], "责任单位": r["agency"], "角色": role_label(r["role"]),
            "牵头单位": who["lead"], "配合单位": "、".join(who["co"]), "任务内容": text,
            "截止日期": r["due_on"],
            # counted over a year whose holiday schedule is not published yet (issue 9)
            "截止日期说明": PROVISIONAL_NOTE if r["provisional"] else "",
            "报送时间": r["answered_at"].astimezone(SHANGHAI).replace(tzinfo=None)
            if r["answered_at"] else None,
            "状态": RequestState(r["state"]).label,
            "进展": report.status.label if report else "",
            "完成进度(%)": report.percent if report else None,
            "督办级别": level_label(r["level"]),
            "灯": ledger_light(r["light"], r["state"]), "逾期工作日": r["days_overdue"] or None,
            "最新进展": report.narrative if report else "",
            "备注": ledger_note(
                state=r["state"], provisional=r["provisional"],
                extended=(r["id"], ExtensionState.GRANTED) in extensions,
                extension_pending=(r["id"], ExtensionState.PENDING) in extensions,
                returned=report is not None and report.review_state == ReviewState.RETURNED,
                closed=closed),
            "系统编号": r["id"],
        })
    return pd.DataFrame(out, columns=LEDGER_COLUMNS)


@dataclass(frozen=True)
class LedgerTitle:
    """What heads the ledger: `title` names the plan ("…规划纲要督查台账"), `scope` the
    filter in words ("全部事项" for none), `day` the day it was drawn up (Asia/Shanghai)."""

    title: str
    scope: str
    day: dt.date

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
                       scope="，".join(parts) if parts else "全部事项", day=today)
