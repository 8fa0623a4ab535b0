"""The house style of the scorecard workbooks (the annual scorecard and the five-year summary).

One `Book` wraps an xlsxwriter workbook written to a temporary file beside the target and
renamed over it when complete (`Book.close`), so a reader never sees half a workbook. Every
sheet opens with a title row and a subtitle row, then tables written cell by cell with
formats chosen from the column header: dates as Excel dates (yyyy年m月d日), percentages
and points with the rules' digits, NaN as a grey "不适用", user text always as text (the
workbook refuses formula, URL and number guessing). Print setup: A4, landscape when wide,
one page wide, the header rows repeated, margins, "第 &P 页 共 &N 页" in the footer.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import pandas as pd
import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

SHANGHAI = ZoneInfo("Asia/Shanghai")
WRITER_OPTIONS = {"strings_to_formulas": False, "strings_to_urls": False,
                  "strings_to_numbers": False}
NOT_APPLICABLE = "不适用"
FONT = "宋体"
TITLE_FONT = "黑体"
DATE_FORMAT = "yyyy年m月d日"
# printable width of A4 in column units that keeps 12 pt text at >= 9 pt when fitted to
# the page width, after 0.5" margins each side; LibreOffice without Calibri's metrics
# draws a unit as ~7 pt (Excel ~5.7 pt), so the budget assumes 7 pt
PORTRAIT_UNITS = 91
LANDSCAPE_UNITS = 134
MAX_TEXT_WIDTH = 44  # a long text column wraps at this many units
# RAG fills (light, readable in black and white print too)
GREEN, AMBER, RED = "#C6EFCE", "#FFEB9C", "#FFC7CE"
TOP_FILL, BOTTOM_FILL = "#00703C", "#9C0006"
# Excel's 1,048,576 rows less room for titles, notes and headings: a sheet holds at most
# this many table rows, the rest continue on "<name>（续1）", "（续2）"… (`continuation_name`)
SHEET_ROWS = 1_000_000
# a sheet with more table rows than this is written in xlsxwriter's constant-memory mode
# (one row held at a time, so every cell is written in row order)
CONSTANT_MEMORY_ROWS = 20_000


def release_rows(ws: Worksheet, rows: Iterable[int]) -> None:
    """On a constant-memory sheet, forget the heights of `rows`, already written out:
    xlsxwriter keeps every row's `set_row` entry to the end (≈ 200 bytes a row, 200 MB
    at a million rows) though it reads each only when the row is flushed. Call it with
    rows before the one being written; elsewhere it does nothing."""
    if ws.constant_memory:
        info = ws.row_info
        for row in rows:
            if row < ws.previous_row:
                info.pop(row, None)


def continuation_name(name: str, part: int) -> str:
    """The sheet holding part `part` of a long table: `name` for part 0, else
    "<name>（续<part>）" (31 characters at most, Excel's limit)."""
    if part == 0:
        return name
    suffix = f"（续{part}）"
    return name[:31 - len(suffix)] + suffix


def parts(n: int, per_sheet: int) -> list[tuple[int, int]]:
    """(start, stop) row ranges of a table of `n` rows over sheets of `per_sheet` rows;
    one empty range for an empty table."""
    per_sheet = max(per_sheet, 1)
    return [(start, min(start + per_sheet, n)) for start in range(0, n, per_sheet)] or [(0, 0)]


class ScoringLike(Protocol):
    """What the workbooks read of `tracker.settings.ScoringRules` (FIGURES_SPEC.md)."""

    @property
    def version(self) -> str: ...
    @property
    def on_time(self) -> float: ...
    @property
    def completeness(self) -> float: ...
    @property
    def progress(self) -> float: ...
    @property
    def meetings(self) -> float: ...
    @property
    def green_at(self) -> float: ...
    @property
    def amber_at(self) -> float: ...
    @property
    def percent_digits(self) -> int: ...
    @property
    def score_digits(self) -> int: ...
    def digest(self) -> str: ...
    def describe(self) -> list[tuple[str, str]]: ...


class FiguresLike(Protocol):
    """The scorecard figures of one plan year (FIGURES_SPEC.md: `figures.Figures`)."""

    @property
    def plan_key(self) -> str: ...
    @property
    def plan_title(self) -> str: ...
    @property
    def year(self) -> int: ...
    @property
    def generated(self) -> dt.datetime: ...
    @property
    def data_as_of(self) -> dt.date: ...
    @property
    def scoring(self) -> ScoringLike: ...
    @property
    def summary(self) -> pd.DataFrame: ...
    @property
    def measures(self) -> pd.DataFrame: ...
    @property
    def indicators(self) -> pd.DataFrame: ...
    @property
    def escalations_by_agency(self) -> pd.DataFrame: ...
    @property
    def escalations_by_measure(self) -> pd.DataFrame: ...
    @property
    def escalations_by_rung(self) -> pd.DataFrame: ...
    @property
    def escalation_detail(self) -> pd.DataFrame: ...
    @property
    def deductions(self) -> pd.DataFrame: ...
    @property
    def meetings(self) -> pd.DataFrame: ...
    @property
    def districts(self) -> dict[str, pd.DataFrame]: ...
    @property
    def issued(self) -> bool: ...


def display_width(value: object) -> int:
    """Column width in Excel units: CJK and full-width characters count double."""
    text = "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def beijing_time(moment: dt.datetime) -> str:
    """A timezone-aware moment as Beijing time, "2018年2月13日 09:00". Raises ValueError
    for a naive datetime (its zone would be a guess)."""
    if moment.tzinfo is None:
        raise ValueError("生成时间缺少时区")
    local = moment.astimezone(SHANGHAI)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


def cn_date(day: dt.date) -> str:
    """A date as "2018年2月13日"."""
    return f"{day.year}年{day.month}月{day.day}日"


def is_missing(value: object) -> bool:
    """None, NaN, NaT and pandas NA (the spec's empty and 不适用 values)."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True)
class Table:
    """Where `Book.table` put a DataFrame: header row, first and last data rows (0-based,
    last < first when empty) and the column index of each header."""

    header_row: int
    first_row: int
    last_row: int
    columns: dict[str, int]

    def col(self, name: str) -> int:
        return self.columns[name]


class Book:
    """A workbook in the scorecard's style, written to `path` atomically on `close()`.

    `subtitle` is the line printed under every sheet's title; `percent_digits` and
    `score_digits` set the number formats of percentage and points columns."""

    def __init__(self, path: Path, *, subtitle: str, percent_digits: int = 1,
                 score_digits: int = 2, rows_per_sheet: int = SHEET_ROWS,
                 constant_memory_rows: int = CONSTANT_MEMORY_ROWS):
        self.path = path
        self.rows_per_sheet = rows_per_sheet
        self.constant_memory_rows = constant_memory_rows
        self._streamed: set[str] = set()  # sheets in constant-memory mode
        path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        self.wb = xlsxwriter.Workbook(str(self.tmp), {**WRITER_OPTIONS, "nan_inf_to_errors": True,
                                                      "default_date_format": DATE_FORMAT})
        self.subtitle = subtitle
        self.percent_fmt = "0" + ("." + "0" * percent_digits if percent_digits > 0 else "")
        self.score_fmt = "0" + ("." + "0" * score_digits if score_digits > 0 else "")
        self._formats: dict[tuple[tuple[str, Any], ...], Format] = {}
        self._widths: dict[str, dict[int, float]] = {}
        self._notes: dict[str, list[tuple[int, str, Format]]] = {}
        self.title_fmt = self.fmt(bold=True, font_size=16, font_name=TITLE_FONT, align="left",
                                  valign="vcenter", border=0)
        self.subtitle_fmt = self.fmt(font_size=11, font_color="#404040", border=0, align="left")
        self.heading_fmt = self.fmt(bold=True, font_size=13, font_name=TITLE_FONT, border=0)
        self.header_fmt = self.fmt(bold=True, bg_color="#1F4E79", font_color="#FFFFFF",
                                   text_wrap=True, align="center", valign="vcenter")

    def fmt(self, **props: Any) -> Format:
        """A cached cell format: 宋体 12 pt, thin border, vertically centred, plus `props`."""
        base: dict[str, Any] = {"font_name": FONT, "font_size": 12, "border": 1,
                                "valign": "vcenter"}
        base.update(props)
        key = tuple(sorted(base.items()))
        if key not in self._formats:
            self._formats[key] = self.wb.add_format(base)
        return self._formats[key]

    def sheet(self, name: str, title: str, *, rows: int = 0,
              subtitle: str | None = None) -> Worksheet:
        """A new sheet with its title (row 0) and the book's subtitle (row 1, or
        `subtitle`). A sheet that will hold more than `constant_memory_rows` table rows
        (`rows`) is written in constant-memory mode: its cells must then come in row order
        (`table`, `heading` and `note` keep to it)."""
        streamed = rows > self.constant_memory_rows
        self.wb.constant_memory = streamed  # read by add_worksheet, for this sheet only
        try:
            ws = self.wb.add_worksheet(name)
        finally:
            # off again: at close the workbook would try to close every sheet's row file
            self.wb.constant_memory = False
        if streamed:
            self._streamed.add(ws.name)
        ws.set_row(0, 30)
        ws.write_string(0, 0, title, self.title_fmt)
        self.note(ws, 1, self.subtitle if subtitle is None else subtitle)
        ws.hide_gridlines(2)
        return ws

    def streamed(self, ws: Worksheet) -> bool:
        """Whether `ws` is written in constant-memory mode (cells in row order only)."""
        return ws.name in self._streamed

    def _flush_notes(self, ws: Worksheet, before: int) -> None:
        """On a constant-memory sheet, write the notes above row `before` now (merged over
        the columns widened so far), since a row once passed cannot be written."""
        if not self.streamed(ws):
            return
        pending = self._notes.get(ws.name, [])
        self._notes[ws.name] = [n for n in pending if n[0] >= before]
        self._write_notes(ws, [n for n in pending if n[0] < before], None)

    def note(self, ws: Worksheet, row: int, text: str) -> None:
        """A line of text at (`row`, A), merged over the sheet's columns and wrapped when the
        sheet is finished (`print_setup`), so it never widens the printed page."""
        self._notes.setdefault(ws.name, []).append((row, text, self.subtitle_fmt))

    def set_width(self, ws: Worksheet, col: int, width: float) -> float:
        """Widen column `col` to at least `width` units (tables sharing a column keep the
        widest); returns the width now set."""
        known = self._widths.setdefault(ws.name, {})
        width = max(known.get(col, 0.0), width)
        known[col] = width
        ws.set_column(col, col, width)
        return width

    def column_kind(self, header: str, values: pd.Series) -> str:
        """"date", "percent", "score", "int", "number" or "text", from the header and values."""
        present = [v for v in values if not is_missing(v)]
        if present and all(isinstance(v, dt.date) for v in present):
            return "date"
        # an all-NaN numeric column (a part that applies to nobody in the table) is numeric
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        if (present or numeric) and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                        for v in present):
            if "%" in header or header.endswith("率"):
                return "percent"
            if any(k in header for k in ("得分", "扣分", "总分", "满分", "分)")):
                return "score"
            if present and all(float(v).is_integer() for v in present):
                return "int"
            return "number"
        return "text"

    def table(self, ws: Worksheet, row: int, df: pd.DataFrame, *,
              headers: dict[str, str] | None = None, widths: dict[str, float] | None = None,
              col: int = 0, na_text: str | None = NOT_APPLICABLE,
              number_formats: dict[str, str] | None = None) -> Table:
        """Write `df` at (`row`, `col`): a header row (display names from `headers`), then
        one row per record; a missing number prints `na_text` (None: a blank cell, as a
        chart's data wants); `number_formats` overrides a column's number format. Text
        wraps within the column. Returns where it went."""
        headers = headers or {}
        widths = widths or {}
        names = [str(c) for c in df.columns]
        kinds = [self.column_kind(n, df[n]) for n in names]
        cols: dict[str, int] = {}
        col_widths: list[float] = []
        for i, (name, kind) in enumerate(zip(names, kinds, strict=True)):
            shown = headers.get(name, name)
            cols[name] = col + i
            if name in widths:
                width = widths[name]
            else:
                widest = max([display_width(self.shown(v, kind)) for v in df[name]] + [0])
                head = display_width(shown)
                width = max(min(widest + 2, MAX_TEXT_WIDTH), min(head + 2, 12 if kind != "text" else 14), 6)
                if kind == "date":
                    width = max(width, 15)
            col_widths.append(self.set_width(ws, col + i, width))
        # explicit heights: LibreOffice keeps an .xlsx row's height as written; a CJK
        # character is counted 2 units (Excel draws ~2.3, LibreOffice ~1.7)
        ws.set_row(row, _height([display_width(headers.get(n, n)) for n in names], col_widths))
        self._flush_notes(ws, row)
        for i, name in enumerate(names):
            ws.write_string(row, col + i, headers.get(name, name), self.header_fmt)
        overrides = number_formats or {}
        formats = [self.fmt(num_format=overrides[n]) if n in overrides
                   else self._cell_format(k) for n, k in zip(names, kinds, strict=True)]
        na_fmt = self.fmt(font_color="#808080", align="center")
        r = row
        text_cols = [i for i, k in enumerate(kinds) if k == "text"]
        streamed = self.streamed(ws)
        for r, record in enumerate(df.itertuples(index=False, name=None), start=row + 1):
            if streamed:
                release_rows(ws, (r - 2,))  # flushed when row r - 1 began
            if text_cols:
                ws.set_row(r, _height([display_width(record[i]) for i in text_cols],
                                      [col_widths[i] for i in text_cols]))
            for i, (value, kind) in enumerate(zip(record, kinds, strict=True)):
                c = col + i
                if is_missing(value):
                    if kind in ("percent", "score", "int", "number") and na_text is not None:
                        ws.write_string(r, c, na_text, na_fmt)
                    else:
                        ws.write_blank(r, c, None, formats[i])
                elif kind == "date":
                    day = value if not isinstance(value, dt.datetime) else value.date()
                    ws.write_datetime(r, c, dt.datetime(day.year, day.month, day.day), formats[i])
                elif kind in ("percent", "score", "int", "number"):
                    ws.write_number(r, c, float(value), formats[i])
                else:
                    text = "是" if value is True else "否" if value is False else str(value)
                    ws.write_string(r, c, text, formats[i])
        last = r if len(df) else row
        return Table(row, row + 1, last if len(df) else row, cols)

    def shown(self, value: object, kind: str) -> str:
        """How a value reads in its cell (for widths)."""
        if is_missing(value):
            return NOT_APPLICABLE if kind != "text" and kind != "date" else ""
        if kind == "date":
            return "2017年12月31日"
        if kind == "percent":
            return f"{float(value):.1f}"  # type: ignore[arg-type]
        if kind == "score":
            return f"{float(value):.2f}"  # type: ignore[arg-type]
        return str(value)

    def _cell_format(self, kind: str) -> Format:
        if kind == "date":
            return self.fmt(num_format=DATE_FORMAT, align="center")
        if kind == "percent":
            return self.fmt(num_format=self.percent_fmt)
        if kind == "score":
            return self.fmt(num_format=self.score_fmt)
        if kind == "int":
            return self.fmt(num_format="0")
        if kind == "number":
            return self.fmt(num_format="0.00")
        return self.fmt(text_wrap=True)

    def heading(self, ws: Worksheet, row: int, text: str) -> None:
        """A small heading above a table."""
        self._flush_notes(ws, row)
        ws.set_row(row, 22)
        ws.write_string(row, 0, text, self.heading_fmt)

    def rag(self, ws: Worksheet, table: Table, column: str, green_at: float,
            amber_at: float) -> None:
        """Red/amber/green fills on a numeric column: >= green_at green, >= amber_at amber,
        else red; a "不适用" cell keeps no colour (formula rules, since Excel ranks text
        above every number)."""
        if table.last_row < table.first_row:
            return
        c = table.col(column)
        ref = xlsxwriter.utility.xl_rowcol_to_cell(table.first_row, c, row_abs=False, col_abs=True)
        rng = (table.first_row, c, table.last_row, c)
        for criteria, fill in ((f"=AND(ISNUMBER({ref}),{ref}>={green_at:g})", GREEN),
                               (f"=AND(ISNUMBER({ref}),{ref}>={amber_at:g},{ref}<{green_at:g})", AMBER),
                               (f"=AND(ISNUMBER({ref}),{ref}<{amber_at:g})", RED)):
            ws.conditional_format(*rng, {"type": "formula", "criteria": criteria,
                                         "format": self.wb.add_format({"bg_color": fill})})

    def top_bottom(self, ws: Worksheet, table: Table, column: str, n: int = 3,
                   kinds: Sequence[str] = ("top", "bottom")) -> None:
        """The top `n` and bottom `n` of a column in bold white on dark green / dark red
        (conditional formats "top" and "bottom", written before the RAG rules so they win);
        `kinds` chooses which (a long ranking's first sheet has its top, its last the
        bottom)."""
        if table.last_row < table.first_row:
            return
        c = table.col(column)
        rng = (table.first_row, c, table.last_row, c)
        for kind, fill in (("top", TOP_FILL), ("bottom", BOTTOM_FILL)):
            if kind not in kinds:
                continue
            ws.conditional_format(*rng, {"type": kind, "value": n, "format": self.wb.add_format(
                {"bold": True, "font_color": "#FFFFFF", "bg_color": fill})})

    def print_setup(self, ws: Worksheet, *, header_row: int | None, freeze_col: int = 0,
                    last_col: int | None = None) -> None:
        """A4, landscape when the columns are wider than a portrait page, one page wide,
        rows 0..header_row repeated on every page, margins, page numbers in the footer.
        The sheet's notes are merged over columns A..`last_col` (default: the last column
        given a width)."""
        last_col, total = self._write_notes(ws, self._notes.pop(ws.name, []), last_col)
        ws.set_paper(9)
        if total > PORTRAIT_UNITS:
            ws.set_landscape()
        else:
            ws.set_portrait()
        ws.fit_to_pages(1, 0)
        ws.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.7)
        ws.set_footer("&C第 &P 页 共 &N 页", {"margin": 0.3})
        ws.center_horizontally()
        if header_row is not None:
            ws.repeat_rows(0, header_row)
            ws.freeze_panes(header_row + 1, freeze_col)

    def _write_notes(self, ws: Worksheet, notes: list[tuple[int, str, Format]],
                     last_col: int | None) -> tuple[int, float]:
        """Write `notes` merged over columns A..`last_col` (default: the last column given
        a width) and wrapped; returns (last_col, the width of those columns)."""
        known = self._widths.get(ws.name, {})
        if last_col is None:
            last_col = max(known, default=0)
        total = sum(w for c, w in known.items() if c <= last_col)
        wrap = self.fmt(font_size=11, font_color="#404040", border=0, align="left",
                        valign="top", text_wrap=True)
        for row, text, _ in sorted(notes, key=lambda n: n[0]):
            if last_col == 0 and self.streamed(ws):
                # a streamed sheet's note above its first table, before any column is
                # sized: one line, running over the empty cells to its right
                ws.set_row(row, 18)
                ws.write_string(row, 0, text, self.fmt(font_size=11, font_color="#404040",
                                                       border=0, align="left"))
                continue
            lines = max(1, math.ceil(display_width(text) * 0.8 / max(total, 1)))
            ws.set_row(row, 16 * lines + 2)
            if last_col > 0:
                ws.merge_range(row, 0, row, last_col, text, wrap)
            else:
                ws.write_string(row, 0, text, wrap)
        return last_col, total

    def properties(self, **props: Any) -> None:
        """Document properties (title, subject, author, company, created, keywords, comments)."""
        self.wb.set_properties(props)

    def close(self) -> Path:
        """Finish the workbook and move it over `path` (os.replace); on failure nothing
        is left behind."""
        try:
            self.wb.close()
            os.replace(self.tmp, self.path)
        except BaseException:
            self.tmp.unlink(missing_ok=True)
            raise
        return self.path

    def discard(self) -> None:
        """Drop the temporary file after an error."""
        try:
            self.wb.close()
        except Exception:  # noqa: BLE001 - the workbook is being thrown away
            pass
        self.tmp.unlink(missing_ok=True)


LINE = 16.5  # points per line of 12 pt text


def _height(widths: Sequence[int], columns: Sequence[float]) -> float:
    """A row's height in points for texts of `widths` units wrapped in `columns`."""
    lines = max([math.ceil(w / max(c - 1.0, 1.0)) for w, c in zip(widths, columns, strict=True)]
                + [1])
    return LINE * min(lines, 10) + 2
