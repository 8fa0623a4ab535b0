"""Write an agency's open requests to an Excel sheet (`tracker template`), texts pre-filled.

Key columns are locked (sheet protection), 状态 is a drop-down list, 完成进度 accepts
whole numbers 0–100. Every text cell is written as a string: nothing becomes a formula.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

import xlsxwriter
from sqlalchemy.orm import Session

from tracker.enums import RequestState, role_label
from tracker.exchange.layout import COLUMNS, HEADERS, META_SHEET, SHEET, STATUS_LABELS
from tracker.models import Agency
from tracker.requests.answer_form import agency_items

WIDTHS = [8, 8, 7, 30, 9, 11, 8, 9, 34, 24, 24, 9]  # ~A4 landscape at ~75 %, text wraps


def agency_template(session: Session, agency_id: int, today: dt.date,
                    generated: dt.datetime) -> bytes:
    """The workbook for the agency's open requests as bytes (pre-filled as the form is)."""
    agency = session.get_one(Agency, agency_id)
    items = [i for i in agency_items(session, agency_id, today) if i.state == RequestState.OPEN]
    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False,
                                     "strings_to_urls": False, "strings_to_numbers": False})
    header = book.add_format({"bold": True, "bg_color": "#1F4E79", "font_color": "#FFFFFF",
                              "border": 1, "text_wrap": True, "locked": True})
    locked = book.add_format({"locked": True, "text_wrap": True, "valign": "top",
                              "bg_color": "#F2F2F2"})
    editable = book.add_format({"locked": False, "text_wrap": True, "valign": "top"})
    date_fmt = book.add_format({"locked": True, "num_format": "yyyy-mm-dd", "valign": "top",
                                "bg_color": "#F2F2F2"})
    sheet = book.add_worksheet(SHEET)
    for col, title in enumerate(HEADERS):
        sheet.write_string(0, col, title, header)
        sheet.set_column(col, col, WIDTHS[col])
    several = len({i.plan for i in items}) > 1
    for row, item in enumerate(items, start=1):
        p = item.prefill
        ind = item.indicator or {}
        title = (f"{item.measure_title}（指标数值栏填{ind['level_name']}，单位：{ind['level_unit']}；"
                 "年均增速由系统计算）" if ind.get("kind") == "growth" else item.measure_title)
        if item.milestone:  # a task's own 完成时限 (tracker.requests.milestones)
            title += "（完成时限：报告完成情况；未完成的须在工作进展中说明原因）"
        values: dict[str, Any] = {
            "request_id": item.request_id, "period": item.period,
            "code": item.measure_code or (item.indicator or {}).get("code", ""),
            # one sheet holds the agency's items of every plan: name the plan when several
            "subject": f"《{item.plan}》{title}" if several else title,
            "role": role_label(item.role, long=True), "due_on": item.due_on,
            # the texts are pre-filled for convenience; 状态, 完成进度 and the value are this
            # period's facts and left empty: only a row whose 状态 the liaison fills in is
            # submitted, so a row nobody touched is never reported (issue 10)
            "status": "", "percent": None, "narrative": p.get("narrative") or "",
            "problems": p.get("problems") or "", "next_steps": p.get("next_steps") or "",
            "value": None,
        }
        for col, (_, key, edit) in enumerate(COLUMNS):
            value, fmt = values[key], editable if edit else locked
            if key == "due_on":
                sheet.write_datetime(row, col, dt.datetime.combine(value, dt.time()), date_fmt)
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                sheet.write_number(row, col, value, fmt)
            elif value in (None, ""):
                sheet.write_blank(row, col, None, fmt)
            else:
                sheet.write_string(row, col, str(value), fmt)
        # wrapped text needs its row tall enough: Excel and LibreOffice do not grow rows
        # of a generated file on opening, so the printed sheet would cut the text off
        lines = max(_lines(str(values[key] or ""), WIDTHS[col])
                    for col, (_, key, _) in enumerate(COLUMNS))
        if lines > 1:
            sheet.set_row(row, min(15 * lines, 409))
    last = max(len(items), 1) + 200  # room for the validation if rows are added by mistake
    sheet.data_validation(1, 6, last, 6, {"validate": "list", "source": STATUS_LABELS,
                                          "error_message": "请从下拉列表中选择状态"})
    sheet.data_validation(1, 7, last, 7, {"validate": "integer", "criteria": "between",
                                          "minimum": 0, "maximum": 100,
                                          "error_message": "完成进度须为0到100的整数"})
    # printed as offices file it: A4 landscape, all columns on one page's width, the header
    # row on every page, the agency in the page header and page numbers in the footer
    sheet.set_paper(9)
    sheet.set_landscape()
    sheet.set_margins(left=0.4, right=0.4, top=0.7, bottom=0.6)
    sheet.fit_to_pages(1, 0)
    sheet.repeat_rows(0)
    sheet.set_header(f"&C{_header_text(agency.name)} 进展填报（{generated:%Y年%-m月%-d日}）")
    sheet.set_footer("&C第 &P 页，共 &N 页")
    sheet.freeze_panes(1, 4)
    sheet.protect("", {"autofilter": True, "sort": False, "format_columns": True,
                       "format_rows": True})
    sheet.autofilter(0, 0, max(len(items), 1), len(HEADERS) - 1)
    meta = book.add_worksheet(META_SHEET)
    for r, (k, v) in enumerate([("单位", agency.name), ("单位编号", str(agency.id)),
                                ("生成时间", generated.isoformat(timespec="minutes")),
                                ("填写说明", "只填写白色单元格；状态请从下拉列表选择；"
                                            "完成进度填0到100的整数；状态为滞后或受阻时须填写工作进展；"
                                            "报送期为日期的是任务的完成时限，状态不是“已完成”的"
                                            "须在工作进展中说明原因和完成时间安排。"),
                                ("报送范围", "只有填写了状态的行才会报送；状态为空的行不报送。"
                                            "工作进展等文字已按草稿或上期报送内容预填，请核改。")]):
        meta.write_string(r, 0, k)
        meta.write_string(r, 1, v)
    meta.set_column(0, 0, 12)
    meta.set_column(1, 1, 80)
    book.close()
    return buf.getvalue()


