"""A 任务分工表 file read into grids of cells, one per sheet or Word table (issue 13, item 1).

`read_grids` takes an Excel workbook (.xlsx; .xls and WPS .et through LibreOffice), a CSV
file (UTF-8, UTF-8 with BOM, GB18030/GBK, UTF-16 from Excel's "Unicode 文本"; separated by
commas, tabs or, as European Excel saves it, semicolons) or a Word document (.docx) and
returns every sheet and every table, in the file's order, as a `Grid`:

- a merged range's value fills every cell it covers (a merged 部分 or 牵头单位 applies to
  every row it spans); `origin` says which cells were filled so;
- hidden rows and columns, and hidden sheets, are read and marked, for the report;
- a formula or an error value is kept as a problem of its cell, never evaluated;
- Word's automatic numbering (a 序号 column numbered by Word, not typed) is written into
  the cell as Word shows it (`word_numbering`); a number it cannot write is a problem of
  its cell; a Word cell's text is read as Word shows it with tracked changes accepted
  (`word_text`), and a row deleted as a tracked change is not read;
- a chart sheet is a grid with `unreadable` set.

What the caller does with the grids (which hold the task table) is `table.import_table`'s.
Refusals of the file as a whole raise `TableImportError`, in Chinese.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from tracker.catalog.table_layout import normal_header, role_of
from tracker.catalog.word_numbering import Unrendered, numbering_labels
from tracker.catalog.word_text import (
    PARAGRAPH,
    TABLE,
    as_docx,
    blocks,
    deleted_row,
    paragraph_text,
)
from tracker.exchange.convert import NO_CONVERTER, ConversionRefused, Converter
from tracker.exchange.package import (
    OLE_MAGIC,
    NeedsConversion,
    PackageRefused,
    check_package,
    hidden_lines,
    merged_ranges,
)

MAX_BYTES = 20 * 1024 * 1024  # a plan's table is tens or hundreds of KB
MAX_ROWS = 5000  # a plan has at most a few hundred tasks
MAX_COLS = 40
HEADER_SCAN = 20  # the header is within the first rows (a title row or two above it)
_ENCRYPTED = "EncryptionInfo".encode("utf-16-le")
# what a CSV may be separated by, and how the report names it
DELIMITERS = {",": "逗号“,”", "\t": "制表符", ";": "分号“;”"}


# ---------------------------------------------------------------- problems


@dataclass(frozen=True)
class Problem:
    """One problem of the table: where (`place`: 工作表“任务分工表” / 第1个表格 / the CSV's
    name), row (as the office sees it: Excel's row number, the CSV's record number, the
    Word table's row), column (D列（牵头单位）) and the reason in Chinese."""

    place: str
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = self.place + (f"第{self.row}行" if self.row else "") + (
            f" {self.column}" if self.column else "")
        return f"{where}：{self.message}" if where else self.message


class TableImportError(ValueError):
    """The table is refused; `problems` names every problem found, in table order."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def refuse(message: str) -> TableImportError:
    """The file refused as a whole, for `message` (Chinese)."""
    return TableImportError([Problem("", None, None, message)])


# ---------------------------------------------------------------- grids


@dataclass
class Grid:
    """A table as read: rows of cell values (numbered as the office sees them), where a
    merged range's value fills every cell it covers; `origin` names, for each covered cell
    other than the range's first, that first cell as (row, column index)."""

    place: str  # how problems name it: 工作表“任务分工表”, 第1个表格, or "" for a CSV
    letters: bool  # columns named A, B, … (Excel, CSV) or 第1列, 第2列 … (Word)
    rows: list[tuple[int, list[Any]]] = field(default_factory=list)
    origin: dict[tuple[int, int], tuple[int, int]] = field(default_factory=dict)
    bad_cells: dict[tuple[int, int], str] = field(default_factory=dict)  # formula, error
    hidden_rows: set[int] = field(default_factory=set)  # row numbers hidden or filtered out
    hidden_cols: set[int] = field(default_factory=set)  # column indices hidden
    hidden: bool = False  # a hidden sheet
    unreadable: str | None = None  # why it holds no cells to read (a chart sheet)
    notes: list[str] = field(default_factory=list)  # how it was read (a CSV's separator)
    name: str = ""  # a sheet's name

    def column_name(self, col: int, header: str | None = None) -> str:
        """Column `col` (0-based) as the office names it: "D列（牵头单位）" or "第4列（牵头单位）"."""
        name = letter(col) + "列" if self.letters else f"第{col + 1}列"
        return f"{name}（{header}）" if header else name

    @property
    def width(self) -> int:
        """The number of columns of its widest row."""
        return max((len(values) for _, values in self.rows), default=0)

    def is_blank(self) -> bool:
        return not any(cell_text(v) for _, values in self.rows for v in values)


def letter(index: int) -> str:
    """Column index 0 → "A", 26 → "AA" (Excel's column names)."""
    out = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(ord("A") + rem) + out
    return out


def cell_text(value: Any) -> str:
    """A cell's value as text: numbers as written (3, 2.1), dates as 2018年6月30日."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return f"{value.year}年{value.month}月{value.day}日"
    text = str(value).replace("\r\n", "\n").replace("\r", "\n").replace("\u3000", " ")
    return text.strip()


def _fill_merges(grid: Grid, merges: list[tuple[int, int, int, int]]) -> None:
    """Spread each merged range (first_col, first_row, last_col, last_row; rows as numbered)
    over its cells."""
    by_number = {number: values for number, values in grid.rows}
    for c1, r1, c2, r2 in merges:
        first = by_number.get(r1)
        if first is None or c1 >= len(first):
            continue
        value = first[c1]
        for r in range(r1, min(r2, r1 + MAX_ROWS) + 1):
            row = by_number.get(r)
            if row is None:
                continue
            for c in range(c1, min(c2, MAX_COLS - 1) + 1):
                if (r, c) == (r1, c1):
                    continue
                while len(row) <= c:
                    row.append(None)
                row[c] = value
                grid.origin[(r, c)] = (r1, c1)


# ---------------------------------------------------------------- readers


def read_grids(data: bytes, filename: str, converter: Converter = NO_CONVERTER) -> list[Grid]:
    """The file's sheets or tables as grids, in the file's order, by the file name's ending
    (.xlsx/.xlsm/.xls/.et, .csv/.txt, .docx; .doc/.wps through LibreOffice, `converter`).
    Raises TableImportError for a file of another type, too large, corrupt,
    password-protected, legacy Excel or Word that cannot be converted, or a CSV in an
    unknown encoding."""
    suffix = PurePath(filename).suffix.lower()
    if len(data) > MAX_BYTES:
        raise refuse(f"文件过大（超过 {MAX_BYTES // 1024 // 1024} MB）；任务分工表通常只有几百 KB")
    if not data.strip():
        raise refuse("文件为空")
    if data.startswith(OLE_MAGIC) and _ENCRYPTED in data:
        raise refuse("文件设有打开密码，系统无法读取；请在 Excel/WPS/Word 中取消密码后另存，再导入")
    if suffix in (".xlsx", ".xlsm", ".xls", ".et", ".ett", ".xltx"):
        return _read_xlsx(data, converter)
    if suffix in (".csv", ".txt"):
        return [_read_csv(data)]
    if suffix in (".docx", ".doc", ".wps", ".wpt", ".dot"):
        return _read_docx(as_docx(data, suffix, converter, refuse))
    raise refuse(f"不支持的文件类型“{suffix or filename}”；请使用 Excel（.xlsx）、CSV（.csv）"
                 "或 Word（.docx）格式的任务分工表（可用 tracker catalog template 生成模板）")


def _read_xlsx(data: bytes, converter: Converter) -> list[Grid]:
    from openpyxl import load_workbook

    try:
        try:
            package = check_package(data)
        except NeedsConversion as exc:
            data = converter.to_xlsx(data, exc.suffix, exc.what)
            package = check_package(data)
    except (PackageRefused, ConversionRefused) as exc:
        message = str(exc).replace("请使用系统下载的模板",
                                   "请检查文件，或使用 tracker catalog template 生成的模板"
                                   ).replace("后再上传", "后再导入")
        raise refuse(message) from None
    if "xl/workbook.xml" not in package.namelist():
        what = "Word 文档" if "word/document.xml" in package.namelist() else "Excel 工作簿"
        raise refuse(f"文件不是 Excel 工作簿（.xlsx）{'，而是' + what if what != 'Excel 工作簿' else ''}；"
                     "请检查文件类型")
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
        grids = []
        for name in book.sheetnames:
            sheet = book[name]
            if not hasattr(sheet, "iter_rows"):
                grids.append(Grid(place=f"工作表“{name}”", letters=True, name=name,
                                  unreadable="为图表工作表，没有单元格"))
                continue
            grid = _sheet_grid(sheet, name, package)
            grid.hidden = getattr(sheet, "sheet_state", "visible") != "visible"
            grids.append(grid)
        book.close()
        return grids
    except TableImportError:
        raise
    except Exception as exc:  # openpyxl raises many kinds for a damaged or foreign file
        raise refuse("不是有效的 Excel（.xlsx）文件，或文件已损坏；请在 Excel/WPS 中打开后另存为 "
                     ".xlsx 再导入") from exc


def _sheet_grid(sheet: Any, name: str, package: zipfile.ZipFile) -> Grid:
    grid = Grid(place=f"工作表“{name}”", letters=True, name=name)
    # WPS and other writers may store the extent as "A1": read the cells themselves
    sheet.reset_dimensions()
    number = 0
    for cells in sheet.iter_rows(max_row=MAX_ROWS + 1, max_col=MAX_COLS):
        at = next((c.row for c in cells if getattr(c, "row", None)), None)
        number = at if at is not None else number + 1
        if number > MAX_ROWS:
            if any(getattr(c, "value", None) not in (None, "") for c in cells):
                raise TableImportError([Problem(grid.place, number, None,
                                                f"行数过多（超过 {MAX_ROWS} 行）；请只保留任务行")])
            break
        values: list[Any] = []
        for col, cell in enumerate(cells):
            value = getattr(cell, "value", None)
            kind = getattr(cell, "data_type", None)
            if kind == "f":
                grid.bad_cells[(number, col)] = ("为公式；请复制后“选择性粘贴”为数值或文字，再导入")
                value = None
            elif kind == "e":
                grid.bad_cells[(number, col)] = f"为错误值“{value}”；请改为文字"
                value = None
            values.append(value)
        while values and values[-1] in (None, ""):
            values.pop()
        grid.rows.append((number, values))
    merges = [(m.first_col, m.first_row, m.last_col, m.last_row)
              for m in merged_ranges(package, name)]
    _fill_merges(grid, merges)
    grid.hidden_rows, grid.hidden_cols = hidden_lines(package, name)
    return grid


def _decode(data: bytes) -> str:
    """CSV bytes as text: UTF-16 (with its BOM), UTF-8 (with or without BOM), else GB18030."""
    encodings = ["utf-16"] if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) \
        else ["utf-8-sig", "gb18030"]
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise refuse("无法识别 CSV 文件的编码；请在 Excel/WPS 中另存为“CSV UTF-8（逗号分隔）”后再导入")


def _header_cells(text: str, delimiter: str) -> int:
    """How many cells of the best of the first HEADER_SCAN records, split by `delimiter`,
    are headers the importer knows (编号, 牵头单位, 重点任务 …)."""
    best = 0
    try:
        for number, record in enumerate(csv.reader(io.StringIO(text, newline=""),
                                                   delimiter=delimiter)):
            if number >= HEADER_SCAN:
                break
            best = max(best, sum(1 for cell in record if role_of(normal_header(cell))))
    except csv.Error:
        return 0
    return best


def _delimiter(text: str) -> str:
    """The CSV's separator: the one whose split names the most known headers; with no
    header found, a tab when the first line has tabs and no commas, else a comma."""
    scores = {d: _header_cells(text, d) for d in DELIMITERS}
    best = max(scores, key=lambda d: scores[d])
    if scores[best]:
        return best
    first = text.split("\n", 1)[0]
    return "\t" if "\t" in first and "," not in first else ","


def _read_csv(data: bytes) -> Grid:
    if data.startswith((b"PK\x03\x04", OLE_MAGIC)):
        raise refuse("文件扩展名为 .csv，但内容是 Excel 或 Word 文件；请改用正确的扩展名（.xlsx/.docx）")
    text = _decode(data)
    if "\x00" in text:
        raise refuse("CSV 文件中含有二进制内容，不是文本文件")
    delimiter = _delimiter(text)
    grid = Grid(place="", letters=True)
    if delimiter == ";":
        grid.notes.append("CSV 文件以分号“;”分隔（欧洲语言版 Excel 的保存方式），已按分号分列读取；"
                          "如分列有误，请另存为“CSV UTF-8（逗号分隔）”后再导入")
    elif delimiter == "," and ";" in text.split("\n", 1)[0] and _header_cells(text, ",") == 0:
        grid.notes.append("CSV 文件的第一行含分号“;”：如文件以分号分隔，请另存为“CSV UTF-8（逗号分隔）”"
                          "后再导入")
    try:
        for number, record in enumerate(csv.reader(io.StringIO(text, newline=""),
                                                   delimiter=delimiter), start=1):
            if number > MAX_ROWS:
                raise TableImportError([Problem("", number, None,
                                                f"行数过多（超过 {MAX_ROWS} 行）；请只保留任务行")])
            values: list[Any] = list(record[:MAX_COLS])
            while values and not str(values[-1]).strip():
                values.pop()
            grid.rows.append((number, values))
    except csv.Error as exc:
        raise refuse(f"CSV 文件格式有误（{exc}）；请在 Excel/WPS 中另存为 CSV 后再导入") from None
    return grid


def _read_docx(data: bytes) -> list[Grid]:
    import docx
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(data))
        labels = numbering_labels(document)
        grids = []
        tables = [Table(tbl, document._body) for tbl in blocks(document.element.body, TABLE)]
        for t_index, table in enumerate(tables, start=1):
            grid = Grid(place=f"第{t_index}个表格", letters=False)
            first_seen: dict[Any, tuple[int, int]] = {}
            for number, row in enumerate(table.rows, start=1):
                if number > MAX_ROWS:
                    break
                if deleted_row(row._tr):
                    continue  # deleted as a tracked change: not in the table Word shows
                values: list[Any] = [None] * row.grid_cols_before
                for cell in row.cells:
                    col = len(values)
                    if col >= MAX_COLS:
                        break
                    key = cell._tc  # the element itself: kept alive, so its identity holds
                    seen = first_seen.setdefault(key, (number, col))
                    if seen != (number, col):
                        grid.origin[(number, col)] = seen
                    texts = []
                    for p in blocks(cell._tc, PARAGRAPH):
                        label = labels.get(p, "")
                        if isinstance(label, Unrendered):
                            grid.bad_cells[(number, col)] = (
                                f"为 Word 自动编号，系统无法确定其显示的编号（{label.reason}）；"
                                "请在 Word/WPS 中将自动编号改为手工输入的文字后再导入")
                            label = ""
                        texts.append(label + paragraph_text(p))
                    values.append("\n".join(texts))
                grid.rows.append((number, values))
            grids.append(grid)
        return grids
    except TableImportError:
        raise
    except Exception as exc:  # python-docx raises many kinds for a damaged or foreign file
        raise refuse("不是有效的 Word（.docx）文件，或文件已损坏；请在 Word/WPS 中打开后另存为 "
                     ".docx 再导入") from exc
