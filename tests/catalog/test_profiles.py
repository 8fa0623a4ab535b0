"""Published plans read through profiles (issue 13, build item 2, and the three real documents).

The real documents are the State Council's own texts, checked in under data/plans/ (its
README gives the counts each must produce); the small inputs below are written for the
tests, one per shape of clause and numbering.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace
from pathlib import Path

import pytest
from docx import Document
from typer.testing import CliRunner

from tests.conftest import ROOT, SEED
from tracker.catalog.options import PlanOptions, read_cli_options
from tracker.catalog.parse import district_government_names
from tracker.catalog.plan_text import ParseResult, parse_source
from tracker.catalog.profiles import PROFILES, cn_to_int, detect_profile
from tracker.catalog.schema import Deadline, Flag, dump_catalog
from tracker.catalog.sources import Source, SourceError, read_source
from tracker.catalog.text import Skipped, TextParseError
from tracker.cli import app

PLANS = ROOT / "data" / "plans"  # the three State Council documents, checked in
STATE_COUNCIL = PlanOptions(plan_id="gov", period=(2018, 2020), government="国务院",
                            supervision_office="国务院办公厅督查室")
NO_LEAD = "请督查室确定牵头单位"
ETC = "泛指其他单位，请督查室确定是否增列"
GENERIC = "泛指有关单位，请督查室确定具体单位"
SOME = "未指明具体区县，请督查室选定承担的区县"
SECOND_LEAD = "牵头单位写有多个单位，以第一个“{}”为牵头单位，其余列为配合单位；如有不同请修改"
NO_CLAUSE = "未写明责任单位（段末无“（…负责）”或“（责任单位：…）”，其后也无“牵头单位：”行）"
run = CliRunner().invoke


def real(name: str) -> ParseResult:
    return parse_source(read_source(PLANS / name), None, STATE_COUNCIL)


def clause_paragraphs(name: str) -> int:
    """Paragraphs of the raw file ending with a （…负责） clause, counted without the parser."""
    text = (PLANS / name).read_text(encoding="utf-8")
    return sum(bool(re.search(r"负责[^（）]*）\s*$", line)) for line in text.splitlines())


def by_code(result: ParseResult) -> dict:
    return {m.code: m for m in result.catalog.measures}


# --- the three real documents ---------------------------------------------------------------

def test_gov_2018_42_farm_machinery():
    result = real("gov-2018-42-farm-machinery.txt")
    report, m = result.report, by_code(result)
    assert report.profile == "general"
    assert report.measures == 18 == clause_paragraphs("gov-2018-42-farm-machinery.txt")
    assert [x.code for x in result.catalog.measures] == [
        "2.3", "2.4", "2.5", "2.6", "3.7", "3.8", "4.9", "4.10", "4.11", "5.12", "5.13",
        "6.14", "6.15", "7.16", "7.17", "8.18", "8.19", "8.20"]
    assert sorted(report.named_agencies) == sorted([
        "工业和信息化部", "发展改革委", "科技部", "农业农村部", "商务部", "国资委", "国际发展合作署",
        "市场监管总局", "财政部", "交通运输部", "人民银行", "银保监会", "民航局", "税务总局",
        "自然资源部", "教育部"])
    assert len(report.named_agencies) == 16
    # only the two items of 一、总体要求 have no clause; nothing numbered with one is skipped
    assert [(s.where, s.text[:8], s.reason) for s in report.skipped] == [
        ("第11行", "（一）指导思想。", NO_CLAUSE), ("第12行", "（二）发展目标。", NO_CLAUSE)]
    assert report.lead_rule == "原文写明“列第一位者为牵头单位”"
    assert (m["2.3"].title, m["2.3"].section) == ("完善农机装备创新体系", "加快推动农机装备产业高质量发展")
    assert (m["2.3"].lead, m["2.3"].co) == ("工业和信息化部", ["发展改革委", "科技部", "农业农村部"])
    assert m["2.3"].text.endswith("促进农机装备领域高新技术产业发展。")
    assert m["2.3"].flags == [Flag(field="co", phrase="等", reason=f"“农业农村部”后的“等”{ETC}")]
    assert (m["2.6"].lead, m["2.6"].co) == ("市场监管总局", ["工业和信息化部", "发展改革委", "农业农村部"])
    assert (m["7.16"].lead, m["7.16"].co) == ("教育部", ["工业和信息化部", "农业农村部"])
    # （农业农村部、工业和信息化部牵头负责）: two leads named, the first leads, flagged
    assert (m["8.18"].lead, m["8.18"].co, m["8.18"].flags) == ("农业农村部", ["工业和信息化部"], [
        Flag(field="lead", phrase="农业农村部、工业和信息化部", reason=SECOND_LEAD.format("农业农村部"))])
    assert m["4.9"].co[-3:] == ["人民银行", "银保监会", "民航局"]
    # （十九）…（各省级人民政府负责）: a task all the same, gathered by the office, flagged
    assert (m["8.19"].lead, m["8.19"].co, m["8.19"].districts) == ("国务院办公厅督查室", [], True)
    assert m["8.19"].flags == [Flag(field="lead", phrase="各省级人民政府", reason=(
        "原文仅写“各省级人民政府”，未写明牵头单位；暂列国务院办公厅督查室汇总，" + NO_LEAD))]
    assert m["8.20"].title == "促进政府与市场良性互动"  # （二十）
    plan = result.catalog.plan
    assert (plan.title, plan.doc_number, plan.issuer, plan.issued) == (
        "国务院关于加快推进农业机械化和农机装备产业转型升级的指导意见", "国发〔2018〕42号", "国务院",
        dt.date(2018, 12, 21))
    assert plan.districts == [] and plan.government == "国务院"


def test_gov_2018_129_consumption_poverty():
    result = real("gov-2018-129-consumption-poverty.txt")
    report, m = result.report, by_code(result)
    assert report.measures == 17 == clause_paragraphs("gov-2018-129-consumption-poverty.txt")
    assert len(report.named_agencies) == 31
    assert report.skipped == []
    assert [x.code for x in result.catalog.measures][:4] == ["2.1", "2.2", "2.3", "3.4"]
    assert result.catalog.measures[-1].code == "6.17"
    assert report.lead_rule == "原文未写明，按列第一位者为牵头单位"
    # …全国总工会等和各省级人民政府负责: the 和 before 各 separates, 等 is flagged
    assert (m["2.1"].lead, m["2.1"].co, m["2.1"].districts) == ("扶贫办", [
        "中央统战部", "中央和国家机关工委", "教育部", "卫生健康委", "人民银行", "国资委", "国管局",
        "中央军委政治工作部", "全国总工会"], True)
    assert m["2.1"].flags == [Flag(field="co", phrase="等", reason=f"“全国总工会”后的“等”{ETC}")]
    # 各有关省级人民政府: which provinces is the office's choice
    assert (m["2.2"].lead, m["2.2"].co, m["2.2"].districts) == (
        "扶贫办", ["发展改革委", "人力资源社会保障部", "商务部"], False)
    assert m["2.2"].flags[1] == Flag(field="districts", phrase="各有关省级人民政府", reason=SOME)
    assert m["4.9"].lead == "中央宣传部"
    assert (m["5.12"].lead, m["5.12"].co) == ("农业农村部", ["文化和旅游部"])
    assert (m["6.14"].lead, m["6.14"].section) == ("发展改革委", "保障措施")
    assert "文化和旅游部" in report.named_agencies and "各省级人民政府" not in report.named_agencies
    assert report.warnings[0].startswith("17 项任务由各区县（各省级人民政府等）承担")


def test_gov_2018_117_incentives():
    result = real("gov-2018-117-incentives.txt")
    report, m = result.report, by_code(result)
    assert report.measures == 30 == clause_paragraphs("gov-2018-117-incentives.txt")
    assert [x.code for x in result.catalog.measures] == [str(n) for n in range(1, 31)]
    assert len(report.named_agencies) == 21
    assert report.skipped == []
    assert (m["1"].lead, m["1"].co) == ("市场监管总局", [])
    assert m["1"].title == ("对深化商事制度改革成效显著、落实事中事后监管等相关政策措施社会反映好的"
                            "市（地、州、盟）、县（市、区、旗）")
    assert m["2"].title == "对促进外贸、外资稳定增长"
    assert m["2"].text.startswith("对促进外贸、外资稳定增长，积极优化营商环境成效明显的省（区、市）")
    assert (m["8"].lead, m["8"].co) == ("人民银行", ["银保监会", "证监会"])
    # …会同有关部门负责: the lead, and a phrase for the office
    assert (m["18"].lead, m["18"].co) == ("国家发展改革委", ["财政部"])
    assert m["18"].flags == [Flag(field="co", phrase="有关部门", reason=GENERIC)]
    assert (m["21"].lead, m["21"].co) == ("财政部", ["人力资源社会保障部"])  # 二十一、
    assert (m["22"].lead, m["22"].co) == ("财政部", ["国务院扶贫办"])
    assert (m["30"].lead, m["30"].flags) == ("国务院办公厅", [])
    assert all(not x.districts for x in result.catalog.measures)


# --- the Tianjin profile --------------------------------------------------------------------

def test_tianjin_seed_through_its_profile_is_todays_catalog():
    source = read_source(SEED)
    assert detect_profile(source.paragraphs).name == "tianjin"
    result = parse_source(source)
    assert dump_catalog(result.catalog) == (ROOT / "tasks_catalog.json").read_text(encoding="utf-8")
    assert [(s.where, s.text[:8]) for s in result.report.skipped] == [
        ("第21行", "（一）指导思想。"), ("第23行", "（二）发展目标。")]  # indicator rows are read


def test_cli_parses_the_tianjin_seed_unchanged(tmp_path):
    out = tmp_path / "catalog.json"
    done = run(app, ["catalog", "parse", str(SEED), "-o", str(out)])
    assert done.exit_code == 0, done.output
    assert out.read_bytes() == (ROOT / "tasks_catalog.json").read_bytes()
    assert "模板 tianjin，任务 38 项，责任单位 36 个，区县 16 个，主要指标 9 项" in done.output


def test_the_general_profile_reads_the_tianjin_plan_alike():
    """The general reader finds Tianjin's 38 measures with the same codes, leads, co and
    texts; only part 三's section differs (its heading, where the Tianjin reader repeats
    the measure's own title)."""
    source = read_source(SEED)
    tianjin = {m.code: m for m in parse_source(source).catalog.measures}
    general = {m.code: m for m in parse_source(source, PROFILES["general"], PlanOptions(
        plan_id="tj", period=(2016, 2020), government="天津市人民政府",
        districts=tuple(district_government_names()))).catalog.measures}
    assert list(general) == list(tianjin)
    for code, want in tianjin.items():
        got = general[code]
        assert (got.title, got.text, got.lead, got.co, got.districts, got.targets) == (
            want.title, want.text, want.lead, want.co, want.districts, want.targets)
    assert [general[c].section for c in ("2.1.1", "3.1", "3.3")] == ["基本民生保障", "组织实施与评估",
                                                                      "组织实施与评估"]


