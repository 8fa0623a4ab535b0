"""Legacy .xls/.et and Strict Open XML uploads (issue 10, item 6): converted by the real
LibreOffice into an ordinary .xlsx and recorded, or refused with the words saying to save
as .xlsx when LibreOffice is not there; and the cell count bounded before any parsing."""

from __future__ import annotations

import io
import subprocess
import threading
import time
import tracemalloc
import zipfile
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select

from tests.conftest import at
from tracker.db import transaction
from tracker.exchange.convert import Converter
from tracker.exchange.package import MAX_CELLS
from tracker.exchange.template import agency_template
from tracker.exchange.upload import UploadError, import_sheet
from tracker.models import Agency, ProgressReport
from tracker.requests.opening import open_due_requests

pytestmark = pytest.mark.sqlite_only  # the point is the file, not the database

SAVE_AS = "请在 Excel/WPS 中另存为 .xlsx（Excel 工作簿）后再上传"
# Excel's Strict Open XML namespaces, in place of the transitional ones openpyxl writes
STRICT = [(b"http://schemas.openxmlformats.org/spreadsheetml/2006/main",
           b"http://purl.oclc.org/ooxml/spreadsheetml/main"),
          (b"http://schemas.openxmlformats.org/officeDocument/2006/relationships",
           b"http://purl.oclc.org/ooxml/officeDocument/relationships"),
          (b"http://schemas.openxmlformats.org/drawingml/2006/main",
           b"http://purl.oclc.org/ooxml/drawingml/main")]


@pytest.fixture
def sheet(db, plan, policy):  # type: ignore[no-untyped-def]
    with transaction(db) as s:
        open_due_requests(s, plan, at("2017-03-17"), policy)
    with db() as s:
        agency_id = s.scalar(select(Agency.id).where(Agency.name == "市残联"))
        data = agency_template(s, agency_id, at("2017-03-20").date(), at("2017-03-20"))
    return agency_id, data


def _filled(data: bytes) -> bytes:
    """The template with rows 2 and 3 answered (推进中, 30 and 40 %, a narrative each)."""
    book = openpyxl.load_workbook(io.BytesIO(data))
    ws = book["进展填报"]
    for r, percent in ((2, 30), (3, 40)):
        ws.cell(r, 7, "推进中")
        ws.cell(r, 8, percent)
        ws.cell(r, 9, f"第{r}行的工作进展")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _strict(data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename.endswith((".xml", ".rels")):
                for old, new in STRICT:
                    body = body.replace(old, new)
                if info.filename == "xl/workbook.xml":
                    body = body.replace(b"<workbook ", b'<workbook conformance="strict" ', 1)
            dst.writestr(info.filename, body)
    return out.getvalue()


def _as_xls(data: bytes, folder: Path) -> bytes:
    """The workbook saved by LibreOffice as Excel 97-2003 (.xls), as an office would."""
    (folder / "filled.xlsx").write_bytes(data)
    subprocess.run(["soffice", "--headless", "--norestore",
                    f"-env:UserInstallation={(folder / 'profile').as_uri()}",
                    "--convert-to", "xls", "--outdir", str(folder / "xls"),
                    str(folder / "filled.xlsx")], check=True, capture_output=True, timeout=120)
    return (folder / "xls" / "filled.xls").read_bytes()


def _import(db, agency_id, data, converter):  # type: ignore[no-untyped-def]
    with transaction(db) as s:
        return import_sheet(s, data, agency_id=agency_id, submitted_by="t", now=at("2017-03-21"),
                            converter=converter)


def _recorded(db) -> list[tuple[int, str]]:  # type: ignore[no-untyped-def]
    with db() as s:
        return sorted((p, n) for p, n in s.execute(select(ProgressReport.percent,
                                                            ProgressReport.narrative)))


def test_a_legacy_xls_is_converted_and_recorded(db, sheet, tmp_path):
    agency_id, data = sheet
    xls = _as_xls(_filled(data), tmp_path)
    assert xls.startswith(b"\xd0\xcf\x11\xe0")  # an OLE compound file, as .xls and .et are
    result = _import(db, agency_id, xls, Converter.find("soffice"))
    assert (result.recorded, len(result.report_ids)) == (2, 2)
    assert _recorded(db) == [(30, "第2行的工作进展"), (40, "第3行的工作进展")]


def test_a_strict_open_xml_workbook_is_converted_and_recorded(db, sheet):
    agency_id, data = sheet
    strict = _strict(_filled(data))
    assert b'conformance="strict"' in zipfile.ZipFile(io.BytesIO(strict)).read("xl/workbook.xml")
    result = _import(db, agency_id, strict, Converter.find("soffice"))
    assert result.recorded == 2
    assert _recorded(db) == [(30, "第2行的工作进展"), (40, "第3行的工作进展")]


def test_without_libreoffice_both_are_refused_saying_to_save_as_xlsx(db, sheet, tmp_path,
                                                                     monkeypatch):
    agency_id, data = sheet
    xls = _as_xls(_filled(data), tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))  # no soffice on the PATH
    missing = Converter.find("soffice")
    assert missing.program is None
    for converter in (missing, Converter.find("")):  # TRACKER_SOFFICE= turns it off too
        with pytest.raises(UploadError) as err:
            _import(db, agency_id, xls, converter)
        assert str(err.value) == ("文件：这是旧版 Excel（.xls）或 WPS 表格（.et）格式的文件，"
                                  "本系统无法直接读取；" + SAVE_AS)
        with pytest.raises(UploadError) as err:
            _import(db, agency_id, _strict(_filled(data)), converter)
        assert str(err.value) == ("文件：这是“Strict Open XML 电子表格”格式的文件，"
                                  "本系统无法直接读取；" + SAVE_AS)
    assert _recorded(db) == []


