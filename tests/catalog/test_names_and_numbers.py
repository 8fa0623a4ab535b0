"""Smaller findings of issue 13's attack on the importers: names in table cells (spaces,
brackets, a generic phrase alone), month deadlines written 2019.6, the kind of a city's
own 地方金融监管局, numbers past 一百 in messages and a notice title longer than a line."""

from __future__ import annotations

import datetime as dt

import pytest

from tracker.catalog.deadlines import parse_deadline
from tracker.catalog.kinds import guess_agency_kind
from tracker.catalog.options import plan_info
from tracker.catalog.plan_text import parse_source
from tracker.catalog.profiles import cn_to_int, int_to_cn
from tracker.catalog.schema import Flag
from tracker.catalog.sources import Source
from tracker.catalog.table import import_table
from tracker.catalog.text import TextParseError, read_header

GENERIC = "泛指有关单位，请督查室确定具体单位"
PLAN = dict(plan_id="t", title="某区重点任务", issuer="某区人民政府", doc_number=None, issued="2021-03-01",
            period="2021-2022", government="某区人民政府", districts="甲镇、乙街道")

CELLS = ("序号,重点任务,牵头单位,配合单位,完成时限\n"
         "1,任务一,市住房城乡建设局(市人防办),区卫健局　区妇联,2021.6\n"
         "2,任务二,市住房城乡建设局（市人防办）,等有关部门,2021.06\n"
         "3,任务三,市 民政局,\"区财政局 区教育局等\",2021年6月\n"
         "4,任务四,区民政局,\"各镇（街道）、区有关部门\",2021-06\n")


def test_names_in_table_cells_as_offices_type_them():
    """05/10/20 of the attack: a space between two names splits them, inside a name it
    does not; (市人防办) and （市人防办） are one name; 等有关部门 alone is flagged; the
    district phrase of the plan's level is every district."""
    catalog = import_table(CELLS.encode("utf-8"), "分工表.csv", plan_info(**PLAN)).catalog
    assert [(m.code, m.lead, m.co, m.districts, m.flags) for m in catalog.measures] == [
        ("1", "市住房城乡建设局（市人防办）", ["区卫健局", "区妇联"], False, []),
        ("2", "市住房城乡建设局（市人防办）", [], False,
         [Flag(field="co", phrase="等有关部门", reason=GENERIC)]),
        ("3", "市民政局", ["区财政局", "区教育局"], False, [Flag(
            field="co", phrase="等", reason="“区教育局”后的“等”泛指其他单位，请督查室确定是否增列")]),
        ("4", "区民政局", [], True, [Flag(field="co", phrase="区有关部门", reason=GENERIC)])]
    assert {m.deadline.due for m in catalog.measures if m.deadline} == {dt.date(2021, 6, 30)}
    assert [a.name for a in catalog.agencies] == [
        "市住房城乡建设局（市人防办）", "区卫健局", "区妇联", "市民政局", "区财政局", "区教育局", "区民政局",
        "甲镇", "乙街道"]


@pytest.mark.parametrize("text", ["2019.6", "2019.06", "2019年6月", "2019-06", "2019/6", "２０１９．６"])
def test_a_month_as_a_deadline_is_its_last_day(text):
    assert parse_deadline(text).due == dt.date(2019, 6, 30)


def test_a_citys_own_financial_bureau_is_a_department():
    assert [guess_agency_kind(n).value for n in (
        "市地方金融监管局", "市地方金融监督管理局", "天津金融监管局", "国家金融监督管理总局天津监管局")] == [
        "city_agency", "city_agency", "central_branch", "central_branch"]


def test_numbers_past_one_hundred_are_written_back_in_chinese():
    assert [int_to_cn(n) for n in (100, 101, 110, 115, 999)] == [
        "一百", "一百零一", "一百一十", "一百一十五", "九百九十九"]
    assert all(cn_to_int(int_to_cn(n)) == n for n in range(1, 1000))
    text = "标题\n一、任务\n（一百零一）甲。（市民政局负责）\n"
    with pytest.raises(TextParseError) as caught:
        parse_source(Source("t.txt", text.splitlines()), None, None)
    assert ("第3行", "编号不连续：本级应从（一）开始，本项为（一百零一），请检查是否漏项或断行") in [
        (p.where, p.message) for p in caught.value.problems]


def test_a_notice_title_longer_than_forty_characters_is_read():
    """09 of the attack: the title line of a 印发 notice is 52 characters."""
    lines = ["成都市人民政府办公厅关于印发成都市深化“放管服”改革优化营商环境2020年工作要点的通知",
             "成办发〔2020〕18号", "各区（市）县政府，市政府各部门：",
             "现将《成都市深化“放管服”改革优化营商环境2020年工作要点》印发给你们。"]
    stated = read_header(list(enumerate(lines, start=1)))
    assert (stated.title, stated.doc_number) == (
        "成都市深化“放管服”改革优化营商环境2020年工作要点", "成办发〔2020〕18号")