# --- small inputs, one per shape ------------------------------------------------------------

CITY = PlanOptions(plan_id="t", title="测试规划", issuer="某市人民政府办公厅", issued=dt.date(2019, 3, 1),
                   period=(2019, 2020), government="某市人民政府",
                   districts=("甲区人民政府", "乙区人民政府", "丙区人民政府"),
                   supervision_office="市政府督查室")


def parse_text(text: str, options: PlanOptions = CITY) -> ParseResult:
    return parse_source(Source("测试.txt", text.splitlines()), None, options)


OWN_LINES = """某区2019年重点工作任务分工
一、优化营商环境
（一）深化“放管服”改革。推进政务服务一网通办。
牵头单位：区政务服务办
配合单位：区发展改革委、区市场监管局，各街道
完成时限：2019年12月底前
分管领导：张副区长
（二）加强信用体系建设。建立守信激励机制。
责任单位：区发展改革委、区人力资源和社会保障局等有关部门
完成时限：长期坚持
二、保障改善民生
（一）扩大就业。落实就业优先政策。
牵头单位：区人力资源和社会保障局；区财政局
配合单位：有关区人民政府
"""


def test_labels_on_their_own_lines():
    # a district's plan: its districts are streets (各街道 names their level)
    streets = replace(CITY, government="某区人民政府",
                      districts=("甲街道办事处", "乙街道办事处", "丙街道办事处"))
    result = parse_text(OWN_LINES, streets)
    got = [(m.code, m.title, m.section, m.lead, m.co, m.districts, m.district_names)
           for m in result.catalog.measures]
    assert got == [
        ("1.1", "深化“放管服”改革", "优化营商环境", "区政务服务办", ["区发展改革委", "区市场监管局"],
         True, []),
        ("1.2", "加强信用体系建设", "优化营商环境", "区发展改革委", ["区人力资源和社会保障局"], False, []),
        ("2.1", "扩大就业", "保障改善民生", "区人力资源和社会保障局", ["区财政局"], False, [])]
    m = {x.code: x for x in result.catalog.measures}
    assert m["1.1"].deadline == Deadline(text="2019年12月底前", kind="date", due=dt.date(2019, 12, 31))
    assert m["1.1"].leader == "张副区长" and m["1.1"].text == "推进政务服务一网通办。"
    assert m["1.2"].deadline == Deadline(text="长期坚持", kind="ongoing")
    assert m["1.2"].flags == [Flag(field="co", phrase="等有关部门",
                                   reason=f"“区人力资源和社会保障局”后的“等有关部门”{ETC}")]
    assert m["2.1"].flags == [  # 牵头单位：A；B names two leads
        Flag(field="lead", phrase="区人力资源和社会保障局、区财政局",
             reason=SECOND_LEAD.format("区人力资源和社会保障局")),
        Flag(field="districts", phrase="有关区人民政府", reason=SOME)]
    assert result.report.lead_rule == "按原文“牵头单位／责任单位”标注，列第一位者为牵头单位"
    # the districts are the plan's, listed after the named agencies
    assert [a.name for a in result.catalog.agencies][-3:] == list(streets.districts)


