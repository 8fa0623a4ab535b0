"""Opening requests, recording reports: set-based, idempotent, versioned (SQLite and PG)."""

from __future__ import annotations

import threading

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from tests.conftest import at
from tracker.db import transaction
from tracker.enums import RequestState
from tracker.models import (
    Agency,
    Assignment,
    IndicatorValue,
    Measure,
    OutboxMessage,
    ProgressReport,
    ProgressRequest,
)
from tracker.requests.opening import open_due_requests
from tracker.requests.reports import ReportError, ReportInput, record_reports


def _count(s, model, *where) -> int:  # type: ignore[no-untyped-def]
    return s.scalar(select(func.count()).select_from(model).where(*where))


def test_open_requests_once(db, plan, policy):
    with transaction(db) as s:
        assert open_due_requests(s, plan, at("2017-03-16"), policy).requests_opened == 0
    with transaction(db) as s:
        r = open_due_requests(s, plan, at("2017-03-17"), policy)
    assert (r.periods, r.requests_opened, r.messages_queued) == (["2017Q1"], 798, 798)
    with transaction(db) as s:
        again = open_due_requests(s, plan, at("2017-03-20"), policy)
    assert (again.requests_opened, again.messages_queued) == (0, 0)
    with db() as s:
        assert _count(s, ProgressRequest) == 798
        assert _count(s, OutboxMessage) == 798
        due = s.scalars(select(ProgressRequest.due_on).distinct()).all()
        assert [d.isoformat() for d in due] == ["2017-04-10"]


def test_new_assignment_mid_period_gets_its_request(db, plan, policy):
    with transaction(db) as s:
        open_due_requests(s, plan, at("2017-03-17"), policy)
    with transaction(db) as s:
        m = s.scalar(select(Measure).where(Measure.code == "2.7.1"))
        office = s.scalar(select(Agency).where(Agency.name == "市司法局"))
        s.add(Assignment(measure_id=m.id, agency_id=office.id, role="co", position=99))
    with transaction(db) as s:
        assert open_due_requests(s, plan, at("2017-03-21"), policy).requests_opened == 1


def _open(db, plan, policy, day="2017-03-17"):  # type: ignore[no-untyped-def]
    with transaction(db) as s:
        open_due_requests(s, plan, at(day), policy)
    with db() as s:
        return s.scalars(select(ProgressRequest.id).order_by(ProgressRequest.id)).all()


def test_report_on_time_late_and_versions(db, small, policy):
    ids = _open(db, small, policy)
    with transaction(db) as s:
        r = record_reports(s, [ReportInput(request_id=ids[0], status="in_progress", percent=30,
                                           narrative="进展顺利", next_steps="继续")],
                           submitted_by="liaison:1", now=at("2017-04-10", 23, 59))
        assert (r.on_time, r.late) == (1, 0)
        r = record_reports(s, [ReportInput(request_id=ids[1], status="in_progress", percent=10)],
                           submitted_by="liaison:2", now=at("2017-04-11", 0, 1))
        assert (r.on_time, r.late) == (0, 1)
        record_reports(s, [ReportInput(request_id=ids[0], status="in_progress", percent=35)],
                       submitted_by="liaison:1", now=at("2017-04-12"))
    with db() as s:
        first = s.get_one(ProgressRequest, ids[0])
        assert first.state == RequestState.ANSWERED and first.answered_late is False
        assert first.next_action_on is None
        assert s.get_one(ProgressRequest, ids[1]).answered_late is True
        versions = s.execute(select(ProgressReport.version, ProgressReport.percent, ProgressReport.late)
                             .where(ProgressReport.request_id == ids[0])
                             .order_by(ProgressReport.version)).all()
        assert versions == [(1, 30, False), (2, 35, True)]


def test_report_validation():
    from tracker.requests.reports import input_problems

    with pytest.raises(ValidationError, match="须填写工作进展") as exc:
        ReportInput(request_id=1, status="delayed", percent=20)
    assert input_problems(exc.value) == [("narrative", "状态为滞后或受阻时，须填写工作进展。")]
    with pytest.raises(ValidationError) as exc:
        ReportInput(request_id=1, status="in_progress", percent=101)
    assert input_problems(exc.value) == [("percent", "完成进度须为 0 到 100 的整数。")]
    with pytest.raises(ValidationError):
        ReportInput(request_id=1, status="done", percent=10)
    with pytest.raises(ValidationError, match="完成进度须为 100"):
        ReportInput(request_id=1, status="completed", percent=90)


