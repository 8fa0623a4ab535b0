"""The ledger workbook: a print layout (台账（打印）) first, the full detail (台账明细) second.

The print layout is ten columns sized for A4 landscape at 100 %: 9 pt text, wrapped, one
page wide, the header repeated on every page, page numbers in the footer, and row heights
computed from the text so that LibreOffice and Excel print the same pages (neither
shrinks the sheet to fit). With the seed's titles rows take one line: 36 to 40 rows a
page (tests/desk/test_ledger_print.py measures it through LibreOffice).

Any number of rows: `ledger_workbook` streams them from the database (one COUNT sizes
the sheets first); a sheet holds at most `SHEET_ROWS` and the rest continue on
"台账（打印）（续1）"…, then "台账明细（续1）"…, each titled with its range of rows and headed;
past `CONSTANT_MEMORY_ROWS` rows the workbook is written in xlsxwriter's constant-memory
mode (rows in order, one held at a time), so memory does not grow with the rows.

Every text cell is written with `write_string` and the workbook refuses formula, URL and
number guessing, so "=1+1" typed by a liaison stays text in both sheets.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import xlsxwriter
from sqlalchemy.orm import Session
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
    release_rows,
)
from tracker.dates.chinese import cn_period
from tracker.desk.board import BoardFilter
from tracker.desk.ledger import DONE, LEDGER_COLUMNS, LedgerTitle, ledger_count, ledger_rows
from tracker.enums import Light
from tracker.policy import Policy
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


# Excel's last row is 1,048,576: a sheet holds at most this many ledger rows, the rest
# continue on sheets named "台账（打印）（续1）", "（续2）"…, each headed as the first
SHEET_ROWS = 1_000_000
EXCEL_ROWS = 1_048_576
# above this many rows the workbook is written in xlsxwriter's constant-memory mode (one
# row held at a time, rows written strictly in order)
CONSTANT_MEMORY_ROWS = 20_000
# the detail sheet's unwrapped columns: fixed widths (a streamed sheet cannot measure its
# values before writing them)
DETAIL_WIDTHS = {"报送期": 10, "编号": 9, "领域": 16, "责任单位": 22, "角色": 8, "牵头单位": 22,
                 "截止日期": 15, "报送时间": 19, "状态": 8, "进展": 8, "完成进度(%)": 10,
                 "督办级别": 9, "灯": 10, "逾期工作日": 10, "系统编号": 10}


def continuation_name(name: str, part: int) -> str:
    """The name of a sheet's `part`-th continuation ("台账明细（续1）"); part 0 is `name`."""
    return name if part == 0 else f"{name}（续{part}）"


def ledger_xlsx(frame: pd.DataFrame, title: LedgerTitle, *, rows_per_sheet: int = SHEET_ROWS,
                constant_memory_rows: int = CONSTANT_MEMORY_ROWS) -> bytes:
    """The ledger workbook of `ledger_frame`'s rows, headed by `title`: sheet 台账（打印）
    (ten columns, A4 landscape, one page wide, header repeated, 第 N 页，共 M 页) and
    sheet 台账明细 (every column, frozen header, autofilter), each continued on
    "（续1）"… sheets past `rows_per_sheet` rows. Returns the .xlsx bytes."""
    columns = [str(c) for c in frame.columns]
    rows = (dict(zip(columns, record, strict=True))
            for record in frame.itertuples(index=False, name=None))
    plans = frame["规划"].nunique() if len(frame) else 0
    return write_ledger(rows, len(frame), plans, title, columns=columns,
                        rows_per_sheet=rows_per_sheet, constant_memory_rows=constant_memory_rows)


def ledger_workbook(session: Session, f: BoardFilter, today: dt.date, policy: Policy,
                    title: LedgerTitle, *, rows_per_sheet: int = SHEET_ROWS,
                    constant_memory_rows: int = CONSTANT_MEMORY_ROWS) -> bytes:
    """The ledger workbook of filter `f`, streamed from the database (`ledger_rows`, one
    statement fetched in chunks; one COUNT first sizes the sheets): memory bounded by the
    chunk and, above `constant_memory_rows` rows, one row per sheet (constant-memory
    mode), whatever the number of rows. Returns the .xlsx bytes."""
    n, plans = ledger_count(session, f, today, policy)
    return write_ledger(ledger_rows(session, f, today, policy), n, plans, title,
                        rows_per_sheet=rows_per_sheet, constant_memory_rows=constant_memory_rows)


