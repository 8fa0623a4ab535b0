"""The 任务分工表 importer (issue 13, build item 1): .xlsx / .csv / .docx tables written for
the tests, the office's shapes (title row, merged 部分 and 牵头单位, heading rows, two-row
headers, synonyms), every refusal at once, and the template's round trip."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import docx
import openpyxl
import pytest
from docx.shared import Pt
from typer.testing import CliRunner

from tracker.catalog.kinds import guess_agency_kind
from tracker.catalog.options import PlanOptionsError, plan_info
from tracker.catalog.schema import Catalog, Deadline, Flag, PlanInfo, validate_catalog_text
from tracker.catalog.table import TableImportError, import_table
from tracker.catalog.table_template import EXAMPLE, template_csv, template_xlsx
from tracker.cli import app
from tracker.enums import AgencyKind

DISTRICTS = ["甲区人民政府", "乙区人民政府", "丙县人民政府"]
PLAN_OPTIONS = dict(plan_id="test-plan-2018", title="某市加快发展某事业实施方案",
                    issuer="某市人民政府办公厅", doc_number="某政办发〔2018〕12号",
                    issued="2018-03-05", period="2018-2020", government="某市人民政府",
                    districts="甲区人民政府、乙区人民政府、丙县人民政府")
CLI_OPTIONS = ["--plan-id", "test-plan-2018", "--title", "某市加快发展某事业实施方案",
               "--issuer", "某市人民政府办公厅", "--doc-number", "某政办发〔2018〕12号",
               "--issued", "2018-03-05", "--period", "2018-2020", "--government", "某市人民政府",
               "--districts", "甲区人民政府,乙区人民政府,丙县人民政府"]
run = CliRunner().invoke
SOME = "未指明具体区县，请督查室选定承担的区县"
GENERIC = "泛指有关单位，请督查室确定具体单位"


def _indicator(code: str) -> Flag:
    return Flag(field="indicators", phrase=code,
                reason=f"关联指标“{code}”需在本规划的指标中登记后方可关联，请督查室补录指标")


def _plan(**changes: str | None) -> PlanInfo:
    return plan_info(**{**PLAN_OPTIONS, **changes})  # type: ignore[arg-type]


def _xlsx(rows: list[list[object]], merges: tuple[str, ...] = (), title: str = "Sheet1",
          extra_sheets: tuple[str, ...] = ()) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = title
    for extra in extra_sheets:
        book.create_sheet(extra, 0)
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row, start=1):
            if value is not None:
                sheet.cell(r, c, value)
    for rng in merges:
        sheet.merge_cells(rng)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def _m(catalog: Catalog, code: str):  # type: ignore[no-untyped-def]
    return next(m for m in catalog.measures if m.code == code)


def _refusals(data: bytes, name: str, plan: PlanInfo | None = None) -> list[str]:
    with pytest.raises(TableImportError) as caught:
        import_table(data, name, plan if plan is not None else _plan())
    return [str(p) for p in caught.value.problems]


# --------------------------------------------------------------- .xlsx as offices make it


OFFICE_ROWS: list[list[object]] = [
    ["某市加快发展某事业重点任务分工表", None, None, None, None, None, None],
    ["序号", "部分", "重点任务", "牵头单位", "配合单位", "完成时限", "责任领导"],
    [1, "一、加强基本公共服务", "健全社会救助制度。完善最低生活保障制度，保障率达到95%。", "市民政局",
     "市财政局、市人力社保局等有关部门，各区人民政府", "2018年6月底前", "张副市长"],
    [2, None, "发展特殊教育。", None, "市教委\n市卫生健康委", "每年年底前", None],
    [3, "二、促进就业增收", "加强就业服务", "市人力资源和社会保障局",
     "有关部门、有关区人民政府", "长期坚持", None],
    ["4", None, "开展职业培训。每年培训200人。", "市人力资源和社会保障局、市总工会", "团市委",
     dt.datetime(2019, 9, 30), "李副市长"],
]


def test_xlsx_office_table_with_merged_part_and_lead():
    data = _xlsx(OFFICE_ROWS, merges=("A1:G1", "B3:B4", "D3:D4", "B5:B6"))
    result = import_table(data, "分工表.xlsx", _plan())
    c = result.catalog
    assert (result.place, result.header_row, result.rows) == ("工作表“Sheet1”", 2, 4)
    assert [m.code for m in c.measures] == ["1", "2", "3", "4"]
    assert [m.section for m in c.measures] == ["加强基本公共服务", "加强基本公共服务",
                                               "促进就业增收", "促进就业增收"]
    one, two, three, four = c.measures
    # 重点任务 with no 任务内容 column: the first sentence is the title
    assert (one.title, one.text) == ("健全社会救助制度", "完善最低生活保障制度，保障率达到95%。")
    assert (one.lead, one.co) == ("市民政局", ["市财政局", "市人力社保局"])
    assert (one.districts, one.district_names) == (True, [])
    assert one.deadline == Deadline(text="2018年6月底前", kind="date", due=dt.date(2018, 6, 30))
    assert one.leader == "张副市长"
    assert one.flags == [Flag(field="co", phrase="等有关部门",
                              reason="“市人力社保局”后的“等有关部门”泛指其他单位，请督查室确定是否增列")]
    assert [(t.kind, t.value, t.unit) for t in one.targets] == [("percent", 95.0, "%")]
    # the merged 牵头单位 applies to row 4; names on their own lines are two names
    assert (two.title, two.text, two.lead, two.co) == ("发展特殊教育", "", "市民政局",
                                                       ["市教委", "市卫生健康委"])
    assert two.deadline == Deadline(text="每年年底前", kind="yearly", month=12, day=31)
    assert (two.districts, two.leader, two.flags) == (False, None, [])
    assert (three.title, three.lead, three.co) == ("加强就业服务", "市人力资源和社会保障局", [])
    assert (three.districts, three.district_names) == (False, [])
    assert three.deadline == Deadline(text="长期坚持", kind="ongoing")
    assert three.flags == [
        Flag(field="co", phrase="有关部门", reason=GENERIC),
        Flag(field="districts", phrase="有关区人民政府", reason=SOME)]
    # two names in the 牵头单位 column: the first leads, the office is told
    assert (four.lead, four.co) == ("市人力资源和社会保障局", ["市总工会", "团市委"])
    assert four.deadline == Deadline(text="2019年9月30日", kind="date", due=dt.date(2019, 9, 30))
    assert four.flags == [Flag(field="lead", phrase="市人力资源和社会保障局、市总工会",
                               reason="牵头单位写有多个单位，以第一个“市人力资源和社会保障局”为牵头单位，"
                                      "其余列为配合单位；如有不同请修改")]
    assert [(a.name, a.kind) for a in c.agencies] == [
        ("市民政局", AgencyKind.CITY_AGENCY), ("市财政局", AgencyKind.CITY_AGENCY),
        ("市人力社保局", AgencyKind.CITY_AGENCY), ("市教委", AgencyKind.CITY_AGENCY),
        ("市卫生健康委", AgencyKind.CITY_AGENCY), ("市人力资源和社会保障局", AgencyKind.CITY_AGENCY),
        ("市总工会", AgencyKind.MASS_ORGANISATION), ("团市委", AgencyKind.MASS_ORGANISATION),
        ("甲区人民政府", AgencyKind.DISTRICT_GOVERNMENT), ("乙区人民政府", AgencyKind.DISTRICT_GOVERNMENT),
        ("丙县人民政府", AgencyKind.DISTRICT_GOVERNMENT)]
    assert c.schema_version == 2 and c.plan == _plan()
    # the catalog is valid as a file too
    assert validate_catalog_text(c.model_dump_json()) == c


def test_xlsx_two_row_header_heading_rows_and_named_districts():
    rows: list[list[object]] = [
        ["编号", "任务名称", "任务内容", "责任单位", None, "涉及区县", "时间节点", "关联指标"],
        [None, None, None, "牵头部门", "配合部门", None, None, None],
        ["一、推进农业机械化", None, None, None, None, None, None, None],
        ["1.1", "提升装备水平", "推广先进适用农机。", "市农业农村委", "市工业和信息化局",
         "甲区、丙县", "2020年底前", "I1、I3"],
        ["1.2", "建设作业服务", "培育服务组织。", "市农业农村委", None, "有关", "2019年第三季度", None],
        ["二、强化保障", None, None, None, None, None, None, None],
        ["2.1", "加大投入", "落实补贴政策。", "市财政局", "各区县人民政府", "无", "每年6月底前", None],
        ["2.2", "全面推开", "覆盖全部区县。", "市农业农村委", None, "甲区、乙区、丙县", None, None],
    ]
    data = _xlsx(rows, merges=("D1:E1", "A3:H3", "A6:H6"), title="任务分工表",
                 extra_sheets=("封面",))
    result = import_table(data, "t.xlsx", _plan())
    c = result.catalog
    assert (result.place, result.header_row) == ("工作表“任务分工表”", 2)
    assert [(m.code, m.section, m.title, m.text) for m in c.measures] == [
        ("1.1", "推进农业机械化", "提升装备水平", "推广先进适用农机。"),
        ("1.2", "推进农业机械化", "建设作业服务", "培育服务组织。"),
        ("2.1", "强化保障", "加大投入", "落实补贴政策。"),
        ("2.2", "强化保障", "全面推开", "覆盖全部区县。")]
    a, b, d, e = c.measures
    assert (a.lead, a.co, a.districts, a.district_names) == (
        "市农业农村委", ["市工业和信息化局"], False, ["甲区人民政府", "丙县人民政府"])
    assert a.flags == [_indicator("I1"), _indicator("I3")]
    assert (b.districts, b.district_names, b.co) == (False, [], [])
    assert b.flags == [Flag(field="districts", phrase="有关", reason=SOME)]
    assert b.deadline == Deadline(text="2019年第三季度", kind="date", due=dt.date(2019, 9, 30))
    # 各区县人民政府 among the co-responsible: every district, whatever the 区县 column says
    assert (d.co, d.districts, d.district_names) == ([], True, [])
    assert d.deadline == Deadline(text="每年6月底前", kind="yearly", month=6, day=30)
    # every district named: all of them
    assert (e.districts, e.district_names, e.deadline) == (True, [], None)


def test_xlsx_responsible_column_first_named_leads_and_labelled_cells():
    rows: list[list[object]] = [
        ["序号", "主要任务", "责任单位", "完成时间"],
        ["（一）", "完善政策。", "市发展改革委、市财政局", "2018年底前"],
        ["（二）", "加强督导。", "牵头单位：市政府督查室；配合单位：市委宣传部、市检察院", "2018年12月31日"],
        ["（三）", "分阶段推进。", "市统计局", "2018年底前启动，2020年底前完成"],
    ]
    c = import_table(_xlsx(rows), "t.xlsx", _plan()).catalog
    one, two, three = c.measures
    assert [m.code for m in c.measures] == ["（一）", "（二）", "（三）"]
    assert (one.lead, one.co, one.flags) == ("市发展改革委", ["市财政局"], [])
    assert (two.lead, two.co, two.flags) == ("市政府督查室", ["市委宣传部", "市检察院"], [])
    assert (three.deadline, three.flags) == (None, [Flag(
        field="deadline", phrase="2018年底前启动，2020年底前完成",
        reason="完成时限分阶段或有多处表述，系统未读成单一时限，请督查室确定跟踪的时限")])
    assert [(a.name, a.kind) for a in c.agencies[:6]] == [
        ("市发展改革委", AgencyKind.CITY_AGENCY), ("市财政局", AgencyKind.CITY_AGENCY),
        ("市政府督查室", AgencyKind.CITY_AGENCY), ("市委宣传部", AgencyKind.PARTY_ORGAN),
        ("市检察院", AgencyKind.JUDICIAL), ("市统计局", AgencyKind.CITY_AGENCY)]


def test_xlsx_refusals_all_at_once():
    rows: list[list[object]] = [
        ["序号", "部分", "任务名称", "任务内容", "牵头单位", "配合单位", "区县", "完成时限", "分管领导"],
        [1, "甲", "任务一", "内容。", "市民政局", None, "丁区", "2018年13月底前", None],
        [1, "甲", "任务二", "内容。", None, None, None, None, None],
        [None, "甲", "任务三", "内容。", "有关部门", None, "全部", "明年", None],
        [4, "甲", None, None, "=A2", "各区人民政府", None, "2018年底前", None],
        ["第5项#", "甲", "任务五", "内容。",
         "这是一段写错了列的任务内容而不是单位名称因为它非常长超过了四十个字的限度所以会被拒绝",
         None, None, None, None],
    ]
    assert _refusals(_xlsx(rows, title="任务分工表"), "t.xlsx") == [
        "工作表“任务分工表”第5行 E列（牵头单位）：为公式；请复制后“选择性粘贴”为数值或文字，再导入",
        "工作表“任务分工表”第2行 G列（区县）：区县“丁区”不在本规划的区县名单（--districts）中；"
        "可写 全部、有关、无，或名单中的区县",
        "工作表“任务分工表”第3行 A列（序号）：编号“1”与第2行重复；编号须全表唯一"
        "（各部分分别编号时，请写成 1.1、2.1 等）",
        "工作表“任务分工表”第3行 E列（牵头单位）：牵头单位为空",
        "工作表“任务分工表”第4行 A列（序号）：编号为空",
        "工作表“任务分工表”第5行 C列（任务名称）：任务名称和任务内容均为空",
        "工作表“任务分工表”第6行 A列（序号）：编号“第5项#”无效：只能由数字、字母、汉字、点、"
        "短横线和括号组成，不超过20个字",
        "工作表“任务分工表”第6行 E列（牵头单位）：“这是一段写错了列的任务内容而不是单位名称…”不像单位名称"
        "（超过40个字）；请检查是否填错了列",
    ]


def test_xlsx_merged_code_and_missing_districts_refused():
    rows: list[list[object]] = [
        ["序号", "重点任务", "牵头单位", "配合单位"],
        [1, "任务一。", "市民政局", "各区人民政府"],
        [None, "任务二。", "市财政局", None],
    ]
    plan = _plan(districts=None)
    assert _refusals(_xlsx(rows, merges=("A2:A3",)), "t.xlsx", plan) == [
        "工作表“Sheet1”第2行 D列（配合单位）：牵头或配合单位中的区县表述要求各区县承担，"
        "但未用 --districts 给出本规划的区县名单",
        "工作表“Sheet1”第3行 A列（序号）：编号“1”为跨行合并的单元格（自第2行起）；每行任务须有自己的编号，"
        "请取消合并后分别填写",
    ]


@pytest.mark.parametrize(("data", "name", "message"), [
    (b"%PDF-1.4 ...", "plan.pdf", "不支持的文件类型“.pdf”；请使用 Excel（.xlsx）、CSV（.csv）或 Word（.docx）"
                                  "格式的任务分工表（可用 tracker catalog template 生成模板）"),
    (b"", "t.xlsx", "文件为空"),
    (b"PK\x03\x04 not really a zip", "t.xlsx",
     "不是有效的 Excel（.xlsx）文件，或文件已损坏；请检查文件，或使用 tracker catalog template 生成的模板"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100 + "EncryptionInfo".encode("utf-16-le")
     + b"\x00" * 100, "t.xlsx",
     "文件设有打开密码，系统无法读取；请在 Excel/WPS/Word 中取消密码后另存，再导入"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 200, "t.doc",
     "这是旧版 Word（.doc）或 WPS 文字（.wps）格式的文件，本系统无法直接读取；"
     "请在 Word/WPS 中另存为 .docx（Word 文档）后再导入"),
    (b"\xff\xfe\x00\xd8", "t.csv",
     "无法识别 CSV 文件的编码；请在 Excel/WPS 中另存为“CSV UTF-8（逗号分隔）”后再导入"),
    (b"not a word file", "t.docx",
     "不是有效的 Word（.docx）文件，或文件已损坏；请在 Word/WPS 中打开后另存为 .docx 再导入"),
])
def test_file_refusals(data, name, message):
    assert _refusals(data, name) == [message]


def test_corrupt_xlsx_inside_a_valid_zip_and_empty_and_headerless_sheets():
    buf = io.BytesIO()
    import zipfile

    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook><broken")
    assert _refusals(buf.getvalue(), "t.xlsx") == [
        "不是有效的 Excel（.xlsx）文件，或文件已损坏；请在 Excel/WPS 中打开后另存为 .xlsx 再导入"]
    assert _refusals(_xlsx([]), "t.xlsx") == ["文件中没有表格内容（工作表为空）"]
    assert _refusals(_xlsx([["姓名", "电话"], ["张三", "123"]]), "t.xlsx") == [
        "在工作表“Sheet1”的前 20 行中找不到表头：表头须有“牵头单位”（或“责任单位”）和“任务名称”或“任务内容”"
        "（或“重点任务”）列"]
    assert _refusals(_xlsx([["序号", "重点任务", "牵头单位"]]), "t.xlsx") == [
        "工作表“Sheet1”：表头（第1行）下没有任务行"]


def test_password_protected_workbook():
    """A real encrypted .xlsx (Excel's 用密码进行加密, made by msoffcrypto-tool) is refused."""
    from msoffcrypto.format.ooxml import OOXMLFile

    plain = io.BytesIO(_xlsx([["序号", "重点任务", "牵头单位"], [1, "任务。", "市民政局"]]))
    encrypted = io.BytesIO()
    OOXMLFile(plain).encrypt("secret", encrypted)
    data = encrypted.getvalue()
    assert data.startswith(b"\xd0\xcf\x11\xe0")  # encrypted OOXML lives in a compound file
    assert _refusals(data, "plain.xlsx") == [
        "文件设有打开密码，系统无法读取；请在 Excel/WPS/Word 中取消密码后另存，再导入"]


# --------------------------------------------------------------- .csv in three encodings


CSV_TEXT = ("编号,任务名称,任务内容,牵头部门,协办单位,区县,完成时间,分管领导\r\n"
            "1,统筹推进,\"建立工作机制，定期调度。\",市发展改革委,\"市财政局，各有关部门和单位\",全部,长期坚持,王副市长\r\n"
            "2,试点示范,\"选择=HYPERLINK(\"\"x\"\")开展试点\",市科技局,,乙区,2018-09-30,\r\n"
            "3,宣传引导,加强宣传。,市委宣传部,\"市文明办、有关区\",无,2018.12.31,\r\n")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "gbk"])
