"""Sheets as offices really save them (issue 10, item 6): each shape written for the test,
each with its exact outcome. The template is filled with openpyxl, then the package is
edited as WPS or a hostile file would have it."""

from __future__ import annotations

import io
import re
import time
import zipfile

import openpyxl
import pytest
from sqlalchemy import select

from tests.conftest import at
from tracker.db import transaction
from tracker.exchange.template import agency_template
from tracker.exchange.upload import UploadError, import_sheet
from tracker.models import Agency, ProgressReport
from tracker.requests.opening import open_due_requests

pytestmark = pytest.mark.sqlite_only  # the point is the file, not the database


@pytest.fixture
def sheet(db, plan, policy):  # type: ignore[no-untyped-def]
    with transaction(db) as s:
        open_due_requests(s, plan, at("2017-03-17"), policy)
    with db() as s:
        agency_id = s.scalar(select(Agency.id).where(Agency.name == "市残联"))
        data = agency_template(s, agency_id, at("2017-03-20").date(), at("2017-03-20"))
    return agency_id, data


def _filled(data: bytes, rows: int, percent=30, fmt: str | None = None) -> openpyxl.Workbook:  # type: ignore[no-untyped-def]
    book = openpyxl.load_workbook(io.BytesIO(data))
    ws = book["进展填报"]
    for r in range(2, 2 + rows):
        ws.cell(r, 7, "推进中")
        cell = ws.cell(r, 8, percent)
        if fmt:
            cell.number_format = fmt
        ws.cell(r, 9, f"第{r}行的工作进展")
    return book