BRACKETS = """某市关于加快养老服务发展的实施意见
各区人民政府，市政府各委、办、局：
一、总体要求
到2020年，养老服务体系基本建立。
二、主要任务
1. 完善居家养老服务。发展社区嵌入式养老。（牵头单位：市民政局；配合单位：市财政局、甲区人民政府）
2．加强医养结合。推进签约服务。（责任部门：市卫生健康委、市医保局等）
3、强化人才保障。
（1）开展护理员培训。每年培训1000名。（市人力资源和社会保障局负责，市民政局、市教委参与）
（2）提高护理员待遇。（市人力社保局会同有关部门负责）
三、保障措施
（一）强化属地责任。（各市、县（区）人民政府负责）
（二）加强督查。（有关部门负责）
各区要结合实际抓好落实。（市政府督查室负责）
某市人民政府
2019年3月1日
"""


def test_clauses_in_brackets_and_four_numbering_levels():
    result = parse_text(BRACKETS)
    got = [(m.code, m.title, m.lead, m.co, m.districts, m.district_names, [(f.field, f.phrase)
            for f in m.flags]) for m in result.catalog.measures]
    assert got == [
        ("2.1", "完善居家养老服务", "市民政局", ["市财政局"], False, ["甲区人民政府"], []),
        ("2.2", "加强医养结合", "市卫生健康委", ["市医保局"], False, [], [("co", "等")]),
        ("2.3.1", "开展护理员培训", "市人力资源和社会保障局", ["市民政局", "市教委"], False, [], []),
        ("2.3.2", "提高护理员待遇", "市人力社保局", [], False, [], [("co", "有关部门")]),
        # nested brackets; a clause naming districts only, or a generic phrase only: the
        # office gathers it and names a lead
        # the supervision office the options name (without one: the placeholder, see
        # tests/catalog/test_load_offices.py)
        ("3.1", "强化属地责任", "市政府督查室", [], True, [], [("lead", "各市、县（区）人民政府")]),
        ("3.2", "加强督查", "市政府督查室", [], False, [], [("lead", "有关部门")])]
    assert result.report.skipped == [Skipped(
        "第14行", "各区要结合实际抓好落实。（市政府督查室负责）",
        "写有责任分工但不在编号的任务之下，无法确定任务编号")]
    assert result.report.named_agencies == [
        "市民政局", "市财政局", "市卫生健康委", "市医保局", "市人力资源和社会保障局", "市教委",
        "市人力社保局"]
    assert result.catalog.measures[2].targets[0].value == 1000