def test_csv_in_each_encoding(encoding):
    c = import_table(CSV_TEXT.encode(encoding), "分工表.csv", _plan()).catalog
    assert [(m.code, m.section, m.title, m.lead, m.co) for m in c.measures] == [
        ("1", "", "统筹推进", "市发展改革委", ["市财政局"]),
        ("2", "", "试点示范", "市科技局", []),
        ("3", "", "宣传引导", "市委宣传部", ["市文明办"])]
    one, two, three = c.measures
    assert (one.districts, one.district_names, one.leader) == (True, [], "王副市长")
    assert one.flags == [Flag(field="co", phrase="各有关部门和单位", reason=GENERIC)]
    assert one.deadline == Deadline(text="长期坚持", kind="ongoing")
    # text typed as a formula stays text
    assert two.text == '选择=HYPERLINK("x")开展试点'
    assert (two.districts, two.district_names) == (False, ["乙区人民政府"])
    assert two.deadline == Deadline(text="2018-09-30", kind="date", due=dt.date(2018, 9, 30))
    assert (three.districts, three.district_names) == (False, [])
    assert three.flags == [Flag(field="districts", phrase="有关区", reason=SOME)]
    assert three.deadline == Deadline(text="2018.12.31", kind="date", due=dt.date(2018, 12, 31))
    assert [(a.name, a.kind) for a in c.agencies[:5]] == [
        ("市发展改革委", AgencyKind.CITY_AGENCY), ("市财政局", AgencyKind.CITY_AGENCY),
        ("市科技局", AgencyKind.CITY_AGENCY), ("市委宣传部", AgencyKind.PARTY_ORGAN),
        ("市文明办", AgencyKind.PARTY_ORGAN)]


