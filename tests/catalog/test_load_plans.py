"""Loading several plans (issue 13, item 3): a second plan leaves the first untouched,
the same file twice changes nothing, another document under a loaded id is refused unless
--replace (which keeps requests and reports), and the schema-2 fields reach the database:
named districts, a task's 完成时限 and 分管领导, flagged phrases and new names on the review
list."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import Table, select
from typer.testing import CliRunner

from tests.conftest import at
from tests.factories import small_plan
from tracker.catalog.load import PlanIdentityError, load_catalog
from tracker.catalog.schema import Catalog, dump_catalog
from tracker.cli import app
from tracker.db import transaction
from tracker.directory.contacts import ensure_demo_contacts
from tracker.enums import Role
from tracker.models import (
    Agency,
    Assignment,
    AuditEvent,
    Base,
    DirectoryReview,
    Indicator,
    Measure,
    Plan,
    ProgressReport,
    ProgressRequest,
    ReportingPeriod,
)
from tracker.requests.opening import open_due_requests
from tracker.requests.reports import ReportInput, record_reports

run = CliRunner().invoke


def _rows(s: Any, table: Table, where: Any = None) -> list[tuple[Any, ...]]:
    query = select(table)
    if where is not None:
        query = query.where(where)
    return [tuple(r) for r in s.execute(query.order_by(*table.primary_key.columns)).all()]


def _plan_snapshot(s: Any, plan_id: int) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of one plan's tables, and of the agencies it names, column by column."""
    measures = select(Measure.id).where(Measure.plan_id == plan_id)
    periods = select(ReportingPeriod.id).where(ReportingPeriod.plan_id == plan_id)
    requests = select(ProgressRequest.id).where(ProgressRequest.period_id.in_(periods))
    agencies = select(Assignment.agency_id).where(Assignment.measure_id.in_(measures))
    t = {m.__tablename__: m.__table__ for m in (Plan, Measure, Assignment, Indicator,  # type: ignore[attr-defined]
                                                 ReportingPeriod, ProgressRequest,
                                                 ProgressReport, Agency)}
    return {
        "plan": _rows(s, t["plan"], Plan.id == plan_id),
        "measure": _rows(s, t["measure"], Measure.plan_id == plan_id),
        "assignment": _rows(s, t["assignment"], Assignment.measure_id.in_(measures)),
        "indicator": _rows(s, t["indicator"], Indicator.plan_id == plan_id),
        "reporting_period": _rows(s, t["reporting_period"], ReportingPeriod.plan_id == plan_id),
        "progress_request": _rows(s, t["progress_request"], ProgressRequest.id.in_(requests)),
        "progress_report": _rows(s, t["progress_report"], ProgressReport.request_id.in_(requests)),
        "agency": _rows(s, t["agency"], Agency.id.in_(agencies)),
    }


def _whole_database(s: Any) -> dict[str, list[tuple[Any, ...]]]:
    return {name: _rows(s, table) for name, table in Base.metadata.tables.items()}


def _with(catalog: Catalog, plan: dict[str, Any] | None = None,
          measures: dict[str, dict[str, Any]] | None = None) -> Catalog:
    """`catalog` with plan settings and measures (by code) changed."""
    data = catalog.model_dump(mode="json")
    data["schema_version"] = 2
    data["plan"].update(plan or {})
    for m in data["measures"]:
        m.update((measures or {}).get(m["code"], {}))
    return Catalog.model_validate(data)


def _first_plan_answered(db: Any, policy: Any) -> int:
    """Plan A loaded, its first quarter opened and one request answered."""
    with transaction(db) as s:
        a = load_catalog(s, small_plan(plan_id="plan-a"), at("2017-01-05")).plan_id
        ensure_demo_contacts(s, a)
        open_due_requests(s, s.get_one(Plan, a), at("2017-03-17"), policy)
        rid = s.scalar(select(ProgressRequest.id).order_by(ProgressRequest.id).limit(1))
        record_reports(s, [ReportInput(request_id=rid, status="in_progress", percent=40,
                                       narrative="已完成摸底")],
                       submitted_by="t", now=at("2017-04-01"))
    return a


