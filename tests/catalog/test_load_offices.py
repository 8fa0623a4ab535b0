"""A plan's offices are its own (issue 13, F6): no 市政府督查室 / 市绩效办 by default. The load
takes the catalog's supervision office, else the one the rules configure
(`documents.offices`), else refuses naming the option; the performance office is optional;
the text parser refuses a task with no lead when no office is given to gather it; the
Tianjin seed keeps its own."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.conftest import at
from tests.factories import small_plan
from tracker.catalog.load import PlanSettingsError, load_catalog
from tracker.catalog.options import PlanOptions
from tracker.catalog.plan_text import parse_source
from tracker.catalog.schema import Catalog, PlanInfo, dump_catalog
from tracker.catalog.sources import Source
from tracker.cli import app
from tracker.db import transaction
from tracker.models import Agency, Plan
from tracker.settings import DocumentRules, OfficeDocuments, Rules


def _without_offices(plan_id: str = "plan-x", government: str = "某市人民政府") -> Catalog:
    data = small_plan(plan_id=plan_id, government=government).model_dump(mode="json")
    data["plan"].pop("supervision_office")
    data["plan"].pop("performance_office")
    data["agencies"] = [a for a in data["agencies"] if a["name"] != "市政府督查室"]
    return Catalog.model_validate(data)


def test_the_schema_has_no_citys_offices():
    info = PlanInfo(id="p", title="t", issuer="i", issued=dt.date(2019, 1, 1), period=(2019, 2020),
                    government="某市人民政府")
    assert (info.supervision_office, info.performance_office) == (None, None)


def test_without_an_office_the_load_is_refused_naming_the_option(db):
    with transaction(db) as s, pytest.raises(PlanSettingsError) as refused:
        load_catalog(s, _without_offices(), at("2019-01-05"))
    assert refused.value.message == (
        "规划“plan-x”的目录未写明督查室（plan.supervision_office），规则文件的 documents.offices "
        "也未设置：请在导入时用 --supervision-office 给出（如 某市人民政府督查室），或在目录的 "
        "plan.supervision_office 中写明")
    two = Rules(documents=DocumentRules(offices={"甲督查室": OfficeDocuments(),
                                                 "乙督查室": OfficeDocuments()}))
    with transaction(db) as s, pytest.raises(PlanSettingsError) as refused:
        load_catalog(s, _without_offices(), at("2019-01-05"), rules=two)
    assert "规则文件的 documents.offices 设有多个发文机关（甲督查室、乙督查室），无法确定是哪一个" \
        in refused.value.message
    with db() as s:
        assert s.scalar(select(func.count()).select_from(Plan)) == 0


def test_the_rules_office_serves_a_plan_that_names_none(db):
    rules = Rules(documents=DocumentRules(offices={"某市人民政府督查室": OfficeDocuments(prefix="某督")}))
    with transaction(db) as s:
        load_catalog(s, _without_offices(), at("2019-01-05"), rules=rules)
    with db() as s:
        plan = s.scalars(select(Plan)).one()
        assert (plan.supervision_office, plan.performance_office) == ("某市人民政府督查室", None)
        names = set(s.scalars(select(Agency.name)))
    assert "某市人民政府督查室" in names and not names & {"市政府督查室", "市绩效办"}


def test_the_cli_refuses_without_an_office_in_chinese(db, db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKER_DATABASE_URL", db_url)
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    path = tmp_path / "plan.json"
    path.write_text(dump_catalog(_without_offices()), encoding="utf-8")
    r = CliRunner().invoke(app, ["catalog", "load", str(path), "--now", "2019-01-05T09:00"])
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert "请在导入时用 --supervision-office 给出" in " ".join(r.output.split())


TEXT = """某市关于加快养老服务发展的实施意见
一、主要任务
（一）完善居家养老服务。（市民政局负责）
（二）强化属地责任。（各区人民政府负责）
某市人民政府
2019年3月1日
"""
OPTIONS = dict(plan_id="t", period=(2019, 2020), government="某市人民政府",
               districts=("甲区人民政府",))


def test_a_task_without_a_lead_waits_for_the_office_named():
    source = Source("意见.txt", TEXT.splitlines())
    pending = parse_source(source, None, PlanOptions(**OPTIONS))  # type: ignore[arg-type]
    assert [(m.code, m.lead, [f.field for f in m.flags]) for m in pending.catalog.measures] == [
        ("1.1", "市民政局", []), ("1.2", "（待明确）", ["lead"])]
    parsed = parse_source(source, None, PlanOptions(**OPTIONS,  # type: ignore[arg-type]
                                                    supervision_office="某市人民政府督查室"))
    assert [(m.code, m.lead) for m in parsed.catalog.measures] == [
        ("1.1", "市民政局"), ("1.2", "某市人民政府督查室")]
    assert parsed.catalog.plan.performance_office is None


def test_the_tianjin_seed_keeps_its_offices(catalog):
    assert (catalog.plan.supervision_office, catalog.plan.performance_office) == (
        "市政府督查室", "市绩效办")