def test_csv_refusals_name_record_and_column():
    text = ("序号,重点任务,牵头单位,完成时限\n"
            "1,任务一。,市民政局,下个月\n"
            "2,,,\n"
            "2,任务三。,\"有关单位\",\n")
    assert _refusals(text.encode("gb18030"), "t.csv") == [
        "第3行 B列（重点任务）：任务名称和任务内容均为空",
        "第3行 C列（牵头单位）：牵头单位为空",
        "第4行 A列（序号）：编号“2”与第3行重复；编号须全表唯一（各部分分别编号时，请写成 1.1、2.1 等）",
    ]


def test_csv_utf16_tab_separated_as_excel_saves_unicode_text():
    text = "序号\t重点任务\t牵头单位\r\n1\t任务一。\t市民政局\r\n"
    c = import_table(text.encode("utf-16"), "t.txt", _plan()).catalog
    assert [(m.code, m.title, m.lead) for m in c.measures] == [("1", "任务一", "市民政局")]


# --------------------------------------------------------------- .docx


def _docx_with_table() -> bytes:
    document = docx.Document()
    document.add_paragraph("附件：重点任务分工表")
    contacts = document.add_table(rows=2, cols=2)
    contacts.cell(0, 0).text, contacts.cell(0, 1).text = "联系人", "电话"
    contacts.cell(1, 0).text, contacts.cell(1, 1).text = "张三", "12345678"
    table = document.add_table(rows=6, cols=5)
    for col, head in enumerate(["序号", "重点任务", "牵头单位", "配合单位", "完成时限"]):
        table.cell(0, col).text = head
    heading = table.cell(1, 0).merge(table.cell(1, 4))
    heading.text = "一、完善服务体系"
    values = [["1", "建设服务平台。年内建成3个。", "市政务服务办", "市大数据局等", "2018年底前"],
              ["2", "优化办事流程。", "", "各县（市、区）人民政府", "2018年第四季度"]]
    for r, row in enumerate(values, start=2):
        for col, value in enumerate(row):
            if value:
                table.cell(r, col).text = value
    table.cell(2, 2).merge(table.cell(3, 2))  # the lead spans both tasks
    heading2 = table.cell(4, 0).merge(table.cell(4, 4))
    heading2.text = "（二）加强保障"
    for col, value in enumerate(["3", "落实经费。", "市财政局", "", "每年年底前"]):
        table.cell(5, col).text = value
    for p in document.paragraphs:
        for run in p.runs:
            run.font.size = Pt(12)
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def test_docx_first_matching_table_with_merged_cells():
    result = import_table(_docx_with_table(), "方案.docx", _plan())
    c = result.catalog
    assert (result.place, result.header_row) == ("第2个表格", 1)
    assert [(m.code, m.section, m.title, m.text, m.lead, m.co) for m in c.measures] == [
        ("1", "完善服务体系", "建设服务平台", "年内建成3个。", "市政务服务办", ["市大数据局"]),
        ("2", "完善服务体系", "优化办事流程", "", "市政务服务办", []),
        ("3", "加强保障", "落实经费", "", "市财政局", [])]
    one, two, three = c.measures
    assert one.flags == [Flag(field="co", phrase="等",
                              reason="“市大数据局”后的“等”泛指其他单位，请督查室确定是否增列")]
    assert [(t.kind, t.value, t.unit) for t in one.targets] == [("count", 3.0, "个")]
    assert (two.districts, three.districts) == (True, False)
    assert two.deadline == Deadline(text="2018年第四季度", kind="date", due=dt.date(2018, 12, 31))
    assert three.deadline == Deadline(text="每年年底前", kind="yearly", month=12, day=31)


