"""The scorecard workbook people look at, its pictures and the five-year summary (issue 11,
items 2, 6 and 7), read back with openpyxl, the zip itself, LibreOffice and pdftoppm."""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
import shutil
import struct
import subprocess
import zipfile
import zlib
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils import get_column_letter

from tests.annual.scorecard_sample import EVIL_TITLE, ScoringRules, sample_figures
from tracker.annual.scorecard.book import LANDSCAPE_UNITS, PORTRAIT_UNITS
from tracker.annual.scorecard.excel import (
    TIE_RULE,
    sheet_names,
    write_escalation_detail,
    write_scorecard,
)
from tracker.annual.scorecard.five_year import write_five_year
from tracker.annual.scorecard.render import RenderError, render_pictures

# LibreOffice and pdftoppm are required (`make test` and .ci/run check for them): never skipped
SOFFICE = shutil.which("soffice")
DISTRICTS = ["和平区", "河东区", "河西区", "南开区", "河北区", "红桥区", "东丽区", "西青区",
             "津南区", "北辰区", "武清区", "宝坻区", "滨海新区", "宁河区", "静海区", "蓟州区"]
SUBTITLE_PARTS = ["《天津市“十三五”加快残疾人小康进程规划纲要》2017年度",
                  "生成时间 2018年2月13日 09:00（北京时间）", "数据截至2018年2月13日",
                  "考核规则版本 2026.1", "正式印发"]


def half_up(value: float, digits: int) -> float:
    return float(Decimal(str(value)).quantize(Decimal(1).scaleb(-digits), ROUND_HALF_UP))


@pytest.fixture(scope="module")
def figures():  # type: ignore[no-untyped-def]
    return sample_figures(2017)


