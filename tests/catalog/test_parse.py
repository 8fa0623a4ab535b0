"""The parsed seed reproduces the plan's facts (DESIGN.md, issue 2 "Must hold")."""

from __future__ import annotations

import json

from tests.conftest import ROOT
from tracker.catalog.parse import TIANJIN_DISTRICTS, extract_targets
from tracker.catalog.schema import dump_catalog
from tracker.enums import AgencyKind


def test_counts(catalog):
    assert len(catalog.measures) == 38
    assert sum(m.code.startswith("2.") for m in catalog.measures) == 35
    assert [m.code for m in catalog.measures if m.code.startswith("3.")] == ["3.1", "3.2", "3.3"]
    assert [i.code for i in catalog.indicators] == [f"I{n}" for n in range(1, 10)]
    assert catalog.measures[-4].code == "2.10.2"


def test_measure_2_1_4_and_2_7_1(catalog):
    m = {x.code: x for x in catalog.measures}
    assert m["2.1.4"].lead == "市国土房管局"
    assert m["2.1.4"].co == ["市建委", "市财政局", "市残联"]
    assert m["2.1.4"].title == "优先保障残疾人基本住房"
    assert m["2.7.1"].lead == "市残联" and m["2.7.1"].co == []
    assert m["2.7.1"].districts is True
    assert m["3.1"].co == ["市政府督查室", "市绩效办", "市发展改革委"]


def test_every_measure_lists_the_districts_and_798_assignments(catalog):
    assert all(m.districts for m in catalog.measures)
    districts = catalog.districts()
    assert [d.name for d in districts] == [f"{d}人民政府" for d in TIANJIN_DISTRICTS]
    assert len(districts) == 16
    total = sum(1 + len(m.co) + (len(districts) if m.districts else 0) for m in catalog.measures)
    assert total == 798


def test_city_level_agencies(catalog):
    city = [a for a in catalog.agencies if a.kind != AgencyKind.DISTRICT_GOVERNMENT]
    assert len(city) == 36
    names = {a.name for a in city}
    assert {"市政府督查室", "市绩效办"} <= names
    kinds = {a.name: a.kind for a in city}
    assert kinds["中国人寿保险股份有限公司天津分公司"] == AgencyKind.ENTERPRISE
    assert kinds["市高法院"] == AgencyKind.JUDICIAL
    assert kinds["市残联"] == AgencyKind.MASS_ORGANISATION


def test_plan_header(catalog):
    assert catalog.plan.title == "天津市“十三五”加快残疾人小康进程规划纲要"
    assert catalog.plan.issued.isoformat() == "2016-12-08"
    assert catalog.plan.period == (2016, 2020)


def test_indicators(catalog):
    ind = {i.code: i for i in catalog.indicators}
    assert (ind["I1"].target, ind["I1"].comparator, ind["I1"].attribute) == (9, ">", "expected")
    assert (ind["I7"].target, ind["I7"].comparator, ind["I7"].attribute) == (80, ">=", "binding")
    assert ind["I6"].owner == "市国土房管局"  # lead of 2.1.4, the main related measure
    assert [i.code for i in catalog.indicators if i.attribute == "binding"] == [
        "I2", "I3", "I6", "I7", "I8", "I9"]


def test_targets_in_text(catalog):
    m = {x.code: x for x in catalog.measures}
    assert [(t.kind, t.value, t.unit) for t in m["2.4.1"].targets] == [("percent", 98, "%")]
    assert [(t.kind, t.value, t.unit) for t in m["2.4.4"].targets] == [("count", 5000, "名")]
    assert ("deadline", 2020, "年") in [(t.kind, t.value, t.unit) for t in m["2.1.4"].targets]
    assert extract_targets("持有残疾人证且缴费满15年的，男年满50周岁") == []


def test_checked_in_catalog_is_the_parse_of_the_seed(catalog):
    checked_in = (ROOT / "tasks_catalog.json").read_text(encoding="utf-8")
    assert json.loads(checked_in) == json.loads(dump_catalog(catalog))
