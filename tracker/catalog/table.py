"""Read a 任务分工表 (task-division table) into a catalog (`tracker catalog import`, issue 13).

Offices attach the plan's tasks as a table: an Excel workbook (.xlsx; .xls and WPS .et
through LibreOffice), a CSV file (UTF-8, UTF-8 with BOM, GB18030/GBK, UTF-16 from Excel's
"Unicode 文本"; commas, tabs or semicolons) or the tables inside a Word document (.docx).
The reader:

1. reads the file into grids of cells, one per sheet or Word table (`table_grids`: merged
   ranges spread over their cells, hidden rows and columns marked, Word's automatic
   numbering written out);
2. finds each grid's header (`table_header`) and reads every grid that has one, in the
   file's order: tasks on several sheets (one per part, 附件1 / 附件2) or in several Word
   tables make one plan. A Word table without a header of its own that has the columns of
   the table before it continues that table (Word documents split long tables); every
   sheet or table not read is named in the report with the reason, never dropped silently;
3. reads each row below the header: a row holding one text only (一、加快推进… merged
   across the table) starts a 部分; a row whose only content is a merged cell from the
   rows above is blank; a note (注：…, 说明：…), a total (合计) and the template's example
   row (编号 示例) are no tasks and are named in the report; every other row is a task.
   Without a 部分 column or heading row a task's 部分 is empty, never made up. Hidden rows
   and columns are read and listed in the report (隐藏行 / 隐藏列), as an office that hides
   finished tasks still tracks them;
4. builds a schema-2 `Catalog`: lead and co through `phrases.read_agencies` and
   `leads.lead_of` (district phrases share the task with the plan's districts, generic
   phrases are flagged; a lead cell naming no agency, 各区人民政府, is the office's, flagged),
   完成时限 through `deadlines.deadline_and_flag` (what is no single day is flagged with its
   words), each agency's kind guessed from its name; all as `catalog parse` reads a text.

Every problem is collected and raised at once (`TableImportError`), each naming the
sheet (or the Word table), row and column with the reason in Chinese. Text from cells is
kept as text: a formula cell is refused, and "=…" typed as text stays text (every
writer of the tracker writes strings as strings).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from tracker.catalog.deadlines import deadline_and_flag
from tracker.catalog.kinds import guess_agency_kind
from tracker.catalog.leads import lead_of
from tracker.catalog.parse import extract_targets
from tracker.catalog.phrases import (
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
    describe_problem,
)
from tracker.catalog.table_cells import (
    HEADING_NUMBER,
    LABELLED,
    district_cell,
    heading,
    names_clause,
    normal_code,
    split_title,
)
from tracker.catalog.table_grids import (
    HEADER_SCAN,
    MAX_BYTES,
    Grid,
    Problem,
    TableImportError,
    cell_text,
    read_grids,
    refuse,
)
from tracker.catalog.table_header import Chosen, Columns, choose_grids
from tracker.catalog.table_layout import GUIDE_SHEET, HEADER, may_be_text, normal_header
from tracker.catalog.table_template import EXAMPLE
from tracker.exchange.convert import NO_CONVERTER, Converter

__all__ = ["MAX_BYTES", "Problem", "ReadPart", "TableImport", "TableImportError", "import_table",
           "read_grids"]

DEFAULT_SECTION = ""  # the 部分 of tasks when the table has none: never made up
MAX_NAME = 40  # a longer "agency name" is a sentence in the wrong column
_CJK = re.compile(r"[\u4e00-\u9fff]")
# a sheet name that says nothing of its tasks' part (Sheet1, 附件2, 表1, 任务分工表)
_GENERIC_SHEET = re.compile(r"(?i)^(?:sheet|工作表|附件|附表|表|清单)?\s*[\d一二三四五六七八九十]*$"
                            r"|分工|任务表|任务清单|台账")
# a sheet continuing the one before (续表, 续表2): its tasks go on in that sheet's part
_CONTINUED_SHEET = re.compile(r"^(?:附表\s*)?续表\s*[\d一二三四五六七八九十]*$")


# ---------------------------------------------------------------- the result


@dataclass(frozen=True)
class ReadPart:
    """One sheet or Word table read: where, its header row (0: it continues the table
    before it, whose header applies), and how many of its rows are tasks."""

    place: str
    header_row: int
    tasks: int


@dataclass
class TableImport:
    """A table read: its catalog, the sheets or Word tables read (`parts`, in file order),
    the report's notes for the office (sheets and tables not read and why, hidden rows
    and columns read, columns not read, a CSV's separator) and its warnings, shown
    prominently (every task without its text while a column holding text was not read)."""

    catalog: Catalog
    parts: list[ReadPart]
    notes: list[str]
    warnings: list[str] = field(default_factory=list)

    @property
    def place(self) -> str:
        """Where the tasks were found: 工作表“任务分工表”, or every sheet/table read."""
        return "、".join(p.place for p in self.parts)

    @property
    def header_row(self) -> int:
        """The first sheet's or table's header row."""
        return self.parts[0].header_row

    @property
    def rows(self) -> int:
        return len(self.catalog.measures)


# ---------------------------------------------------------------- which grids


def _start_section(chosen: Chosen, several_sheets: bool, section: str) -> str:
    """The 部分 a grid's tasks have before any heading row: the table's it continues (a
    Word table split, a sheet named 续表); the sheet's name when tasks are on several sheets
    named by part; else none (empty)."""
    if chosen.continues or _CONTINUED_SHEET.match(chosen.grid.name.strip()):
        return section
    name = chosen.grid.name.strip()
    if several_sheets and chosen.grid.letters and name and not _GENERIC_SHEET.search(name):
        return heading(name)
    return DEFAULT_SECTION


def _spans(numbers: list[int]) -> str:
    """[3, 4, 5, 9] -> "3—5、9" (rows as the report lists them)."""
    out: list[str] = []
    for n in sorted(numbers):
        if out and out[-1].split("—")[-1] == str(n - 1):
            out[-1] = out[-1].split("—")[0] + f"—{n}"
        else:
            out.append(str(n))
    return "、".join(out)


# ---------------------------------------------------------------- reading


def import_table(data: bytes, filename: str, plan: PlanInfo | None,
                 converter: Converter = NO_CONVERTER) -> TableImport:
    """Read the 任务分工表 in `data` (a file called `filename`) into a schema-2 catalog of
    `plan`: every sheet or Word table that has the header, or continues the Word table
    before it, in the file's order. With `plan` None (its options were refused) the table
    is still read so every problem of the table is reported, and TableImportError is
    raised in any case.

    Returns the catalog, the sheets/tables read and the report's notes (what was not
    read and why; hidden rows and columns read). Raises TableImportError naming every
    problem (sheet/table, row, column, reason); codes must be unique across sheets.
    """
    grids = read_grids(data, filename, converter)
    chosen, notes = choose_grids(grids)
    if not chosen:
        readable = [g for g in grids if not g.unreadable]
        if not readable or all(g.is_blank() for g in readable):
            raise refuse("文件中没有表格内容（工作表为空）" if not readable or readable[0].letters
                         else "文件中没有表格内容")
        places = "、".join(g.place for g in readable
                          if g.place and g.place != f"工作表“{GUIDE_SHEET}”") or "表格"
        raise TableImportError(
            [Problem("", None, None,
                     f"在{places}的前 {HEADER_SCAN} 行中找不到表头：表头须有“牵头单位”（或“责任单位”）"
                     "和“任务名称”或“任务内容”（或“重点任务”）列")]
            + [Problem("", None, None, note) for g in readable for note in g.notes])
    problems: list[Problem] = []
    builder = _Builder(plan, problems)
    several_sheets = sum(1 for c in chosen if c.grid.letters) > 1
    parts: list[ReadPart] = []
    read_notes: list[str] = []
    empty: list[Chosen] = []
    unread_text: list[str] = []  # columns not read that hold text in task rows
    skipped: list[str] = []  # the notes on rows that are no task (注：…, 合计, the example)
    section = DEFAULT_SECTION
    for one in chosen:
        grid, columns = one.grid, one.columns
        rows, row_problems = _rows(grid, columns)
        problems.extend(row_problems)
        section, tasks = builder.read(grid, columns, rows,
                                      _start_section(one, several_sheets, section))
        skipped_here = [row.cells["note"] for kind, row in rows if kind == "skipped"]
        skipped += skipped_here
        if tasks == 0 and not columns.continued:
            empty.append(one)
            continue
        parts.append(ReadPart(grid.place, columns.header_row, tasks))
        read_notes.extend(grid.notes)
        read_notes.extend(skipped_here)
        if grid.hidden:
            read_notes.append(f"{grid.place}为隐藏工作表，已读取")
        hidden_rows = [row.number for _, row in rows if row.number in grid.hidden_rows]
        if hidden_rows:
            read_notes.append(f"{grid.place}的隐藏行已读取（如为已完成的任务，仍列入跟踪）："
                              f"第{_spans(hidden_rows)}行")
        hidden_cols = [grid.column_name(c, columns.header[c])
                       for c in sorted(columns.index.values()) if c in grid.hidden_cols]
        if hidden_cols:
            read_notes.append(f"{grid.place}的隐藏列已读取：{'、'.join(hidden_cols)}")
        if columns.ignored:
            read_notes.append(("" if len(chosen) == 1 else grid.place)
                              + f"未读取的列：{'、'.join(columns.ignored)}")
        unread_text += [f"{'' if len(chosen) == 1 else grid.place}“{label}”"
                        for col, label in zip(columns.ignored_cols, columns.ignored, strict=True)
                        if may_be_text(label) and any(
                            kind == "task" and col < len(grid_row.raw_values)
                            and cell_text(grid_row.raw_values[col])
                            for kind, grid_row in rows)]
    if builder.tasks == 0 and not problems:
        first = chosen[0]
        problems.append(Problem(first.grid.place, None, None,
                                f"表头（第{first.columns.header_row}行）下没有任务行"))
        problems += [Problem("", None, None, note) for note in skipped]
    catalog = builder.catalog()
    if problems or plan is None or catalog is None:
        raise TableImportError(problems)
    # a header with no task below it, unless a Word table continues it (the header alone
    # in a table of its own, the tasks in the next)
    continued = {id(chosen[k - 1].grid) for k, one in enumerate(chosen)
                 if k and one.columns.continued}
    notes += [f"{one.grid.place}未读取：表头（第{one.columns.header_row}行）下没有任务行"
              for one in empty if id(one.grid) not in continued]
    warnings = []
    if unread_text and not any(m.text for m in catalog.measures):
        warnings.append(f"全部 {len(catalog.measures)} 项任务的任务内容均为空，而{'、'.join(unread_text)}"
                        "列有内容但未读取；如该列是任务内容（具体措施），请将其表头改为“任务内容”后重新导入")
    return TableImport(catalog, parts, read_notes + notes, warnings)


@dataclass
class _Row:
    number: int
    cells: dict[str, str]
    raw: dict[str, Any]
    bad: frozenset[str] = frozenset()  # fields whose cell is refused already (a formula)
    raw_values: list[Any] = field(default_factory=list)  # every cell of the row


def _rows(grid: Grid, columns: Columns) -> tuple[list[tuple[str, _Row]], list[Problem]]:
    """The rows below the header as ("part", row) for a heading, ("task", row) for a task,
    ("skipped", row) for a row that is no task, with the report's note as its "note" cell
    (a 注：/说明： row, a 合计 row, the template's example row); cell problems (formulas,
    error values, Word numbering not written) in the columns read of the other rows."""
    problems: list[Problem] = []
    for role, cols in columns.duplicates:
        names = "、".join(grid.column_name(c) for c in cols)
        problems.append(Problem(grid.place, columns.header_row, None,
                                f"表头中有多个“{HEADER[role]}”列（{names}）；请只保留一列"))
    if "code" not in columns.index and not columns.continued:
        problems.append(Problem(grid.place, columns.header_row, None,
                                "表头缺少“编号”（或“序号”）列"))
    out: list[tuple[str, _Row]] = []
    header_labels = set(columns.header.values())
    for number, values in grid.rows[columns.data_from:]:
        cells = {f: cell_text(values[c]) if c < len(values) else ""
                 for f, c in columns.index.items()}
        raw = {f: values[c] if c < len(values) else None for f, c in columns.index.items()}
        first = next((c for c, v in enumerate(values) if cell_text(v)), -1)
        lead_text = cell_text(values[first]) if first >= 0 else ""
        if (skipped := _not_a_task(grid, number, lead_text, cells)) is not None:
            out.append(("skipped", _Row(number, {"note": skipped}, {})))
            continue
        bad: set[str] = set()
        for f, c in columns.index.items():
            if (reason := grid.bad_cells.get((number, c))) is not None:
                bad.add(f)
                problems.append(Problem(grid.place, number,
                                        grid.column_name(c, columns.header[c]), reason))
        texts = {cell_text(v) for v in values if cell_text(v)}
        # a cell merged down from a row above is that row's; a row holding nothing else
        # (a merged 牵头单位 running past the last task) is blank
        own = any(cell_text(v) and grid.origin.get((number, c), (number, c))[0] == number
                  for c, v in enumerate(values))
        if not own and not bad:
            continue  # a blank line
        if texts and texts <= header_labels | {normal_header(t) for t in texts} and \
                {normal_header(t) for t in texts} <= header_labels:
            continue  # the header repeated (a Word table over several pages)
        # a heading: one text, merged across the row, or numbered as a part (一、…) alone
        # in the first, 编号 or 部分 column; a task missing its cells stays a task (refused)
        across = any(grid.origin.get((number, c), (0, 0))[0] == number for c in range(len(values)))
        if len(texts) == 1 and _CJK.search(next(iter(texts))) and (across or (
                HEADING_NUMBER.match(next(iter(texts)))
                and first in (0, columns.index.get("code"), columns.index.get("part")))):
            out.append(("part", _Row(number, {"part": next(iter(texts))}, {})))
            continue
        out.append(("task", _Row(number, cells, raw, frozenset(bad), values)))
    return out, problems


# a note under or inside the table (注：1.各牵头单位…; 说明：…; 备注：…), never a part
_NOTE_ROW = re.compile(r"^(?:注|备注|说明|附注|填表说明)\s*"
                       r"(?:[:：]|[0-9０-９一二三四五六七八九十]+[、.．:：]|$)")
_TOTAL_ROW = re.compile(r"^(?:合|小|总|共)\s*计\s*(?:[:：].*)?$", re.S)
_EXAMPLE_CODE = re.compile(r"^(?:示例|例)\s*[0-9０-９一二三四五六七八九十]*$")


def _not_a_task(grid: Grid, number: int, first: str, cells: dict[str, str]) -> str | None:
    """Why row `number` is no task, as the report's note, or None: its first text is a
    note (注：…, 说明：…), a total (合计, 小计), or it is the template's example row (its
    编号 reads 示例, or its task is the template's example task word for word)."""
    where = f"{grid.place}第{number}行"
    if _NOTE_ROW.match(first):
        shown = first.replace("\n", " ")
        return f"{where}为表注，未作为任务或部分读取：“{shown[:60]}{'…' if len(shown) > 60 else ''}”"
    if _TOTAL_ROW.match(first):
        return f"{where}为合计行，未作为任务读取"
    if _EXAMPLE_CODE.match(cells.get("code", "")) or (
            cells.get("title") == EXAMPLE["title"] and cells.get("text") == EXAMPLE["text"]):
        return f"{where}为模板的示例行，未作为任务读取"
    return None