def test_docx_refusal_names_table_row_and_column():
    document = docx.Document()
    table = document.add_table(rows=3, cols=3)
    for col, head in enumerate(["编号", "任务内容", "责任单位"]):
        table.cell(0, col).text = head
    table.cell(1, 0).text, table.cell(1, 1).text = "1", "任务一。"
    table.cell(2, 0).text, table.cell(2, 1).text, table.cell(2, 2).text = "2", "任务二。", "各区人民政府"
    buf = io.BytesIO()
    document.save(buf)
    assert _refusals(buf.getvalue(), "t.docx") == ["第1个表格第2行 第3列（责任单位）：牵头单位为空"]


# --------------------------------------------------------------- the template


def test_template_round_trip_xlsx(tmp_path):
    book = openpyxl.load_workbook(io.BytesIO(template_xlsx()))
    assert book.sheetnames == ["填表说明", "任务分工表"]
    sheet = book["任务分工表"]
    assert [c.value for c in sheet[1]] == ["编号", "部分", "任务名称", "任务内容", "牵头单位", "配合单位",
                                           "区县", "完成时限", "分管领导", "关联指标"]
    assert [c.value or "" for c in sheet[2]] == list(EXAMPLE.values())
    assert [dv.sqref for dv in sheet.data_validations.dataValidation][:1] == ["A2:A2001"]
    assert sheet.column_dimensions["D"].width > sheet.column_dimensions["A"].width
    sheet.append(["2", "加强基本公共服务", "完善医疗保障", "提高报销比例。", "市医保局", "市财政局",
                  "甲区、乙区", "2019年6月底前", "分管副市长", "I2"])
    buf = io.BytesIO()
    book.save(buf)
    result = import_table(buf.getvalue(), "filled.xlsx", _plan())
    # the example row (编号 示例) is skipped, and the report says so
    assert result.notes == ["工作表“任务分工表”第2行为模板的示例行，未作为任务读取",
                            "工作表“填表说明”未读取：为填表说明"]
    (two,) = result.catalog.measures
    assert (two.code, two.section, two.lead, two.co, two.district_names) == (
        "2", "加强基本公共服务", "市医保局", ["市财政局"], ["甲区人民政府", "乙区人民政府"])
    assert (two.deadline, two.leader) == (
        Deadline(text="2019年6月底前", kind="date", due=dt.date(2019, 6, 30)), "分管副市长")
    # an older template's example row (编号 1) is known by its example task, word for word
    sheet["A2"] = "1"
    buf = io.BytesIO()
    book.save(buf)
    assert [m.code for m in import_table(buf.getvalue(), "old.xlsx", _plan()).catalog.measures] == ["2"]
    assert (two.code, two.lead, two.co, two.district_names) == (
        "2", "市医保局", ["市财政局"], ["甲区人民政府", "乙区人民政府"])
    assert two.flags == [Flag(field="indicators", phrase="I2",
                              reason="关联指标“I2”需在本规划的指标中登记后方可关联，请督查室补录指标")]


