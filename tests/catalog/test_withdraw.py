"""A catalog with fewer tasks (issue 13, F9; `tracker.catalog.withdraw`): the load lists what
it would withdraw with the open requests of each and is refused without --replace; with it
the tasks are deactivated, their open requests closed as 免报 with the reason (answered
ones and their reports kept), and nothing chases them any more."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tests.catalog.test_load_plans import _whole_database
from tests.conftest import at
from tests.factories import small_plan
from tracker.catalog.load import WithdrawalError, Withdrawn, load_catalog
from tracker.catalog.schema import Catalog, dump_catalog
from tracker.cli import app
from tracker.db import transaction
from tracker.directory.contacts import ensure_demo_contacts
from tracker.enums import RequestState
from tracker.escalation.sweep import sweep_overdue
from tracker.models import (
    Agency,
    Assignment,
    Escalation,
    Measure,
    Plan,
    ProgressReport,
    ProgressRequest,
)
from tracker.requests.opening import open_due_requests
from tracker.requests.reports import ReportInput, record_reports

REASON = "该任务已从规划目录中撤销（2017年4月5日载入的目录不再包含），无需再报送；已报送的情况保留"


def _without_measure_3() -> Catalog:
    data = small_plan(plan_id="plan-a").model_dump(mode="json")
    data["measures"] = data["measures"][:2]
    return Catalog.model_validate(data)


def _opened_and_one_answered(db: Any, policy: Any) -> tuple[int, list[int], int]:
    """Plan A, 2017Q1 opened; of measure 3's three requests (市残联 and two districts) the
    first answered. Returns the plan, measure 3's request ids and the answered one."""
    with transaction(db) as s:
        a = load_catalog(s, small_plan(plan_id="plan-a"), at("2017-01-05")).plan_id
        ensure_demo_contacts(s, a)
        open_due_requests(s, s.get_one(Plan, a), at("2017-03-17"), policy)
        ids = list(s.scalars(select(ProgressRequest.id)
                             .join(Assignment, Assignment.id == ProgressRequest.assignment_id)
                             .join(Measure, Measure.id == Assignment.measure_id)
                             .where(Measure.code == "3").order_by(ProgressRequest.id)))
        record_reports(s, [ReportInput(request_id=ids[0], status="in_progress", percent=30,
                                       narrative="已开班两期")],
                       submitted_by="t", now=at("2017-03-30"))
    return a, ids, ids[0]


def test_fewer_tasks_are_refused_listing_each_with_its_open_requests(db, policy):
    _opened_and_one_answered(db, policy)
    with db() as s:
        before = _whole_database(s)
    with transaction(db) as s, pytest.raises(WithdrawalError) as refused:
        load_catalog(s, _without_measure_3(), at("2017-04-05"))
    assert refused.value.withdrawn == [Withdrawn("任务", "3", "开展残疾人职业技能培训", 2)]
    assert refused.value.message == (
        "本次目录比已载入的规划“plan-a”少 1 项任务或指标：任务 3《开展残疾人职业技能培训》（待报送 2 项）。"
        "载入将撤销这些事项，并关闭其 2 项待报送的进展调度（已报送的情况保留，不再催办）。"
        "确认撤销请加 --replace；如是文件不全，请改用完整的目录")
    assert refused.value.status == 409
    with db() as s:
        assert _whole_database(s) == before


def test_with_replace_the_tasks_open_requests_are_closed_and_no_longer_chased(db, policy):
    a, ids, answered = _opened_and_one_answered(db, policy)
    with transaction(db) as s:
        result = load_catalog(s, _without_measure_3(), at("2017-04-05"), replace=True)
    assert result.changes == {"plan_updated": 1, "measures_deactivated": 1,
                              "assignments_deactivated": 3, "requests_closed": 2}
    assert result.withdrawn == [Withdrawn("任务", "3", "开展残疾人职业技能培训", 2)]
    with transaction(db) as s:  # every rung's day has passed: none fires for them
        sweep_overdue(s, s.get_one(Plan, a), at("2017-04-24"), policy)
        opened = open_due_requests(s, s.get_one(Plan, a), at("2017-06-16"), policy)
    with db() as s:
        rows = s.execute(select(ProgressRequest.id, ProgressRequest.state,
                                ProgressRequest.waive_reason, ProgressRequest.next_action_on)
                         .where(ProgressRequest.id.in_(ids)).order_by(ProgressRequest.id)).all()
        assert [tuple(r) for r in rows] == [
            (ids[0], RequestState.ANSWERED, None, None),
            (ids[1], RequestState.WAIVED, REASON, None),
            (ids[2], RequestState.WAIVED, REASON, None)]
        assert s.scalars(select(ProgressReport.narrative)
                         .where(ProgressReport.request_id == answered)).all() == ["已开班两期"]
        assert s.scalars(select(Escalation.request_id)
                         .where(Escalation.request_id.in_(ids))).all() == []
        assert s.scalar(select(Measure.active).where(Measure.code == "3")) is False
    assert opened.requests_opened == 6  # 2017Q2: measures 1 and 2 (six assignments), not 3
    # a later catalog with the task again brings it back; what was closed stays closed
    with transaction(db) as s:
        again = load_catalog(s, small_plan(plan_id="plan-a"), at("2017-06-20"))
    assert again.changes == {"plan_updated": 1, "measures_updated": 1, "assignments_updated": 3}
    with db() as s:
        assert s.scalar(select(Measure.active).where(Measure.code == "3")) is True
        assert s.get_one(ProgressRequest, ids[1]).state == RequestState.WAIVED


