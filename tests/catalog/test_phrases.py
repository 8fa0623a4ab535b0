"""Responsibility clauses read into agencies, districts and flags (issue 13, item 4)."""

from __future__ import annotations

import pytest

from tracker.catalog.phrases import read_agencies

GENERIC = "泛指有关单位，请督查室确定具体单位"


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
    ("各级人民政府及其有关部门", ["各级人民政府及其有关部门"], "none", []),
])
def test_clauses(text, names, districts, flags):
    read = read_agencies(text)
    assert (read.names, read.districts, read.flags) == (names, districts, flags)


def test_a_name_marked_as_lead():
    read = read_agencies("市财政局、市民政局（牵头）、市卫生健康委")
    assert (read.names, read.marked_lead) == (["市财政局", "市民政局", "市卫生健康委"], "市民政局")
    assert read_agencies("市财政局、市民政局").marked_lead is None
