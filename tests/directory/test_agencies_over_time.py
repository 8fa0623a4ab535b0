"""The agency directory over time (issue 13, item 4): aliases valid between two days, and
merges (市国税局 and 市地税局 into 国家税务总局天津市税务局, 2018): the old names resolve to
the new agency from the merging day, active tasks move there, requests already opened
stay with the old rows; the CLI records both."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.conftest import at
from tests.factories import small_plan
from tracker.catalog.load import load_catalog
from tracker.catalog.schema import Catalog
from tracker.cli import app
from tracker.db import transaction
from tracker.directory.agencies import AgencyError, resolve
from tracker.directory.renames import add_alias, merge_agencies
from tracker.enums import AgencyKind, Role
from tracker.models import (
    Agency,
    AgencyAlias,
    Assignment,
    AuditEvent,
    Contact,
    Measure,
    Plan,
    ProgressRequest,
    ReportingPeriod,
)
from tracker.requests.opening import open_due_requests

GOV = "天津市人民政府"
D = dt.date.fromisoformat
run = CliRunner().invoke


def _tax_plan() -> Catalog:
    """The small plan with the two tax bureaus of 2017: 市国税局 leads measure 1 with
    市地税局; 市地税局 also helps with measure 2."""
    data = small_plan(period=(2017, 2019)).model_dump(mode="json")
    data["agencies"] += [{"name": "市国税局", "kind": "central_branch"},
                         {"name": "市地税局", "kind": "city_agency"}]
    m1, m2, _ = data["measures"]
    m1.update(lead="市国税局", co=["市地税局", "市财政局"], districts=False)
    m2.update(co=["市地税局"])
    return Catalog.model_validate(data)


def _assignments(s: Any, plan_id: int) -> list[tuple[str, str, str, bool]]:
    """(code, agency, role, active) of a plan's assignments, by code and name (code points:
    the same order on every database)."""
    return sorted(tuple(r) for r in s.execute(  # type: ignore[misc]
        select(Measure.code, Agency.name, Assignment.role, Assignment.active)
        .join(Measure, Measure.id == Assignment.measure_id)
        .join(Agency, Agency.id == Assignment.agency_id)
        .where(Measure.plan_id == plan_id)).all())


def test_an_alias_means_its_agency_between_its_days(db, small):
    with transaction(db) as s:
        civil, finance = resolve(s, GOV, "市民政局"), resolve(s, GOV, "市财政局")
        assert add_alias(s, GOV, "市民政局", "市民政事务局", valid_from=D("2019-01-01"),
                         actor="t", now=at("2018-12-01"))
        # a former name: it meant 市财政局 until the renaming day
        assert add_alias(s, GOV, "市财政局", "市财政地税局", valid_to=D("2018-07-01"),
                         actor="t", now=at("2018-12-01"))
        assert not add_alias(s, GOV, "市财政局", "市财政地税局", valid_to=D("2018-07-01"),
                             actor="t", now=at("2018-12-02"))
    with db() as s:
        assert resolve(s, GOV, "市民政事务局", D("2018-12-31")) is None
        assert resolve(s, GOV, "市民政事务局", D("2019-01-01")) == civil
        assert resolve(s, GOV, "市民政事务局") == civil
        assert resolve(s, GOV, "市财政地税局", D("2018-06-30")) == finance
        assert resolve(s, GOV, "市财政地税局", D("2018-07-01")) is None
        assert resolve(s, GOV, "市财政地税局") is None
        assert s.scalar(select(func.count()).select_from(AuditEvent)
                        .where(AuditEvent.action == "agency.alias")) == 2


@pytest.mark.parametrize(("agency", "alias", "days", "message"), [
    ("市统计局", "统计局", {}, "单位名录中没有 天津市人民政府 的“市统计局”"),
    ("市民政局", "市残联", {},
     "“市残联”是单位名录中另一单位的名称；两者如为同一单位，请记录合并（tracker agency merge）"),
    ("市民政局", "市人力社保局", {}, "简称“市人力社保局”已属于另一单位，不能再作为“市民政局”的简称"),
    ("市民政局", "民政局", {"valid_from": D("2019-01-01"), "valid_to": D("2018-01-01")},
     "简称“民政局”的启用日期 2019-01-01 应早于停用日期 2018-01-01"),
])
def test_an_alias_is_refused_in_chinese(db, small, agency, alias, days, message):
    with transaction(db) as s, pytest.raises(AgencyError) as refused:
        add_alias(s, GOV, agency, alias, actor="t", now=at("2018-12-01"), **days)
    assert refused.value.message == message


def test_a_merge_moves_active_tasks_and_leaves_opened_requests(db, policy):
    with transaction(db) as s:
        plan_id = load_catalog(s, _tax_plan(), at("2018-01-05")).plan_id
        open_due_requests(s, s.get_one(Plan, plan_id), at("2018-03-20"), policy)
        national, local = resolve(s, GOV, "市国税局"), resolve(s, GOV, "市地税局")
        moved = merge_agencies(s, GOV, ["市国税局", "市地税局"], "国家税务总局天津市税务局",
                               on=D("2018-06-15"), actor="t", now=at("2018-06-15"),
                               policy=policy, kind=AgencyKind.CENTRAL_BRANCH)
    assert moved == 3
    with db() as s:
        merged = resolve(s, GOV, "国家税务总局天津市税务局")
        assert merged not in (None, national, local)
        assert s.get_one(Agency, merged).kind == AgencyKind.CENTRAL_BRANCH
        # the old names: the old rows before the merging day, the new agency from it
        assert resolve(s, GOV, "市国税局", D("2018-06-14")) == national
        assert resolve(s, GOV, "市地税局", D("2018-06-14")) == local
        assert resolve(s, GOV, "市国税局", D("2018-06-15")) == merged
        assert resolve(s, GOV, "市地税局") == merged
        # one assignment per measure for the new agency, with the strongest role merged
        assert _assignments(s, plan_id) == [
            ("1", "国家税务总局天津市税务局", Role.LEAD, True), ("1", "市国税局", Role.LEAD, False),
            ("1", "市地税局", Role.CO, False), ("1", "市财政局", Role.CO, True),
            ("2", "国家税务总局天津市税务局", Role.CO, True), ("2", "市地税局", Role.CO, False),
            ("2", "市民政局", Role.LEAD, True),
            ("3", "和平区人民政府", Role.DISTRICT, True), ("3", "市残联", Role.LEAD, True),
            ("3", "河东区人民政府", Role.DISTRICT, True)]
        q1 = s.execute(select(ProgressRequest.agency_id, func.count()).join(
            ReportingPeriod, ReportingPeriod.id == ProgressRequest.period_id)
            .where(ReportingPeriod.label == "2018Q1",
                   ProgressRequest.agency_id.in_([national, local, merged]))
            .group_by(ProgressRequest.agency_id)).all()
    assert dict(q1) == {national: 1, local: 2}  # opened before: they stay with the old rows
    with transaction(db) as s:  # the next quarter asks the new agency only
        open_due_requests(s, s.get_one(Plan, plan_id), at("2018-06-19"), policy)
    with db() as s:
        q2 = s.execute(select(ProgressRequest.agency_id, func.count()).join(
            ReportingPeriod, ReportingPeriod.id == ProgressRequest.period_id)
            .where(ReportingPeriod.label == "2018Q2",
                   ProgressRequest.agency_id.in_([national, local, merged]))
            .group_by(ProgressRequest.agency_id)).all()
    assert dict(q2) == {merged: 2}
    # the plan loaded again (a corrected title) still writes 市国税局: the new agency keeps
    # the lead, the old rows stay inactive
    data = _tax_plan().model_dump(mode="json")
    data["plan"]["title"] = "天津市残疾人就业促进三年行动方案（修订）"
    with transaction(db) as s:
        result = load_catalog(s, Catalog.model_validate(data), at("2018-07-02"))
        again = merge_agencies(s, GOV, ["市国税局", "市地税局"], "国家税务总局天津市税务局",
                               on=D("2018-06-15"), actor="t", now=at("2018-07-02"),
                               policy=policy)
    assert result.changes == {"plan_updated": 1}
    assert again == 0
    with db() as s:
        rows = dict(((c, n), (r, a)) for c, n, r, a in _assignments(s, plan_id))
        assert rows[("1", "国家税务总局天津市税务局")] == (Role.LEAD, True)
        assert rows[("1", "市国税局")] == (Role.LEAD, False)
        assert s.scalar(select(func.count()).select_from(AuditEvent)
                        .where(AuditEvent.action == "agency.merge")) == 1


@pytest.mark.parametrize(("old", "into", "on", "message"), [
    (["市国税局"], "国家税务总局天津市税务局", "2018-07-01",
     "合并日期 2018-07-01 晚于今天，请在合并生效后再记录"),
    (["市国税局", "市税务局"], "国家税务总局天津市税务局", "2018-06-15",
     "单位名录中没有 天津市人民政府 的“市税务局”"),
    (["市国税局"], "市国税局", "2018-06-15", "“市国税局”不能合并到自身"),
])
def test_a_merge_is_refused_in_chinese(db, policy, old, into, on, message):
    with transaction(db) as s:
        load_catalog(s, _tax_plan(), at("2018-01-05"))
    with transaction(db) as s, pytest.raises(AgencyError) as refused:
        merge_agencies(s, GOV, old, into, on=D(on), actor="t", now=at("2018-06-20"),
                       policy=policy)
    assert refused.value.message == message


def test_the_cli_records_an_alias_and_a_merge(db, db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKER_DATABASE_URL", db_url)
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    with transaction(db) as s:
        load_catalog(s, _tax_plan(), at("2018-01-05"))
    r = run(app, ["agency", "alias", "市民政局", "市民政事务局", "--from", "2019-01-01",
                  "--now", "2018-12-01T09:00"])
    assert r.exit_code == 0 and "已记录：“市民政事务局”即“市民政局”" in r.output
    r = run(app, ["agency", "alias", "市民政局", "市残联"])
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert "“市残联”是单位名录中另一单位的名称" in r.output
    r = run(app, ["agency", "alias", "市民政局", "民政", "--from", "2019-13-01"])
    assert r.exit_code == 2 and "--from 的值“2019-13-01”不是有效的日期" in r.output
    r = run(app, ["agency", "merge", "市国税局", "市地税局", "--into", "国家税务总局天津市税务局",
                  "--on", "2018-06-15", "--now", "2018-06-20T09:00"])
    assert r.exit_code == 0, r.output
    assert "市国税局、市地税局 自 2018-06-15 起并入“国家税务总局天津市税务局”，移交任务分解 3 项" in r.output
    # after the merge, a liaison added under an old name serves the new agency
    r = run(app, ["liaison", "add", "市国税局", "张三", "zhangsan@example.org"])
    assert r.exit_code == 0, r.output
    with db() as s:
        alias = s.scalars(select(AgencyAlias).where(AgencyAlias.alias == "市民政事务局")).one()
        assert (alias.valid_from, alias.valid_to) == (D("2019-01-01"), None)
        merged = resolve(s, GOV, "国家税务总局天津市税务局")
        assert resolve(s, GOV, "市国税局") == merged
        # the new agency takes the first old one's kind
        assert s.get_one(Agency, merged).kind == AgencyKind.CENTRAL_BRANCH
        assert s.scalars(select(Contact.agency_id).where(
            Contact.email == "zhangsan@example.org")).one() == merged
