"""The ledger that prints (issue 12, build item 3): the print sheet's layout read back with
openpyxl, its pages measured after LibreOffice converts it to PDF, natural code order, the
title naming the filter, the 备注 of each state, and user text that never runs as a formula."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from sqlalchemy import select

from tests.conftest import ROOT, at
from tests.factories import small_plan
from tracker.catalog.codes import code_key
from tracker.catalog.load import load_catalog
from tracker.catalog.schema import Measure as CatalogMeasure
from tracker.db import transaction
from tracker.desk.board import BoardFilter
from tracker.desk.ledger import LEDGER_COLUMNS, LedgerTitle, ledger_frame, ledger_note, ledger_title
from tracker.desk.ledger_book import (
    DETAIL_SHEET,
    PRINT_COLUMNS,
    PRINT_LAYOUT,
    PRINT_SHEET,
    ledger_xlsx,
    wrapped_lines,
)
from tracker.directory.contacts import ensure_demo_contacts
from tracker.escalation.office_actions import waive
from tracker.models import ProgressReport, ProgressRequest
from tracker.requests.extensions import ask_extension, decide_extension
from tracker.requests.opening import open_due_requests
from tracker.requests.reports import ReportInput, record_reports
from tracker.requests.review import return_report

ROWS = 120
FIRST_ID = 900_001  # the synthetic rows' request ids: none may appear on the print sheet
FORMULA = "=1+1"
TITLE = LedgerTitle(title="天津市“十三五”加快残疾人小康进程规划纲要督查台账",
                    scope="2017年第一季度", day=dt.date(2017, 4, 14))


def _catalog_rows(n: int) -> pd.DataFrame:
    """`n` ledger rows in the shape of `ledger_frame`, for 2017Q1, with the seed catalog's
    real titles and agencies in code order (lead, co-responsible agencies, the 16
    districts), as the first pages of the demo's ledger hold them."""
    seed = json.loads((ROOT / "tasks_catalog.json").read_text(encoding="utf-8"))
    districts = seed["plan"]["districts"]
    items: list[tuple[str, str, str, str, str]] = []
    for m in seed["measures"]:
        items.append((m["code"], m["title"], m["text"], m["lead"], "牵头"))
        items += [(m["code"], m["title"], m["text"], co, "配合") for co in m["co"]]
        if m["districts"]:
            items += [(m["code"], m["title"], m["text"], d, "区") for d in districts]
    lights = ["按时报送", "逾期", "逾期报送", "临近截止", "正常", "已免报"]
    rows: list[dict[str, Any]] = []
    for i, (code, title, text, agency, role) in enumerate(items[:n]):
        light = lights[i // 4 % len(lights)] if i % 4 == 0 else "按时报送"
        answered = light in ("按时报送", "逾期报送")
        rows.append({
            "规划": seed["plan"]["title"], "报送期": "2017Q1", "编号": code, "任务或指标": title,
            "领域": "二、主要任务", "责任单位": agency, "角色": role, "牵头单位": "", "配合单位": "",
            "任务内容": text, "截止日期": dt.date(2017, 4, 10), "截止日期说明": "",
            "报送时间": dt.datetime(2017, 4, 12 if light == "逾期报送" else 7, 9, 30)
            if answered else None,
            "状态": "已报送" if answered else "待报送", "进展": "推进中" if answered else "",
            "完成进度(%)": 20 if answered else None, "督办级别": "通报" if light == "逾期" else "无",
            "灯": light, "逾期工作日": 3 if light == "逾期" else None,
            "最新进展": FORMULA if i == 0 else ("按计划推进" if answered else ""),
            "备注": "暂定截止日期；已延期" if i == 5 else "", "系统编号": FIRST_ID + i,
        })
    assert len(rows) == n
    return pd.DataFrame(rows, columns=LEDGER_COLUMNS)


@pytest.fixture(scope="module")
def workbook(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The workbook of 120 realistic rows, and its PDF from LibreOffice (converted once)."""
    folder = tmp_path_factory.mktemp("ledger")
    frame = _catalog_rows(ROWS)
    data = ledger_xlsx(frame, TITLE)
    path = folder / "台账.xlsx"
    path.write_bytes(data)
    profile = folder / "lo-profile"  # its own profile: other LibreOffice runs may be under way
    subprocess.run(["soffice", f"-env:UserInstallation={profile.as_uri()}", "--headless",
                    "--convert-to", "pdf", "--outdir", str(folder), str(path)],
                   check=True, capture_output=True, timeout=300,
                   env={**os.environ, "HOME": str(folder)})
    pdf = path.with_suffix(".pdf")
    pages = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True,
                           capture_output=True, text=True).stdout.split("\f")
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True,
                          text=True).stdout
    return {"frame": frame, "data": data, "pdf": pdf, "pages": [p for p in pages if p.strip()],
            "info": info, "book": openpyxl.load_workbook(io.BytesIO(data))}


def test_code_key_orders_codes_naturally() -> None:
    codes = ["I10", "2.10.1", "3.1", "2.2.1", "I2", "3.1.1", "2.1", None, "I1", "2.9.4", ""]
    assert sorted(codes, key=code_key) == ["2.1", "2.2.1", "2.9.4", "2.10.1", "3.1", "3.1.1",
                                           "I1", "I2", "I10", None, ""]
    assert sorted(["2.10.1", "2.2.1"]) == ["2.10.1", "2.2.1"]  # what text order would do
    assert code_key("2.01") != code_key("2.1")  # told apart, so the order is repeatable


def test_the_print_sheet_comes_first_with_exactly_ten_columns(workbook) -> None:
    book = workbook["book"]
    assert book.sheetnames == [PRINT_SHEET, DETAIL_SHEET] == ["台账（打印）", "台账明细"]
    ws = book[PRINT_SHEET]
    assert [c.value for c in ws[3]] == PRINT_COLUMNS == [
        "编号", "任务或指标", "责任单位", "角色", "报送期", "截止日期", "报送时间", "灯",
        "督办级别", "备注"]
    assert ws.max_column == 10 and ws.max_row == 3 + ROWS
    first = [c.value for c in ws[4]]
    assert first[:5] == ["2.1.1", "提高残疾人社会救助水平", "市民政局", "牵头", "2017年第一季度"]
    assert first[5] == dt.datetime(2017, 4, 10) and ws.cell(4, 6).number_format == "yyyy年m月d日"
    assert first[6] == dt.datetime(2017, 4, 7)  # the day; the detail sheet keeps the minute
    assert first[7] == "按时报送" and first[8] == "无"
    # no internal id anywhere on the print sheet
    values = {c.value for row in ws.iter_rows() for c in row}
    assert not values & set(range(FIRST_ID, FIRST_ID + ROWS))
    assert ws.cell(4 + 5, 10).value == "暂定截止日期；已延期"


def test_the_print_sheet_is_set_up_for_a4_landscape_one_page_wide(workbook) -> None:
    ws = workbook["book"][PRINT_SHEET]
    assert ws.page_setup.paperSize == 9 and ws.page_setup.orientation == "landscape"
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert (ws.page_setup.fitToWidth or 1, ws.page_setup.fitToHeight) == (1, 0)  # 1: the default
    assert ws.print_title_rows == "$3:$3"
    assert ws.oddFooter.center.text == "第 &P 页，共 &N 页"
    assert ws["A1"].value == TITLE.title
    assert ws["A2"].value == "筛选条件：2017年第一季度　　制表日期：2017年4月14日　　共 120 项"


def test_body_text_is_at_least_9_pt_and_lights_are_coloured(workbook) -> None:
    ws = workbook["book"][PRINT_SHEET]
    sizes = {ws.cell(r, c).font.sz for r in range(3, 4 + ROWS) for c in range(1, 11)}
    assert min(sizes) >= 9
    fills = {ws.cell(r, 8).value: ws.cell(r, 8).fill.fgColor.rgb for r in range(4, 4 + ROWS)}
    assert fills == {"逾期": "FFFFC7CE", "逾期报送": "FFFFEB9C", "临近截止": "FFFFEB9C",
                     "正常": "FFC6EFCE", "按时报送": "FFC6EFCE", "已免报": "FFD9D9D9"}
    # wrapped columns wrap; a row is as tall as its lines (the insurer's name takes three)
    assert ws.cell(4, 2).alignment.wrap_text and ws.cell(4, 3).alignment.wrap_text
    heights = {ws.cell(r, 3).value: ws.row_dimensions[r].height for r in range(4, 4 + ROWS)}
    assert heights["市民政局"] == 12.75 and heights["中国人寿保险股份有限公司天津分公司"] == 37.5


def test_libreoffice_prints_at_least_30_rows_a_page_at_full_size(workbook) -> None:
    # a print row's line starts with its code (a detail row's with the plan's title)
    rows = [len(re.findall(r"^ *(?:\d+(?:\.\d+)+|I\d+) ", p, re.M)) for p in workbook["pages"]]
    printed = [n for n in rows if n]
    assert rows[:len(printed)] == printed  # the print sheet's pages come first
    assert sum(printed) == ROWS
    assert all(n >= 30 for n in printed[:-1]) and len(printed) == 4
    assert "Page size:       841.89 x 595.3" in workbook["info"]  # A4 landscape
    assert "第 1 页" in workbook["pages"][0] and "第 4 页" in workbook["pages"][3]
    assert "筛选条件：2017年第一季度" in workbook["pages"][0]
    assert all("任务或指标" in p and "督办级别" in p for p in workbook["pages"][:4])
    # not shrunk to fit: a title's characters are 9 pt wide on the PDF page
    bbox = subprocess.run(["pdftotext", "-f", "1", "-l", "1", "-bbox", str(workbook["pdf"]), "-"],
                          check=True, capture_output=True, text=True).stdout
    word = re.search(r'xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)" yMax="[\d.]+">'
                     r"提高残疾人社会救助水平<", bbox)
    assert word is not None
    assert (float(word[2]) - float(word[1])) / len("提高残疾人社会救助水平") == pytest.approx(9, abs=0.05)


def test_user_text_stays_text_in_both_sheets(workbook, tmp_path: Path) -> None:
    detail = workbook["book"][DETAIL_SHEET]
    header = [c.value for c in detail[2]]
    assert header == LEDGER_COLUMNS and header[-1] == "系统编号"
    cell = detail.cell(3, header.index("最新进展") + 1)
    assert (cell.value, cell.data_type) == (FORMULA, "s")
    assert detail.cell(3, len(header)).value == FIRST_ID
    assert any(FORMULA in p for p in workbook["pages"])  # LibreOffice shows it, not 2
    # a title typed into the catalog stays text on the print sheet too
    frame = _catalog_rows(3)
    frame.loc[1, "任务或指标"] = '=HYPERLINK("http://example.com","点此")'
    ws = openpyxl.load_workbook(io.BytesIO(ledger_xlsx(frame, TITLE)))[PRINT_SHEET]
    assert ws.cell(5, 2).data_type == "s" and ws.cell(5, 2).value.startswith("=HYPERLINK")
    # what pandas and xlsxwriter do by default: the same text becomes a formula
    naive = tmp_path / "naive.xlsx"
    pd.DataFrame({"最新进展": [FORMULA]}).to_excel(naive, index=False, engine="xlsxwriter")
    assert openpyxl.load_workbook(naive).active.cell(2, 1).data_type == "f"


def test_an_empty_ledger_says_so() -> None:
    ws = openpyxl.load_workbook(io.BytesIO(ledger_xlsx(
        pd.DataFrame(columns=LEDGER_COLUMNS), TITLE)))[PRINT_SHEET]
    assert ws["A4"].value == "（没有符合筛选条件的事项）"
    assert ws["A2"].value.endswith("共 0 项")


def test_ledger_note_names_the_state_in_a_few_words() -> None:
    base = {"state": "open", "provisional": False, "extended": False,
            "extension_pending": False, "returned": False, "closed": False}
    assert ledger_note(**base) == ""
    assert ledger_note(**{**base, "state": "waived"}) == "免报"
    assert ledger_note(**{**base, "provisional": True, "extended": True}) == "暂定截止日期；已延期"
    assert ledger_note(**{**base, "extension_pending": True}) == "延期待批"
    assert ledger_note(**{**base, "returned": True}) == "报告退回"
    assert ledger_note(**{**base, "returned": True, "state": "answered"}) == ""
    assert ledger_note(**{**base, "closed": True, "state": "answered"}) == "已办结销号"


def test_ledger_rows_come_in_natural_code_order_and_the_title_names_the_filter(db, policy):
    plan = small_plan()
    codes = ["2.10.1", "2.2.1", "3.1", "2.9.1", "2.1.1"]  # the catalog's own order
    template = plan.measures[0]
    measures = [CatalogMeasure(**{**template.model_dump(), "code": c, "title": f"任务{c}"})
                for c in codes]
    plan = plan.model_copy(update={"measures": measures, "indicators": [
        plan.indicators[0].model_copy(update={"measures": ["2.1.1"]})]})
    with transaction(db) as s:
        plan_id = load_catalog(s, plan, at("2017-01-05")).plan_id
        ensure_demo_contacts(s, plan_id)
    with transaction(db) as s:
        from tracker.models import Plan

        open_due_requests(s, s.get_one(Plan, plan_id), at("2017-03-17"), policy)
    with db() as s:
        frame = ledger_frame(s, BoardFilter(plan_id=plan_id), dt.date(2017, 4, 12), policy)
        assert list(dict.fromkeys(frame["编号"])) == ["2.1.1", "2.2.1", "2.9.1", "2.10.1", "3.1"]
        # within a code: the lead, the co-responsible agency, then the districts in order
        assert frame[frame["编号"] == "2.10.1"]["责任单位"].tolist() == [
            "市人力资源和社会保障局", "市财政局", "和平区人民政府", "河东区人民政府"]
        f = BoardFilter(plan_id=plan_id, role="lead", period="2017Q1", light="red")
        title = ledger_title(s, f, dt.date(2017, 4, 12))
        assert title == LedgerTitle(title="天津市残疾人就业促进三年行动方案督查台账",
                                    scope="牵头单位，2017年第一季度，逾期", day=dt.date(2017, 4, 12))
        assert title.subtitle == "筛选条件：牵头单位，2017年第一季度，逾期　　制表日期：2017年4月12日"
        # no plan chosen: the only plan loaded, else 全部规划
        assert str(ledger_title(s, BoardFilter(), dt.date(2017, 4, 12))) == \
            "天津市残疾人就业促进三年行动方案督查台账（全部事项） 2017年4月12日"
    with transaction(db) as s:
        load_catalog(s, small_plan(plan_id="second", title="第二个规划"), at("2017-01-05"))
    with db() as s:
        assert ledger_title(s, BoardFilter(), dt.date(2017, 4, 12)).title == "全部规划督查台账"


def test_the_note_and_light_follow_each_requests_state(db, small, policy):
    with transaction(db) as s:
        open_due_requests(s, small, at("2017-03-17"), policy)
    with db() as s:
        ids = list(s.scalars(select(ProgressRequest.id).order_by(ProgressRequest.id)))
        agency = {i: s.get_one(ProgressRequest, i).agency_id for i in ids}
    waived, pending, granted, returned, late = ids[:5]
    with transaction(db) as s:
        record_reports(s, [ReportInput(request_id=i, status="in_progress", percent=20,
                                       narrative=FORMULA) for i in [returned, *ids[5:]]],
                       submitted_by="t", now=at("2017-04-07"))
        waive(s, waived, reason="本期无此项工作", actor="督查室", now=at("2017-04-07"),
              policy=policy)
        for i in (pending, granted):
            ask_extension(s, agency_id=agency[i], request_id=i, new_due_on=dt.date(2017, 4, 28),
                          reason="数据尚在汇总", asked_by="t", now=at("2017-04-06"))
    with transaction(db) as s:
        from tracker.models import ExtensionRequest

        ext = s.scalars(select(ExtensionRequest.id).where(
            ExtensionRequest.request_id == granted)).one()
        decide_extension(s, ext, grant=True, note="同意", decided_by="督查室",
                         now=at("2017-04-07"), policy=policy)
        report = s.scalars(select(ProgressReport.id).where(
            ProgressReport.request_id == returned)).one()
        return_report(s, report, reviewer="督查室", comment="请补充佐证材料",
                      now=at("2017-04-08"), policy=policy)
    with db() as s:
        frame = ledger_frame(s, BoardFilter(plan_id=small.id), dt.date(2017, 4, 12), policy)
    row = {int(r["系统编号"]): r for _, r in frame.iterrows()}
    assert (row[waived]["灯"], row[waived]["备注"]) == ("已免报", "免报")
    assert row[pending]["备注"] == "延期待批"
    assert (row[granted]["备注"], row[granted]["截止日期"]) == ("已延期", dt.date(2017, 4, 28))
    assert (row[returned]["备注"], row[returned]["状态"]) == ("报告退回", "待报送")
    assert (row[late]["灯"], row[late]["备注"]) == ("逾期", "")
    assert {row[i]["灯"] for i in ids[5:]} == {"按时报送"}
    assert {row[i]["最新进展"] for i in ids[5:]} == {FORMULA}


def test_several_plans_print_under_a_heading_each() -> None:
    frame = _catalog_rows(4)
    frame.loc[2:, "规划"] = "天津市残疾人就业促进三年行动方案"
    ws = openpyxl.load_workbook(io.BytesIO(ledger_xlsx(frame, TITLE)))[PRINT_SHEET]
    column_a = [ws.cell(r, 1).value for r in range(4, ws.max_row + 1)]
    assert column_a == ["天津市“十三五”加快残疾人小康进程规划纲要", "2.1.1", "2.1.1",
                        "天津市残疾人就业促进三年行动方案", "2.1.1", "2.1.1"]
    assert {str(m) for m in ws.merged_cells.ranges} >= {"A4:J4", "A7:J7"}


def test_every_title_of_the_seed_fits_one_line_of_the_print_sheet() -> None:
    seed = json.loads((ROOT / "tasks_catalog.json").read_text(encoding="utf-8"))
    titles = [m["title"] for m in seed["measures"]] + [i["name"] for i in seed["indicators"]]
    width = dict((name, w) for name, w, *_ in PRINT_LAYOUT)
    assert max(map(len, titles)) == 24
    assert {wrapped_lines(t, width["任务或指标"]) for t in titles} == {1}
    assert wrapped_lines("确" * 26, width["任务或指标"]) == 2
    assert wrapped_lines("中国人寿保险股份有限公司天津分公司", width["责任单位"]) == 3


def test_a_very_long_title_stays_within_excels_tallest_row() -> None:
    frame = _catalog_rows(2)
    frame.loc[0, "任务或指标"] = "推进无障碍环境建设" * 330  # about 3,000 characters
    ws = openpyxl.load_workbook(io.BytesIO(ledger_xlsx(frame, TITLE)))[PRINT_SHEET]
    heights = [ws.row_dimensions[r].height for r in range(4, 6)]
    assert 400 < max(heights) <= 409  # xlsxwriter stores 408.75, whole pixels
    assert frame.loc[0, "任务或指标"] in {ws.cell(r, 2).value for r in range(4, 6)}
