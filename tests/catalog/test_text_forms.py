"""Clause forms, time limits and numbering a city office meets, read by the text parser
(issue 13, build item 2: the gaps F3 and F10 and the variants found after them).

Every input is written for the test, a few measures each; the assertions name codes,
lead, co, districts, 完成时限 and flags exactly.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from typer.testing import CliRunner

from tracker.catalog.options import PlanOptions
from tracker.catalog.plan_text import ParseResult, parse_source
from tracker.catalog.schema import Deadline
from tracker.catalog.sources import Source
from tracker.catalog.text import Skipped, TextParseError
from tracker.cli import app

CITY = PlanOptions(plan_id="t", title="测试规划", issuer="某市人民政府办公厅", issued=dt.date(2019, 3, 1),
                   period=(2019, 2020), government="某市人民政府",
                   districts=("甲区人民政府", "乙区人民政府"))
D = dt.date.fromisoformat
RECURRING = "周期性时限，不是单一日期；各期进展由定期调度跟踪，如需另设完成节点请督查室确定"
RELATIVE = "相对时限，没有固定日期，请督查室确定跟踪的时限"
NO_CLAUSE = "未写明责任单位（段末无“（…负责）”或“（责任单位：…）”，其后也无“牵头单位：”行）"


def parse_text(text: str, options: PlanOptions = CITY) -> ParseResult:
    return parse_source(Source("测试.txt", text.splitlines()), None, options)


def rows(result: ParseResult) -> list[tuple]:
    return [(m.code, m.title, m.lead, m.co, m.districts, m.district_names,
             m.deadline, [(f.field, f.phrase, f.reason) for f in m.flags])
            for m in result.catalog.measures]


F3 = """某市2019年重点工作任务分工方案
一、重点任务
（一）优化营商环境。推进一网通办。（市发展改革委负责，各区人民政府落实）
（二）加大财政投入。保障资金到位。（市财政局负责，2019年底前完成）
（三）推进教育公平。扩大学位供给。（市教委负责，持续推进）
（四）加强师德建设。完善考评。（市教委负责，长期坚持）
（五）完善社会救助。提高保障标准。（市民政局及市财政局负责）
（六）发展养老服务。建设照料中心。（市民政局和市卫生健康委负责，市财政局配合，6月底前完成）
（七）健全医保制度。推进支付改革。（市卫生健康委牵头，市医保局、各区人民政府配合，每季度末）
（八）回应群众诉求。办理热线工单。（市政务服务办负责，3个工作日以内）
（九）做好信息报送。（市政府办公厅负责，及时）
（十）完善统计制度。（市统计局负责，2018年底前完成）
（十一）规范社区治理。（市民政局主责，各区人民政府组织实施，市委组织部指导）
（十二）推进智慧医疗。（责任单位：市财政局、市卫生健康委（牵头）、市大数据局；完成时间：2019年12月）
"""


def test_clause_forms_with_groups_and_time_limits():
    """负责 then 落实/配合 groups, a time limit inside the clause, 及 and 和 between names."""
    assert rows(parse_text(F3)) == [
        ("1.1", "优化营商环境", "市发展改革委", [], True, [], None, []),
        ("1.2", "加大财政投入", "市财政局", [], False, [],
         Deadline(text="2019年底前完成", kind="date", due=D("2019-12-31")), []),
        ("1.3", "推进教育公平", "市教委", [], False, [], Deadline(text="持续推进", kind="ongoing"), []),
        ("1.4", "加强师德建设", "市教委", [], False, [], Deadline(text="长期坚持", kind="ongoing"), []),
        ("1.5", "完善社会救助", "市民政局", ["市财政局"], False, [], None, []),
        # 6月底前 read in the year of the document's issue date (2019-03-01)
        ("1.6", "发展养老服务", "市民政局", ["市卫生健康委", "市财政局"], False, [],
         Deadline(text="6月底前完成", kind="date", due=D("2019-06-30")), []),
        ("1.7", "健全医保制度", "市卫生健康委", ["市医保局"], True, [], None,
         [("deadline", "每季度末", RECURRING)]),
        ("1.8", "回应群众诉求", "市政务服务办", [], False, [], None,
         [("deadline", "3个工作日以内", RELATIVE)]),
        ("1.9", "做好信息报送", "市政府办公厅", [], False, [], None, [("deadline", "及时", RELATIVE)]),
        ("1.10", "完善统计制度", "市统计局", [], False, [],
         Deadline(text="2018年底前完成", kind="date", due=D("2018-12-31")),
         [("deadline", "2018年底前完成", "完成时限 2018-12-31 不在规划期（2019—2020年）内，请督查室核对")]),
        ("1.11", "规范社区治理", "市民政局", ["市委组织部"], True, [], None, []),
        # the name marked （牵头） leads wherever it is listed
        ("1.12", "推进智慧医疗", "市卫生健康委", ["市财政局", "市大数据局"], False, [],
         Deadline(text="2019年12月", kind="date", due=D("2019-12-31")), []),
    ]
    result = parse_text(F3)
    assert result.report.named_agencies == [
        "市发展改革委", "市财政局", "市教委", "市民政局", "市卫生健康委", "市医保局", "市政务服务办",
        "市政府办公厅", "市统计局", "市委组织部", "市大数据局"]
    assert result.report.skipped == []


VARIANTS = """某市关于推进某项工作的实施意见
第一章 总体要求
第一条 为推进某项工作，制定本意见。
第二章 重点任务
第二条 完善制度。建立工作机制。（牵头单位：市发展改革委；配合单位：市财政局、各区人民政府）
第三条 加强保障。落实经费，
分年度安排。（牵头单位:市财政局；
配合单位:市审计局；完成时限:二〇二〇年六月底前；分管领导:副市长）
第四条 强化督查。（市政府督查室、
市绩效办负责）
第五条 做好宣传。（市委宣传部、市文明办，各区人民政府）
第六条 细化分工。
牵头单位：市民政局；配合单位：市财政局
完成时限：2019年9月30日
１．制定方案。
２．组织实施。
第七条 其他事项另行通知（以下简称通知）。
"""


def test_variants_a_city_office_writes():
    """第一章/第一条 numbering, labels with half-width colons and ；, a clause broken over
    lines, names only in brackets, １． from WPS, two labels on one line."""
    result = parse_text(VARIANTS)
    assert rows(result) == [
        ("2.2", "完善制度", "市发展改革委", ["市财政局"], True, [], None, []),
        ("2.3", "加强保障", "市财政局", ["市审计局"], False, [],
         Deadline(text="二〇二〇年六月底前", kind="date", due=D("2020-06-30")), []),
        ("2.4", "强化督查", "市政府督查室", ["市绩效办"], False, [], None, []),
        ("2.5", "做好宣传", "市委宣传部", ["市文明办"], True, [], None, []),
        ("2.6", "细化分工", "市民政局", ["市财政局"], False, [],
         Deadline(text="2019年9月30日", kind="date", due=D("2019-09-30")), []),
    ]
    m = {x.code: x for x in result.catalog.measures}
    assert (m["2.3"].text, m["2.3"].leader) == ("落实经费，\n分年度安排。", "副市长")
    # numbered sub-items without a clause of their own are their measure's text
    assert m["2.6"].text == "１．制定方案。\n２．组织实施。"
    assert result.report.skipped == [
        Skipped("第3行", "第一条为推进某项工作，制定本意见。", NO_CLAUSE),
        Skipped("第17行", "第七条其他事项另行通知（以下简称通知）。",
                "段末括号内“以下简称通知”未读作责任分工（其中没有“负责”“牵头”“责任单位：”等字样，"
                "也不全是单位名称）")]
    assert [a.kind.value for a in result.catalog.agencies][:6] == [
        "city_agency", "city_agency", "city_agency", "city_agency", "city_agency", "party_organ"]


def test_a_time_limit_in_the_clause_and_on_its_own_line_is_refused():
    text = "标题\n一、任务\n（一）甲。（市民政局负责，2019年底前完成）\n完成时限：2020年底前\n"
    with pytest.raises(TextParseError) as caught:
        parse_text(text)
    assert [(p.where, p.message) for p in caught.value.problems] == [
        ("第4行", "任务1.1已在责任分工中写明时限“2019年底前完成”，又另写完成时限“2020年底前”，请只保留一处")]


def test_a_bracket_left_open_before_the_next_item_is_still_refused():
    text = "标题\n一、任务\n（一）甲。（市民政局、\n（二）乙。（市财政局负责）\n"
    with pytest.raises(TextParseError) as caught:
        parse_text(text)
    # a numbered line never closes another item's bracket: nothing is joined
    assert [(p.where, p.message) for p in caught.value.problems] == [
        ("第3行", "段末责任分工缺少右括号：“（市民政局、”")]


SHAPES = """某区2019年重点任务分工
一、总体要求
到2020年基本建成。
二、重点任务
（一）完善服务体系。（区民政局、区财政局负责。列第一位者为牵头单位，下同）
1．建设服务中心。（区民政局负责）
2．培育社会组织。
（二）加强队伍建设。
责任单位：区人力资源和社会保障局
（三）强化基层基础。
牵头单位：区民政局
配合单位：各街道
（四）推进信息化。
（五）完善考核。各街道要抓好落实。（区政府督查室负责）
考核结果定期通报。（区委办公室负责）
三、保障措施
（一）加强领导。
"""


def test_cli_lists_every_skipped_measure_like_line_with_its_reason(tmp_path):
    """一、/（一）/1．, 列第一位者为牵头单位, 责任单位 and 牵头单位…配合单位 on own lines."""
    path = tmp_path / "分工.txt"
    path.write_bytes(SHAPES.encode("gbk"))
    out = tmp_path / "c.json"
    done = CliRunner().invoke(app, [
        "catalog", "parse", str(path), "-o", str(out), "--plan-id", "d", "--issuer", "某区人民政府",
        "--issued", "2019-03-01", "--period", "2019-2020", "--government", "某区人民政府"])
    assert done.exit_code == 0, done.output
    assert "任务 5 项" in done.output and "牵头规则：原文写明“列第一位者为牵头单位”" in done.output
    lines = done.output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("跳过的编号段落"))
    assert lines[start:start + 10] == [
        "跳过的编号段落 4 处：",
        "  第7行 2．培育社会组织。",
        f"    原因：{NO_CLAUSE}",
        "  第13行 （四）推进信息化。",
        f"    原因：{NO_CLAUSE}",
        "  第15行 考核结果定期通报。（区委办公室负责）",
        "    原因：写有责任分工但不在编号的任务之下，无法确定任务编号",
        "  第17行 （一）加强领导。",
        f"    原因：{NO_CLAUSE}",
        "待督查室确认的表述 0 处"]
    result = parse_source(Source("分工.txt", SHAPES.splitlines()), None, PlanOptions(
        plan_id="d", issuer="某区人民政府", issued=dt.date(2019, 3, 1), period=(2019, 2020),
        government="某区人民政府", title="某区2019年重点任务分工"))
    assert [(m.code, m.lead, m.co, m.districts) for m in result.catalog.measures] == [
        ("2.1", "区民政局", ["区财政局"], False),
        ("2.1.1", "区民政局", [], False),
        ("2.2", "区人力资源和社会保障局", [], False),
        ("2.3", "区民政局", [], True),
        ("2.5", "区政府督查室", [], False)]


# --- issue 13, the attack on phrases and names --------------------------------------------------

PROVINCE = PlanOptions(plan_id="p", title="某省实施计划", issuer="某省人民政府", issued=dt.date(2021, 11, 20),
                       period=(2021, 2025), government="某省人民政府",
                       districts=("甲市", "乙市", "丙县", "丁黎族自治县"))
SECOND_LEAD = "牵头单位写有多个单位，以第一个“{}”为牵头单位，其余列为配合单位；如有不同请修改"
GENERIC = "泛指有关单位，请督查室确定具体单位"

PHRASES = """某省全民健身实施计划
一、主要任务
（一）建设体育公园。（责任单位：省体育局、省财政厅，各市、县、自治县人民政府）
（二）开放场馆。（责任单位：省体育局，各市县政府）
（三）举办赛事。（责任单位：省体育局、乙市人民政府、丙县政府）
（四）加强组织领导。（责任单位：各市、县、自治县人民政府，省直有关部门）
（五）优化纳税服务。（责任单位：省税务局、省财政厅按职责分工负责）
（六）治理交通拥堵。（牵头单位：省公安厅、省交通运输厅按职责分工负责）
（七）做好就业工作。（省教育厅、省人力资源社会保障厅牵头，各有关部门按职责分工负责）
（八）建设健身步道。（省住房城乡建设厅负责，各镇（街道）落实）
（九）完善统计监测。
牵头单位：省统计局
责任单位：省体育局、省卫生健康委
完成时限：2022.6
（十）推进体医融合。（省卫生健康委（省中医药局）、省医保局（省医疗保障局）负责，2023.06）
"""


def test_district_and_generic_phrases_second_leads_and_names():
    """The attack of issue 13 (04-province, 09-mixed, 02): district phrases in any punctuation
    are the plan's districts, generic phrases are flagged, never agencies; districts named
    with 人民政府 are the plan's districts; 按职责分工负责 is no part of a name; a second lead is
    flagged as the table importer flags it; 牵头单位 with 责任单位 beside it names the co."""
    result = parse_text(PHRASES, PROVINCE)
    assert rows(result) == [
        ("1.1", "建设体育公园", "省体育局", ["省财政厅"], True, [], None, []),
        ("1.2", "开放场馆", "省体育局", [], True, [], None, []),
        ("1.3", "举办赛事", "省体育局", [], False, ["乙市", "丙县"], None, []),
        ("1.4", "加强组织领导", "（待明确）", [], True, [], None, [
            ("lead", "省直有关部门", "原文仅写“省直有关部门”，未写明牵头单位；牵头单位暂记为“（待明确）”"
                                   "（未给出督查室名称），请督查室确定牵头单位")]),
        ("1.5", "优化纳税服务", "省税务局", ["省财政厅"], False, [], None, []),
        ("1.6", "治理交通拥堵", "省公安厅", ["省交通运输厅"], False, [], None, [
            ("lead", "省公安厅、省交通运输厅", SECOND_LEAD.format("省公安厅"))]),
        ("1.7", "做好就业工作", "省教育厅", ["省人力资源社会保障厅"], False, [], None, [
            ("lead", "省教育厅、省人力资源社会保障厅", SECOND_LEAD.format("省教育厅")),
            ("co", "各有关部门", GENERIC)]),
        ("1.8", "建设健身步道", "省住房城乡建设厅", [], False, [], None, [
            ("districts", "各镇（街道）", "所指层级与本规划的区县名单不同，未按全部区县承担；"
                                        "请督查室确定承担单位")]),
        ("1.9", "完善统计监测", "省统计局", ["省体育局", "省卫生健康委"], False, [],
         Deadline(text="2022.6", kind="date", due=D("2022-06-30")), []),
        ("1.10", "推进体医融合", "省卫生健康委（省中医药局）", ["省医保局（省医疗保障局）"], False, [],
         Deadline(text="2023.06", kind="date", due=D("2023-06-30")), []),
    ]
    assert result.report.named_agencies == [
        "省体育局", "省财政厅", "省税务局", "省公安厅", "省交通运输厅", "省教育厅", "省人力资源社会保障厅",
        "省住房城乡建设厅", "省统计局", "省卫生健康委", "省卫生健康委（省中医药局）",
        "省医保局（省医疗保障局）"]
    agencies = [a.name for a in result.catalog.agencies]
    assert agencies[-4:] == list(PROVINCE.districts) and agencies.count("（待明确）") == 1
    assert not [a for a in agencies if a.startswith("各") or "有关" in a or "人民政府" in a]
    assert result.report.warnings == [
        "1 项任务原文未写明牵头单位（1.4），牵头单位暂记为“（待明确）”（可用 --supervision-office "
        "给出督查室名称，由其汇总），请确定牵头单位"]
    # the office named: it gathers the task
    office = parse_text(PHRASES, replace(PROVINCE, supervision_office="某省人民政府督查室"))
    m4 = office.catalog.measures[3]
    assert (m4.lead, m4.flags[0].reason) == ("某省人民政府督查室", "原文仅写“省直有关部门”，未写明牵头单位；"
                                             "暂列某省人民政府督查室汇总，请督查室确定牵头单位")


SPACED = """某市2019年重点工作任务分工方案
一、重点任务
（一）开展职业培训。每年培训残疾人1000人次。（责任单位：市人力社保局 市财政局　市残联）
（二）扶持自主创业。对自主创业的残 疾人给予补贴。（市民政局牵头，市财政局 市残联配合）
（三）加强就业服务。建立服务平台。（市残联（牵头） 市民政局负责）
（四）完善信息系统。（市 大数据局负责）
"""


def test_a_space_between_two_names_parts_them_a_space_inside_a_word_does_not():
    """Names parted by spaces (half- or full-width) in a text plan's clause are two
    agencies, as in a table cell; a layout space inside a word (残 疾人, 市 大数据局) goes."""
    result = parse_text(SPACED)
    assert [(m.code, m.text, m.lead, m.co) for m in result.catalog.measures] == [
        ("1.1", "每年培训残疾人1000人次。", "市人力社保局", ["市财政局", "市残联"]),
        ("1.2", "对自主创业的残疾人给予补贴。", "市民政局", ["市财政局", "市残联"]),
        ("1.3", "建立服务平台。", "市残联", ["市民政局"]),
        ("1.4", "", "市大数据局", []),
    ]
    assert [a.name for a in result.catalog.agencies][:5] == [
        "市人力社保局", "市财政局", "市残联", "市民政局", "市大数据局"]
