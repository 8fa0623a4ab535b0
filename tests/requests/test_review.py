"""Review by the supervision office, close-out, and extension decisions (audited)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from tests.conftest import at
from tracker.db import transaction
from tracker.enums import MessageKind, RequestState, ReviewState
from tracker.models import (
    Agency,
    Assignment,
    AuditEvent,
    Measure,
    OutboxMessage,
    ProgressReport,
    ProgressRequest,
)
from tracker.requests.close_out import close_out
from tracker.requests.evidence import store_evidence
from tracker.requests.extensions import ExtensionError, ask_extension, decide_extension
from tracker.requests.opening import open_due_requests
from tracker.requests.reports import ReportInput, record_reports
from tracker.requests.review import ReviewError, accept_report, return_report


def _lead_request(db, code: str) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    with db() as s:
        return s.execute(
            select(ProgressRequest.id, ProgressRequest.agency_id, Measure.id)
            .join(Assignment, Assignment.id == ProgressRequest.assignment_id)
            .join(Measure, Measure.id == Assignment.measure_id)
            .where(Measure.code == code, Assignment.role == "lead")).one()


def _open(db, plan, policy):  # type: ignore[no-untyped-def]
    with transaction(db) as s:
        open_due_requests(s, plan, at("2017-03-17"), policy)


def test_return_reopens_notifies_and_keeps_first_verdict(db, plan, policy):
    _open(db, plan, policy)
    rid, agency_id, _ = _lead_request(db, "2.2.4")
    with transaction(db) as s:
        report_id = record_reports(s, [ReportInput(request_id=rid, status="in_progress", percent=10)],
                                   submitted_by="t", now=at("2017-04-07")).report_ids[0]
    with pytest.raises(ReviewError), transaction(db) as s:
        return_report(s, report_id, reviewer="user:office", comment=" ", now=at("2017-04-12"),
                      policy=policy)
    with transaction(db) as s:
        return_report(s, report_id, reviewer="user:office", comment="请补充数据",
                      now=at("2017-04-12"), policy=policy)
    with db() as s:
        req = s.get_one(ProgressRequest, rid)
        assert req.state == RequestState.OPEN
        assert req.due_on == dt.date(2017, 4, 17)  # 3 working days after the return
        assert req.answered_late is False
        msg = s.scalars(select(OutboxMessage).where(
            OutboxMessage.kind == MessageKind.REPORT_RETURNED)).one()
        assert msg.agency_id == agency_id
        assert msg.payload == {"version": 1, "comment": "请补充数据", "due_on": "2017-04-17",
                               "request_id": rid}
    with transaction(db) as s:
        second = record_reports(s, [ReportInput(request_id=rid, status="in_progress", percent=20,
                                                narrative="已补充")],
                                submitted_by="t", now=at("2017-04-14")).report_ids[0]
        with pytest.raises(ReviewError, match="更新的版本"):
            accept_report(s, report_id, reviewer="user:office", comment="", now=at("2017-04-15"))
        accept_report(s, second, reviewer="user:office", comment="", now=at("2017-04-15"))
    with db() as s:
        req = s.get_one(ProgressRequest, rid)
        assert (req.state, req.answered_late) == (RequestState.ANSWERED, False)
        assert s.get_one(ProgressReport, second).review_state == ReviewState.ACCEPTED
        actions = s.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions[-4:] == ["report.submit.web", "report.return", "report.submit.web",
                            "report.accept"]


def test_close_out_needs_completed_lead_report_with_evidence(db, plan, policy, tmp_path):
    _open(db, plan, policy)
    rid, agency_id, measure_id = _lead_request(db, "2.7.1")
    with transaction(db) as s:
        record_reports(s, [ReportInput(request_id=rid, status="in_progress", percent=90)],
                       submitted_by="t", now=at("2017-04-07"))
    with pytest.raises(ReviewError, match="不是“已完成”"), transaction(db) as s:
        close_out(s, measure_id, signed_by="user:office", now=at("2017-04-10"))
    with transaction(db) as s:
        record_reports(s, [ReportInput(request_id=rid, status="completed", percent=100)],
                       submitted_by="t", now=at("2017-04-08"))
    with pytest.raises(ReviewError, match="没有佐证材料"), transaction(db) as s:
        close_out(s, measure_id, signed_by="user:office", now=at("2017-04-10"))
    with transaction(db) as s:
        store_evidence(s, tmp_path, agency_id=agency_id, request_id=rid, filename="验收.pdf",
                       data=b"%PDF-1.7 x", uploaded_by="t", now=at("2017-04-09"))
        record_reports(s, [ReportInput(request_id=rid, status="completed", percent=100,
                                       narrative="已完成")], submitted_by="t", now=at("2017-04-09"))
    with transaction(db) as s:
        close_out(s, measure_id, signed_by="user:office", now=at("2017-04-10"))
    with transaction(db) as s:  # a closed measure gets no more requests
        r = open_due_requests(s, plan, at("2017-06-16"), policy)
    assert r.requests_opened == 798 - 17  # 2.7.1: lead + 16 districts


def test_extension_rules_and_refusal(db, plan, policy):
    _open(db, plan, policy)
    rid, agency_id, _ = _lead_request(db, "2.2.4")
    with transaction(db) as s:
        with pytest.raises(ExtensionError, match="不属于"):
            ask_extension(s, agency_id=agency_id + 1, request_id=rid, new_due_on=dt.date(2017, 5, 1),
                          reason="x", asked_by="t", now=at("2017-04-01"))
        with pytest.raises(ExtensionError, match="已过截止日期"):
            ask_extension(s, agency_id=agency_id, request_id=rid, new_due_on=dt.date(2017, 5, 1),
                          reason="x", asked_by="t", now=at("2017-04-11"))
        ext = ask_extension(s, agency_id=agency_id, request_id=rid, new_due_on=dt.date(2017, 5, 1),
                            reason="等待批复", asked_by="t", now=at("2017-04-01"))
        with pytest.raises(ExtensionError, match="待审批"):
            ask_extension(s, agency_id=agency_id, request_id=rid, new_due_on=dt.date(2017, 5, 2),
                          reason="x", asked_by="t", now=at("2017-04-02"))
    with transaction(db) as s:
        decide_extension(s, ext.id, grant=False, note="理由不充分", decided_by="user:office",
                         now=at("2017-04-03"), policy=policy)
        with pytest.raises(ExtensionError, match="已处理过"):
            decide_extension(s, ext.id, grant=True, note="", decided_by="user:office",
                             now=at("2017-04-03"), policy=policy)
    with db() as s:
        assert s.get_one(ProgressRequest, rid).due_on == dt.date(2017, 4, 10)
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "extension.decide")).one()
        assert event.detail["granted"] is False and event.actor == "user:office"
        name = s.scalar(select(Agency.name).where(Agency.id == agency_id))
        msg = s.scalars(select(OutboxMessage).where(
            OutboxMessage.kind == MessageKind.EXTENSION_DECIDED)).one()
    assert name == "市残联"
    assert msg.payload == {"granted": False, "due_on": "2017-04-10",
                           "previous_due_on": "2017-04-10",
                           "requested_due_on": "2017-05-01",
                           "note": "理由不充分", "request_id": rid}


def test_an_extension_request_names_every_fault_at_once_and_one_grant_per_request(db, plan, policy):
    _open(db, plan, policy)
    rid, agency_id, _ = _lead_request(db, "2.2.4")
    with transaction(db) as s:
        with pytest.raises(ExtensionError) as refused:
            ask_extension(s, agency_id=agency_id, request_id=rid, new_due_on=None, reason="",
                          asked_by="t", now=at("2017-04-01"))
        assert refused.value.fields == [("new_due_on", "请填写有效的新截止日期"),
                                        ("reason", "请填写延期理由")]
        with pytest.raises(ExtensionError) as refused:
            ask_extension(s, agency_id=agency_id, request_id=rid, new_due_on=dt.date(2017, 9, 1),
                          reason="x" * 2001, asked_by="t", now=at("2017-04-01"))
        assert refused.value.message == "延期不能超过现截止日期后 90 天；延期理由过长（最多 2000 字）"
        ext = ask_extension(s, agency_id=agency_id, request_id=rid, new_due_on=dt.date(2017, 4, 20),
                            reason="等待批复", asked_by="t", now=at("2017-04-01"))
    with transaction(db) as s:
        decide_extension(s, ext.id, grant=True, note="同意", decided_by="user:office",
                         now=at("2017-04-03"), policy=policy)
    with transaction(db) as s, pytest.raises(ExtensionError, match="已批准过一次延期"):
        ask_extension(s, agency_id=agency_id, request_id=rid, new_due_on=dt.date(2017, 4, 28),
                      reason="再延", asked_by="t", now=at("2017-04-05"))
