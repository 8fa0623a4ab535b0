"""The ledger at any size (issue 14, build item 3) proved at small size: with the rows per
sheet lowered to 4 or 3 the print layout and the detail continue on "（续N）" sheets, each headed,
the rows streamed from the database in the ledger's order, in constant-memory mode above a
lowered threshold; the workbook's author is the plan's supervision office, never a
hard-coded one."""

from __future__ import annotations

import datetime as dt
import io

import openpyxl
from sqlalchemy import update

from tests.conftest import at
from tests.desk.test_ledger_print import TITLE, _catalog_rows
from tracker.db import transaction
from tracker.desk.board import BoardFilter
from tracker.desk.ledger import LEDGER_COLUMNS, ledger_count, ledger_frame, ledger_title
from tracker.desk.ledger_book import ledger_workbook, ledger_xlsx
from tracker.models import Plan
from tracker.requests.opening import open_due_requests

DAY = dt.date(2017, 4, 12)
PRINT = ["台账（打印）", "台账（打印）（续1）", "台账（打印）（续2）"]
DETAIL = ["台账明细", "台账明细（续1）", "台账明细（续2）"]


def _values(ws, col: int, first: int) -> list[object]:  # type: ignore[no-untyped-def]
    return [ws.cell(r, col).value for r in range(first, ws.max_row + 1)]


def test_a_ledger_longer_than_a_sheet_continues_on_headed_sheets(db, small, policy):
    with transaction(db) as s:
        open_due_requests(s, small, at("2017-03-17"), policy)
    with db() as s:
        f = BoardFilter(plan_id=small.id)
        frame = ledger_frame(s, f, DAY, policy)
        assert ledger_count(s, f, DAY, policy) == (len(frame), 1) == (9, 1)
        title = ledger_title(s, f, DAY)
        data = ledger_workbook(s, f, DAY, policy, title, rows_per_sheet=4,
                               constant_memory_rows=3)
        plain = ledger_workbook(s, f, DAY, policy, title, rows_per_sheet=4)
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == PRINT + DETAIL
    assert book.properties.creator == small.supervision_office == "市政府督查室"
    ids = frame["系统编号"].tolist()
    # the detail: title, header, then 4 + 4 + 1 rows, the ledger's order kept across sheets
    spans = ["1–4", "5–8", "9–9"]
    for name, span in zip(DETAIL, spans, strict=True):
        ws = book[name]
        assert ws.cell(1, 1).value == f"{title.title}（明细）　{title.subtitle}　本表第 {span} 项"
        assert [ws.cell(2, c).value for c in range(1, 23)] == LEDGER_COLUMNS
        assert ws.freeze_panes == "D3" and ws.auto_filter.ref is not None
    assert sum((_values(book[n], 22, 3) for n in DETAIL), []) == ids
    assert [len(_values(book[n], 22, 3)) for n in DETAIL] == [4, 4, 1]
    # the print layout: title, subtitle with the part's range, header, rows
    for name, span in zip(PRINT, spans, strict=True):
        ws = book[name]
        assert ws.cell(1, 1).value == title.title
        assert ws.cell(2, 1).value == f"{title.subtitle}　　共 9 项，本表第 {span} 项"
        assert [ws.cell(3, c).value for c in range(1, 11)][:3] == ["编号", "任务或指标", "责任单位"]
        assert ws.print_title_rows == "$3:$3"
    # constant-memory sheets keep each row's height (xlsxwriter forgets it once written)
    kept = openpyxl.load_workbook(io.BytesIO(plain))
    assert [[book[n].row_dimensions[r].height for r in range(1, book[n].max_row + 1)]
            for n in PRINT] == [[kept[n].row_dimensions[r].height
                                 for r in range(1, kept[n].max_row + 1)] for n in PRINT]
    assert {book[n].row_dimensions[r].height for n in PRINT
            for r in range(4, book[n].max_row + 1)} == {12.75, 25.5}  # 1 or 2 lines
    printed = sum((_values(book[n], 1, 4) for n in PRINT), [])
    assert printed == frame["编号"].tolist()
    assert book[PRINT[2]].cell(4, 3).value == frame["责任单位"].iat[8]


def test_a_plan_without_a_supervision_office_leaves_the_author_empty(db, small, policy):
    with transaction(db) as s:
        s.execute(update(Plan).where(Plan.id == small.id).values(supervision_office=""))
        open_due_requests(s, small, at("2017-03-17"), policy)
    with db() as s:
        f = BoardFilter(plan_id=small.id)
        data = ledger_workbook(s, f, DAY, policy, ledger_title(s, f, DAY))
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["台账（打印）", "台账明细"]
    assert book.properties.creator in (None, "")
    assert book["台账明细"].max_row == 2 + 9


def test_a_plan_continued_on_the_next_sheet_is_headed_again() -> None:
    frame = _catalog_rows(7)
    frame.loc[4:, "规划"] = "天津市残疾人就业促进三年行动方案"
    book = openpyxl.load_workbook(io.BytesIO(ledger_xlsx(frame, TITLE, rows_per_sheet=3)))
    assert book.sheetnames == PRINT + DETAIL
    first = "天津市“十三五”加快残疾人小康进程规划纲要"
    second = "天津市残疾人就业促进三年行动方案"
    assert _values(book[PRINT[0]], 1, 4) == [first, "2.1.1", "2.1.1", "2.1.1"]
    assert _values(book[PRINT[1]], 1, 4) == [f"{first}（续）", "2.1.1", second, "2.1.1",
                                             "2.1.1"]
    assert _values(book[PRINT[2]], 1, 4) == [f"{second}（续）", "2.1.1"]
    assert [book[n].max_row for n in DETAIL] == [5, 5, 3]
    assert book.properties.creator in (None, "")
