"""The ledger workbook: a print layout (台账（打印）) first, the full detail (台账明细) second.

The print layout is ten columns sized for A4 landscape at 100 %: 9 pt text, wrapped, one
page wide, the header repeated on every page, page numbers in the footer, and row heights
computed from the text so that LibreOffice and Excel print the same pages (neither
shrinks the sheet to fit). With the seed's titles rows take one line: 36 to 40 rows a
page (tests/desk/test_ledger_print.py measures it through LibreOffice).

Every text cell is written with `write_string` and the workbook refuses formula, URL and
number guessing, so "=1+1" typed by a liaison stays text in both sheets.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import numbers
from typing import Any

import pandas as pd
import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from tracker.annual.scorecard.book import (
    AMBER,
    FONT,
    GREEN,
    RED,
    TITLE_FONT,
    WRITER_OPTIONS,
    display_width,
    is_missing,
)
from tracker.dates.chinese import cn_period
from tracker.desk.ledger import DONE, LedgerTitle
from tracker.enums import Light
from tracker.requests.rules import light_label

PRINT_SHEET = "台账（打印）"
DETAIL_SHEET = "台账明细"
# (header, width in Excel units, wrapped, alignment). The workbook's default font is Arial
# 10 (Liberation Sans in LibreOffice, metric-compatible), so a unit is 7 px in Excel and
# ~5.94 pt in LibreOffice: 132.5 units fit A4 landscape between 0.35" margins at 100 % in
# both. At 9 pt (小五号) every title of the seed (24 characters at most) fits one line, so
# a page holds 36 to 40 rows even where a long title repeats; widths leave room for the
# widest usual value in Excel's narrower unit and LibreOffice's wider digits (its
# "2017年10月13日" is 73 pt wide at 9 pt).
PRINT_LAYOUT: list[tuple[str, float, bool, str]] = [
    ("编号", 6, False, "left"),
    ("任务或指标", 43, True, "left"),  # 24 characters and one to spare in Excel
    ("责任单位", 14, True, "left"),
    ("角色", 4, False, "center"),
    ("报送期", 12.5, False, "center"),
    ("截止日期", 13.5, False, "center"),
    ("报送时间", 13.5, False, "center"),
    ("灯", 7.5, False, "center"),
    ("督办级别", 7.5, False, "center"),
    ("备注", 11, True, "left"),
]
PRINT_COLUMNS = [name for name, *_ in PRINT_LAYOUT]
BODY_PT = 9
LINE_PT = 12.2  # one line of 9 pt CJK text with its leading (Noto Sans CJK: 11.7 pt)
ROW_PAD_PT = 0.8
# the default (Normal) font sets the column unit: Arial has a metric twin in LibreOffice
DEFAULT_FONT = {"font_name": "Arial", "font_size": 10}
GREY = "#D9D9D9"
# the fill of each word `ledger.ledger_light` can give (light labels come from one function)
LIGHT_FILLS = {
    light_label(Light.RED, "open"): RED,
    light_label(Light.YELLOW, "open"): AMBER,
    light_label(Light.YELLOW, "answered"): AMBER,
    light_label(Light.GREEN, "open"): GREEN,
    DONE: GREEN,
    light_label(Light.GREY, "waived"): GREY,
}
DATE_FORMAT = "yyyy年m月d日"
DATETIME_FORMAT = "yyyy年m月d日 hh:mm"
# the detail sheet's wrapped columns and their widths
DETAIL_WRAPPED = {"截止日期说明": 16, "规划": 20, "任务内容": 50, "最新进展": 40, "配合单位": 30,
                  "任务或指标": 30, "备注": 14}


# Excel's tallest row (409 points); a longer text stays whole in its cell
MAX_ROW_PT = 409


def wrapped_lines(text: str, width: float, font_pt: float = BODY_PT) -> int:
    """How many lines `text` takes in a wrapped column `width` Excel units wide.

    Measured in Excel's unit, the narrower of the two applications: 7 px (the digit of
    Arial 10, the workbook's default font) plus 5 px per column, less 3 px of margin each
    side; a CJK character of `font_pt` takes `font_pt` points, other characters half.
    Explicit line breaks start new lines. Returns at least 1.
    """
    usable_pt = (width * 7 + 5 - 6) * 0.75  # 3 px padding each side
    per_line = max(int(usable_pt // (font_pt / 2)), 1)  # in half-em units (display_width)
    return max(sum(max(math.ceil(display_width(part) / per_line), 1)
                   for part in str(text).split("\n")), 1)


def print_frame(detail: pd.DataFrame) -> pd.DataFrame:
    """The print layout's ten columns (`PRINT_COLUMNS`) from the ledger's detail frame,
    in the same row order: 报送期 in words (2017年第一季度), 报送时间 as its day (the
    detail keeps the minute), dates kept as dates, no id."""
    out = detail[[c for c in PRINT_COLUMNS if c in detail.columns]].copy()
    out["报送期"] = [cn_period(p) if isinstance(p, str) else "" for p in detail["报送期"]]
    out["报送时间"] = pd.Series([v.date() if isinstance(v, dt.datetime) and not is_missing(v)
                             else None for v in detail["报送时间"]], index=detail.index,
                            dtype=object)
    return out[PRINT_COLUMNS]


def ledger_xlsx(frame: pd.DataFrame, title: LedgerTitle) -> bytes:
    """The ledger workbook of `ledger_frame`'s rows, headed by `title`: sheet 台账（打印）
    (ten columns, A4 landscape, one page wide, header repeated, 第 N 页，共 M 页) and
    sheet 台账明细 (every column, frozen header, autofilter). Returns the .xlsx bytes."""
    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {**WRITER_OPTIONS, "in_memory": True,
                                     "default_format_properties": DEFAULT_FONT})
    formats = _Formats(book)
    _print_sheet(book, formats, frame, title)
    _detail_sheet(book, formats, frame, title)
    book.set_properties({"title": title.title, "subject": title.subtitle, "author": "市政府督查室"})
    book.close()
    return buf.getvalue()


class _Formats:
    """Cached cell formats: 宋体 (or `font`) at `size` pt, thin border, plus `props`."""

    def __init__(self, book: xlsxwriter.Workbook):
        self.book = book
        self._cache: dict[tuple[tuple[str, Any], ...], Format] = {}

    def __call__(self, **props: Any) -> Format:
        base: dict[str, Any] = {"font_name": FONT, "font_size": BODY_PT, "border": 1,
                                "valign": "vcenter"}
        base.update(props)
        key = tuple(sorted(base.items()))
        if key not in self._cache:
            self._cache[key] = self.book.add_format(base)
        return self._cache[key]


def _write(ws: Worksheet, row: int, col: int, value: object, formats: _Formats,
           props: dict[str, Any]) -> None:
    """One cell in the format `props`: text always as text (never a formula), numbers as
    numbers, dates as dates, blanks blank."""
    fmt = formats(**props)
    if is_missing(value) or value == "":
        ws.write_blank(row, col, None, fmt)
    elif isinstance(value, dt.datetime):
        ws.write_datetime(row, col, value, formats(**props, num_format=DATETIME_FORMAT))
    elif isinstance(value, dt.date):
        ws.write_datetime(row, col, dt.datetime.combine(value, dt.time()),
                          formats(**props, num_format=DATE_FORMAT))
    elif isinstance(value, bool):
        ws.write_string(row, col, "是" if value else "否", fmt)
    elif isinstance(value, numbers.Real):  # numpy's integers too
        ws.write_number(row, col, value, fmt)
    else:
        ws.write_string(row, col, str(value), fmt)


def _shown(value: object) -> str:
    """The text a cell shows, for measuring its lines."""
    if is_missing(value):
        return ""
    if isinstance(value, dt.datetime):
        return f"{value.year}年{value.month}月{value.day}日 {value:%H:%M}"
    if isinstance(value, dt.date):
        return f"{value.year}年{value.month}月{value.day}日"
    return str(value)


def _print_sheet(book: xlsxwriter.Workbook, fmt: _Formats, frame: pd.DataFrame,
                 title: LedgerTitle) -> None:
    ws = book.add_worksheet(PRINT_SHEET)
    last = len(PRINT_LAYOUT) - 1
    ws.hide_gridlines(2)
    ws.set_row(0, 22)
    ws.merge_range(0, 0, 0, last, title.title, fmt(
        font_name=TITLE_FONT, font_size=14, bold=True, border=0, align="center"))
    ws.set_row(1, 15)
    ws.merge_range(1, 0, 1, last, f"{title.subtitle}　　共 {len(frame)} 项",
                   fmt(border=0, align="left"))
    ws.set_row(2, 16)
    header = fmt(bold=True, bg_color="#D9E1F2", align="center", text_wrap=True)
    for col, (name, width, _wrap, _align) in enumerate(PRINT_LAYOUT):
        ws.set_column(col, col, width)
        ws.write_string(2, col, name, header)
    printed = print_frame(frame)
    plans = list(dict.fromkeys(frame["规划"])) if len(frame) else []
    row = 3
    current_plan = None
    for i, values in enumerate(printed.itertuples(index=False)):
        plan = frame["规划"].iat[i]
        if len(plans) > 1 and plan != current_plan:
            # several plans: each plan's rows under its own heading row
            ws.set_row(row, LINE_PT + ROW_PAD_PT + 2)
            ws.merge_range(row, 0, row, last, f"{plan}", fmt(bold=True, align="left",
                                                              bg_color="#F2F2F2"))
            row += 1
        current_plan = plan
        lines = 1
        for col, ((_, width, wrap, align), value) in enumerate(zip(PRINT_LAYOUT, values,
                                                                  strict=True)):
            props: dict[str, Any] = {"align": align, "text_wrap": wrap}
            if PRINT_COLUMNS[col] == "灯" and value in LIGHT_FILLS:
                props["bg_color"] = LIGHT_FILLS[str(value)]
            _write(ws, row, col, value, fmt, props)
            if wrap:
                lines = max(lines, wrapped_lines(_shown(value), width))
        ws.set_row(row, min(LINE_PT * lines + ROW_PAD_PT, MAX_ROW_PT))
        row += 1
    if not len(frame):
        ws.merge_range(3, 0, 3, last, "（没有符合筛选条件的事项）", fmt(align="center"))
        row = 4
    ws.freeze_panes(3, 0)
    ws.print_area(0, 0, row - 1, last)
    ws.repeat_rows(2)
    ws.set_paper(9)
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    ws.center_horizontally()
    ws.set_margins(left=0.35, right=0.35, top=0.4, bottom=0.5)
    ws.set_footer("&C第 &P 页，共 &N 页", {"margin": 0.2})
    ws.activate()


def _detail_sheet(book: xlsxwriter.Workbook, fmt: _Formats, frame: pd.DataFrame,
                  title: LedgerTitle) -> None:
    ws = book.add_worksheet(DETAIL_SHEET)
    ws.write_string(0, 0, f"{title.title}（明细）　{title.subtitle}",
                    fmt(font_name=TITLE_FONT, bold=True, font_size=12, border=0))
    head = fmt(bold=True, bg_color="#1F4E79", font_color="#FFFFFF", text_wrap=True)
    for col, name in enumerate(frame.columns):
        ws.write_string(1, col, name, head)
        wrap = name in DETAIL_WRAPPED
        if wrap:
            ws.set_column(col, col, DETAIL_WRAPPED[name])
        else:
            widest = max([display_width(name)] + [display_width(_shown(v)) for v in frame[name]])
            ws.set_column(col, col, min(max(widest + 2, 8), 24))
        props = {"text_wrap": wrap, "valign": "top"}
        for row, value in enumerate(frame[name], start=2):
            _write(ws, row, col, value, fmt, props)
    ws.freeze_panes(2, 3)
    ws.autofilter(1, 0, max(len(frame), 1) + 1, len(frame.columns) - 1)
    ws.set_landscape()
    ws.set_paper(9)
    ws.repeat_rows(1)
    ws.fit_to_pages(1, 0)
    ws.set_footer("&C第 &P 页，共 &N 页", {"margin": 0.2})