def write_ledger(rows: Iterable[dict[str, Any]], count: int, plans: int, title: LedgerTitle, *,
                 columns: list[str] | None = None, rows_per_sheet: int = SHEET_ROWS,
                 constant_memory_rows: int = CONSTANT_MEMORY_ROWS) -> bytes:
    """Write `count` ledger rows (dicts keyed by `columns`, default `LEDGER_COLUMNS`, in
    order) of `plans` plans as the ledger workbook and return its bytes. Sheets: the print
    layout and its continuations, then the detail and its continuations, each holding at
    most `rows_per_sheet` rows (with plan headings, the print sheets hold fewer so a
    sheet never passes Excel's 1,048,576 rows). Raises ValueError when `rows` yields more
    or fewer than `count` rows (the sheets were sized by it)."""
    columns = columns or LEDGER_COLUMNS
    if rows_per_sheet < 1:
        raise ValueError("rows_per_sheet must be positive")
    print_rows = min(rows_per_sheet, EXCEL_ROWS - 5 - plans)
    detail_rows = min(rows_per_sheet, EXCEL_ROWS - 3)
    n_print = max(math.ceil(count / print_rows), 1)
    n_detail = max(math.ceil(count / detail_rows), 1)
    with tempfile.TemporaryDirectory(prefix="tracker-ledger-") as folder:
        path = Path(folder) / "ledger.xlsx"
        book = xlsxwriter.Workbook(str(path), {
            **WRITER_OPTIONS, "constant_memory": count > constant_memory_rows,
            "tmpdir": folder, "default_format_properties": DEFAULT_FONT})
        formats = _Formats(book)
        printed = [book.add_worksheet(continuation_name(PRINT_SHEET, i)) for i in range(n_print)]
        detail = [book.add_worksheet(continuation_name(DETAIL_SHEET, i)) for i in range(n_detail)]
        pages = _PrintPages(printed, formats, title, count, print_rows, multi=plans > 1)
        details = _DetailPages(detail, formats, title, columns, count, detail_rows)
        written = 0
        for row in rows:
            pages.add(row)
            details.add(row)
            written += 1
        if written != count:
            book.close()
            raise ValueError(f"ledger rows: {written} written, {count} counted")
        pages.finish()
        details.finish()
        book.set_properties({"title": title.title, "subject": title.subtitle,
                             "author": title.office, "company": title.office})
        book.close()
        return path.read_bytes()


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


class _Style:
    """A cell style's three formats: as given, with a date format, with a date-time
    format (made once, so writing a cell looks nothing up)."""

    __slots__ = ("plain", "date", "moment")

    def __init__(self, formats: _Formats, props: dict[str, Any]):
        self.plain = formats(**props)
        self.date = formats(**props, num_format=DATE_FORMAT)
        self.moment = formats(**props, num_format=DATETIME_FORMAT)


def _missing(value: object) -> bool:
    """None, NaN, NaT, pd.NA or "" (a blank cell), without pandas' slower general test."""
    if value is None or value is pd.NaT or value is pd.NA or value == "":
        return True
    return isinstance(value, float) and value != value


def _write(ws: Worksheet, row: int, col: int, value: object, style: _Style) -> None:
    """One cell in `style`: text always as text (never a formula), numbers as numbers,
    dates as dates, blanks blank."""
    if _missing(value):
        ws.write_blank(row, col, None, style.plain)
    elif isinstance(value, str):
        ws.write_string(row, col, value, style.plain)
    elif isinstance(value, dt.datetime):
        ws.write_datetime(row, col, value, style.moment)
    elif isinstance(value, dt.date):
        ws.write_datetime(row, col, dt.datetime.combine(value, dt.time()), style.date)
    elif isinstance(value, bool):
        ws.write_string(row, col, "是" if value else "否", style.plain)
    elif isinstance(value, numbers.Real):  # numpy's integers too
        ws.write_number(row, col, value, style.plain)
    else:
        ws.write_string(row, col, str(value), style.plain)