def test_a_second_plan_leaves_the_first_plans_rows_requests_and_reports_untouched(db, policy):
    a = _first_plan_answered(db, policy)
    with db() as s:
        before = _plan_snapshot(s, a)
    assert len(before["progress_request"]) == 9 and len(before["progress_report"]) == 1
    second = small_plan(plan_id="plan-b", title="天津市残疾人就业促进三年行动方案（第二期）")
    with transaction(db) as s:
        result = load_catalog(s, second, at("2017-06-01"))
        open_due_requests(s, s.get_one(Plan, result.plan_id), at("2017-06-16"), policy)
    assert result.changes == {"plan_created": 1, "measures_created": 3,
                              "assignments_created": 9, "indicators_created": 1}
    with db() as s:
        assert _plan_snapshot(s, a) == before
        assert [k for k, in s.execute(select(Plan.key).order_by(Plan.id))] == ["plan-a", "plan-b"]
        b_requests = s.scalars(select(ProgressRequest.agency_id).join(
            ReportingPeriod, ReportingPeriod.id == ProgressRequest.period_id)
            .where(ReportingPeriod.plan_id == result.plan_id)).all()
    assert len(b_requests) == 9
    # the directory is shared: plan B's agencies are plan A's rows
    assert {r[0] for r in before["agency"]} >= set(b_requests)