def test_a_damaged_legacy_file_is_refused_naming_the_missing_sheet(db, sheet):
    """LibreOffice opens a damaged compound file as an empty workbook: the template's sheet
    is then missing, and the refusal says so."""
    agency_id, _ = sheet
    with pytest.raises(UploadError) as err:
        _import(db, agency_id, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 4096,
                Converter.find("soffice"))
    assert str(err.value) == "进展填报：找不到该工作表；请使用系统下载的模板"


def test_a_hung_conversion_is_killed_at_its_timeout(db, sheet, tmp_path):
    agency_id, data = sheet
    hung = tmp_path / "soffice"
    hung.write_text("#!/bin/sh\nexec sleep 60\n")  # a LibreOffice that never finishes
    hung.chmod(0o755)
    started = time.monotonic()
    with pytest.raises(UploadError) as err:
        _import(db, agency_id, _strict(_filled(data)), Converter.find(str(hung), timeout=0.5))
    assert time.monotonic() - started < 5
    assert str(err.value) == ("文件：“Strict Open XML 电子表格”格式的文件转换超时；" + SAVE_AS)


def test_one_conversion_at_a_time(db, sheet):
    """While one conversion holds the slot, another waits up to its timeout, then is refused."""
    agency_id, data = sheet
    converter = Converter.find("soffice", timeout=0.3)
    assert converter.slots.acquire(timeout=5)  # as a conversion in progress would
    try:
        with pytest.raises(UploadError) as err:
            _import(db, agency_id, _strict(_filled(data)), converter)
    finally:
        converter.slots.release()
    assert str(err.value) == "文件：系统正忙于转换其他文件，请稍后重试，或" + SAVE_AS
    # the slot is free again: the same process converts the next file
    assert _import(db, agency_id, _strict(_filled(data)), Converter.find("soffice")).recorded == 2


def _col(n: int) -> str:
    letters = ""
    while n:
        n, r = divmod(n - 1, 26)
        letters = chr(65 + r) + letters
    return letters


def test_too_many_cells_are_refused_before_parsing(db, sheet):
    """16 rows of 16,000 empty styled cells (a sheet formatted to its far edge): refused
    from a streaming count, in well under a second and a few MB, before openpyxl runs."""
    agency_id, data = sheet
    refs = [_col(c) for c in range(1, 16001)]
    extra = b"".join(b'<row r="%d">' % r + b"".join(b'<c r="%s%d" s="0"/>' % (ref.encode(), r)
                                                    for ref in refs) + b"</row>"
                     for r in range(3000, 3016))
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                body = body.replace(b"</sheetData>", extra + b"</sheetData>")
            dst.writestr(info.filename, body)
    hostile = out.getvalue()
    assert len(hostile) < 2 * 1024 * 1024 and 16 * 16000 > MAX_CELLS
    started = time.perf_counter()
    with pytest.raises(UploadError) as err:
        _import(db, agency_id, hostile, Converter.find(""))
    elapsed = time.perf_counter() - started
    assert str(err.value) == (f"文件：表格中的单元格过多（超过 {MAX_CELLS} 个）；请使用系统下载的模板，"
                              "只填写其中的行，勿在远处单元格留下内容或格式")
    assert elapsed < 1.0
    tracemalloc.start()  # again, measuring memory this time (tracing slows it down)
    try:
        with pytest.raises(UploadError):
            _import(db, agency_id, hostile, Converter.find(""))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024  # a few 1 MB chunks, not the 6 MB sheet parsed into cells
    assert _recorded(db) == []


def test_parallel_uploads_convert_one_after_another(db, sheet):
    """Two Strict uploads at once with one slot: both recorded, never two LibreOffices."""
    agency_id, data = sheet
    converter = Converter.find("soffice")
    files = [_strict(_filled(data)), _strict(_filled(data))]
    results: list[object] = []

    def run(body: bytes) -> None:
        try:
            with transaction(db) as s:
                results.append(import_sheet(s, body, agency_id=agency_id, submitted_by="t",
                                            now=at("2017-03-21"), converter=converter).recorded)
        except Exception as exc:  # noqa: BLE001  (named in the assertion)
            results.append(exc)

    threads = [threading.Thread(target=run, args=(f,)) for f in files]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert results == [2, 2]  # the second one re-answers the same two requests