def _shown(value: object) -> str:
    """The text a cell shows, for measuring its lines."""
    if is_missing(value):
        return ""
    if isinstance(value, dt.datetime):
        return f"{value.year}年{value.month}月{value.day}日 {value:%H:%M}"
    if isinstance(value, dt.date):
        return f"{value.year}年{value.month}月{value.day}日"
    return str(value)


class _PrintPages:
    """The print layout written row by row over its sheets (`sheets`, made in advance):
    each sheet titled, its header in row 3 (repeated on every printed page), at most
    `per_sheet` rows, a plan's heading row where the plan changes (and atop every
    continuation) when the ledger covers several plans."""

    def __init__(self, sheets: list[Worksheet], fmt: _Formats, title: LedgerTitle, count: int,
                 per_sheet: int, *, multi: bool):
        self.sheets, self.fmt, self.title = sheets, fmt, title
        self.count, self.per_sheet, self.multi = count, per_sheet, multi
        self.last = len(PRINT_LAYOUT) - 1
        self.header = fmt(bold=True, bg_color="#D9E1F2", align="center", text_wrap=True)
        self.plan_fmt = fmt(bold=True, align="left", bg_color="#F2F2F2")
        self.styles = [_Style(fmt, {"align": align, "text_wrap": wrap})
                       for _, _, wrap, align in PRINT_LAYOUT]
        light = next(i for i, (name, *_) in enumerate(PRINT_LAYOUT) if name == "灯")
        _, _, wrap, align = PRINT_LAYOUT[light]
        self.light_styles = {word: _Style(fmt, {"align": align, "text_wrap": wrap,
                                                "bg_color": fill})
                             for word, fill in LIGHT_FILLS.items()}
        self.part, self.row, self.in_part, self.plan = 0, 3, 0, None
        self._start(0)

    def _start(self, part: int) -> None:
        ws = self.sheets[part]
        self.part, self.row, self.in_part = part, 3, 0
        self.flushed: range = range(0)  # rows whose height xlsxwriter no longer needs
        ws.hide_gridlines(2)
        ws.set_row(0, 22)
        ws.merge_range(0, 0, 0, self.last, self.title.title, self.fmt(
            font_name=TITLE_FONT, font_size=14, bold=True, border=0, align="center"))
        ws.set_row(1, 15)
        ws.merge_range(1, 0, 1, self.last,
                       f"{self.title.subtitle}　　共 {self.count} 项{self._range(part)}",
                       self.fmt(border=0, align="left"))
        ws.set_row(2, 16)
        for col, (name, width, _wrap, _align) in enumerate(PRINT_LAYOUT):
            ws.set_column(col, col, width)
            ws.write_string(2, col, name, self.header)

    def _range(self, part: int) -> str:
        """"，本表第 1–1000000 项" on a ledger split over sheets; "" otherwise."""
        if len(self.sheets) == 1:
            return ""
        first = part * self.per_sheet + 1
        return f"，本表第 {first}–{min(first + self.per_sheet - 1, self.count)} 项"

    def add(self, record: dict[str, Any]) -> None:
        """Write one ledger row (a dict of `ledger_rows`) on the current sheet, or on the
        next one when this one is full."""
        if self.in_part == self.per_sheet:
            self._close()
            self._start(self.part + 1)
        ws = self.sheets[self.part]
        start = self.row
        plan = record["规划"]
        if self.multi and (plan != self.plan or self.in_part == 0):
            # several plans: each plan's rows under its own heading row, repeated atop a
            # continuation sheet as "（续）"
            ws.set_row(self.row, LINE_PT + ROW_PAD_PT + 2)
            ws.merge_range(self.row, 0, self.row, self.last,
                           f"{plan}（续）" if plan == self.plan else f"{plan}", self.plan_fmt)
            self.row += 1
        self.plan = plan
        lines = 1
        for col, (name, width, wrap, _align) in enumerate(PRINT_LAYOUT):
            value = _printed(name, record.get(name))
            style = self.styles[col]
            if name == "灯" and value in LIGHT_FILLS:
                style = self.light_styles[str(value)]
            _write(ws, self.row, col, value, style)
            if wrap:
                lines = max(lines, wrapped_lines(_shown(value), width))
        ws.set_row(self.row, min(LINE_PT * lines + ROW_PAD_PT, MAX_ROW_PT))
        release_rows(ws, self.flushed)
        self.flushed = range(start, self.row + 1)
        self.row += 1
        self.in_part += 1

    def _close(self) -> None:
        ws = self.sheets[self.part]
        if not self.count:
            ws.merge_range(3, 0, 3, self.last, "（没有符合筛选条件的事项）", self.fmt(align="center"))
            self.row = 4
        ws.freeze_panes(3, 0)
        ws.print_area(0, 0, self.row - 1, self.last)
        ws.repeat_rows(2)
        ws.set_paper(9)
        ws.set_landscape()
        ws.fit_to_pages(1, 0)
        ws.center_horizontally()
        ws.set_margins(left=0.35, right=0.35, top=0.4, bottom=0.5)
        ws.set_footer("&C第 &P 页，共 &N 页", {"margin": 0.2})

    def finish(self) -> None:
        """Finish the last sheet's print setup and open the workbook on the first."""
        self._close()
        self.sheets[0].activate()