CN_1_TO_21 = ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一", "十二", "十三", "十四",
              "十五", "十六", "十七", "十八", "十九", "二十", "二十一"]


def test_numbers_above_nineteen():
    lines = ["标题"] + [f"{c}、事项{n}。内容。（市民政局负责）" for n, c in enumerate(CN_1_TO_21, 1)]
    lines += [f"（{c}）任务{n}。内容。（市财政局负责）" for n, c in enumerate(CN_1_TO_21, 1)]
    result = parse_text("\n".join(lines), PlanOptions(
        plan_id="t", title="t", issuer="i", issued=dt.date(2019, 1, 1), period=(2019, 2020),
        government="g"))
    m = by_code(result)
    assert len(m) == 42
    assert [c for c in m][18:23] == ["19", "20", "21", "21.1", "21.2"]
    assert [c for c in m][-3:] == ["21.19", "21.20", "21.21"]
    assert (m["20"].title, m["21.20"].title, m["21.20"].section) == ("事项20", "任务20", "事项21")
    assert [cn_to_int(s) for s in ("十", "十九", "二十", "二十一", "九十九", "一百零三")] == [
        10, 19, 20, 21, 99, 103]


def test_skipped_numbered_items_without_a_clause_are_listed():
    text = "标题\n一、任务\n（一）甲。（市民政局负责）\n（二）乙。尚未分工。\n（三）丙。（市财政局负责）\n"
    result = parse_text(text)
    assert [m.code for m in result.catalog.measures] == ["1.1", "1.3"]
    assert result.report.skipped == [Skipped("第4行", "（二）乙。尚未分工。", NO_CLAUSE)]