TIANJIN = ["天津", "和平区", "河东区", "河西区", "南开区", "河北区", "红桥区", "东丽区", "西青区", "津南区",
           "北辰区", "武清区", "宝坻区", "滨海新区", "宁河区", "静海区", "蓟州区", "人力社保局"]


def _template_texts(data: bytes) -> list[str]:
    book = openpyxl.load_workbook(io.BytesIO(data))
    return [str(c.value) for sheet in book for row in sheet.iter_rows() for c in row if c.value]


def test_template_names_no_real_place_or_follows_the_options(tmp_path, monkeypatch):
    texts = _template_texts(template_xlsx())
    assert not [t for t in texts if any(name in t for name in TIANJIN)]
    assert any("具体区县（用顿号分隔，如 甲区、乙区）" in t for t in texts)
    monkeypatch.chdir(tmp_path)
    r = run(app, ["catalog", "template", "-o", "区模板.xlsx", "--government", "某区人民政府",
                  "--districts", "东城街道办事处、西城街道办事处、南城街道办事处"])
    assert r.exit_code == 0, r.output
    book = openpyxl.load_workbook(tmp_path / "区模板.xlsx")
    assert [c.value or "" for c in book["任务分工表"][2]] == [
        "示例", "加强基本公共服务", "健全社会救助制度",
        "完善最低生活保障制度，将符合条件的困难群众按规定纳入保障范围。",
        "区民政局", "区财政局、区人力资源社会保障局等有关部门", "全部", "2020年底前", "分管副区长", ""]
    guide = [str(c.value) for row in book["填表说明"].iter_rows() for c in row if c.value]
    assert ("6. 区县列：全部（本规划的全部 3 个区县）、"
            "具体区县（用顿号分隔，如 东城街道办事处、西城街道办事处）、"
            "有关（由督查室选定）或 无；配合单位中写“各区人民政府”等同于“全部”。") in guide
    assert any(line.startswith("11. 导入：") and "--government 某区人民政府" in line for line in guide)
    province = openpyxl.load_workbook(io.BytesIO(template_xlsx("某省人民政府")))["任务分工表"]
    assert [province.cell(2, c).value for c in (5, 6, 9)] == [
        "省民政厅", "省财政厅、省人力资源社会保障厅等有关部门", "分管副省长"]


