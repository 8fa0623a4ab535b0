"""The header of a 任务分工表 grid, and which grids hold the table (issue 13, item 1).

A header row names a lead (or 责任单位) column and a task column, by the template's
headers or the synonyms offices write (`table_layout`); the row below adds to it when it
names columns too (责任单位 merged over 牵头单位 | 配合单位). A Word table that carries no
header but continues the table before it (Word documents split a long table at a page
or section break) is read with that table's columns (`continuing`); `choose_grids` picks
the grids to read and says why each other one is not read.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from tracker.catalog.table_grids import HEADER_SCAN, Grid, cell_text
from tracker.catalog.table_layout import GUIDE_SHEET, normal_header, role_of


@dataclass
class Columns:
    """Where each field is: column index by field, the header each cell wrote, the row
    after the header, and whether the lead column is a 责任单位 (the first named leads)."""

    index: dict[str, int]
    header: dict[int, str]
    data_from: int  # position in grid.rows of the first row below the header
    header_row: int  # the header's (last) row number
    lead_is_responsible: bool = False
    ignored: list[str] = field(default_factory=list)  # headers not read, as written
    ignored_cols: list[int] = field(default_factory=list)  # their column indices
    duplicates: list[tuple[str, list[int]]] = field(default_factory=list)
    continued: bool = False  # a Word table read with the columns of the table before it

    def same_header(self, other: Columns) -> bool:
        """Whether `other` names the same fields in the same columns (a header repeated)."""
        return self.index == other.index and self.header == other.header

    def continuing(self) -> Columns:
        """These columns for a table that continues this one without a header of its own."""
        return replace(self, data_from=0, header_row=0, ignored=[], ignored_cols=[],
                       duplicates=[], continued=True)


def resolve_columns(labels: dict[int, str]) -> tuple[dict[str, int], bool,
                                                    list[tuple[int, str]],
                                                    list[tuple[str, list[int]]]]:
    """Fields of the columns whose (normalised) headers are `labels` (index -> header).

    重点任务 is the title when a text column exists, else the text; 责任单位 is the lead
    when no lead column exists (the first named leads, as 列第一位者为牵头单位), else the
    co column. Returns (field -> index, whether the lead is a 责任单位 column, the columns
    not read as (index, header), fields written twice with their columns)."""
    roles: dict[int, str] = {}
    ignored: list[tuple[int, str]] = []
    for col, label in sorted(labels.items()):
        role = role_of(label)
        if role is None:
            if label:
                ignored.append((col, label))
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
            if any(role_of(s) for s in sub.values()):
                merged = dict(labels)
                for c, s in sub.items():
                    if role_of(s):
                        merged[c] = s
                    elif grid.origin.get((below_number, c), (0, 0))[0] == number:
                        merged.setdefault(c, labels.get(c, ""))
                index, responsible, ignored, duplicates = resolve_columns(merged)
                labels = merged
                data_from, header_row = pos + 2, below_number
        header = {c: str(labels.get(c) or "") for c in index.values()}
        return Columns(index, header, data_from, header_row, responsible,
                       [label for _, label in ignored], [c for c, _ in ignored], duplicates)
    return None


@dataclass
class Chosen:
    """A grid to read, with its columns."""

    grid: Grid
    columns: Columns
    continues: bool  # its 部分 goes on from the table before it (a Word table split)


def choose_grids(grids: list[Grid]) -> tuple[list[Chosen], list[str]]:
    """The grids to read, in file order, and a report note for each grid not read (why):
    every sheet or Word table whose first HEADER_SCAN rows hold a header; a Word table
    without one whose width is that of the Word table read just before it (its
    continuation: Word documents split long tables); a Word table repeating the header
    of the one before continues its 部分 too. A sheet without a header is never taken
    as a continuation (a notes sheet may be as wide): the note says how to make it one."""
    chosen: list[Chosen] = []
    notes: list[str] = []
    before: Chosen | None = None  # the Word table read just before this one
    for grid in grids:
        hidden = "（隐藏工作表）" if grid.hidden else ""
        if grid.unreadable:
            notes.append(f"{grid.place}{hidden}未读取：{grid.unreadable}")
            before = None
            continue
        if grid.is_blank():
            if grid.letters:
                notes.append(f"{grid.place}{hidden}为空，未读取")
            continue  # an empty Word table between two parts of one table changes nothing
        columns = find_columns(grid)
        if columns is not None:
            continues = (not grid.letters and before is not None
                         and before.columns.same_header(columns))
            before = Chosen(grid, columns, continues)
            chosen.append(before)
            continue
        if before is not None and not grid.letters and grid.width == before.grid.width:
            before = Chosen(grid, before.columns.continuing(), True)
            chosen.append(before)
            continue
        if grid.letters and grid.place == f"工作表“{GUIDE_SHEET}”":
            notes.append(f"{grid.place}未读取：为填表说明")
        elif before is not None and not grid.letters:
            notes.append(f"{grid.place}未读取：没有表头，且列数（{grid.width}列）与上一个表格"
                         f"（{before.grid.width}列）不同，不能视为其续表")
        elif before is not None and grid.width == before.grid.width:
            # a sheet is not taken as the one before continued: a notes sheet may be as wide
            notes.append(f"{grid.place}{hidden}未读取：前 {HEADER_SCAN} 行中没有表头；如为{before.grid.place}"
                         "的续表，请在首行加上相同的表头后再导入")
        else:
            first = next((values for _, values in grid.rows if any(cell_text(v) for v in values)),
                         [])
            shown = " | ".join(t for v in first if (t := cell_text(v).replace("\n", " ")))
            notes.append(f"{grid.place}{hidden}未读取：前 {HEADER_SCAN} 行中没有表头（须有“牵头单位”"
                         f"或“责任单位”列和任务列）；首行为“{shown[:60]}”")
        before = None
    return chosen, notes