def _bytes(book: openpyxl.Workbook) -> bytes:
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def _rewrite(data: bytes, edit) -> bytes:  # type: ignore[no-untyped-def]
    """The same package with each member passed through edit(name, bytes)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, edit(info.filename, src.read(info.filename)))
    return out.getvalue()


def _import(db, agency_id, data):  # type: ignore[no-untyped-def]
    with transaction(db) as s:
        return import_sheet(s, data, agency_id=agency_id, submitted_by="t", now=at("2017-03-21"))


def test_a_sheet_whose_stored_extent_is_a1_is_read_whole(db, sheet):
    agency_id, data = sheet
    wps = _rewrite(_bytes(_filled(data, 2)), lambda name, body: re.sub(
        rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1"/>', body)
        if name.startswith("xl/worksheets/") else body)
    assert b'<dimension ref="A1"/>' in zipfile.ZipFile(io.BytesIO(wps)).read("xl/worksheets/sheet1.xml")
    result = _import(db, agency_id, wps)
    assert len(result.report_ids) == 2
    with db() as s:
        assert sorted(s.scalars(select(ProgressReport.narrative))) == ["第2行的工作进展", "第3行的工作进展"]


def test_a_percent_formatted_cell_means_what_it_shows(db, sheet):
    agency_id, data = sheet
    result = _import(db, agency_id, _bytes(_filled(data, 1, percent=1, fmt="0%")))
    assert len(result.report_ids) == 1
    with db() as s:
        assert s.scalar(select(ProgressReport.percent)) == 100
    with pytest.raises(UploadError) as err:  # 57.5% shows a fraction: refused as such
        _import(db, agency_id, _bytes(_filled(data, 1, percent=0.575, fmt="0.0%")))
    assert str(err.value) == "进展填报 第2行 H列（完成进度(%)）：完成进度须为0到100的整数，现为 57.5"


def test_merged_answer_cells_are_refused_naming_the_rows(db, sheet):
    agency_id, data = sheet
    book = _filled(data, 3)
    book["进展填报"].merge_cells("I2:I4")
    with pytest.raises(UploadError) as err:
        _import(db, agency_id, _bytes(book))
    assert str(err.value) == ("进展填报 第2行 I列（工作进展）：第2至4行为合并单元格；"
                              "请取消合并，为每一行分别填写")
    with db() as s:
        assert s.scalar(select(ProgressReport.id)) is None


def test_shared_strings_that_inflate_are_refused_before_parsing(db, sheet):
    agency_id, data = sheet
    bomb = b"<sst>" + b"<si><t>" + b"A" * (60 * 1024 * 1024) + b"</t></si></sst>"
    assert "xl/sharedStrings.xml" in zipfile.ZipFile(io.BytesIO(data)).namelist()
    hostile = _rewrite(data, lambda name, body: bomb if name == "xl/sharedStrings.xml" else body)
    assert len(hostile) < 300 * 1024  # a small upload
    started = time.perf_counter()
    with pytest.raises(UploadError) as err:
        _import(db, agency_id, hostile)
    assert time.perf_counter() - started < 5  # refused from the ZIP directory, not parsed
    assert str(err.value) == ("文件：文件解压后过大（约 60 MB，上限 40 MB）；请使用系统下载的模板，"
                              "只填写其中的行")


def test_a_file_name_from_an_agency_name_is_safe():
    from tracker.exchange.template import sheet_filename

    assert sheet_filename("市人社局/市医保局") == "进展填报-市人社局-市医保局.xlsx"
    assert sheet_filename('a\\b:c*d?"e<f>g|h\x07') == "进展填报-a-b-c-d-e-f-g-h.xlsx"
    assert sheet_filename("..") == "进展填报-单位.xlsx"


def test_the_sheet_prints_on_a4_landscape_and_is_named_after_agency_and_period(db, sheet):
    from tracker.exchange.template import template_filename

    agency_id, data = sheet
    ws = openpyxl.load_workbook(io.BytesIO(data))["进展填报"]
    assert (ws.page_setup.orientation, str(ws.page_setup.paperSize)) == ("landscape", "9")
    assert ws.page_setup.fitToWidth in (None, 1) and ws.page_setup.fitToHeight == 0  # 1 wide
    assert ws.sheet_properties.pageSetUpPr.fitToPage is True
    assert ws.print_title_rows == "$1:$1"
    assert "市残联 进展填报（2017年3月20日）" in ws.oddHeader.center.text
    assert ws.oddFooter.center.text == "第 &P 页，共 &N 页"
    with db() as s:
        assert template_filename(s, agency_id, at("2017-03-20").date()) == "进展填报-市残联-2017Q1.xlsx"


def test_a_percent_in_words_says_what_to_type(db, sheet):
    agency_id, data = sheet
    book = _filled(data, 2)
    ws = book["进展填报"]
    ws.cell(2, 8).value = "五十"
    ws.cell(3, 8).value = "50"  # digits stored as text: Excel's own wording
    with pytest.raises(UploadError) as refused:
        _import(db, agency_id, _bytes(book))
    assert [str(p) for p in refused.value.problems] == [
        "进展填报 第2行 H列（完成进度(%)）：完成进度须为0到100的整数（请填写阿拉伯数字，如 50）",
        "进展填报 第3行 H列（完成进度(%)）：数字以文本形式存储"]


def test_only_rows_whose_status_is_filled_are_submitted(db, sheet):
    """The texts come pre-filled; a row whose 状态 is empty is not an answer, unless a
    number the template leaves empty was typed in it."""
    agency_id, data = sheet
    book = openpyxl.load_workbook(io.BytesIO(data))
    ws = book["进展填报"]
    assert {ws.cell(r, 7).value for r in range(2, ws.max_row + 1)} == {None}
    ws.cell(2, 9).value = "只改了文字"
    ws.cell(3, 7).value = "推进中"
    ws.cell(3, 8).value = 30
    result = _import(db, agency_id, _bytes(book))
    assert len(result.report_ids) == 1
    ws.cell(4, 8).value = 20
    with pytest.raises(UploadError) as refused:
        _import(db, agency_id, _bytes(book))
    assert [str(p) for p in refused.value.problems] == [
        "进展填报 第4行 G列（状态）：填写了完成进度或指标数值但未选择状态"]


def test_every_fault_of_a_row_is_named_at_once(db, sheet):
    """A bad percent does not hide a missing narrative, nor a bad status a bad percent."""
    agency_id, data = sheet
    book = _filled(data, 2)
    ws = book["进展填报"]
    ws.cell(2, 7).value, ws.cell(2, 8).value, ws.cell(2, 9).value = "受阻", 120, None
    ws.cell(3, 7).value, ws.cell(3, 8).value = "完成", "五十"
    with pytest.raises(UploadError) as refused:
        _import(db, agency_id, _bytes(book))
    assert [str(p) for p in refused.value.problems] == [
        "进展填报 第2行 H列（完成进度(%)）：完成进度须为0到100的整数，现为 120",
        "进展填报 第2行 I列（工作进展）：状态为滞后或受阻时，须填写工作进展",
        "进展填报 第3行 G列（状态）：状态“完成”不在下拉列表中",
        "进展填报 第3行 H列（完成进度(%)）：完成进度须为0到100的整数（请填写阿拉伯数字，如 50）"]
