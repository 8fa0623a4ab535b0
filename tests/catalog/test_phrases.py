"""Responsibility clauses read into agencies, districts and flags (issue 13, item 4)."""

from __future__ import annotations

import pytest

from tracker.catalog.phrases import (
    match_district,
    normal_name,
    read_agencies,
    second_lead_flag,
    split_clause,
)
from tracker.catalog.schema import Flag

GENERIC = "泛指有关单位，请督查室确定具体单位"
SOME = "未指明具体区县，请督查室选定承担的区县"
OTHER_LEVEL = "所指层级与本规划的区县名单不同，未按全部区县承担；请督查室确定承担单位"
# the plan's districts as a province writes them (short names, 市 and 县)
HAINAN = ("海口市", "三亚市", "三沙市", "儋州市", "定安县", "白沙黎族自治县")


@pytest.mark.parametrize(("text", "names", "districts", "flags"), [
    ("市人力社保局、市财政局等有关部门，各区人民政府", ["市人力社保局", "市财政局"], "all",
     [("等有关部门", "“市财政局”后的“等有关部门”泛指其他单位，请督查室确定是否增列")]),
    ("人力资源社会保障部、财政部", ["人力资源社会保障部", "财政部"], "none", []),
    ("市人力资源和社会保障局", ["市人力资源和社会保障局"], "none", []),  # 和 is inside the name
    ("各市、县（区）人民政府", [], "all", []),
    ("市民政局，各区、县级市", ["市民政局"], "all", []),
    ("各区县人民政府", [], "all", []),
    ("各省、自治区、直辖市人民政府", [], "all", []),
    ("农业农村部、各省级人民政府", ["农业农村部"], "all", []),
    ("各街道", [], "all", []),
    ("各有关部门和单位", [], "none", [("各有关部门和单位", GENERIC)]),
    ("市教委，有关部门。", ["市教委"], "none", [("有关部门", GENERIC)]),
    ("市民政局、有关区人民政府", ["市民政局"], "some",
     [("有关区人民政府", "未指明具体区县，请督查室选定承担的区县")]),
    ("市教委、 市卫生健康委等", ["市教委", "市卫生健康委"], "none",
     [("等", "“市卫生健康委”后的“等”泛指其他单位，请督查室确定是否增列")]),
    ("市民政局、市民政局", ["市民政局"], "none", []),
    # 及 / 和 / 以及 between two names; never inside one, never 及其 (issue 13, F3)
    ("市民政局及市财政局", ["市民政局", "市财政局"], "none", []),
    ("团市委和市妇联", ["团市委", "市妇联"], "none", []),
    ("市科学技术局和市工业和信息化局", ["市科学技术局", "市工业和信息化局"], "none", []),
    ("市民政局以及各区人民政府", ["市民政局"], "all", []),
    ("市国土资源和房屋管理局", ["市国土资源和房屋管理局"], "none", []),
    ("文化和旅游部、国家发展和改革委员会", ["文化和旅游部", "国家发展和改革委员会"], "none", []),
    # 各级 / 有关: never an agency, never split at 及其
    ("各级人民政府及其有关部门", [], "none", [("各级人民政府及其有关部门", GENERIC)]),
])
def test_clauses(text, names, districts, flags):
    read = read_agencies(text)
    assert (read.names, read.districts, read.flags) == (names, districts, flags)


def test_a_name_marked_as_lead():
    read = read_agencies("市财政局、市民政局（牵头）、市卫生健康委")
    assert (read.names, read.marked_lead) == (["市财政局", "市民政局", "市卫生健康委"], "市民政局")
    assert read_agencies("市财政局、市民政局").marked_lead is None


# --- the attack of issue 13: 各… / 有关 / 相关 / 成员单位 / 各级 are never agencies ----------------

@pytest.mark.parametrize("text", [
    "各县（市）人民政府", "各县（市）、区人民政府", "各市县政府", "各市、县、自治县人民政府",
    "各区（市）县政府", "各区、市政府", "各市（州）、县（市、区）人民政府", "各镇人民政府",
    "各镇（街道）", "各地区（乡）政府（办事处）", "各区县（自治县）人民政府", "各设区市人民政府",
    "各盟市", "各区（县）", "各县区政府", "各开发区管委会", "各区（市）县政府（管委会）",
    "各省(区、市)", "各街道办事处",
])
def test_district_phrases_in_any_punctuation_are_every_district(text):
    """No district list given: the phrase is every district, whole, never pieces."""
    read = read_agencies(text)
    assert (read.names, read.districts, read.flags, read.district_phrases) == (
        [], "all", [], [normal_name(text)])


