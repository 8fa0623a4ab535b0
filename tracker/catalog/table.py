"""Read a 任务分工表 (task-division table) into a catalog (`tracker catalog import`, issue 13).

Offices attach the plan's tasks as a table: an Excel workbook (.xlsx; .xls and WPS .et
through LibreOffice), a CSV file (UTF-8, UTF-8 with BOM, GB18030/GBK, UTF-16 from Excel's
"Unicode 文本") or a table inside a Word document (.docx). The reader:

1. reads the file into grids of cells (`Grid`), each merged range's value spread over
   the cells it covers (a merged 部分 or 牵头单位 applies to every row it spans);
2. finds the header row (the template's headers or the synonyms offices write, see
   `table_layout`; a two-row header such as 责任单位 over 牵头单位 | 配合单位 is read too);
   the sheet named 任务分工表 first, else the first sheet or Word table whose header matches;
3. reads each row below it: a row holding one text only (一、加快推进… merged across the
   table) starts a 部分; every other row is a task;
4. builds a schema-2 `Catalog`: lead and co through `phrases.read_agencies` (district
   phrases share the task with the plan's districts, generic phrases are flagged),
   完成时限 through `deadlines.parse_deadline`, each agency's kind guessed from its name.

Every problem is collected and raised at once (`TableImportError`), each naming the
sheet (or the Word table), row and column with the reason in Chinese. Text from cells is
kept as text: a formula cell is refused, and "=…" typed as text stays text (every
writer of the tracker writes strings as strings).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from pydantic import ValidationError

from tracker.catalog.deadlines import DeadlineError, parse_deadline
from tracker.catalog.kinds import guess_agency_kind
from tracker.catalog.parse import extract_targets
from tracker.catalog.phrases import (
    DISTRICT_PHRASE,
    SOME_DISTRICTS,
    read_agencies,
    split_clause,
)
from tracker.catalog.schema import (
    MEASURE_CODE,
    SCHEMA_VERSION,
    Agency,
    Catalog,
    Deadline,
    Flag,
    Measure,
    PlanInfo,
)
from tracker.catalog.table_layout import (
    GUIDE_SHEET,
    HEADER,
    RESPONSIBLE_WORDS,
    SHEET,
    SYNONYMS,
    TASK_WORDS,
    normal_header,
)
from tracker.exchange.convert import NO_CONVERTER, ConversionRefused, Converter
from tracker.exchange.package import (
    OLE_MAGIC,
    NeedsConversion,
    PackageRefused,
    check_package,
    merged_ranges,
)

MAX_BYTES = 20 * 1024 * 1024  # a plan's table is tens or hundreds of KB
MAX_ROWS = 5000  # a plan has at most a few hundred tasks
MAX_COLS = 40
HEADER_SCAN = 20  # the header is within the first rows (a title row or two above it)
DEFAULT_SECTION = "重点任务"  # the 部分 of tasks when the table has none
MAX_NAME = 40  # a longer "agency name" is a sentence in the wrong column
_ENCRYPTED = "EncryptionInfo".encode("utf-16-le")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_HEADING_NUMBER = re.compile(
    r"^(?:第[一二三四五六七八九十百零〇\d]+(?:部分|章|篇|节)\s*|[一二三四五六七八九十百零〇]+[、.．]\s*"
    r"|[（(][一二三四五六七八九十百零〇\d]+[)）]\s*|\d+[、.．]\s*)")
_NONE_WORDS = {"无", "不涉及", "—", "-", "－", "/", "／", "否", "0"}
_ALL_WORDS = {"全部", "全部区县", "所有区县", "各区", "各区县", "全市各区", "全部区", "各县（市、区）",
              "是", "全部区县政府"}
_SOME_WORDS = {"有关", "相关", "有关区", "相关区", "有关区县", "相关区县", "部分区县", "部分"}
_LABELLED = re.compile(
    r"^(?:牵头(?:单位|部门)|责任(?:单位|部门))[:：](?P<lead>.*?)"
    r"(?:[；;，,。\s]*(?:配合|协办|参与|协同)(?:单位|部门)[:：](?P<co>.*))?$", re.S)


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

    def column_name(self, col: int, header: str | None = None) -> str:
        """Column `col` (0-based) as the office names it: "D列（牵头单位）" or "第4列（牵头单位）"."""
        name = _letter(col) + "列" if self.letters else f"第{col + 1}列"
        return f"{name}（{header}）" if header else name


def _letter(index: int) -> str:
    out = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(ord("A") + rem) + out
    return out


def _text(value: Any) -> str:
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


def _refuse(message: str) -> TableImportError:
    return TableImportError([Problem("", None, None, message)])


def read_grids(data: bytes, filename: str, converter: Converter = NO_CONVERTER) -> list[Grid]:
    """The file's tables as grids, by the file name's ending (.xlsx/.xlsm/.xls/.et, .csv/.txt,
    .docx). Raises TableImportError for a file of another type, too large, corrupt,
    password-protected, legacy Word, or a CSV in an unknown encoding."""
    suffix = PurePath(filename).suffix.lower()
    if len(data) > MAX_BYTES:
        raise _refuse(f"文件过大（超过 {MAX_BYTES // 1024 // 1024} MB）；任务分工表通常只有几百 KB")
    if not data.strip():
        raise _refuse("文件为空")
    if data.startswith(OLE_MAGIC) and _ENCRYPTED in data:
        raise _refuse("文件设有打开密码，系统无法读取；请在 Excel/WPS/Word 中取消密码后另存，再导入")
    if suffix in (".xlsx", ".xlsm", ".xls", ".et", ".ett", ".xltx"):
        return _read_xlsx(data, converter)
    if suffix in (".csv", ".txt"):
        return [_read_csv(data)]
    if suffix == ".docx":
        return _read_docx(data)
    if suffix in (".doc", ".wps", ".wpt", ".dot"):
        raise _refuse("这是旧版 Word（.doc）或 WPS 文字（.wps）格式的文件，系统无法直接读取；"
                      "请另存为 .docx（Word 文档）后再导入")
    raise _refuse(f"不支持的文件类型“{suffix or filename}”；请使用 Excel（.xlsx）、CSV（.csv）"
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
        raise _refuse(message) from None
    if "xl/workbook.xml" not in package.namelist():
        what = "Word 文档" if "word/document.xml" in package.namelist() else "Excel 工作簿"
        raise _refuse(f"文件不是 Excel 工作簿（.xlsx）{'，而是' + what if what != 'Excel 工作簿' else ''}；"
                      "请检查文件类型")
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
        grids = []
        names = list(book.sheetnames)
        # the template's sheet first; the guide never holds tasks
        names.sort(key=lambda n: 0 if n == SHEET else 1)
        for name in names:
            if name == GUIDE_SHEET:
                continue
            sheet = book[name]
            if not hasattr(sheet, "iter_rows"):
                continue  # a chart sheet
            grids.append(_sheet_grid(sheet, name, package))
        book.close()
        return grids
    except TableImportError:
        raise
    except Exception as exc:  # openpyxl raises many kinds for a damaged or foreign file
        raise _refuse("不是有效的 Excel（.xlsx）文件，或文件已损坏；请在 Excel/WPS 中打开后另存为 "
                      ".xlsx 再导入") from exc


def _sheet_grid(sheet: Any, name: str, package: zipfile.ZipFile) -> Grid:
    grid = Grid(place=f"工作表“{name}”", letters=True)
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
    raise _refuse("无法识别 CSV 文件的编码；请在 Excel/WPS 中另存为“CSV UTF-8（逗号分隔）”后再导入")


def _read_csv(data: bytes) -> Grid:
    if data.startswith((b"PK\x03\x04", OLE_MAGIC)):
        raise _refuse("文件扩展名为 .csv，但内容是 Excel 或 Word 文件；请改用正确的扩展名（.xlsx/.docx）")
    text = _decode(data)
    if "\x00" in text:
        raise _refuse("CSV 文件中含有二进制内容，不是文本文件")
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first and "," not in first else ","
    grid = Grid(place="", letters=True)
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
        raise _refuse(f"CSV 文件格式有误（{exc}）；请在 Excel/WPS 中另存为 CSV 后再导入") from None
    return grid


def _read_docx(data: bytes) -> list[Grid]:
    import docx

    if data.startswith(OLE_MAGIC):
        raise _refuse("这是旧版 Word（.doc）或 WPS 文字格式的文件，系统无法直接读取；"
                      "请另存为 .docx（Word 文档）后再导入")
    try:
        document = docx.Document(io.BytesIO(data))
        grids = []
        for t_index, table in enumerate(document.tables, start=1):
            grid = Grid(place=f"第{t_index}个表格", letters=False)
            first_seen: dict[Any, tuple[int, int]] = {}
            for number, row in enumerate(table.rows, start=1):
                if number > MAX_ROWS:
                    break
                values: list[Any] = [None] * row.grid_cols_before
                for cell in row.cells:
                    col = len(values)
                    if col >= MAX_COLS:
                        break
                    key = cell._tc  # the element itself: kept alive, so its identity holds
                    seen = first_seen.setdefault(key, (number, col))
                    if seen != (number, col):
                        grid.origin[(number, col)] = seen
                    values.append("\n".join(p.text for p in cell.paragraphs))
                grid.rows.append((number, values))
            grids.append(grid)
        return grids
    except TableImportError:
        raise
    except Exception as exc:  # python-docx raises many kinds for a damaged or foreign file
        raise _refuse("不是有效的 Word（.docx）文件，或文件已损坏；请在 Word/WPS 中打开后另存为 "
                      ".docx 再导入") from exc


# ---------------------------------------------------------------- the header


@dataclass
class Columns:
    """Where each field is: column index by field, the header each cell wrote, the row
    after the header, and whether the lead column is a 责任单位 (the first named leads)."""

    index: dict[str, int]
    header: dict[int, str]
    data_from: int  # position in grid.rows of the first row below the header
    header_row: int  # the header's (last) row number
    lead_is_responsible: bool = False
    ignored: list[str] = field(default_factory=list)
    duplicates: list[tuple[str, list[int]]] = field(default_factory=list)


def _role(label: str) -> str | None:
    if label in TASK_WORDS:
        return "task"
    if label in RESPONSIBLE_WORDS:
        return "responsible"
    return next((f for f, words in SYNONYMS.items() if label in words), None)


def resolve_columns(labels: dict[int, str]) -> tuple[dict[str, int], bool, list[str],
                                                    list[tuple[str, list[int]]]]:
    """Fields of the columns whose (normalised) headers are `labels` (index -> header).

    重点任务 is the title when a text column exists, else the text; 责任单位 is the lead
    when no lead column exists (the first named leads, as 列第一位者为牵头单位), else the
    co column. Returns (field -> index, whether the lead is a 责任单位 column, headers not
    read, fields written twice with their columns)."""
    roles: dict[int, str] = {}
    ignored: list[str] = []
    for col, label in sorted(labels.items()):
        role = _role(label)
        if role is None:
            if label:
                ignored.append(label)
            continue
        roles[col] = role
    present = set(roles.values())
    lead_is_responsible = False
    for col, role in roles.items():
        if role == "task":
            roles[col] = "title" if "text" in present and "title" not in present else "text"
        elif role == "responsible":
            if "lead" not in present:
                roles[col], lead_is_responsible = "lead", True
            else:
                roles[col] = "co"
    index: dict[str, int] = {}
    seen: dict[str, list[int]] = {}
    for col, role in sorted(roles.items()):
        seen.setdefault(role, []).append(col)
        index.setdefault(role, col)
    duplicates = [(role, cols) for role, cols in seen.items() if len(cols) > 1]
    return index, lead_is_responsible, ignored, duplicates


def _is_header(index: dict[str, int]) -> bool:
    return "lead" in index and ("title" in index or "text" in index)


def find_columns(grid: Grid) -> Columns | None:
    """The header of `grid` within its first HEADER_SCAN rows, or None. A header row
    names a lead (or 责任单位) column and a task column; the row below adds to it when
    it names columns too (责任单位 merged over 牵头单位 | 配合单位)."""
    for pos, (number, values) in enumerate(grid.rows[:HEADER_SCAN]):
        labels = {c: normal_header(v) for c, v in enumerate(values)
                  if grid.origin.get((number, c), (number, c))[1] == c}
        index, responsible, ignored, duplicates = resolve_columns(labels)
        if not _is_header(index):
            continue
        data_from, header_row = pos + 1, number
        if pos + 1 < len(grid.rows):
            below_number, below = grid.rows[pos + 1]
            sub = {c: normal_header(v) for c, v in enumerate(below)}
            if any(_role(s) for s in sub.values()):
                merged = dict(labels)
                for c, s in sub.items():
                    if _role(s):
                        merged[c] = s
                    elif grid.origin.get((below_number, c), (0, 0))[0] == number:
                        merged.setdefault(c, labels.get(c, ""))
                index, responsible, ignored, duplicates = resolve_columns(merged)
                labels = merged
                data_from, header_row = pos + 2, below_number
        header = {c: str(labels.get(c) or "") for c in index.values()}
        return Columns(index, header, data_from, header_row, responsible, ignored, duplicates)
    return None


# ---------------------------------------------------------------- rows


@dataclass
class _Row:
    number: int
    cells: dict[str, str]
    raw: dict[str, Any]


@dataclass
class TableImport:
    """A table read: its catalog, where it was found (sheet or Word table, header row),
    how many task rows, and notes for the office (columns not read)."""

    catalog: Catalog
    place: str
    header_row: int
    rows: int
    notes: list[str]


def import_table(data: bytes, filename: str, plan: PlanInfo | None,
                 converter: Converter = NO_CONVERTER) -> TableImport:
    """Read the 任务分工表 in `data` (a file called `filename`) into a schema-2 catalog of
    `plan`. With `plan` None (its options were refused) the table is still read so every
    problem of the table is reported, and TableImportError is raised in any case.

    Raises TableImportError naming every problem (sheet/table, row, column, reason).
    """
    grids = read_grids(data, filename, converter)
    found = [(g, c) for g in grids if (c := find_columns(g)) is not None]
    if not found:
        if not grids or all(not any(_text(v) for _, vs in g.rows for v in vs) for g in grids):
            raise _refuse("文件中没有表格内容（工作表为空）" if not grids or grids[0].letters
                          else "文件中没有表格内容")
        places = "、".join(g.place for g in grids if g.place) or "表格"
        raise _refuse(f"在{places}的前 {HEADER_SCAN} 行中找不到表头：表头须有“牵头单位”（或“责任单位”）"
                      "和“任务名称”或“任务内容”（或“重点任务”）列")
    grid, columns = found[0]
    rows, problems = _rows(grid, columns)
    catalog = _build(grid, columns, rows, plan, problems)
    if problems or plan is None or catalog is None:
        raise TableImportError(problems)
    notes = [f"未读取的列：{'、'.join(columns.ignored)}"] if columns.ignored else []
    return TableImport(catalog, grid.place, columns.header_row, len(catalog.measures), notes)


def _rows(grid: Grid, columns: Columns) -> tuple[list[tuple[str, _Row]], list[Problem]]:
    """The rows below the header as ("part", row) for a heading, ("task", row) for a task;
    cell problems (formulas, error values) in the columns read."""
    problems: list[Problem] = []
    for role, cols in columns.duplicates:
        names = "、".join(grid.column_name(c) for c in cols)
        problems.append(Problem(grid.place, columns.header_row, None,
                                f"表头中有多个“{HEADER[role]}”列（{names}）；请只保留一列"))
    if "code" not in columns.index:
        problems.append(Problem(grid.place, columns.header_row, None,
                                "表头缺少“编号”（或“序号”）列"))
    out: list[tuple[str, _Row]] = []
    header_labels = set(columns.header.values())
    for number, values in grid.rows[columns.data_from:]:
        cells = {f: _text(values[c]) if c < len(values) else "" for f, c in columns.index.items()}
        raw = {f: values[c] if c < len(values) else None for f, c in columns.index.items()}
        for c in columns.index.values():
            if (reason := grid.bad_cells.get((number, c))) is not None:
                problems.append(Problem(grid.place, number,
                                        grid.column_name(c, columns.header[c]), reason))
        texts = {_text(v) for c, v in enumerate(values) if _text(v)}
        if not texts and not any((number, c) in grid.bad_cells for c in columns.index.values()):
            continue  # a blank line
        if texts and texts <= header_labels | {normal_header(t) for t in texts} and \
                {normal_header(t) for t in texts} <= header_labels:
            continue  # the header repeated (a Word table over several pages)
        # a heading: one text, merged across the row, or numbered as a part (一、…) alone
        # in the first, 编号 or 部分 column; a task missing its cells stays a task (refused)
        across = any(grid.origin.get((number, c), (0, 0))[0] == number for c in range(len(values)))
        first = next((c for c, v in enumerate(values) if _text(v)), -1)
        if len(texts) == 1 and _CJK.search(next(iter(texts))) and (across or (
                _HEADING_NUMBER.match(next(iter(texts)))
                and first in (0, columns.index.get("code"), columns.index.get("part")))):
            out.append(("part", _Row(number, {"part": next(iter(texts))}, {})))
            continue
        out.append(("task", _Row(number, cells, raw)))
    return out, problems


def _heading(text: str) -> str:
    """一、加快推进农业机械化 -> 加快推进农业机械化 (numbering dropped, as in the text plans)."""
    return _HEADING_NUMBER.sub("", text.replace("\n", "")).strip() or text.strip()


def _normal_code(text: str) -> str:
    code = text.translate(str.maketrans("０１２３４５６７８９．－", "0123456789.-"))
    code = re.sub(r"\s+", "", code)
    return code.rstrip("、.．,，") if len(code) > 1 else code


def _names(text: str) -> str:
    """A lead/co cell as a clause: names on their own lines are separate names."""
    return re.sub(r"\s*\n\s*", "、", text.strip())


def _build(grid: Grid, columns: Columns, rows: list[tuple[str, _Row]], plan: PlanInfo | None,
           problems: list[Problem]) -> Catalog | None:
    place = grid.place
    districts = list(plan.districts) if plan is not None else []

    def col(f: str) -> str:
        c = columns.index[f]
        return grid.column_name(c, columns.header[c])

    def problem(row: _Row, f: str | None, message: str) -> None:
        problems.append(Problem(place, row.number, col(f) if f else None, message))

    measures: list[Measure] = []
    agency_order: list[str] = []
    seen_codes: dict[str, int] = {}
    section = DEFAULT_SECTION
    code_col = columns.index.get("code")
    tasks = 0
    for kind, row in rows:
        if kind == "part":
            section = _heading(row.cells["part"])
            continue
        tasks += 1
        c = row.cells
        flags: list[Flag] = []
        ok = True
        # 编号
        code = _normal_code(c.get("code", ""))
        if code_col is not None:
            origin = grid.origin.get((row.number, code_col))
            if origin is not None and origin[1] == code_col and code:
                problem(row, "code", f"编号“{code}”为跨行合并的单元格（自第{origin[0]}行起）；"
                                     "每行任务须有自己的编号，请取消合并后分别填写")
                ok = False
            elif not code:
                problem(row, "code", "编号为空")
                ok = False
            elif not MEASURE_CODE.match(code):
                problem(row, "code", f"编号“{code[:30]}”无效：只能由数字、字母、汉字、点、短横线和括号组成，"
                                     "不超过20个字")
                ok = False
            elif code in seen_codes:
                problem(row, "code", f"编号“{code}”与第{seen_codes[code]}行重复；编号须全表唯一"
                                     "（各部分分别编号时，请写成 1.1、2.1 等）")
                ok = False
            else:
                seen_codes[code] = row.number
        # 部分
        part = _heading(c["part"]) if c.get("part") else section
        # 任务名称 / 任务内容
        title, text = c.get("title", ""), c.get("text", "")
        if not title and not text:
            f = "title" if "title" in columns.index else "text"
            problem(row, f, "任务名称和任务内容均为空")
            ok = False
        elif not title:
            title, text = _split_title(text)
        # 牵头单位 / 配合单位
        lead_text, co_text = _names(c.get("lead", "")), _names(c.get("co", ""))
        if columns.lead_is_responsible and (m := _LABELLED.match(lead_text)):
            lead_text, co_text = _names(m["lead"]), "、".join(
                t for t in (_names(m["co"] or ""), co_text) if t)
        lead_read, co_read = read_agencies(lead_text), read_agencies(co_text)
        lead = ""
        co: list[str] = []
        if not lead_text:
            problem(row, "lead", "牵头单位为空")
            ok = False
        elif not lead_read.names:
            problem(row, "lead", f"牵头单位“{lead_text[:30]}”未写明具体单位；请填写一个具体的牵头单位"
                                 "（泛指的有关部门、各区人民政府等可写入配合单位或区县列）")
            ok = False
        else:
            lead = lead_read.names[0]
            co = list(lead_read.names[1:])
            if co and not columns.lead_is_responsible:
                flags.append(Flag(field="lead", phrase=lead_text,
                                  reason=f"牵头单位列写有多个单位，以第一个“{lead}”为牵头单位，"
                                         "其余列为配合单位；如有不同请修改"))
        for name in co_read.names:
            if name != lead and name not in co:
                co.append(name)
        for f, names in (("lead", [lead] if lead else []), ("co", co_read.names)):
            for name in names:
                if len(name) > MAX_NAME:
                    problem(row, f, f"“{name[:20]}…”不像单位名称（超过{MAX_NAME}个字）；"
                                    "请检查是否填错了列")
                    ok = False
        if lead_text and len(lead_read.names) > 1 and any(len(n) > MAX_NAME
                                                          for n in lead_read.names[1:]):
            ok = False
        for f, read in (("lead", lead_read), ("co", co_read)):
            for phrase, reason in read.flags:
                field_ = "districts" if SOME_DISTRICTS.match(phrase) else f
                flags.append(Flag(field=field_, phrase=phrase, reason=reason))  # type: ignore[arg-type]
        # 区县
        rule = "all" if "all" in (lead_read.districts, co_read.districts) else (
            "some" if "some" in (lead_read.districts, co_read.districts) else "none")
        named: list[str] = []
        cell = c.get("districts", "")
        if cell:
            verdict = _district_cell(cell, districts, plan is not None)
            if isinstance(verdict, str):
                problem(row, "districts", verdict)
                ok = False
            else:
                cell_rule, named, cell_flags = verdict
                if rule != "all":
                    if cell_rule == "some" and named:
                        flags = [f for f in flags if f.field != "districts"]
                    rule = cell_rule if cell_rule != "none" else rule
                flags.extend(cell_flags)
        if rule == "all" and plan is not None and not districts:
            where = "区县列" if cell and not named else "牵头或配合单位中的区县表述"
            problem(row, "districts" if cell and "districts" in columns.index else "co"
                    if "co" in columns.index else "lead",
                    f"{where}要求各区县承担，但未用 --districts 给出本规划的区县名单")
            ok = False
        if rule == "all":
            named = []
        elif rule == "some" and named and set(named) == set(districts):
            rule, named = "all", []
        # 完成时限
        deadline: Deadline | None = None
        raw_deadline = row.raw.get("deadline")
        if isinstance(raw_deadline, (dt.datetime, dt.date)):
            day = raw_deadline.date() if isinstance(raw_deadline, dt.datetime) else raw_deadline
            deadline = Deadline(text=_text(day), kind="date", due=day)
        elif c.get("deadline"):
            deadline, flag, message = _deadline(c["deadline"])
            if message:
                problem(row, "deadline", message)
                ok = False
            if flag:
                flags.append(flag)
        # 关联指标
        for phrase in split_clause(c.get("indicators", "").replace("\n", "、")):
            flags.append(Flag(field="indicators", phrase=phrase,
                              reason=f"关联指标“{phrase}”需在本规划的指标中登记后方可关联，"
                                     "请督查室补录指标"))
        if not ok:
            continue
        for name in [lead, *co]:
            if name not in agency_order:
                agency_order.append(name)
        try:
            measures.append(Measure(
                code=code, section=part, title=title, text=text, lead=lead, co=co,
                districts=rule == "all", district_names=named if rule == "some" else [],
                targets=extract_targets(text or title), deadline=deadline,
                leader=c.get("leader") or None, flags=flags))
        except ValidationError as exc:
            for err in exc.errors():
                problem(row, None, f"任务无效：{err['msg']}")
    if tasks == 0 and not problems:
        problems.append(Problem(place, None, None, f"表头（第{columns.header_row}行）下没有任务行"))
    if problems or plan is None:
        return None
    agencies = [Agency(name=n, kind=guess_agency_kind(n, districts)) for n in agency_order]
    agencies += [Agency(name=n, kind=guess_agency_kind(n, districts))
                 for n in districts if n not in agency_order]
    catalog = Catalog(schema_version=SCHEMA_VERSION, plan=plan, agencies=agencies,
                      measures=measures)
    for path, message, value in catalog.cross_check():  # guarded above; a last check
        problems.append(Problem(place, None, None, f"目录检查未通过：{path} {message}（{value}）"))
    return catalog


def _district_cell(cell: str, districts: list[str], plan_known: bool
                   ) -> str | tuple[str, list[str], list[Flag]]:
    """A 区县 cell read: (rule, named districts, flags), or the reason it cannot be read."""
    t = re.sub(r"\s+", "", cell)
    if t in _NONE_WORDS:
        return "none", [], []
    if t in _ALL_WORDS or DISTRICT_PHRASE.match(t):
        return "all", [], []
    if t in _SOME_WORDS or SOME_DISTRICTS.match(t):
        return "some", [], [Flag(field="districts", phrase=t,
                                 reason="未指明具体区县，请督查室选定承担的区县")]
    if not plan_known:
        return "some", [], []
    if not districts:
        return (f"区县列写明“{cell[:30]}”，但未用 --districts 给出本规划的区县名单"
                "（或将此列写为 全部 / 有关 / 无）")
    named: list[str] = []
    unknown: list[str] = []
    for part in split_clause(cell.replace("\n", "、")):
        match = _match_district(part, districts)
        if match is None:
            unknown.append(part)
        elif match not in named:
            named.append(match)
    if unknown:
        return (f"区县“{'、'.join(unknown)}”不在本规划的区县名单（--districts）中；可写 全部、"
                "有关、无，或名单中的区县")
    return "some", named, []


def _match_district(name: str, districts: list[str]) -> str | None:
    if name in districts:
        return name
    for suffix in ("人民政府", "政府"):
        if name + suffix in districts:
            return name + suffix
    starts = [d for d in districts if d.startswith(name)]
    return starts[0] if len(starts) == 1 else None


def _deadline(text: str) -> tuple[Deadline | None, Flag | None, str | None]:
    """A 完成时限 cell: (deadline, None, None); or, for a deadline in stages (2018年底前启动，
    2020年底前完成) that no single date states, (None, a flag, None); or the refusal."""
    try:
        return parse_deadline(text), None, None
    except DeadlineError as exc:
        if len(re.findall(r"\d{4}年|每年|长期", text)) > 1 or re.search(r"[，,；;\n]", text.strip()):
            return None, Flag(field="deadline", phrase=text.strip()[:100],
                              reason="完成时限分阶段表述，系统未读成单一时限，请督查室确定跟踪的时限"), None
        return None, None, str(exc)


def _split_title(text: str) -> tuple[str, str]:
    """A task written in one cell: its first sentence is the title, the rest the text
    (as the text plans read: 健全残疾人社会保障制度。将…)."""
    first = re.split(r"(?<=[。；;])", text, maxsplit=1)[0]
    return first.rstrip("。；;").strip() or text, text[len(first):].strip()