def test_every_problem_at_once_with_its_line():
    text = """牵头单位：市民政局
一、主要任务
（一）完善救助。加强兜底。（市民政局、市财政局负责
（三）发展慈善。（市民政局负责））
（四）加强宣传。
配合单位：市委宣传部
（五）推进改革。（责任单位：市民政局）
完成时限：尽快
（六）其他。（牵头单位：；配合单位：市财政局）
"""
    with pytest.raises(TextParseError) as caught:
        parse_text(text, PlanOptions(plan_id="t"))
    assert [(p.where, p.message) for p in caught.value.problems] == [
        ("第1行", "“牵头单位：”之前没有编号的任务，无法确定它属于哪一项"),
        ("第3行", "段末责任分工缺少右括号：“（市民政局、市财政局负责”"),
        ("第4行", "编号不连续：上一项为（一），本项为（三），请检查是否漏项、重号或断行"),
        ("第4行", "段末责任分工的括号不配对（多了右括号）：“发展慈善。（市民政局负责））”"),
        ("第6行", "任务1.4只写了配合单位，未写明牵头（责任）单位"),
        ("第9行", "责任分工“牵头单位：；配合单位：市财政局”中“牵头单位”之后没有写单位"),
        ("命令行", "缺少规划设置：--title（规划名称，原文未写明）、--issuer（印发机关，原文未写明）、"
                 "--issued（印发日期，如 2018-12-12，原文未写明）、--period（规划期，如 2018-2020）、"
                 "--government（本级政府，即区县的上级政府）；导入时须给出，系统不代为假定")]
    assert str(caught.value).startswith("测试.txt 第1行：“牵头单位：”之前没有编号的任务")


def test_options_as_typed_are_checked():
    options, problems = read_cli_options(
        plan_id="bad id", title=None, issuer=None, doc_number=None, issued="2018-13-01",
        period="2022-2018", government=None, districts="甲区人民政府，乙区人民政府、甲区人民政府")
    assert problems == [
        "--plan-id “bad id”无效：只能用英文字母、数字、点、短横线和下划线，不超过80个字符",
        "--issued “2018-13-01”不是有效日期（应写作 2018-12-12）",
        "--period “2022-2018”的起始年份晚于终止年份",
        "--districts 中重复列出：甲区人民政府"]
    assert (options.plan_id, options.issued, options.period) == (None, None, None)
    options, problems = read_cli_options(
        plan_id="gov-2018-42", title=None, issuer=None, doc_number=None, issued="2018-12-21",
        period="2018-2025", government="国务院", districts="甲, 乙")
    assert problems == [] and (options.period, options.districts) == ((2018, 2025), ("甲", "乙"))


# --- encodings and Word ---------------------------------------------------------------------

def _summary(result: ParseResult) -> list[tuple[str, str, str, list[str]]]:
    return [(m.code, m.title, m.lead, m.co) for m in result.catalog.measures]


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8-sig", "utf-8", "utf-16"])
def test_text_in_gbk_or_with_a_bom(tmp_path, encoding):
    path = tmp_path / "plan.txt"
    path.write_bytes(BRACKETS.encode(encoding))
    source = read_source(path)
    assert source.encoding == {"gbk": "gb18030", "utf-8-sig": "utf-8-sig"}.get(encoding, encoding)
    assert source.paragraphs[0] == "某市关于加快养老服务发展的实施意见"
    assert _summary(parse_source(source, None, CITY)) == _summary(parse_text(BRACKETS))