@pytest.mark.parametrize("text", [
    "市各有关部门", "市有关部门", "省直有关部门", "市直有关部门", "各级人民政府", "国务院有关部门",
    "各成员单位", "等有关部门", "等", "各有关部门、单位", "有关部门和单位", "领导小组各成员单位",
    "各地区", "各民主党派", "相关企业", "市政府各部门", "区委各部委办", "省政府直属各单位",
])
def test_generic_phrases_are_flagged_whole(text):
    read = read_agencies(text)
    assert (read.names, read.districts, read.flags) == ([], "none", [(text, GENERIC)])


@pytest.mark.parametrize(("text", "names", "flags"), [
    ("市财政局　市民政局", ["市财政局", "市民政局"], []),  # a full-width space between names
    ("市财政局 市民政局", ["市财政局", "市民政局"], []),
    ("市住房城乡建设委　市交通运输局等", ["市住房城乡建设委", "市交通运输局"],
     [("等", "“市交通运输局”后的“等”泛指其他单位，请督查室确定是否增列")]),
    ("市 民政局", ["市民政局"], []),  # a space inside a name joins it
    ("市民政局 ", ["市民政局"], []),
    ("市财政局、市民政局按职责分工负责", ["市财政局", "市民政局"], []),
    ("市发展改革委牵头", ["市发展改革委"], []),
    ("市财政局、市民政局等10个部门", ["市财政局", "市民政局"],
     [("等10个部门", "“市民政局”后的“等10个部门”泛指其他单位，请督查室确定是否增列")]),
    ("市住房城乡建设局(市人防办)、市住房城乡建设局（市人防办）", ["市住房城乡建设局（市人防办）"], []),
])
def test_names_as_cells_and_clauses_write_them(text, names, flags):
    read = read_agencies(text)
    assert (read.names, read.districts, read.flags) == (names, "none", flags)


def test_a_clause_is_never_split_inside_a_district_phrase():
    assert split_clause("省财政厅，各市、县、自治县人民政府，省直有关部门") == [
        "省财政厅", "各市、县、自治县人民政府", "省直有关部门"]
    assert split_clause("市经信局，各区（市）县政府（管委会）、市商务局") == [
        "市经信局", "各区（市）县政府（管委会）", "市商务局"]
    # 各区 then an agency of the city: the phrase ends where its words end
    assert split_clause("各区、市政府办公厅") == ["各区", "市政府办公厅"]
    assert split_clause("各区、市政府") == ["各区、市政府"]
    assert split_clause("有关部门、单位，市教委") == ["有关部门、单位", "市教委"]


def test_district_phrases_against_the_plans_districts():
    """Known districts: a phrase of their level is all of them; of another level, flagged;
    a district named with or without 人民政府 is that district."""
    read = read_agencies("各市、县（区）人民政府，三沙市人民政府", HAINAN)
    assert (read.names, read.districts, read.flags) == (["三沙市人民政府"], "all", [])
    read = read_agencies("省教育厅，各镇（街道）", HAINAN)
    assert (read.names, read.districts, read.flags) == (
        ["省教育厅"], "none", [("各镇（街道）", OTHER_LEVEL)])
    # a State Council plan whose provinces are 直辖市 still reads 各省级人民政府 as all of them
    assert read_agencies("各省级人民政府", ("北京市人民政府", "天津市人民政府")).districts == "all"
    assert read_agencies("各镇（街道）", ("甲镇", "乙街道")).districts == "all"
    assert read_agencies("各街道办事处", ("建外街道办事处", "南磨房地区办事处")).districts == "all"
    assert [match_district(n, HAINAN) for n in (
        "三沙市人民政府", "三沙市政府", "三沙市", "三沙", "市政府")] == [
        "三沙市", "三沙市", "三沙市", None, None]
    assert match_district("市南区", ("市南区人民政府", "市北区人民政府")) == "市南区人民政府"


def test_the_second_lead_flag_has_one_wording():
    assert second_lead_flag("教育部、人力资源社会保障部", "教育部") == Flag(
        field="lead", phrase="教育部、人力资源社会保障部",
        reason="牵头单位写有多个单位，以第一个“教育部”为牵头单位，其余列为配合单位；如有不同请修改")