def test_template_round_trip_csv():
    data = template_csv()
    assert data == ("\ufeff编号,部分,任务名称,任务内容,牵头单位,配合单位,区县,完成时限,分管领导,关联指标\r\n"
                    ).encode("utf-8")
    assert _refusals(data, "t.csv") == ["表头（第1行）下没有任务行"]
    filled = data + "1,部分一,任务一,内容。,市民政局,,无,长期坚持,,\r\n".encode()
    c = import_table(filled, "t.csv", _plan()).catalog
    assert [(m.code, m.section, m.title, m.lead, m.deadline) for m in c.measures] == [
        ("1", "部分一", "任务一", "市民政局", Deadline(text="长期坚持", kind="ongoing"))]


# --------------------------------------------------------------- plan settings, kinds, CLI


def test_plan_options_refused_all_at_once():
    with pytest.raises(PlanOptionsError) as caught:
        plan_info(plan_id="计划 一", title=None, issuer="", doc_number=None, issued="2018-02-30",
                  period="2020-2018", government=None, districts="甲区人民政府、甲区人民政府")
    assert caught.value.problems == [
        "缺少规划设置：--title（规划名称）、--issuer（印发机关）、--government（本级政府，即区县的上级政府）；"
        "导入时须给出，系统不代为假定",
        "--plan-id “计划 一”无效：只能用英文字母、数字、点、短横线和下划线，不超过80个字符",
        "--issued “2018-02-30”不是有效日期（应写作 2018-12-12）",
        "--period “2020-2018”的起始年份晚于终止年份",
        "--districts 中重复列出：甲区人民政府",
    ]
    info = plan_info(plan_id="p", title="T", issuer="I", doc_number=None, issued="2018年3月5日",
                     period="2018—2020年", government="G", districts=None)
    assert (info.issued, info.period, info.districts, info.doc_number) == (
        dt.date(2018, 3, 5), (2018, 2020), [], None)
    # the offices that chase and score a plan are its own when given (issue 13, item 3)
    info = plan_info(plan_id="p", title="T", issuer="I", doc_number=None, issued="2018-03-05",
                     period="2018-2020", government="某区人民政府", districts=None,
                     supervision_office=" 区政府督查室 ", performance_office="区绩效办")
    assert (info.supervision_office, info.performance_office) == ("区政府督查室", "区绩效办")


def test_agency_kinds_guessed_from_names(catalog):
    """No city's names: the Tianjin plan's agencies get the kinds its parser gives them."""
    assert {a.name: guess_agency_kind(a.name, catalog.plan.districts) for a in catalog.agencies} == {
        a.name: a.kind for a in catalog.agencies}
    assert [guess_agency_kind(n).value for n in (
        "农业农村部", "中国人民银行", "人民银行某市中心支行", "某市税务局", "某海关", "共青团中央",
        "省委组织部", "最高人民法院", "中国农业发展银行", "某街道办事处")] == [
        "city_agency", "city_agency", "central_branch", "central_branch", "central_branch",
        "mass_organisation", "party_organ", "judicial", "enterprise", "district_government"]