def test_the_same_file_twice_changes_nothing(db, db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKER_DATABASE_URL", db_url)
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    path = tmp_path / "plan.json"
    flagged = _with(small_plan(), measures={"2": {
        "co": ["市残联"], "flags": [{"field": "co", "phrase": "等有关部门",
                                   "reason": "“市残联”后的“等有关部门”泛指其他单位，请督查室确定是否增列"}]}})
    path.write_text(dump_catalog(flagged), encoding="utf-8")
    r = run(app, ["catalog", "load", str(path), "--now", "2017-01-05T09:00"])
    assert r.exit_code == 0, r.output
    assert "有 1 项（新单位名称、相近名称、泛指表述、无法识别的完成时限）待督查室在“单位名录待核”页面" \
           "（/desk/directory）核定" in r.output
    with db() as s:
        before = _whole_database(s)
    r = run(app, ["catalog", "load", str(path), "--now", "2017-02-05T09:00"])
    assert r.exit_code == 0 and r.output.strip() == \
        "规划“tianjin-employment-2017-2018”已载入，与已载入的目录相同，无变化"
    with db() as s:
        assert _whole_database(s) == before
        assert len(before["directory_review"]) == 1


def test_another_document_under_a_loaded_id_is_refused_naming_what_differs(
        db, db_url, tmp_path, monkeypatch):
    with transaction(db) as s:
        load_catalog(s, small_plan(), at("2017-01-05"))
    with db() as s:
        before = _whole_database(s)
    other = _with(small_plan(), plan={"issuer": "天津市残疾人联合会",
                                      "doc_number": "津残联〔2017〕8号", "issued": "2017-03-01"})
    with transaction(db) as s, pytest.raises(PlanIdentityError) as refused:
        load_catalog(s, other, at("2017-03-05"))
    assert refused.value.message == (
        "规划标识“tianjin-employment-2017-2018”已载入另一份文件（《天津市残疾人就业促进三年行动方案》）："
        "发文机关：已载入“天津市人民政府办公厅”，本次“天津市残疾人联合会”；"
        "文号：已载入“津政办发〔2017〕1号”，本次“津残联〔2017〕8号”；"
        "成文日期：已载入“2017-01-05”，本次“2017-03-01”。"
        "如是同一规划重新印发，请加 --replace 更新（已有的进展调度和报送保留）；"
        "如是另一份文件，请换一个规划标识")
    assert refused.value.status == 409
    # the command says so in Chinese, no traceback, and the database is as it was
    monkeypatch.setenv("TRACKER_DATABASE_URL", db_url)
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    path = tmp_path / "other.json"
    path.write_text(dump_catalog(_with(small_plan(), plan={"doc_number": "津政办发〔2017〕2号"})),
                    encoding="utf-8")
    r = run(app, ["catalog", "load", str(path), "--now", "2017-03-05T09:00"])
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert "文号：已载入“津政办发〔2017〕1号”，本次“津政办发〔2017〕2号”" in " ".join(r.output.split())
    with db() as s:
        assert _whole_database(s) == before


def test_replace_updates_the_plan_in_place_and_keeps_requests_and_reports(db, policy):
    a = _first_plan_answered(db, policy)
    with db() as s:
        before = _plan_snapshot(s, a)
        measure_ids = dict(s.execute(select(Measure.code, Measure.id).where(Measure.plan_id == a)).all())
    reissued = _with(small_plan(plan_id="plan-a"),
                     plan={"doc_number": "津政办发〔2017〕9号", "issued": "2017-04-20",
                           "title": "天津市残疾人就业促进三年行动方案（修订）"},
                     measures={"2": {"text": "对自主创业的残疾人给予一次性补贴。"}})
    with transaction(db) as s:
        result = load_catalog(s, reissued, at("2017-04-25"), replace=True)
    assert result.plan_id == a
    assert result.changes == {"plan_updated": 1, "measures_updated": 1}
    with db() as s:
        after = _plan_snapshot(s, a)
        plan = s.get_one(Plan, a)
        assert (plan.doc_number, plan.issued, plan.title) == (
            "津政办发〔2017〕9号", dt.date(2017, 4, 20), "天津市残疾人就业促进三年行动方案（修订）")
        assert dict(s.execute(select(Measure.code, Measure.id).where(Measure.plan_id == a)).all()) \
            == measure_ids
        assert s.scalar(select(Measure.text).where(Measure.id == measure_ids["2"])) == \
            "对自主创业的残疾人给予一次性补贴。"
    for table in ("progress_request", "progress_report", "reporting_period", "assignment",
                  "indicator", "agency"):
        assert after[table] == before[table], table
    with db() as s:
        audit = s.scalars(select(AuditEvent).where(AuditEvent.action == "catalog.load")
                          .order_by(AuditEvent.id.desc()).limit(1)).one()
    assert audit.detail["replaced"] == {"doc_number": "津政办发〔2017〕1号", "issued": "2017-01-05"}


def test_the_command_replaces_with_replace(db, db_url, policy, tmp_path, monkeypatch):
    a = _first_plan_answered(db, policy)
    monkeypatch.setenv("TRACKER_DATABASE_URL", db_url)
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    path = tmp_path / "reissued.json"
    path.write_text(dump_catalog(_with(small_plan(plan_id="plan-a"),
                                       plan={"doc_number": "津政办发〔2017〕9号"})), encoding="utf-8")
    with db() as s:
        before = _plan_snapshot(s, a)
    r = run(app, ["catalog", "load", str(path), "--now", "2017-04-25T09:00"])
    assert r.exit_code == 2
    r = run(app, ["catalog", "load", str(path), "--replace", "--now", "2017-04-25T09:00"])
    assert r.exit_code == 0
    assert [" ".join(line.strip("│┃ ").split()) for line in r.output.splitlines()] == [
        "规划“plan-a”已载入：", "┏━━━━━━━━━━━━━━┳━━━━━━┓", "变动 ┃ 数量",
        "┡━━━━━━━━━━━━━━╇━━━━━━┩", "更新规划设置 │ 1", "└──────────────┴──────┘"]
    with db() as s:
        after = _plan_snapshot(s, a)
    assert after["progress_request"] == before["progress_request"]
    assert after["progress_report"] == before["progress_report"]
    assert [row[4] for row in after["plan"]] == ["津政办发〔2017〕9号"]


def test_named_districts_deadline_and_leader_reach_the_measure(db):
    catalog = _with(small_plan(districts=("和平区人民政府", "河东区人民政府", "河西区人民政府")),
                    measures={
        "1": {"districts": False, "district_names": ["河东区人民政府"],
              "deadline": {"text": "2018年6月底前", "kind": "date", "due": "2018-06-30"},
              "leader": "李副市长"},
        "3": {"deadline": {"text": "每年年底前", "kind": "yearly", "month": 12, "day": 31}},
    })
    with transaction(db) as s:
        load_catalog(s, catalog, at("2017-01-05"))
    with db() as s:
        rows = s.execute(select(Measure.code, Agency.name, Assignment.role)
                         .join(Measure, Measure.id == Assignment.measure_id)
                         .join(Agency, Agency.id == Assignment.agency_id)
                         .order_by(Measure.code, Assignment.position)).all()
        stored = s.execute(select(Measure.code, Measure.deadline_text, Measure.deadline_kind,
                                  Measure.deadline_due, Measure.deadline_month,
                                  Measure.deadline_day, Measure.leader)
                           .order_by(Measure.code)).all()
    assert [tuple(r) for r in rows] == [
        ("1", "市人力资源和社会保障局", Role.LEAD), ("1", "市财政局", Role.CO),
        ("1", "河东区人民政府", Role.DISTRICT),
        ("2", "市民政局", Role.LEAD), ("2", "市残联", Role.CO),
        ("3", "市残联", Role.LEAD), ("3", "和平区人民政府", Role.DISTRICT),
        ("3", "河东区人民政府", Role.DISTRICT), ("3", "河西区人民政府", Role.DISTRICT)]
    assert [tuple(r) for r in stored] == [
        ("1", "2018年6月底前", "date", dt.date(2018, 6, 30), None, None, "李副市长"),
        ("2", None, None, None, None, None, None),
        ("3", "每年年底前", "yearly", None, 12, 31, None)]


def test_flags_and_names_new_to_the_directory_go_to_the_review_list(db):
    first = small_plan(plan_id="plan-a")
    second = _with(small_plan(plan_id="plan-b"), measures={
        "2": {"lead": "市人力资源社会保障局", "co": ["市残联"],
              "flags": [{"field": "co", "phrase": "等有关部门",
                         "reason": "“市残联”后的“等有关部门”泛指其他单位，请督查室确定是否增列"}]},
        "3": {"districts": False, "flags": [{"field": "districts", "phrase": "有关区",
                                              "reason": "未指明具体区县，请督查室选定承担的区县"}]},
    })
    data = second.model_dump(mode="json")
    data["agencies"].append({"name": "市人力资源社会保障局", "kind": "city_agency"})
    second = Catalog.model_validate(data)
    with transaction(db) as s:
        a = load_catalog(s, first, at("2017-01-05"))
        b = load_catalog(s, second, at("2017-01-06"))
    # the first plan of a government establishes its directory: nothing to review
    assert "reviews_created" not in a.changes
    assert b.changes["reviews_created"] == 3 and b.changes["agencies_created"] == 1
    with db() as s:
        rows = s.execute(select(DirectoryReview.kind, DirectoryReview.measure_code,
                                DirectoryReview.field, DirectoryReview.phrase,
                                DirectoryReview.state, Agency.name)
                         .outerjoin(Agency, Agency.id == DirectoryReview.agency_id)
                         .order_by(DirectoryReview.id)).all()
    assert [tuple(r) for r in rows] == [
        ("flag", "2", "co", "等有关部门", "open", None),
        ("flag", "3", "districts", "有关区", "open", None),
        ("name", "", "name", "市人力资源社会保障局", "open", "市人力资源社会保障局")]


def test_an_agency_gets_its_parent_from_the_catalog(db):
    data = small_plan().model_dump(mode="json")
    data["schema_version"] = 2
    data["agencies"] += [{"name": "南营门街道办事处", "kind": "district_government",
                          "parent": "和平区人民政府"},
                         {"name": "新兴街道办事处", "kind": "district_government",
                          "parent": "和平区政府"}]  # a parent the directory does not know
    data["measures"][1]["co"] = ["市残联", "南营门街道办事处", "新兴街道办事处"]
    with transaction(db) as s:
        load_catalog(s, Catalog.model_validate(data), at("2017-01-05"))
    with db() as s:
        heping = s.scalars(select(Agency.id).where(Agency.name == "和平区人民政府")).one()
        parents = dict(s.execute(select(Agency.name, Agency.parent_id).where(
            Agency.name.in_(["南营门街道办事处", "新兴街道办事处"]))).all())
    assert parents == {"南营门街道办事处": heping, "新兴街道办事处": None}