@pytest.fixture(scope="module")
def card(figures, tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    return write_scorecard(figures, tmp_path_factory.mktemp("card") / "记分卡2017.xlsx")


@pytest.fixture(scope="module")
def book(card):  # type: ignore[no-untyped-def]
    return openpyxl.load_workbook(card)


def header_map(ws, row: int) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {ws.cell(row, c).value: c for c in range(1, ws.max_column + 1)
            if ws.cell(row, c).value is not None}


def test_sheets_in_order_with_district_short_names(book, figures) -> None:  # type: ignore[no-untyped-def]
    expected = ["封面", "图表", "市级部门排名", "区人民政府排名", "汇总（合并）", "任务进展", "指标",
                "逾期督办", "扣分明细", "常务会议", *DISTRICTS, "说明", "图表数据"]
    assert book.sheetnames == expected
    assert sheet_names(figures) == expected


def test_every_sheet_has_title_and_subtitle(book) -> None:  # type: ignore[no-untyped-def]
    for ws in book.worksheets:
        title, subtitle = ws["A1"].value, ws["A2"].value
        assert "考核记分卡" in title, ws.title
        for part in SUBTITLE_PARTS:
            assert part in subtitle, (ws.title, part)
    assert book["封面"]["A1"].value == "《天津市“十三五”加快残疾人小康进程规划纲要》2017年度考核记分卡"
    assert book["市级部门排名"]["A1"].value == "2017年度考核记分卡　市级部门排名"


def test_trial_scorecard_says_so(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = write_scorecard(sample_figures(2017, issued=False), tmp_path / "trial.xlsx")
    wb = openpyxl.load_workbook(path)
    assert "试算（未印发）" in wb["封面"]["A2"].value
    assert "正式印发" not in wb["市级部门排名"]["A2"].value


def test_print_setup_a4_fit_to_width_titles_repeated_footer(book) -> None:  # type: ignore[no-untyped-def]
    for ws in book.worksheets:
        assert ws.page_setup.paperSize == 9, ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert (ws.page_setup.fitToWidth or 1) == 1, ws.title  # OOXML's default is 1
        assert ws.oddFooter.center.text == "第 &P 页 共 &N 页", ws.title
        assert ws.page_margins.left == 0.5
    assert book["市级部门排名"].print_title_rows == "$1:$4"
    assert book["任务进展"].print_title_rows == "$1:$3"
    assert book["和平区"].print_title_rows == "$1:$4"
    assert book["市级部门排名"].page_setup.orientation == "landscape"
    assert book["说明"].page_setup.orientation == "portrait"
    assert (book["封面"].page_setup.fitToHeight or 1) == 1  # one page
    assert book["市级部门排名"].page_setup.fitToHeight == 0  # as many pages tall as needed


def test_every_sheet_prints_at_a_readable_size(book) -> None:  # type: ignore[no-untyped-def]
    """Fitted to an A4 width, 12 pt text stays >= 9 pt: the columns keep within the budget
    (LibreOffice draws a column unit as ~7 pt); no cell font is below 11 pt."""
    for ws in book.worksheets:
        if ws.title == "图表数据":
            continue
        total = 0.0
        for dim in ws.column_dimensions.values():
            if dim.width:
                total += (dim.width - 0.71) * (dim.max - dim.min + 1)
        budget = LANDSCAPE_UNITS if ws.page_setup.orientation == "landscape" else PORTRAIT_UNITS
        assert total <= budget + 0.5, (ws.title, total)
        sizes = {ws.cell(r, c).font.sz for r in range(1, min(ws.max_row, 40) + 1)
                 for c in range(1, ws.max_column + 1) if ws.cell(r, c).value is not None}
        assert min(sizes) >= 11, (ws.title, sizes)


def test_document_properties(book) -> None:  # type: ignore[no-untyped-def]
    p = book.properties
    assert p.title == "《天津市“十三五”加快残疾人小康进程规划纲要》2017年度考核记分卡"
    assert p.subject == "2017年度考核记分卡"
    assert p.creator == "市政府督查室"
    assert p.created == dt.datetime(2018, 2, 13, 1, 0)  # UTC, i.e. 09:00 Beijing
    assert p.keywords == "考核记分卡, 2017, tianjin-disability-2016-2020"
    rules = ScoringRules()
    assert p.description == (f"考核规则版本 2026.1（{rules.digest()}）；正式印发；数据截至2018年2月13日")


def test_rankings_are_separate_and_exact(book, figures) -> None:  # type: ignore[no-untyped-def]
    summary = figures.summary
    for sheet, group in (("市级部门排名", "市级部门"), ("区人民政府排名", "区人民政府")):
        ws = book[sheet]
        head = header_map(ws, 4)
        assert list(head)[:2] == ["排名", "单位"]
        assert "总分(分)" in head and "按时报送得分(满分40分)" in head
        assert "常务会议得分(满分10分)" in head and "按时报送率(%)" in head
        part = summary[summary["组别"] == group].sort_values(["排名", "单位"], kind="stable")
        got = [(ws.cell(r, head["单位"]).value, ws.cell(r, head["排名"]).value,
                ws.cell(r, head["总分(分)"]).value) for r in range(5, 5 + len(part))]
        assert got == list(zip(part["单位"], part["排名"].astype(float), part["总分"], strict=True))
        assert ws.cell(5 + len(part), head["单位"]).value is None
        assert ws.cell(5, head["总分(分)"]).number_format == "0.00"
        assert ws.cell(5, head["按时报送率(%)"]).number_format == "0.0"
    combined = book["汇总（合并）"]
    head = header_map(combined, 4)
    totals = [combined.cell(r, head["总分(分)"]).value for r in range(5, 5 + len(summary))]
    assert totals == sorted(summary["总分"], reverse=True)
    assert {"应报(项)", "按时(项)", "逾期报送(项)", "未报(项)", "完整(项)", "牵头任务数(项)",
            "获批延期(次)", "组内排名"} <= set(head)


def test_not_applicable_prints_grey(book, figures) -> None:  # type: ignore[no-untyped-def]
    ws = book["市级部门排名"]
    head = header_map(ws, 4)
    meetings = [ws.cell(r, head["常务会议得分(满分10分)"]) for r in range(5, 5 + 36)]
    assert {c.value for c in meetings} == {"不适用"}
    assert meetings[0].font.color.rgb == "FF808080"
    # 市国资委 leads nothing: its progress part does not apply
    row = next(r for r in range(5, 41) if ws.cell(r, head["单位"]).value == "市国资委")
    assert ws.cell(row, head["牵头任务达成率(%)"]).value == "不适用"
    assert ws.cell(row, head["牵头任务进展得分(满分30分)"]).value == "不适用"
    districts = book["区人民政府排名"]
    dhead = header_map(districts, 4)
    assert all(isinstance(districts.cell(r, dhead["常务会议得分(满分10分)"]).value, (int, float))
               for r in range(5, 21))


def test_dates_are_excel_dates(book, figures) -> None:  # type: ignore[no-untyped-def]
    ws = book["扣分明细"]
    head = header_map(ws, 3)
    cell = ws.cell(4, head["日期"])
    assert cell.is_date and cell.number_format == "yyyy年m月d日"
    assert cell.value.date() == figures.deductions["日期"].iloc[0]
    district = book["和平区"]  # one row per task, one column per quarter: a page or two
    dhead = header_map(district, 4)
    assert [name for name in dhead if "季度" in name] == [
        "2017年第一季度", "2017年第二季度", "2017年第三季度", "2017年第四季度"]
    assert district.max_row == 4 + 38
    escalations = book["逾期督办"]
    dates = [c for row in escalations.iter_rows() for c in row if getattr(c, "is_date", False)]
    assert len(dates) == 6  # earliest and latest per rung
    assert all(not isinstance(c.value, str) or not re.match(r"\d{4}-\d\d-\d\d", c.value)
               for row in escalations.iter_rows() for c in row)


def test_task_code_beside_title_and_formula_text_stays_text(book) -> None:  # type: ignore[no-untyped-def]
    ws = book["任务进展"]
    head = header_map(ws, 3)
    assert head["编号"] + 1 == head["任务"]
    row = next(r for r in range(4, ws.max_row + 1) if ws.cell(r, head["编号"]).value == "2.2.2")
    cell = ws.cell(row, head["任务"])
    assert cell.value == EVIL_TITLE and cell.data_type == "s"
    district = book["河西区"]
    texts = [c for row in district.iter_rows(min_row=5) for c in row if c.value == EVIL_TITLE]
    assert len(texts) == 1 and all(c.data_type == "s" for c in texts)  # one row per task
    by_measure = book["逾期督办"]
    assert any(c.value == EVIL_TITLE and c.data_type == "s"
               for row in by_measure.iter_rows() for c in row)


def test_conditional_formats_on_total_columns(book) -> None:  # type: ignore[no-untyped-def]
    for sheet, rows in (("市级部门排名", 36), ("区人民政府排名", 16)):
        ws = book[sheet]
        col = get_column_letter(header_map(ws, 4)["总分(分)"])
        rules = [(str(cf.sqref), rule) for cf in ws.conditional_formatting for rule in cf.rules]
        on_total = [rule for ref, rule in rules if ref == f"{col}5:{col}{4 + rows}"]
        kinds = sorted((r.type, bool(r.bottom), r.rank) for r in on_total if r.type == "top10")
        assert kinds == [("top10", False, 3), ("top10", True, 3)]
        formulas = sorted(r.formula[0] for r in on_total if r.type == "expression")
        ref = f"${col}5"
        assert formulas == sorted([f"AND(ISNUMBER({ref}),{ref}>=90)",
                                   f"AND(ISNUMBER({ref}),{ref}>=75,{ref}<90)",
                                   f"AND(ISNUMBER({ref}),{ref}<75)"])
    combined = book["汇总（合并）"]
    col = get_column_letter(header_map(combined, 4)["总分(分)"])
    assert any(str(cf.sqref) == f"{col}5:{col}56" for cf in combined.conditional_formatting)


def test_three_native_charts(card) -> None:  # type: ignore[no-untyped-def]
    with zipfile.ZipFile(card) as z:
        charts = sorted(n for n in z.namelist() if re.fullmatch(r"xl/charts/chart\d+\.xml", n))
        assert len(charts) >= 3
        xml = [z.read(n).decode() for n in charts]
    assert any('<c:barDir val="bar"/>' in x and "市级部门按时报送率" in x for x in xml)
    assert any('<c:barDir val="col"/>' in x and "区人民政府总分" in x for x in xml)
    indicator = next(x for x in xml if "主要指标" in x)
    assert indicator.count("<c:ser>") == 3 and "本年应达值" in indicator
    assert all("图表数据" in x for x in xml)
    assert all("<c:title>" in x for x in xml)


def test_cover_key_figures(book, figures) -> None:  # type: ignore[no-untyped-def]
    ws = book["封面"]
    figures_by_label = {ws.cell(r, 2).value: ws.cell(r, 3).value for r in range(6, 17)}
    s = figures.summary
    assert figures_by_label["参加考核单位(个)"] == 52
    assert figures_by_label["市级部门(个)"] == 36 and figures_by_label["区人民政府(个)"] == 16
    assert figures_by_label["按时报送率(%)"] == half_up(s["按时"].sum() / s["应报"].sum() * 100, 1)
    assert figures_by_label["区人民政府平均总分(分)"] == half_up(
        s.loc[s["组别"] == "区人民政府", "总分"].mean(), 2)
    assert figures_by_label["已送达的督办通知(份)"] == s["督办通知(份)"].sum()
    assert figures_by_label["偏离进度的指标(个)"] == 4
    assert figures_by_label["未召开常务会议的区人民政府(个)"] == 4
    label = next(r for r in range(1, 40) if ws.cell(r, 1).value == "市级部门前五名")
    top = [ws.cell(r, 2).value for r in range(label + 2, label + 7)]
    assert top == list(s[s["组别"] == "市级部门"]["单位"][:5])


def test_rules_sheet(book, figures) -> None:  # type: ignore[no-untyped-def]
    ws = book["说明"]
    rows = {ws.cell(r, 1).value: ws.cell(r, 2).value for r in range(4, ws.max_row + 1)}
    assert rows["规则版本"] == f"2026.1（校验码 {figures.scoring.digest()}）"
    assert rows["排名"].endswith(TIE_RULE)
    assert "四舍五入" in rows["数值修约"] and "重新生成" not in rows
    for item, text in figures.scoring.describe():
        assert rows[item] == text


def test_escalation_detail_csv(figures, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = write_escalation_detail(figures, tmp_path / "逾期督办明细.csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    assert rows[0] == ["报送期", "编号", "任务", "责任单位", "级别", "截止日期", "发出日期", "报送日期"]
    assert len(rows) == 1 + len(figures.escalation_detail)
    first = figures.escalation_detail.iloc[0]
    assert rows[1][5] == first["截止日期"].isoformat()
    assert any(r[7] == "" for r in rows[1:])
    assert all(r[2] != EVIL_TITLE for r in rows[1:])
    assert any(r[2] == "'" + EVIL_TITLE for r in rows[1:])
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_failed_write_leaves_nothing(figures, tmp_path) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "card.xlsx"
    target.write_bytes(b"old")
    broken = sample_figures(2017)
    broken.meetings = broken.meetings.drop(columns=["会议次数"])
    with pytest.raises(KeyError):
        write_scorecard(broken, target)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["card.xlsx"]


def soffice_to_pdf(xlsx: Path, folder: Path) -> subprocess.CompletedProcess[bytes]:
    assert SOFFICE is not None
    return subprocess.run(
        [SOFFICE, "--headless", "--norestore", f"-env:UserInstallation={(folder / 'p').as_uri()}",
         "--convert-to", "pdf", "--outdir", str(folder), str(xlsx)],
        capture_output=True, timeout=240, env={**os.environ, "HOME": str(folder)}, check=False)


def test_libreoffice_converts_the_workbook_to_pdf(card, tmp_path) -> None:  # type: ignore[no-untyped-def]
    done = soffice_to_pdf(card, tmp_path)
    assert done.returncode == 0, done.stderr
    pdf = tmp_path / (card.stem + ".pdf")
    assert pdf.read_bytes().startswith(b"%PDF")
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    pages = int(re.search(r"Pages:\s+(\d+)", info.stdout).group(1))  # type: ignore[union-attr]
    assert pages >= len(sheet_names(sample_figures(2017)))


def png_pixels(path: Path) -> tuple[int, int, list[bytes]]:
    """Width, height and unfiltered rows of an 8-bit RGB/RGBA/grey PNG (no PIL needed)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, channels = 8, b"", 0, 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8
            channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, prev = [], bytearray(stride)
    for y in range(height):
        ftype = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 0xFF
            elif ftype == 2:
                line[i] = (line[i] + b) & 0xFF
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, rows


@pytest.fixture(scope="module")
def pictures(card, tmp_path_factory) -> list[Path]:  # type: ignore[no-untyped-def]
    assert SOFFICE is not None and shutil.which("pdftoppm") is not None
    return render_pictures(card, tmp_path_factory.mktemp("png"))


def test_pictures_of_cover_and_charts_are_not_blank(pictures, card) -> None:  # type: ignore[no-untyped-def]
    assert [p.name for p in pictures] == [f"{card.stem}-cover.png", f"{card.stem}-charts.png"]
    for path in pictures:
        width, height, rows = png_pixels(path)
        assert width > 600 and height > 600, path.name
        pixels = {row[i:i + 3] for row in rows[::4] for i in range(0, len(row), 3 * 8)}
        assert len(pixels) > 20, path.name  # text, fills and bars, not one colour
        white = b"\xff\xff\xff"
        inked = sum(1 for row in rows[::4] for i in range(0, len(row), 3 * 8)
                    if row[i:i + 3] != white)
        assert inked > 0.03 * (len(rows) // 4) * (len(rows[0]) // 24), path.name
    assert sorted(p.name for p in pictures[0].parent.iterdir()) == sorted(p.name for p in pictures)


def test_render_refuses_in_chinese_and_leaves_nothing(card, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "png"
    with pytest.raises(RenderError, match="未安装 LibreOffice") as missing:
        render_pictures(card, out, soffice="no-such-soffice")
    assert card.name in missing.value.message
    with pytest.raises(RenderError, match="找不到记分卡文件“none.xlsx”"):
        render_pictures(tmp_path / "none.xlsx", out)
    with pytest.raises(RenderError, match="未安装 pdftoppm"):
        render_pictures(card, out, pdftoppm="no-such-pdftoppm")
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"not a workbook")
    with pytest.raises(RenderError, match="broken.xlsx"):
        render_pictures(broken, out, timeout=120)
    assert not out.exists() or list(out.iterdir()) == []


# ---- five-year summary ----

@pytest.fixture(scope="module")
def by_year():  # type: ignore[no-untyped-def]
    return {y: sample_figures(y, shift=y - 2016) for y in range(2016, 2021)}


@pytest.fixture(scope="module")
def five(by_year, tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    return write_five_year(by_year, tmp_path_factory.mktemp("five") / "五年汇总.xlsx")


def test_five_year_sheets_charts_and_standards(five) -> None:  # type: ignore[no-untyped-def]
    wb = openpyxl.load_workbook(five)
    assert wb.sheetnames == ["封面", "单位趋势", "指标趋势", "图表", "说明", "图表数据"]
    for ws in wb.worksheets:
        assert "2016—2020年度" in ws["A2"].value and "数据截至2021年2月13日" in ws["A2"].value
        assert ws.page_setup.paperSize == 9 and ws.oddFooter.center.text == "第 &P 页 共 &N 页"
    assert wb["封面"]["A1"].value == "《天津市“十三五”加快残疾人小康进程规划纲要》2016—2020年度考核情况汇总"
    assert wb.properties.title == wb["封面"]["A1"].value
    with zipfile.ZipFile(five) as z:
        charts = [n for n in z.namelist() if re.fullmatch(r"xl/charts/chart\d+\.xml", n)]
        xml = [z.read(n).decode() for n in charts]
    assert len(charts) == 2 + 9
    assert all("<c:lineChart>" in x for x in xml)
    trend = wb["单位趋势"]
    col = get_column_letter(header_map(trend, 4)["2016年总分(分)"])
    rules = [r for cf in trend.conditional_formatting if str(cf.sqref) == f"{col}5:{col}56"
             for r in cf.rules]
    assert [r.formula[0] for r in rules][0] == f"AND(ISNUMBER(${col}5),${col}5>=90)"


def test_five_year_values_per_year_exactly(five, by_year) -> None:  # type: ignore[no-untyped-def]
    wb = openpyxl.load_workbook(five)
    ws = wb["单位趋势"]
    head = header_map(ws, 4)
    assert [h for h in head if h.endswith("总分(分)")] == [f"{y}年总分(分)" for y in range(2016, 2021)]
    rows = {ws.cell(r, head["单位"]).value: r for r in range(5, ws.max_row + 1)}
    assert len(rows) == 52
    for year, f in by_year.items():
        for rec in f.summary.to_dict("records"):
            r = rows[rec["单位"]]
            assert ws.cell(r, head[f"{year}年总分(分)"]).value == rec["总分"]
            assert ws.cell(r, head[f"{year}年按时报送率(%)"]).value == rec["按时报送率(%)"]
    ind = wb["指标趋势"]
    ihead = header_map(ind, 4)
    for year, f in by_year.items():
        for n, rec in enumerate(f.indicators.to_dict("records")):
            cell = ind.cell(5 + n, ihead[f"{year}年实际值"]).value
            expected = rec["本年实际值"]
            assert cell == ("不适用" if expected != expected else expected)
            assert ind.cell(5 + n, ihead[f"{year}年应达值"]).value == rec["本年应达值"]
    cover = wb["封面"]
    chead = header_map(cover, 4)
    for n, (year, f) in enumerate(sorted(by_year.items())):
        s = f.summary
        assert cover.cell(5 + n, chead["年度"]).value == year
        assert cover.cell(5 + n, chead["全部单位按时报送率(%)"]).value == half_up(
            s["按时"].sum() / s["应报"].sum() * 100, 1)


def test_five_year_refuses_nothing_and_mixed_plans(by_year, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="没有可汇总的年度考核记分卡"):
        write_five_year({}, tmp_path / "x.xlsx")
    other = sample_figures(2018)
    other.plan_key = "another-plan"
    with pytest.raises(ValueError, match="不属于同一规划纲要"):
        write_five_year({2017: by_year[2017], 2018: other}, tmp_path / "x.xlsx")
    assert list(tmp_path.iterdir()) == []


def test_libreoffice_converts_the_five_year_workbook(five, tmp_path) -> None:  # type: ignore[no-untyped-def]
    done = soffice_to_pdf(five, tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / (five.stem + ".pdf")).read_bytes().startswith(b"%PDF")


def test_a_thin_year_still_writes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """No departments, no escalations, no deductions, no indicator values: the workbook is
    written, says so in words, and keeps the charts that have data."""
    f = sample_figures(2016)
    for name in ("deductions", "escalations_by_agency", "escalations_by_measure",
                 "escalations_by_rung"):
        setattr(f, name, getattr(f, name).iloc[0:0])
    f.summary = f.summary[f.summary["组别"] == "区人民政府"].iloc[:3]
    f.districts = {k: v.iloc[0:0] for k, v in list(f.districts.items())[:2]}
    wb = openpyxl.load_workbook(write_scorecard(f, tmp_path / "thin.xlsx"))
    assert wb.sheetnames[10:12] == ["和平区", "河东区"]
    assert wb["扣分明细"]["A3"].value == "本年度无已送达的督办通知或已签发的通报，无扣分。"
    assert wb["图表"]["A3"].value == "本年度无市级部门参加考核。"
    cover = wb["封面"]
    values = [c.value for row in cover.iter_rows() for c in row]
    assert "本年度无市级部门参加考核" in values and "共3个单位，均列于前五名" in values
    with zipfile.ZipFile(tmp_path / "thin.xlsx") as z:
        assert len([n for n in z.namelist() if n.startswith("xl/charts/chart")]) == 2
