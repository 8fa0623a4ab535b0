"""The 任务分工表 importer over several sheets and Word tables, hidden rows and columns, merged
cells and CSV separators (issue 13, build item 1; attacker findings F2 and F11). Every file
is built here, a few tasks each; every sheet or table not read must be named in the report."""

from __future__ import annotations

import io
from pathlib import Path

import docx
import openpyxl
import pytest
from typer.testing import CliRunner

from tests.catalog.test_table_import import CLI_OPTIONS, _plan, _refusals
from tracker.catalog.table import ReadPart, import_table
from tracker.cli import app

run = CliRunner().invoke


def _docx(tables: list[list[list[str]]], merges: dict[int, list[tuple[int, int, int, int]]]
          | None = None) -> bytes:
    """A Word document with `tables` (rows of cell texts), a paragraph between each two
    (as a page break leaves it); `merges[t]` lists (row, col, to_row, to_col) to merge."""
    document = docx.Document()
    document.add_paragraph("附件：重点任务分工表")
    for t, rows in enumerate(tables):
        if t:
            document.add_paragraph("")
        table = document.add_table(rows=len(rows), cols=max(len(r) for r in rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                if text:
                    table.cell(r, c).text = text
        for r1, c1, r2, c2 in (merges or {}).get(t, []):
            keep = table.cell(r1, c1).text
            merged = table.cell(r1, c1).merge(table.cell(r2, c2))
            merged.text = keep
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


HEAD = ["序号", "重点任务", "牵头单位", "配合单位", "完成时限"]


def test_a_word_table_split_over_pages_is_read_whole():
    """Word splits a long table at a page break: the second part repeats the header, the
    third does not; both continue the first (its 部分 too). A contacts table is not read,
    and the report says so."""
    data = _docx([
        [HEAD, ["一、完善服务体系", "", "", "", ""],
         ["1", "建设服务平台。", "市政务服务办", "", "2018年底前"],
         ["2", "优化办事流程。", "市政务服务办", "市大数据局", "2018年第四季度"]],
        [HEAD, ["3", "推行一网通办。", "市大数据局", "", "长期坚持"],
         ["二、加强保障", "", "", "", ""],
         ["4", "落实经费。", "市财政局", "", "每年年底前"]],
        [["5", "加强督查。", "市政府督查室", "", ""],
         ["6", "开展评估。", "市发展改革委", "市统计局", "2020年底前"]],
        [["联系人", "电话"], ["张三", "12345678"]],
    ], merges={0: [(1, 0, 1, 4)], 1: [(2, 0, 2, 4)]})
    result = import_table(data, "方案.docx", _plan())
    c = result.catalog
    assert [(m.code, m.section, m.title, m.lead, m.co) for m in c.measures] == [
        ("1", "完善服务体系", "建设服务平台", "市政务服务办", []),
        ("2", "完善服务体系", "优化办事流程", "市政务服务办", ["市大数据局"]),
        ("3", "完善服务体系", "推行一网通办", "市大数据局", []),
        ("4", "加强保障", "落实经费", "市财政局", []),
        ("5", "加强保障", "加强督查", "市政府督查室", []),
        ("6", "加强保障", "开展评估", "市发展改革委", ["市统计局"])]
    assert result.parts == [ReadPart("第1个表格", 1, 2), ReadPart("第2个表格", 1, 2),
                            ReadPart("第3个表格", 0, 2)]
    assert result.notes == ["第4个表格未读取：没有表头，且列数（2列）与上一个表格（5列）不同，不能视为其续表"]


def test_a_headerless_word_table_after_other_text_is_named_not_read():
    data = _docx([[["联系人", "电话"], ["张三", "12345678"]],
                  [HEAD, ["1", "建设服务平台。", "市政务服务办", "", ""]]])
    result = import_table(data, "方案.docx", _plan())
    assert [m.code for m in result.catalog.measures] == ["1"]
    assert result.notes == ["第1个表格未读取：前 20 行中没有表头（须有“牵头单位”或“责任单位”列和任务列）；"
                            "首行为“联系人 | 电话”"]


def test_a_word_header_in_a_table_of_its_own_heads_the_next_table(tmp_path, monkeypatch):
    data = _docx([[HEAD], [["1", "建设服务平台。", "市政务服务办", "", ""],
                           ["2", "优化办事流程。", "市大数据局", "", ""]]])
    result = import_table(data, "方案.docx", _plan())
    assert [(m.code, m.lead) for m in result.catalog.measures] == [("1", "市政务服务办"),
                                                                  ("2", "市大数据局")]
    assert (result.parts, result.notes) == ([ReadPart("第2个表格", 0, 2)], [])
    monkeypatch.chdir(tmp_path)
    Path("方案.docx").write_bytes(data)
    r = run(app, ["catalog", "import", "方案.docx", *CLI_OPTIONS, "-o", "out.json"])
    assert r.output.splitlines() == [
        "方案.docx（第2个表格，表头在上一个表格）：2 项任务，5 个单位，0 处待督查室确定", "已写入 out.json"]


def _book(sheets: dict[str, list[list[object]]], hidden: tuple[str, ...] = ()) -> bytes:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
        if name in hidden:
            sheet.sheet_state = "hidden"
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


SHEETS: dict[str, list[list[object]]] = {
    "封面": [["某市加快发展某事业重点任务分工表"], ["某市人民政府办公厅"]],
    "附件1": [["附件1 重点任务分工表（一）"], HEAD,
              ["1.1", "健全救助制度。", "市民政局", "市财政局", "2018年底前"],
              ["1.2", "发展特殊教育。", "市教委", None, "每年年底前"]],
    "促进就业增收": [HEAD, ["2.1", "加强就业服务。", "市人力资源和社会保障局", None, "长期坚持"]],
    "Sheet3": [],
    "单位列表": [["市民政局"], ["市财政局"]],
}


def test_tasks_on_several_sheets_make_one_plan_and_every_other_sheet_is_named():
    data = _book(SHEETS, hidden=("单位列表",))
    result = import_table(data, "分工表.xlsx", _plan())
    c = result.catalog
    # a sheet named by its part gives its tasks that part; 附件1 names none
    assert [(m.code, m.section, m.title, m.lead) for m in c.measures] == [
        ("1.1", "", "健全救助制度", "市民政局"),
        ("1.2", "", "发展特殊教育", "市教委"),
        ("2.1", "促进就业增收", "加强就业服务", "市人力资源和社会保障局")]
    assert result.parts == [ReadPart("工作表“附件1”", 2, 2), ReadPart("工作表“促进就业增收”", 1, 1)]
    assert result.notes == [
        "工作表“封面”未读取：前 20 行中没有表头（须有“牵头单位”或“责任单位”列和任务列）；"
        "首行为“某市加快发展某事业重点任务分工表”",
        "工作表“Sheet3”为空，未读取",
        "工作表“单位列表”（隐藏工作表）未读取：前 20 行中没有表头（须有“牵头单位”或“责任单位”列和任务列）；"
        "首行为“市民政局”"]


def test_codes_repeated_across_sheets_are_refused_naming_both():
    sheets = {"附件1": [HEAD, ["1", "任务一。", "市民政局", None, None]],
              "附件2": [HEAD, ["1", "任务二。", "市财政局", None, None]]}
    assert _refusals(_book(sheets), "t.xlsx") == [
        "工作表“附件2”第2行 A列（序号）：编号“1”与工作表“附件1”第2行重复；编号须在全部工作表（或表格）中唯一"
        "（各工作表分别编号时，请写成 1.1、2.1 等）"]


def test_a_sheet_as_wide_as_the_one_before_but_without_its_header_is_named_with_the_fix():
    sheets = {"附件1": [HEAD, ["1", "任务一。", "市民政局", None, "2018年底前"]],
              "附件1（续）": [["2", "任务二。", "市财政局", None, "2019年底前"]]}
    result = import_table(_book(sheets), "t.xlsx", _plan())
    assert [m.code for m in result.catalog.measures] == ["1"]
    assert result.notes == ["工作表“附件1（续）”未读取：前 20 行中没有表头；如为工作表“附件1”的续表，"
                            "请在首行加上相同的表头后再导入"]


def test_a_sheet_with_a_header_but_no_task_is_reported_beside_the_sheets_read():
    sheets = {"附件1": [HEAD, ["1", "任务一。", "市民政局", None, None]], "附件2": [HEAD]}
    result = import_table(_book(sheets), "t.xlsx", _plan())
    assert [m.code for m in result.catalog.measures] == ["1"]
    assert result.notes == ["工作表“附件2”未读取：表头（第1行）下没有任务行"]


def test_cli_lists_every_sheet_read_and_not_read(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("分工表.xlsx").write_bytes(_book(SHEETS, hidden=("单位列表",)))
    r = run(app, ["catalog", "import", "分工表.xlsx", *CLI_OPTIONS, "-o", "out.json"])
    assert r.exit_code == 0, r.output
    assert r.output.splitlines() == [
        "分工表.xlsx：3 项任务，7 个单位，0 处待督查室确定；读取了 2 个工作表或表格：",
        "  工作表“附件1”（表头在第2行）：2 项任务",
        "  工作表“促进就业增收”（表头在第1行）：1 项任务",
        "工作表“封面”未读取：前 20 行中没有表头（须有“牵头单位”或“责任单位”列和任务列）；"
        "首行为“某市加快发展某事业重点任务分工表”",
        "工作表“Sheet3”为空，未读取",
        "工作表“单位列表”（隐藏工作表）未读取：前 20 行中没有表头（须有“牵头单位”或“责任单位”列和任务列）；"
        "首行为“市民政局”",
        "已写入 out.json"]


# --------------------------------------------------------------- hidden rows, merged cells


def test_hidden_rows_and_columns_are_read_and_listed():
    """An office hides finished tasks (rows) and a column it does not print: both are
    tracked, and the report lists them; a hidden sheet with the header is read too."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "任务分工表"
    for row in [HEAD, ["1", "任务一。", "市民政局", "市财政局", None],
                ["2", "任务二（已完成）。", "市教委", None, "2018年6月底前"],
                ["3", "任务三（已完成）。", "市教委", None, None],
                ["4", "任务四。", "市科技局", "市统计局", None]]:
        sheet.append(row)
    sheet.row_dimensions[3].hidden = True
    sheet.row_dimensions[4].hidden = True
    sheet.column_dimensions["D"].hidden = True
    other = book.create_sheet("续表")
    other.append(HEAD)
    other.append(["5", "任务五。", "市民政局", None, None])
    other.sheet_state = "hidden"
    buf = io.BytesIO()
    book.save(buf)
    result = import_table(buf.getvalue(), "t.xlsx", _plan())
    assert [(m.code, m.lead, m.co) for m in result.catalog.measures] == [
        ("1", "市民政局", ["市财政局"]), ("2", "市教委", []), ("3", "市教委", []),
        ("4", "市科技局", ["市统计局"]), ("5", "市民政局", [])]
    assert result.notes == [
        "工作表“任务分工表”的隐藏行已读取（如为已完成的任务，仍列入跟踪）：第3—4行",
        "工作表“任务分工表”的隐藏列已读取：D列（配合单位）",
        "工作表“续表”为隐藏工作表，已读取"]


def test_a_lead_merged_down_fills_each_row_in_excel_and_word():
    rows: list[list[object]] = [HEAD, ["1", "任务一。", "市民政局", None, None],
                                ["2", "任务二。", None, "市财政局", None],
                                ["3", "任务三。", None, None, "2019年底前"],
                                [None, None, None, None, None]]
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    sheet.merge_cells("C2:C5")  # merged one row past the last task: that row is blank
    buf = io.BytesIO()
    book.save(buf)
    expected = [("1", "市民政局", []), ("2", "市民政局", ["市财政局"]), ("3", "市民政局", [])]
    c = import_table(buf.getvalue(), "t.xlsx", _plan()).catalog
    assert [(m.code, m.lead, m.co) for m in c.measures] == expected
    word = _docx([[[str(v) if v else "" for v in row] for row in rows]],
                 merges={0: [(1, 2, 4, 2)]})
    c = import_table(word, "t.docx", _plan()).catalog
    assert [(m.code, m.lead, m.co) for m in c.measures] == expected


# --------------------------------------------------------------- CSV separators


def test_a_csv_saved_with_semicolons_is_read_and_the_report_says_so():
    text = ("序号;重点任务;牵头单位;配合单位\r\n"
            "1;建立工作机制，定期调度。;市发展改革委;\"市财政局、市统计局\"\r\n"
            "2;加强宣传。;市委宣传部;\r\n")
    result = import_table(text.encode("utf-8-sig"), "分工表.csv", _plan())
    assert [(m.code, m.title, m.text, m.lead, m.co) for m in result.catalog.measures] == [
        ("1", "建立工作机制，定期调度", "", "市发展改革委", ["市财政局", "市统计局"]),
        ("2", "加强宣传", "", "市委宣传部", [])]
    assert result.notes == ["CSV 文件以分号“;”分隔（欧洲语言版 Excel 的保存方式），已按分号分列读取；"
                            "如分列有误，请另存为“CSV UTF-8（逗号分隔）”后再导入"]


def test_a_semicolon_csv_without_a_known_header_is_refused_naming_the_separator():
    text = "No;Task;Lead\r\n1;Plan;Office\r\n"
    assert _refusals(text.encode(), "t.csv") == [
        "在表格的前 20 行中找不到表头：表头须有“牵头单位”（或“责任单位”）和“任务名称”或“任务内容”"
        "（或“重点任务”）列",
        "CSV 文件的第一行含分号“;”：如文件以分号分隔，请另存为“CSV UTF-8（逗号分隔）”后再导入"]


@pytest.mark.parametrize("text", [
    "序号,重点任务,牵头单位,配合单位\r\n1,任务一；分两步。,市民政局,\"市财政局；市教委\"\r\n",
    "序号\t重点任务\t牵头单位\t配合单位\r\n1\t任务一；分两步。\t市民政局\t市财政局；市教委\r\n",
])
def test_semicolons_inside_cells_of_a_comma_or_tab_csv_stay_text(text):
    c = import_table(text.encode("gb18030"), "t.csv", _plan()).catalog
    assert [(m.code, m.title, m.text, m.lead, m.co) for m in c.measures] == [
        ("1", "任务一", "分两步。", "市民政局", ["市财政局", "市教委"])]