def test_a_docx_reads_its_paragraphs_and_names_them(tmp_path):
    path = tmp_path / "plan.docx"
    document = Document()
    for line in BRACKETS.splitlines():
        document.add_paragraph(line)
    document.save(str(path))
    source = read_source(path)
    assert source.unit == "段"
    result = parse_source(source, None, CITY)
    assert _summary(result) == _summary(parse_text(BRACKETS))
    assert result.report.skipped[0].where == "第14段"


@pytest.mark.parametrize(("name", "data", "message"), [
    ("plan.xlsx", b"PK\x03\x04", "plan.xlsx：这是表格文件，请用 tracker catalog import 导入任务分工表"),
    ("plan.docx", b"PK\x03\x04not a zip", "plan.docx：不是有效的 .docx 文档（文件可能已损坏，或是改了扩展名的"
                                           "其他格式），请在 Word/WPS 中重新另存为 .docx"),
    ("plan.txt", b"\x00\x01\x02binary", "plan.txt：不是文本文件（含二进制内容），请另存为 UTF-8 或 GBK "
                                        "编码的纯文本，或 .docx 文档"),
    ("plan.txt", b"\xef\xbb\xbf\xff\xfe", "plan.txt：以 UTF-8 标记开头，但第 1 字节起不是有效的 UTF-8 文字"),
    ("plan.txt", b"\x81\x30\xff\xff\x80", "plan.txt：无法识别文字编码（应为 UTF-8 或 GBK/GB18030），请另存为"
                                          " UTF-8 编码的纯文本"),
    ("plan.doc", b"\xd0\xcf", "plan.doc：不是有效的 Word 文档（文件可能已损坏，或是改了扩展名的其他格式），"
                             "请在 Word/WPS 中重新另存为 .docx"),
    ("plan.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64,
     "plan.doc：这是旧版 Word（.doc）或 WPS 文字（.wps）格式的文件，本系统无法直接读取；"
     "请在 Word/WPS 中另存为 .docx（Word 文档）后再导入"),
    ("plan.pdf", b"%PDF-1.4", "plan.pdf：不支持 .pdf 格式，请在 Word/WPS 中另存为 .docx 或纯文本"),
])
def test_unreadable_files_are_refused_in_chinese(tmp_path, name, data, message):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(SourceError) as caught:
        read_source(path)
    assert str(caught.value) == message


# --- the command ----------------------------------------------------------------------------

def test_cli_parses_a_state_council_document(tmp_path):
    out = tmp_path / "gov.json"
    done = run(app, ["catalog", "parse", str(PLANS / "gov-2018-42-farm-machinery.txt"), "-o", str(out),
                     "--plan-id", "gov-2018-42", "--period", "2018-2025", "--government", "国务院",
                     "--supervision-office", "国务院办公厅督查室"])
    assert done.exit_code == 0, done.output
    assert "模板 general，任务 18 项，责任单位 16 个，区县 0 个，主要指标 0 项" in done.output
    assert "取自原文的文号：国发〔2018〕42号" in done.output
    assert "第12行 （二）发展目标。" in done.output
    assert "任务 8.19（牵头单位）“各省级人民政府”" in done.output
    assert '"id": "gov-2018-42"' in out.read_text(encoding="utf-8")


def test_cli_refuses_every_problem_without_a_traceback(tmp_path):
    path = tmp_path / "plan.txt"
    path.write_bytes("标题\n一、任务\n（一）甲。（市民政局负责\n（三）乙。（市财政局负责）\n".encode("gbk"))
    done = run(app, ["catalog", "parse", str(path), "-o", str(tmp_path / "x.json"), "--period", "2019"])
    assert done.exit_code == 2
    assert "Traceback" not in done.output and not (tmp_path / "x.json").exists()
    assert "--period “2019”无效（应写作 2018-2020）" in done.output
    done = run(app, ["catalog", "parse", str(path), "-o", str(tmp_path / "x.json"), "--plan-id", "p",
                     "--period", "2019-2020", "--government", "某市人民政府", "--issuer", "某市",
                     "--issued", "2019-01-01"])
    assert done.exit_code == 2 and "Traceback" not in done.output
    assert "plan.txt 无法转为任务目录，共 2 处问题" in done.output
    assert "第3行：段末责任分工缺少右括号：“（市民政局负责”" in done.output
    assert "第4行：编号不连续：上一项为（一），本项为（三）" in done.output
    done = run(app, ["catalog", "parse", str(path), "--profile", "city"])
    assert done.exit_code == 2
    assert "没有名为“city”的模板；可用：tianjin、general、parts、sections、items" in done.output