_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]+')


def sheet_filename(agency_name: str, periods: list[str] | None = None) -> str:
    """进展填报-<agency>[-<period>].xlsx (the period when the sheet holds one), with what
    Windows and Linux refuse in a file name (/ \\ : * ? " < > | and control characters)
    replaced by "-" (市人社局/市医保局 gives 进展填报-市人社局-市医保局.xlsx)."""
    name = _UNSAFE.sub("-", agency_name).strip(" .-")[:80] or "单位"
    one = periods[0] if periods and len(set(periods)) == 1 else None
    return f"进展填报-{name}-{_UNSAFE.sub('-', one)}.xlsx" if one else f"进展填报-{name}.xlsx"


def template_filename(session: Session, agency_id: int, today: dt.date) -> str:
    """The download name of `agency_template` for the same agency and day."""
    agency = session.get_one(Agency, agency_id)
    items = [i for i in agency_items(session, agency_id, today) if i.state == RequestState.OPEN]
    return sheet_filename(agency.name, sorted({i.period for i in items}))


def _lines(text: str, width: int) -> int:
    """How many lines `text` takes in a column `width` characters wide (a Chinese character
    is two wide), for the row height."""
    if not text:
        return 1
    total = 0
    for part in text.split("\n"):
        used = sum(2 if ord(ch) > 0x2E7F else 1 for ch in part)
        total += max(1, -(-used // max(width - 1, 1)))
    return total


def _header_text(text: str) -> str:
    return text.replace("&", "&&")  # & starts a control code in Excel's page header