def test_unknown_request_refuses_the_whole_batch(db, small, policy):
    ids = _open(db, small, policy)
    with pytest.raises(ReportError) as exc, transaction(db) as s:
        record_reports(s, [ReportInput(request_id=ids[0], status="in_progress", percent=1),
                           ReportInput(request_id=10**9, status="in_progress", percent=1)],
                       submitted_by="x", now=at("2017-04-01"))
    assert exc.value.problems == {10**9: "没有该报送事项"}
    assert exc.value.code == "invalid" and exc.value.status == 422
    with db() as s:
        assert _count(s, ProgressReport) == 0


def test_indicator_value_recorded(db, small, policy):
    with transaction(db) as s:
        r = open_due_requests(s, small, at("2017-12-18"), policy)
    assert sorted(r.periods) == ["2017", "2017Q4"] and r.requests_opened == 9 + 1
    with db() as s:
        rid = s.scalar(select(ProgressRequest.id).where(ProgressRequest.indicator_id.is_not(None)))
    with pytest.raises(ReportError), transaction(db) as s:
        record_reports(s, [ReportInput(request_id=rid, status="completed", percent=100)],
                       submitted_by="x", now=at("2018-01-05"))
    with transaction(db) as s:
        record_reports(s, [ReportInput(request_id=rid, status="completed", percent=100, value=97.5)],
                       submitted_by="x", now=at("2018-01-05"))
        record_reports(s, [ReportInput(request_id=rid, status="completed", percent=100, value=98.0)],
                       submitted_by="x", now=at("2018-01-06"))
    with db() as s:
        assert s.execute(select(IndicatorValue.year, IndicatorValue.value)).all() == [(2017, 98.0)]


def test_concurrent_submissions_both_land(db, small, policy):
    ids = _open(db, small, policy)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    # PostgreSQL: both transactions read before either writes (a true race on the version).
    # SQLite: BEGIN IMMEDIATE serialises writers, so the race is on taking the lock.
    racing_inside = db.kw["bind"].dialect.name == "postgresql"

    def submit(n: int) -> None:
        try:
            if not racing_inside:
                barrier.wait(timeout=10)
            with transaction(db) as s:
                s.scalar(select(func.count()).select_from(ProgressReport))
                if racing_inside:
                    barrier.wait(timeout=10)
                record_reports(s, [ReportInput(request_id=ids[0], status="in_progress",
                                               percent=n)], submitted_by=f"t{n}",
                               now=at("2017-04-01"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=submit, args=(n,)) for n in (10, 20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with db() as s:
        rows = s.execute(select(ProgressReport.version, ProgressReport.percent)
                         .where(ProgressReport.request_id == ids[0])
                         .order_by(ProgressReport.version)).all()
    assert [v for v, _ in rows] == [1, 2]
    assert sorted(p for _, p in rows) == [10, 20]


def test_half_year_cadence_asks_twice_a_year(db, policy):
    """A plan whose cadence is half_year (a plan setting) gets 2017H1 and 2017H2, each
    opening 10 working days before the half's last day and due the 5th after it."""
    from tests.factories import small_plan
    from tracker.catalog.load import load_catalog
    from tracker.enums import Cadence
    from tracker.models import Plan, ReportingPeriod

    with transaction(db) as s:
        plan_id = load_catalog(s, small_plan(cadence=Cadence.HALF_YEAR), at("2017-01-05")).plan_id
    with transaction(db) as s:  # the quarter's issue day is no issue day for this plan
        assert open_due_requests(s, s.get_one(Plan, plan_id), at("2017-03-17"),
                                 policy).requests_opened == 0
    with transaction(db) as s:
        r = open_due_requests(s, s.get_one(Plan, plan_id), at("2017-06-16"), policy)
    assert (r.periods, r.requests_opened) == (["2017H1"], 9)
    with db() as s:
        periods = s.execute(select(ReportingPeriod.label, ReportingPeriod.issue_on,
                                   ReportingPeriod.due_on).order_by(ReportingPeriod.issue_on)).all()
    assert [(label, str(i), str(d)) for label, i, d in periods] == [
        ("2017H1", "2017-06-16", "2017-07-07"), ("2017H2", "2017-12-18", "2018-01-08"),
        ("2017", "2017-12-18", "2018-01-22")]


def test_an_answer_names_every_fault_at_once():
    """A percent of 150 does not hide the narrative a delayed item needs (issue 10)."""
    from tracker.requests.reports import AnswerError, answer_input

    with pytest.raises(AnswerError) as refused:
        answer_input(1873, {"status": "delayed", "percent": "150", "narrative": " "})
    assert refused.value.fields == [("percent", "完成进度须为 0 到 100 的整数。"),
                                    ("narrative", "状态为滞后或受阻时，须填写工作进展。")]
    with pytest.raises(AnswerError) as refused:
        answer_input(1873, {"status": "completed", "percent": "80", "narrative": "x" * 20001})
    assert refused.value.fields == [("percent", "状态为已完成时，完成进度须为 100。"),
                                    ("narrative", "工作进展过长（最多 20000 字）。")]