def test_files_named_in_this_module_exist():
    assert sorted(p.name for p in PLANS.glob("*.txt")) == [
        "gov-2018-117-incentives.txt", "gov-2018-129-consumption-poverty.txt",
        "gov-2018-42-farm-machinery.txt"]
    assert isinstance(SEED, Path)


def test_a_list_restarting_outside_the_measures_is_not_a_gap():
    text = """标题
一、发展目标
（一）主要目标。
1. 目标甲。
2. 目标乙。
1. 目标丙。
二、主要任务
（一）任务甲。（市民政局负责）
（二）任务乙。（市财政局负责）
"""
    result = parse_text(text)
    assert [(m.code, m.lead) for m in result.catalog.measures] == [("2.1", "市民政局"), ("2.2", "市财政局")]
    assert result.report.skipped == [Skipped("第3行", "（一）主要目标。", NO_CLAUSE)]


def test_a_clause_given_twice_is_refused():
    text = "标题\n一、任务\n（一）甲。（市民政局负责）\n牵头单位：市财政局\n"
    with pytest.raises(TextParseError) as caught:
        parse_text(text)
    assert [(p.where, p.message) for p in caught.value.problems] == [
        ("第4行", "第3行的任务1.1已在段末写明责任分工，又另起一行写“牵头单位：”，请只保留一处")]


@pytest.mark.parametrize("clause", [
    "（市民政局、市财政局负责，列第一位者为牵头单位）",
    "（市民政局、市财政局等负责。列第一位者为牵头单位，下同）",
    "（市民政局、市财政局负责，排在第一位的为牵头单位）",
])
def test_the_lead_rule_stated_inside_a_clause(clause):
    result = parse_text(f"标题\n一、任务\n（一）甲。内容。{clause}\n")
    m = result.catalog.measures[0]
    assert (m.lead, m.co) == ("市民政局", ["市财政局"])
    assert result.report.lead_rule == "原文写明“列第一位者为牵头单位”"


NOT_TIANJIN = ("不是天津市“十三五”加快残疾人小康进程规划纲要的原文（应以“天津市人民政府办公厅关于转发"
               "市残联拟定的……规划纲要的通知”开头），天津模板只读该文件，并带有该规划的印发机关、规划期和"
               "16个区；其他文件请改用 --profile general（或不写 --profile）")


def test_the_tianjin_profile_refuses_another_document_in_chinese(tmp_path):
    """Another document, even one numbered past （十九）, is refused before it is read: the
    profile would stamp it with Tianjin's settings (issue 13, finding 7: KeyError '二十')."""
    source = read_source(PLANS / "gov-2018-117-incentives.txt")
    with pytest.raises(TextParseError) as caught:
        parse_source(source, PROFILES["tianjin"])
    assert [(p.where, p.message) for p in caught.value.problems] == [("全文", NOT_TIANJIN)]
    path = tmp_path / "某市.txt"
    path.write_text("某市实施方案\n一、总则\n（二十）加强领导。（责任单位：市民政局）\n", encoding="utf-8")
    done = run(app, ["catalog", "parse", str(path), "--profile", "tianjin", "-o", str(tmp_path / "c.json")])
    assert done.exit_code == 2 and "Traceback" not in done.output
    assert NOT_TIANJIN in done.output.replace("\n", "")


def test_the_tianjin_reader_numbers_sections_past_nineteen():
    from tracker.catalog.parse import SeedFormatError, parse_plan_text

    text = SEED.read_text(encoding="utf-8")
    assert "（十）" in text
    catalog = parse_plan_text(text.replace("（十）", "（二十）", 1))
    assert [m.code for m in catalog.measures if m.code.startswith("2.20.")][:2] == ["2.20.1", "2.20.2"]
    with pytest.raises(SeedFormatError) as caught:
        parse_plan_text(text.replace("（十）", "（十十）", 1))
    assert caught.value.reason.startswith("小节编号“（十十）”不是有效的中文数字")