class _Builder:
    """The catalog built from the grids read, one after another: measures in file order,
    agencies in order of first mention, codes unique across every sheet and table."""

    def __init__(self, plan: PlanInfo | None, problems: list[Problem]):
        self.plan = plan
        self.problems = problems
        self.districts = list(plan.districts) if plan is not None else []
        self.measures: list[Measure] = []
        self.agency_order: list[str] = []
        self.seen_codes: dict[str, tuple[str, int]] = {}  # code -> (place, row)
        self.tasks = 0

    def read(self, grid: Grid, columns: Columns, rows: list[tuple[str, _Row]],
             section: str) -> tuple[str, int]:
        """Read the rows of one grid, its tasks starting in `section`; returns the 部分 at
        its end (for a table that continues it) and how many task rows it had."""
        place = grid.place
        districts = self.districts
        plan = self.plan
        problems = self.problems
        measures = self.measures
        agency_order = self.agency_order
        seen_codes = self.seen_codes

        def col(f: str) -> str:
            c = columns.index[f]
            return grid.column_name(c, columns.header[c])

        def problem(row: _Row, f: str | None, message: str) -> None:
            problems.append(Problem(place, row.number, col(f) if f else None, message))

        code_col = columns.index.get("code")
        office = plan.supervision_office if plan is not None else None
        issued = plan.issued if plan is not None else None
        period = plan.period if plan is not None else None
        tasks = 0
        for kind, row in rows:
            if kind == "part":
                section = heading(row.cells["part"])
                continue
            if kind == "skipped":
                continue
            tasks += 1
            c = row.cells
            flags: list[Flag] = []
            ok = True
            # 编号
            code = normal_code(c.get("code", ""))
            if code_col is not None:
                origin = grid.origin.get((row.number, code_col))
                if "code" in row.bad:
                    ok = False  # its cell is refused already
                elif origin is not None and origin[1] == code_col and code:
                    problem(row, "code", f"编号“{code}”为跨行合并的单元格（自第{origin[0]}行起）；"
                                         "每行任务须有自己的编号，请取消合并后分别填写")
                    ok = False
                elif not code:
                    problem(row, "code", "编号为空")
                    ok = False
                elif not MEASURE_CODE.match(code):
                    problem(row, "code", f"编号“{code[:30]}”无效：只能由数字、字母、汉字、点、"
                                         "短横线和括号组成，不超过20个字")
                    ok = False
                elif code in seen_codes:
                    where, at = seen_codes[code]
                    if where == place:
                        problem(row, "code", f"编号“{code}”与第{at}行重复；编号须全表唯一"
                                             "（各部分分别编号时，请写成 1.1、2.1 等）")
                    else:
                        problem(row, "code", f"编号“{code}”与{where}第{at}行重复；编号须在全部工作表"
                                             "（或表格）中唯一（各工作表分别编号时，请写成 1.1、2.1 等）")
                    ok = False
                else:
                    seen_codes[code] = (place, row.number)
            # 部分
            part = heading(c["part"]) if c.get("part") else section
            # 任务名称 / 任务内容
            title, text = c.get("title", ""), c.get("text", "")
            if not title and not text:
                f = "title" if "title" in columns.index else "text"
                if not {"title", "text"} & row.bad:
                    problem(row, f, "任务名称和任务内容均为空")
                ok = False
            elif not title:
                title, text = split_title(text)
            # 牵头单位 / 配合单位
            lead_text, co_text = names_clause(c.get("lead", "")), names_clause(c.get("co", ""))
            if columns.lead_is_responsible and (m := LABELLED.match(lead_text)):
                lead_text, co_text = names_clause(m["lead"]), "、".join(
                    t for t in (names_clause(m["co"] or ""), co_text) if t)
            lead_read = read_agencies(lead_text, districts)
            co_read = read_agencies(co_text, districts)
            read_flags = [Flag(field="districts" if SOME_DISTRICTS.match(phrase) else f,  # type: ignore[arg-type]
                               phrase=phrase, reason=reason)
                          for f, read in (("lead", lead_read), ("co", co_read))
                          for phrase, reason in read.flags]
            lead = ""
            co: list[str] = []
            if not lead_text:
                if "lead" not in row.bad:
                    problem(row, "lead", "牵头单位为空")
                ok = False
            else:
                # the name marked （牵头）, else the first; none named (各区人民政府): the
                # office stands in, flagged, as the text parser does (`leads`)
                found = lead_of(lead_read, co_read, office, lead_text, read_flags,
                                several_named=not columns.lead_is_responsible,
                                districts=districts)
                lead, read_flags = found.name, found.flags
                leader = lead_read.marked_lead or co_read.marked_lead or next(
                    iter(lead_read.names), None)  # as written, before matching a district
                co = [n for n in lead_read.names if n not in (leader, lead)]
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
            flags.extend(read_flags)
            # 区县
            rule = "all" if "all" in (lead_read.districts, co_read.districts) else (
                "some" if "some" in (lead_read.districts, co_read.districts) else "none")
            named: list[str] = []
            cell = c.get("districts", "")
            if cell:
                verdict = district_cell(cell, districts, plan is not None)
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
            # 完成时限: read as the text parser reads it (`deadlines.read_deadline`); what
            # is no single day (每季度末, 汛期前, in stages) is flagged with its words
            deadline: Deadline | None = None
            if words := c.get("deadline", ""):
                deadline, flag = deadline_and_flag(words, issued=issued, period=period)
                if flag is not None:
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
        self.tasks += tasks
        return section, tasks

    def catalog(self) -> Catalog | None:
        """The catalog of every grid read, or None when a problem was found or the plan's
        settings were refused; a failed cross-check adds its problems."""
        if self.problems or self.plan is None:
            return None
        districts = self.districts
        government = self.plan.government
        agencies = [Agency(name=n, kind=guess_agency_kind(n, districts, government))
                    for n in self.agency_order]
        agencies += [Agency(name=n, kind=guess_agency_kind(n, districts, government))
                     for n in districts if n not in self.agency_order]
        catalog = Catalog(schema_version=SCHEMA_VERSION, plan=self.plan, agencies=agencies,
                          measures=self.measures)
        for path, message, value in catalog.cross_check():  # guarded above; a last check
            self.problems.append(Problem("", None, None, "目录检查未通过："
                                         + describe_problem(path, None, message, value)))
        return None if self.problems else catalog
