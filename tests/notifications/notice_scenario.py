"""One small plan through every kind of notice (tests.factories.small_plan, Q1 2017):
the outbox rows each kind writes, for the render tests to read back."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import at
from tracker.annual.meetings import meeting_duty
from tracker.db import transaction
from tracker.escalation.circulars import sign_off
from tracker.escalation.office_actions import waive
from tracker.escalation.sweep import sweep_overdue
from tracker.models import (
    Agency,
    Assignment,
    Circular,
    ExtensionRequest,
    Measure,
    OutboxMessage,
    Plan,
    ProgressReport,
    ProgressRequest,
)
from tracker.policy import Policy
from tracker.requests.extensions import ask_extension, decide_extension
from tracker.requests.opening import open_due_requests
from tracker.requests.pre_due import queue_pre_due_reminders
from tracker.requests.reports import ReportInput, record_reports
from tracker.requests.review import return_report


def request_ids(s: Session) -> dict[tuple[str, str], int]:
    """(measure code, agency name) -> request id, for Q1 2017's requests."""
    return {(code, agency): rid for rid, code, agency in s.execute(
        select(ProgressRequest.id, Measure.code, Agency.name)
        .join(Assignment, Assignment.id == ProgressRequest.assignment_id)
        .join(Measure, Measure.id == Assignment.measure_id)
        .join(Agency, Agency.id == ProgressRequest.agency_id))}


def every_kind(db: sessionmaker[Session], plan: Plan, policy: Policy) -> dict[str, Any]:
    """Q1 2017 of the small plan (due 2017-04-10), with one notice of each kind queued:

    - 报送通知 for all 9 requests (2017-03-17);
    - 临期提醒 on 2017-04-05 for those not answered (市民政局 answered 2.; 市残联 asked an
      extension of 3. to 2017-04-20, granted on 04-06: its 临期提醒 of the new due day
      comes on 04-17);
    - 退回修改: 市民政局's report on measure 2 returned on 04-07 (due again 04-12);
    - 免报: 和平区 measure 1 waived on 04-07;
    - 催办 04-11, 督办 04-17 (to deputy heads, copy to 督查室), 通报 rung 04-24 (copy to
      督查室), the circular signed on 04-25 (to the liaisons and deputy heads, .docx);
    - meeting reminders on 2017-09-30 (1 October is National Day).
    """
    with transaction(db) as s:
        open_due_requests(s, plan, at("2017-03-17", 8), policy)
    with db() as s:
        ids = request_ids(s)
    with transaction(db) as s:
        record_reports(s, [ReportInput(request_id=ids[("2", "市民政局")], status="in_progress",
                                       percent=30)], submitted_by="t", now=at("2017-03-20"))
        ask_extension(s, agency_id=_agency(s, "市残联"), request_id=ids[("3", "市残联")],
                      new_due_on=dt.date(2017, 4, 20), reason="需等待统计数据",
                      asked_by="市残联联络员", now=at("2017-04-01"))
    with transaction(db) as s:
        queue_pre_due_reminders(s, plan, at("2017-04-05", 8, 30), policy)
    with transaction(db) as s:
        ext_id = s.scalar(select(ExtensionRequest.id).where(
            ExtensionRequest.request_id == ids[("3", "市残联")]))
        decide_extension(s, ext_id, grant=True, note="同意，请按新期限报送", decided_by="督查室",
                         now=at("2017-04-06"), policy=policy)
        report_id = s.scalar(select(ProgressReport.id).where(
            ProgressReport.request_id == ids[("2", "市民政局")]))
        return_report(s, report_id, reviewer="督查室", comment="请补充资金落实情况",
                      now=at("2017-04-07"), policy=policy)
        waive(s, ids[("1", "和平区人民政府")], reason="该区本季度无此项工作", actor="督查室",
              now=at("2017-04-07"), policy=policy)
    for day in ("2017-04-11", "2017-04-17", "2017-04-24"):
        with transaction(db) as s:
            sweep_overdue(s, plan, at(day, 8, 30), policy)
            queue_pre_due_reminders(s, plan, at(day, 8, 30), policy)
    with transaction(db) as s:
        circular_id = s.scalar(select(Circular.id))
        sign_off(s, circular_id, signed_by="督查室主任", now=at("2017-04-25"), policy=policy)
    with transaction(db) as s:
        meeting_duty(s, plan, at("2017-09-30"), policy)
    return dict(ids=ids, circular_id=circular_id)


def _agency(s: Session, name: str) -> int:
    return s.scalars(select(Agency.id).where(Agency.name == name)).one()


def outbox(s: Session) -> list[OutboxMessage]:
    return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))