def test_a_profile_naming_the_measure_level():
    source = read_source(PLANS / "gov-2018-42-farm-machinery.txt")
    sections = parse_source(source, PROFILES["sections"], STATE_COUNCIL)
    assert _summary(sections) == _summary(real("gov-2018-42-farm-machinery.txt"))
    text = "标题\n一、甲。（市民政局负责）\n（一）乙。（市财政局负责）\n二、丙。（市教委负责）\n"
    parts = parse_source(Source("t.txt", text.splitlines()), PROFILES["parts"], CITY)
    assert [m.code for m in parts.catalog.measures] == ["1", "2"]
    assert parts.report.skipped == [
        Skipped("第3行", "（一）乙。", "写有责任分工，但“（一）”不是本模板的任务层级（一、）")]
    assert [m.code for m in parse_text(text).catalog.measures] == ["1", "1.1", "2"]


def test_the_real_documents_load_beside_the_tianjin_plan(db, catalog):
    """Each document's catalog loads as a plan of its own; loading it again changes nothing."""
    from sqlalchemy import func, select

    from tests.conftest import at
    from tracker.catalog.load import load_catalog
    from tracker.db import transaction
    from tracker.enums import Role
    from tracker.models import Agency, Assignment, Measure, Plan

    provinces = ("北京市人民政府", "天津市人民政府")
    parsed = [parse_source(read_source(PLANS / name), None, PlanOptions(
        plan_id=key, period=(2019, 2020), government="国务院", districts=provinces,
        supervision_office="国务院办公厅督查室")).catalog for key, name in (
        ("gov-2018-42", "gov-2018-42-farm-machinery.txt"),
        ("gov-2018-129", "gov-2018-129-consumption-poverty.txt"),
        ("gov-2018-117", "gov-2018-117-incentives.txt"))]
    with transaction(db) as s:
        load_catalog(s, catalog, at("2019-01-02"))
        created = [load_catalog(s, c, at("2019-01-02")).changes for c in parsed]
    # 42: 18 leads, 53 co, 2 provinces on 8.19; 129: 17 leads, 80 co, 2 provinces on each of
    # 2.1, 2.3, 6.14, 6.16 (the rest say 各有关省级人民政府: the office picks); 117: 30 + 16
    assert [c["assignments_created"] for c in created] == [73, 105, 46]
    with transaction(db) as s:
        assert not any(load_catalog(s, c, at("2019-01-03")).changed for c in [catalog, *parsed])
    with db() as s:
        assert s.scalar(select(func.count()).select_from(Plan)) == 4
        rows = s.execute(select(Plan.key, Measure.code, Agency.name, Assignment.role)
                         .join(Measure, Measure.plan_id == Plan.id)
                         .join(Assignment, Assignment.measure_id == Measure.id)
                         .join(Agency, Agency.id == Assignment.agency_id)
                         .where(Plan.key == "gov-2018-42", Measure.code == "8.19")).all()
    assert sorted((r.name, r.role) for r in rows) == [
        ("北京市人民政府", Role.DISTRICT), ("国务院办公厅督查室", Role.LEAD),
        ("天津市人民政府", Role.DISTRICT)]


def test_phrases_joined_by_he_and_some_provinces():
    from tracker.catalog.phrases import read_agencies

    read = read_agencies("扶贫办、文化和旅游部、全国总工会等和各有关省级人民政府")
    assert (read.names, read.districts, read.district_phrases) == (
        ["扶贫办", "文化和旅游部", "全国总工会"], "some", ["各有关省级人民政府"])
    assert read.flags == [("等", f"“全国总工会”后的“等”{ETC}"), ("各有关省级人民政府", SOME)]
    read = read_agencies("中央和国家机关工委和各省级人民政府")
    assert (read.names, read.districts, read.district_phrases, read.flags) == (
        ["中央和国家机关工委"], "all", ["各省级人民政府"], [])


def test_only_the_plans_own_notice_picks_the_tianjin_profile():
    """A district's re-issue of the Tianjin plan, or a document citing it, is another plan
    with its own settings (the attack of issue 13: it overwrote the Tianjin plan)."""
    from tracker.catalog.profiles import detect_profile

    seed = (ROOT / "data" / "seed" / "tianjin-disability-plan-2016-2020.txt").read_text(
        encoding="utf-8").splitlines()
    assert detect_profile(seed).name == "tianjin"
    assert detect_profile(["滨海新区人民政府办公室关于", *seed[1:]]).name == "general"
    assert detect_profile(["关于落实《天津市“十三五”加快残疾人小康进程规划纲要》的实施意见",
                           *seed]).name == "general"