def test_the_command_lists_them_and_withdraws_with_replace(db, db_url, policy, tmp_path,
                                                           monkeypatch):
    _opened_and_one_answered(db, policy)
    monkeypatch.setenv("TRACKER_DATABASE_URL", db_url)
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    path = tmp_path / "fewer.json"
    path.write_text(dump_catalog(_without_measure_3()), encoding="utf-8")
    r = CliRunner().invoke(app, ["catalog", "load", str(path), "--now", "2017-04-05T09:00"])
    lines = [" ".join(line.strip("│┃ ").split()) for line in r.output.splitlines()]
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert "本次目录不再包含、载入将撤销的任务和指标：" in lines
    assert "类别 ┃ 编号 ┃ 名称 ┃ 待报送进展调度" in lines
    assert "任务 │ 3 │ 开展残疾人职业技能培训 │ 2" in lines
    assert lines[-1] == (
        "错误: 本次目录比已载入的规划“plan-a”少 1 项任务或指标，未载入。载入将撤销这些事项，"
        "并关闭其 2 项待报送的进展调度（已报送的情况保留，不再催办）。确认撤销请加 --replace；"
        "如是文件不全，请改用完整的目录")
    r = CliRunner().invoke(app, ["catalog", "load", str(path), "--replace",
                                 "--now", "2017-04-05T09:00"])
    lines = [" ".join(line.strip("│┃ ").split()) for line in r.output.splitlines()]
    assert r.exit_code == 0, r.output
    assert lines[0] == "规划“plan-a”已载入："
    assert {"撤销任务 │ 1", "关闭的待报送进展调度（免报） │ 2", "更新规划设置 │ 1"} <= set(lines)
    assert "已撤销的任务和指标（其待报送的进展调度已关闭，已报送的情况保留）：" in lines
    assert "任务 │ 3 │ 开展残疾人职业技能培训 │ 2" in lines


DROPPED = ("本单位已不再是该任务的责任单位（2017年4月5日载入的目录不再列出），无需再报送；"
           "已报送的情况保留")


def test_an_agency_dropped_from_a_task_that_stays_is_no_longer_asked_or_chased(db, policy):
    """A catalog that no longer names 市财政局 for task 1 (the task stays): its open request
    is closed as 免报 with the reason, the task's other agencies are still asked, and the
    ladder and the next quarter leave it alone."""
    with transaction(db) as s:
        a = load_catalog(s, small_plan(plan_id="plan-a"), at("2017-01-05")).plan_id
        ensure_demo_contacts(s, a)
        open_due_requests(s, s.get_one(Plan, a), at("2017-03-17"), policy)
    data = small_plan(plan_id="plan-a").model_dump(mode="json")
    data["measures"][0]["co"] = []
    with transaction(db) as s:
        result = load_catalog(s, Catalog.model_validate(data), at("2017-04-05"))
    assert result.changes == {"plan_updated": 1, "assignments_deactivated": 1,
                              "assignments_updated": 2,  # the districts move up one place
                              "requests_closed": 1}
    assert result.withdrawn == []
    with transaction(db) as s:
        sweep_overdue(s, s.get_one(Plan, a), at("2017-04-24"), policy)
        opened = open_due_requests(s, s.get_one(Plan, a), at("2017-06-16"), policy)
    assert opened.requests_opened == 8  # 2017Q2: 9 assignments less 市财政局's
    with db() as s:
        rows = s.execute(
            select(Agency.name, ProgressRequest.state, ProgressRequest.waive_reason)
            .join(Agency, Agency.id == ProgressRequest.agency_id)
            .join(Assignment, Assignment.id == ProgressRequest.assignment_id)
            .join(Measure, Measure.id == Assignment.measure_id)
            .where(Measure.code == "1", ProgressRequest.period_id == select(
                ProgressRequest.period_id).order_by(ProgressRequest.id).limit(1)
                .scalar_subquery())
            .order_by(ProgressRequest.id)).all()
        assert [tuple(r) for r in rows] == [
            ("市人力资源和社会保障局", RequestState.OPEN, None),
            ("市财政局", RequestState.WAIVED, DROPPED),
            ("和平区人民政府", RequestState.OPEN, None),
            ("河东区人民政府", RequestState.OPEN, None)]
        assert s.scalars(select(Escalation.level).join(
            ProgressRequest, ProgressRequest.id == Escalation.request_id)
            .join(Agency, Agency.id == ProgressRequest.agency_id)
            .where(Agency.name == "市财政局")).all() == []


def test_a_withdrawn_indicator_has_its_open_request_closed(db, policy):
    """With --replace, an indicator the catalog leaves out is deactivated and its open
    yearly request closed as 免报 (closed after the indicators are loaded, not before)."""
    with transaction(db) as s:
        a = load_catalog(s, small_plan(plan_id="plan-a"), at("2017-01-05")).plan_id
        ensure_demo_contacts(s, a)
        open_due_requests(s, s.get_one(Plan, a), at("2017-12-18"), policy)
    data = small_plan(plan_id="plan-a").model_dump(mode="json")
    data["indicators"] = []
    with transaction(db) as s:
        result = load_catalog(s, Catalog.model_validate(data), at("2018-01-05"), replace=True)
    assert result.withdrawn == [Withdrawn("指标", "I1", "城镇残疾人新增就业人数", 1)]
    assert result.changes["requests_closed"] == 1
    with db() as s:
        assert s.execute(select(ProgressRequest.state, ProgressRequest.waive_reason)
                         .where(ProgressRequest.indicator_id.is_not(None))).one() == (
            RequestState.WAIVED,
            "该指标已从规划目录中撤销（2018年1月5日载入的目录不再包含），无需再报送；已报送的情况保留")
