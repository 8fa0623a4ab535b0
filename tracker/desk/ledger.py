"""The ledger (台账): the board as filtered, one row per request, for Excel and the CLI."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.annual.scorecard.excel import WRITER_OPTIONS, display_width
from tracker.dates.workdays import SHANGHAI
from tracker.desk.board import BoardFilter, board
from tracker.enums import Light, RequestState, Role, level_label, role_label
from tracker.models import Agency, Assignment, Measure, Plan
from tracker.policy import Policy
from tracker.requests.answer_form import latest_reports
from tracker.requests.rules import light_label


def ledger_frame(session: Session, f: BoardFilter, today: dt.date,
                 policy: Policy) -> pd.DataFrame:
    """All requests matching the filter (no paging), with the measure's agencies and text.

    `f.plan_id` None covers every plan; the 规划 column names each row's plan.
    """
    f = BoardFilter(**{**f.__dict__, "page": 1, "per_page": 1_000_000})
    rows = board(session, f, today, policy).rows
    measure_ids = {r["measure_id"] for r in rows if r["measure_id"]}
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
    texts: dict[int, str] = dict(session.execute(
        select(Measure.id, Measure.text).where(Measure.id.in_(measure_ids))).all())
    latest = latest_reports(session, [r["id"] for r in rows])
    out = []
    for r in rows:
        text = texts.get(r["measure_id"], "")
        who = agencies.get(r["measure_id"], {"lead": "", "co": []})
        report = latest.get(r["id"], (None, 0))[0]
        out.append({
            "请求编号": r["id"], "规划": r["plan"], "报送期": r["period"], "编号": r["code"],
            "任务或指标": r["title"],
            "领域": r["section"], "责任单位": r["agency"], "角色": role_label(r["role"]),
            "牵头单位": who["lead"], "配合单位": "、".join(who["co"]), "任务内容": text,
            "截止日期": r["due_on"],
            # counted over a year whose holiday schedule is not published yet (issue 9)
            "截止日期说明": "暂定，以国务院办公厅公布的放假安排为准" if r["provisional"] else "",
            "报送时间": r["answered_at"].astimezone(SHANGHAI).replace(tzinfo=None)
            if r["answered_at"] else None,
            "状态": RequestState(r["state"]).label,
            "进展": report.status.label if report else "",
            "完成进度(%)": report.percent if report else None,
            "督办级别": level_label(r["level"]),
            "灯": light_label(r["light"], r["state"]), "逾期工作日": r["days_overdue"] or None,
            "最新进展": report.narrative if report else "",
        })
    return pd.DataFrame(out, columns=LEDGER_COLUMNS)


LEDGER_COLUMNS = ["请求编号", "规划", "报送期", "编号", "任务或指标", "领域", "责任单位", "角色", "牵头单位",
                  "配合单位", "任务内容", "截止日期", "截止日期说明", "报送时间", "状态", "进展",
                  "完成进度(%)", "督办级别", "灯", "逾期工作日", "最新进展"]
WRAPPED = {"截止日期说明": 16, "规划": 20, "任务内容": 50, "最新进展": 40, "配合单位": 30, "任务或指标": 30}


def ledger_title(session: Session, f: BoardFilter, today: dt.date) -> str:
    """The ledger's title: the plan, the filter that produced it, and the day."""
    plan = session.get(Plan, f.plan_id) if f.plan_id else None
    parts = []
    if f.agency_id:
        parts.append(session.get_one(Agency, f.agency_id).name)
    if f.section:
        parts.append(f.section)
    if f.role:
        parts.append(role_label(f.role, long=True))
    if f.period:
        parts.append(f.period)
    if f.level:
        parts.append(f"{level_label(f.level)}及以上")
    if f.light:
        parts.append(Light(f.light).label)
    where = "（" + "，".join(parts) + "）" if parts else ""
    return f"{plan.title if plan else '全部规划'} 督查台账{where} {today.year}年{today.month}月{today.day}日"


def ledger_xlsx(frame: pd.DataFrame, title: str) -> bytes:
    """The ledger workbook: frozen header, autofilter, A4 landscape, header on every page."""
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="xlsxwriter", datetime_format="yyyy-mm-dd hh:mm",
                        date_format="yyyy-mm-dd", engine_kwargs={"options": WRITER_OPTIONS}) as w:
        frame.to_excel(w, sheet_name="台账", index=False, startrow=1)
        book, sheet = w.book, w.sheets["台账"]
        head = book.add_format({"bold": True, "bg_color": "#1F4E79", "font_color": "#FFFFFF",
                                "border": 1, "text_wrap": True, "valign": "vcenter"})
        wrap = book.add_format({"text_wrap": True, "valign": "top"})
        sheet.write_string(0, 0, title, book.add_format({"bold": True, "font_size": 14}))
        for col, name in enumerate(frame.columns):
            sheet.write_string(1, col, name, head)
            if name in WRAPPED:
                sheet.set_column(col, col, WRAPPED[name], wrap)
            else:
                widest = max([display_width(name)] + [display_width(v) for v in frame[name]])
                sheet.set_column(col, col, min(max(widest + 2, 8), 24))
        sheet.freeze_panes(2, 3)
        sheet.autofilter(1, 0, max(len(frame), 1) + 1, len(frame.columns) - 1)
        sheet.set_landscape()
        sheet.set_paper(9)
        sheet.repeat_rows(1)
        sheet.fit_to_pages(1, 0)
    return buf.getvalue()