@pytest.mark.parametrize(("name", "kind"), [
    ("市委宣传部", "party_organ"), ("团市委", "mass_organisation"), ("市残联", "mass_organisation"),
    ("市税务局", "central_branch"), ("国网某市电力公司", "enterprise"),
    ("各区人民政府", "district_government"), ("市高级人民法院", "judicial"),
    ("市总工会", "mass_organisation"), ("市人民检察院", "judicial"), ("市委网信办", "party_organ"),
    ("市纪委监委", "party_organ"), ("市妇联", "mass_organisation"), ("市工商联", "mass_organisation"),
    # the plan's own government, as written for short or in full: not one of its districts
    ("市政府", "city_agency"), ("市人民政府", "city_agency"), ("某市人民政府", "city_agency"),
    ("甲区人民政府", "district_government"), ("某开发区管委会", "district_government"),
    # a department's 管理委员会 is a department, not a zone's government
    ("市国有资产监督管理委员会", "city_agency"), ("市住房公积金管理委员会", "city_agency"),
    # forces and vertically managed services stationed in the city
    ("某警备区", "central_branch"), ("武警某总队", "central_branch"),
    ("市消防救援总队", "central_branch"), ("某海事局", "central_branch"),
    ("市教委", "city_agency"), ("市发展改革委", "city_agency"), ("市城市管理委", "city_agency"),
])
def test_agency_kinds_of_names_offices_write(name, kind):
    assert guess_agency_kind(name, DISTRICTS, "某市人民政府").value == kind