def _printed(name: str, value: object) -> object:
    """A print-layout cell from the detail's value: 报送期 in words (2017年第一季度),
    报送时间 as its day (the detail keeps the minute)."""
    if name == "报送期":
        return cn_period(value) if isinstance(value, str) else ""
    if name == "报送时间":
        return value.date() if isinstance(value, dt.datetime) and not is_missing(value) else None
    return value


class _DetailPages:
    """The full detail written row by row over its sheets: title row, header row (frozen,
    autofilter, repeated when printed), at most `per_sheet` rows a sheet."""

    def __init__(self, sheets: list[Worksheet], fmt: _Formats, title: LedgerTitle,
                 columns: list[str], count: int, per_sheet: int):
        self.sheets, self.fmt, self.title, self.columns = sheets, fmt, title, columns
        self.count, self.per_sheet = count, per_sheet
        self.head = fmt(bold=True, bg_color="#1F4E79", font_color="#FFFFFF", text_wrap=True)
        self.styles = [_Style(fmt, {"text_wrap": name in DETAIL_WRAPPED, "valign": "top"})
                       for name in columns]
        self.part, self.row, self.in_part = 0, 2, 0
        self._start(0)

    def _start(self, part: int) -> None:
        ws = self.sheets[part]
        self.part, self.row, self.in_part = part, 2, 0
        span = ""
        if len(self.sheets) > 1:
            first = part * self.per_sheet + 1
            span = f"　本表第 {first}–{min(first + self.per_sheet - 1, self.count)} 项"
        ws.write_string(0, 0, f"{self.title.title}（明细）　{self.title.subtitle}{span}",
                        self.fmt(font_name=TITLE_FONT, bold=True, font_size=12, border=0))
        for col, name in enumerate(self.columns):
            ws.set_column(col, col, DETAIL_WRAPPED.get(name, DETAIL_WIDTHS.get(name, 12)))
            ws.write_string(1, col, name, self.head)

    def add(self, record: dict[str, Any]) -> None:
        """Write one ledger row on the current sheet, or on the next when this one is full."""
        if self.in_part == self.per_sheet:
            self._close()
            self._start(self.part + 1)
        ws = self.sheets[self.part]
        for col, name in enumerate(self.columns):
            _write(ws, self.row, col, record.get(name), self.styles[col])
        self.row += 1
        self.in_part += 1

    def _close(self) -> None:
        ws = self.sheets[self.part]
        ws.freeze_panes(2, 3)
        ws.autofilter(1, 0, max(self.in_part, 1) + 1, len(self.columns) - 1)
        ws.set_landscape()
        ws.set_paper(9)
        ws.repeat_rows(1)
        ws.fit_to_pages(1, 0)
        ws.set_footer("&C第 &P 页，共 &N 页", {"margin": 0.2})

    def finish(self) -> None:
        """Finish the last sheet."""
        self._close()
