"""Pre-due reminders (临期提醒): Rules.pre_due_working_days working days before the due day,
to the liaisons of open requests not answered yet; once; dropped at send time if answered."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from notifications.channels import FileChannel
from notifications.dispatch import dispatch
from tests.conftest import at
from tracker.db import transaction
from tracker.enums import ChannelKind, MessageKind
from tracker.models import Agency, OutboxMessage, ProgressRequest
from tracker.policy import Policy
from tracker.requests.extensions import ask_extension, decide_extension
from tracker.requests.opening import open_due_requests
from tracker.requests.pre_due import queue_pre_due_reminders
from tracker.requests.reports import ReportInput, record_reports
from tracker.requests.rules import pre_due_day
from tracker.settings import Rules


def test_pre_due_day_counts_working_days_back():
    from tracker.dates.workdays import WorkCalendar

    policy = Policy(Rules(), WorkCalendar())
    # due Monday 2017-04-10; Qingming 2017-04-02..04 are not working days
    assert pre_due_day(dt.date(2017, 4, 10), policy) == dt.date(2017, 4, 5)
    # due Monday 2017-10-09: back over the National Day week to Saturday 2017-09-30 (a
    # make-up working day), 09-29 and 09-28
    assert pre_due_day(dt.date(2017, 10, 9), policy) == dt.date(2017, 9, 28)
    assert pre_due_day(dt.date(2017, 4, 10), Policy(Rules(pre_due_working_days=1),
                                                    WorkCalendar())) == dt.date(2017, 4, 7)
    assert pre_due_day(dt.date(2017, 4, 10), Policy(Rules(pre_due_working_days=0),
                                                    WorkCalendar())) is None


def _pre_due(db) -> dict[int, int]:  # type: ignore[no-untyped-def]
    """request id -> pre-due messages queued for it."""
    with db() as s:
        return dict(s.execute(select(OutboxMessage.request_id, func.count())
                              .where(OutboxMessage.kind == MessageKind.PRE_DUE_REMINDER.value)
                              .group_by(OutboxMessage.request_id)).all())


def test_sent_on_exactly_the_right_working_day_once_and_not_when_answered(db, small, policy):
    with transaction(db) as s:
        open_due_requests(s, small, at("2017-03-17", 8), policy)
        ids = list(s.scalars(select(ProgressRequest.id).order_by(ProgressRequest.id)))
        assert {d for d, in s.execute(select(ProgressRequest.due_on))} == {dt.date(2017, 4, 10)}
    with transaction(db) as s:
        record_reports(s, [ReportInput(request_id=ids[0], status="in_progress", percent=10)],
                       submitted_by="t", now=at("2017-03-30"))
    for day in ("2017-03-31", "2017-04-01", "2017-04-02", "2017-04-04"):  # 04-01 a make-up Sat
        with transaction(db) as s:
            assert queue_pre_due_reminders(s, small, at(day, 8, 30), policy) == 0, day
    with transaction(db) as s:
        assert queue_pre_due_reminders(s, small, at("2017-04-05", 8, 30), policy) == 8
    with transaction(db) as s:  # again, and the next days: nothing more
        for day in ("2017-04-05", "2017-04-06", "2017-04-10"):
            assert queue_pre_due_reminders(s, small, at(day, 8, 30), policy) == 0
    assert _pre_due(db) == {i: 1 for i in ids[1:]}  # one liaison each; not the answered one
    with db() as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.kind == MessageKind.PRE_DUE_REMINDER.value,
            OutboxMessage.is_copy.is_(True))) == 0


def test_a_missed_day_catches_up_until_the_due_day_only(db, small, policy):
    with transaction(db) as s:
        open_due_requests(s, small, at("2017-03-17", 8), policy)
    with transaction(db) as s:
        assert queue_pre_due_reminders(s, small, at("2017-04-11", 8, 30), policy) == 0  # too late
        assert queue_pre_due_reminders(s, small, at("2017-04-10", 8, 30), policy) == 9


def test_an_extension_moves_the_reminder_and_a_pending_one_holds_it(db, small, policy):
    with transaction(db) as s:
        open_due_requests(s, small, at("2017-03-17", 8), policy)
        rid = s.scalars(select(ProgressRequest.id).order_by(ProgressRequest.id)).first()
        agency = s.scalar(select(ProgressRequest.agency_id).where(ProgressRequest.id == rid))
        assert agency is not None and s.get(Agency, agency) is not None
        ext = ask_extension(s, agency_id=agency, request_id=rid, new_due_on=dt.date(2017, 4, 21),
                            reason="数据未出", asked_by="t", now=at("2017-03-31"))
        ext_id = ext.id
    with transaction(db) as s:
        assert queue_pre_due_reminders(s, small, at("2017-04-05", 8, 30), policy) == 8
    assert rid not in _pre_due(db)  # held while the office decides
    with transaction(db) as s:
        decide_extension(s, ext_id, grant=True, note="", decided_by="t", now=at("2017-04-06"),
                         policy=policy)
    with transaction(db) as s:  # 3 working days before Friday 2017-04-21: Tuesday 04-18
        assert queue_pre_due_reminders(s, small, at("2017-04-17", 8, 30), policy) == 0
        assert queue_pre_due_reminders(s, small, at("2017-04-18", 8, 30), policy) == 1
    assert _pre_due(db)[rid] == 1


@pytest.mark.parametrize("answer_at", ["2017-04-05T08:40"])
def test_answered_after_queueing_is_dropped_at_send_time(db, small, policy, tmp_path, answer_at):
    with transaction(db) as s:
        open_due_requests(s, small, at("2017-03-17", 8), policy)
        rid = s.scalars(select(ProgressRequest.id).order_by(ProgressRequest.id)).first()
    channels = {ChannelKind.EMAIL: FileChannel(tmp_path / "sent")}
    dispatch(db, channels, now=at("2017-03-17", 9), calendar=policy.calendar)
    with transaction(db) as s:
        assert queue_pre_due_reminders(s, small, at("2017-04-05", 8, 30), policy) == 9
    with transaction(db) as s:
        when = dt.datetime.fromisoformat(answer_at).replace(tzinfo=at("2017-04-05").tzinfo)
        record_reports(s, [ReportInput(request_id=rid, status="in_progress", percent=5)],
                       submitted_by="t", now=when)
    r = dispatch(db, channels, now=at("2017-04-05", 9), calendar=policy.calendar)
    assert r.dropped == 1 and r.sent == 8
    with db() as s:
        status = s.scalar(select(OutboxMessage.status).where(
            OutboxMessage.kind == MessageKind.PRE_DUE_REMINDER.value,
            OutboxMessage.request_id == rid))
    assert status == "dropped"