def test_cli_template_and_import(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = run(app, ["catalog", "template", "-o", "模板.xlsx"])
    assert r.exit_code == 0, r.output
    assert r.output == "已生成任务分工表模板：模板.xlsx\n"
    r = run(app, ["catalog", "template", "-o", "模板.csv"])
    assert (tmp_path / "模板.csv").read_bytes() == template_csv()
    r = run(app, ["catalog", "template", "-o", "模板.pdf"])
    assert r.exit_code == 2 and "模板只能保存为 .xlsx 或 .csv，不能是“模板.pdf”" in r.output
    r = run(app, ["catalog", "import", "模板.xlsx", *CLI_OPTIONS, "-o", "out.json"])
    assert r.exit_code == 2 and r.output.splitlines() == [
        "错误: 模板.xlsx 有 2 处问题，未导入：",
        "  工作表“任务分工表”：表头（第1行）下没有任务行",
        "  工作表“任务分工表”第2行为模板的示例行，未作为任务读取"]
    assert not Path("out.json").exists()
    book = openpyxl.load_workbook("模板.xlsx")
    book["任务分工表"].append(["1", "", "完善医疗保障", "提高报销比例。", "市医保局",
                              "市财政局等有关部门", "无", "2019年底前", "", ""])
    book.save("模板.xlsx")
    r = run(app, ["catalog", "import", "模板.xlsx", *CLI_OPTIONS, "-o", "out.json"])
    assert r.exit_code == 0, r.output
    assert r.output.splitlines() == [
        "模板.xlsx（工作表“任务分工表”，表头在第1行）：1 项任务，5 个单位，1 处待督查室确定",
        "工作表“任务分工表”第2行为模板的示例行，未作为任务读取",
        "工作表“填表说明”未读取：为填表说明",
        "  1 等有关部门：“市财政局”后的“等有关部门”泛指其他单位，请督查室确定是否增列",
        "已写入 out.json"]
    written = validate_catalog_text(Path("out.json").read_text(encoding="utf-8"))
    assert written == import_table(Path("模板.xlsx").read_bytes(), "模板.xlsx", _plan()).catalog
    r = run(app, ["catalog", "import", "模板.xlsx", *CLI_OPTIONS, "-o", "own.json",
                  "--supervision-office", "某市政府督查室", "--performance-office", "某市绩效办"])
    assert r.exit_code == 0, r.output
    own = validate_catalog_text(Path("own.json").read_text(encoding="utf-8")).plan
    assert (own.supervision_office, own.performance_office) == ("某市政府督查室", "某市绩效办")


def test_cli_import_lists_option_and_table_problems_together(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("t.csv").write_bytes("序号,重点任务,牵头单位\n1,任务。,\n".encode())
    r = run(app, ["catalog", "import", "t.csv", "--plan-id", "p", "--period", "2018"])
    assert r.exit_code == 2
    assert r.output.splitlines() == [
        "错误: t.csv 有 3 处问题，未导入：",
        "  缺少规划设置：--title（规划名称）、--issuer（印发机关）、--issued（印发日期，如 2018-12-12）、"
        "--government（本级政府，即区县的上级政府）；导入时须给出，系统不代为假定",
        "  --period “2018”无效（应写作 2018-2020）",
        "  第2行 C列（牵头单位）：牵头单位为空"]
    assert not list(tmp_path.glob("*.json"))
    r = run(app, ["catalog", "import", "missing.xlsx", *CLI_OPTIONS])
    assert r.exit_code == 2
    assert r.output == "错误: 无法读取文件 missing.xlsx：文件或文件夹不存在\n"


def test_cli_import_load_twice(db_url, db, tmp_path, monkeypatch):
    from sqlalchemy import select

    from tracker.models import Agency, Measure, Plan

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TRACKER_DATABASE_URL", db_url)
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    Path("t.csv").write_bytes(CSV_TEXT.encode("gb18030"))
    office = ["--supervision-office", "某市人民政府督查室"]  # the load needs one (no default)
    r = run(app, ["catalog", "import", "t.csv", *CLI_OPTIONS, *office, "--load",
                  "--now", "2018-03-06T09:00"])
    assert r.exit_code == 0, r.output
    # a CSV file has no sheet to name
    assert r.output.splitlines()[0] == "t.csv（表头在第1行）：3 项任务，8 个单位，2 处待督查室确定"
    assert not list(tmp_path.glob("*.json"))  # --load without -o writes no file
    with db() as s:
        plan = s.scalar(select(Plan).where(Plan.key == "test-plan-2018"))
        assert plan is not None and plan.issuer == "某市人民政府办公厅"
        assert s.scalars(select(Measure.code).where(Measure.plan_id == plan.id)
                         .order_by(Measure.position)).all() == ["1", "2", "3"]
        assert set(s.scalars(select(Agency.name))) >= {"市发展改革委", "市财政局", "甲区人民政府"}
    same = "规划“test-plan-2018”已载入，与已载入的目录相同，无变化"
    r = run(app, ["catalog", "import", "t.csv", *CLI_OPTIONS, *office, "--load",
                  "--now", "2018-03-07T09:00"])
    assert r.exit_code == 0 and r.output.splitlines()[-1] == same
    # a load refused (another document under the plan's id) leaves no file behind
    other = [*CLI_OPTIONS[:4], "--issuer", "某市人民政府", *CLI_OPTIONS[6:]]
    r = run(app, ["catalog", "import", "t.csv", *other, *office, "--load", "-o", "out.json",
                  "--now", "2018-03-07T09:00"])
    assert r.exit_code == 2 and "--replace" in r.output, r.output
    assert not list(tmp_path.glob("*.json")) and not list(tmp_path.glob(".out.json.*"))
    r = run(app, ["catalog", "import", "t.csv", *CLI_OPTIONS, *office, "--load", "-o", "out.json",
                  "--now", "2018-03-07T09:00"])
    assert r.exit_code == 0 and r.output.splitlines()[-2:] == [same, "已写入 out.json"]
    assert validate_catalog_text(Path("out.json").read_text(encoding="utf-8")).plan.issuer == \
        "某市人民政府办公厅"


def test_a_row_with_only_a_title_is_a_task_not_a_heading():
    rows: list[list[object]] = [
        ["序号", "重点任务", "牵头单位"],
        ["一、总体要求", None, None],  # a part heading, not merged, numbered, first column
        [1, "任务一。", "市民政局"],
        [None, "任务二。", None],  # a task whose 序号 and 牵头单位 were forgotten
    ]
    assert _refusals(_xlsx(rows), "t.xlsx") == [
        "工作表“Sheet1”第4行 A列（序号）：编号为空", "工作表“Sheet1”第4行 C列（牵头单位）：牵头单位为空"]
    rows[3] = [2, "任务二。", "市财政局"]
    c = import_table(_xlsx(rows), "t.xlsx", _plan()).catalog
    assert [(m.code, m.section, m.lead) for m in c.measures] == [
        ("1", "总体要求", "市民政局"), ("2", "总体要求", "市财政局")]


def test_legacy_xls_converted_by_libreoffice_and_a_wps_dimension(tmp_path):
    """A .xls (as old Excel and WPS save it) is read through LibreOffice; a workbook whose
    stored extent is "A1" (as WPS writes it) is read by its cells."""
    import re
    import subprocess
    import zipfile

    from tracker.exchange.convert import Converter

    rows: list[list[object]] = [["序号", "部分", "重点任务", "牵头单位"],
                                [1, "一、甲", "任务一。", "市民政局"], [2, None, "任务二。", None]]
    source = tmp_path / "t.xlsx"
    source.write_bytes(_xlsx(rows, merges=("B2:B3", "D2:D3")))
    subprocess.run(["soffice", "--headless", f"-env:UserInstallation={(tmp_path / 'p').as_uri()}",
                    "--convert-to", "xls", "--outdir", str(tmp_path / "out"), str(source)],
                   check=True, capture_output=True, timeout=180)
    legacy = (tmp_path / "out" / "t.xls").read_bytes()
    assert _refusals(legacy, "t.xls") == [
        "这是旧版 Excel（.xls）或 WPS 表格（.et）格式的文件，本系统无法直接读取；"
        "请在 Excel/WPS 中另存为 .xlsx（Excel 工作簿）后再导入"]
    c = import_table(legacy, "t.xls", _plan(), Converter.find("soffice", 120)).catalog
    expected = [("1", "甲", "任务一", "市民政局"), ("2", "甲", "任务二", "市民政局")]
    assert [(m.code, m.section, m.title, m.lead) for m in c.measures] == expected
    wps = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(source.read_bytes())) as old, zipfile.ZipFile(wps, "w") as new:
        for item in old.infolist():
            body = old.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                body = re.sub(rb'<dimension ref="[^"]+"', b'<dimension ref="A1"', body)
            new.writestr(item, body)
    c = import_table(wps.getvalue(), "t.xlsx", _plan()).catalog
    assert [(m.code, m.section, m.title, m.lead) for m in c.measures] == expected


def test_columns_not_read_are_named():
    rows: list[list[object]] = [["序号", "重点任务", "牵头单位", "备注", "联系人"],
                                [1, "任务一。", "市民政局", "已列入年度计划", "张三"]]
    result = import_table(_xlsx(rows), "t.xlsx", _plan())
    assert result.notes == ["未读取的列：备注、联系人"]
    assert [(m.code, m.title, m.lead) for m in result.catalog.measures] == [("1", "任务一", "市民政局")]
