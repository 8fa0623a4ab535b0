"""A pending extension request and the ladder, through the real sweep and pre-due run
(issue 10, item 2): held while pending (configurable), re-planned by the decision."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from tests.conftest import at
from tracker.dates.workdays import WorkCalendar
from tracker.db import transaction
from tracker.enums import ChannelKind
from tracker.escalation.sweep import sweep_overdue
from tracker.models import Escalation, ExtensionRequest, OutboxMessage, ProgressRequest
from tracker.policy import Policy
from tracker.requests.extensions import ask_extension, decide_extension
from tracker.requests.opening import open_due_requests
from tracker.requests.pre_due import queue_pre_due_reminders
from tracker.requests.reports import ReportInput, record_reports
from tracker.settings import Rules

D = dt.date.fromisoformat


def _policy(holds: bool) -> Policy:
    return Policy(Rules(extension_holds_ladder=holds), WorkCalendar(), ChannelKind.EMAIL)


def _open(db, plan, policy):  # type: ignore[no-untyped-def]
    """2017Q1 open (due 10 April); all but the first two answered on time."""
    with transaction(db) as s:
        open_due_requests(s, plan, at("2017-03-17"), policy)
    with db() as s:
        ids = s.scalars(select(ProgressRequest.id).order_by(ProgressRequest.id)).all()
    with transaction(db) as s:
        record_reports(s, [ReportInput(request_id=i, status="in_progress", percent=20,
                                       narrative="正常推进") for i in ids[2:]],
                       submitted_by="t", now=at("2017-04-07"))
    return ids[0], ids[1]


def _ask(db, request_id, day):  # type: ignore[no-untyped-def]
    with transaction(db) as s:
        agency = s.get_one(ProgressRequest, request_id).agency_id
        return ask_extension(s, agency_id=agency, request_id=request_id,
                             new_due_on=D("2017-04-28"), reason="数据尚在汇总", asked_by="t",
                             now=at(day)).id


def _rungs(db, request_id):  # type: ignore[no-untyped-def]
    with db() as s:
        return s.execute(select(Escalation.round, Escalation.level, Escalation.effective_on)
                         .where(Escalation.request_id == request_id)
                         .order_by(Escalation.id)).all()


def _kinds(db, request_id):  # type: ignore[no-untyped-def]
    with db() as s:
        return sorted({(m.kind, m.level) for m in s.scalars(
            select(OutboxMessage).where(OutboxMessage.request_id == request_id))})


@pytest.mark.parametrize("holds", [True, False])
def test_an_extension_asked_before_the_due_day_holds_the_ladder_if_configured(db, small, holds):
    policy = _policy(holds)
    held, other = _open(db, small, policy)
    ext = _ask(db, held, "2017-04-03")  # before the 临期提醒 day (5 April) and the due day
    with transaction(db) as s:
        queue_pre_due_reminders(s, small, at("2017-04-05"), policy)
        sweep_overdue(s, small, at("2017-04-11", 8, 30), policy)  # the 催办 day
    assert _rungs(db, other) == [(0, 1, D("2017-04-11"))]
    if holds:
        assert _rungs(db, held) == []  # no 催办 the working day after the due day
        assert _kinds(db, held) == [("progress_request", 0)]  # nor a 临期提醒
    else:
        assert _rungs(db, held) == [(0, 1, D("2017-04-11"))]
        assert _kinds(db, held) == [("escalation", 1), ("pre_due_reminder", 0),
                                    ("progress_request", 0)]
    with transaction(db) as s:  # granted: the new due day's ladder, a new round if one fired
        decide_extension(s, ext, grant=True, note="同意", decided_by="t",
                         now=at("2017-04-12", 10), policy=policy)
        req = s.get_one(ProgressRequest, held)
        # 28 April is a Friday; 29 April to 1 May is the Labour Day holiday
        assert (req.due_on, req.original_due_on, req.next_action_on) == (
            D("2017-04-28"), D("2017-04-10"), D("2017-05-02"))
        assert (req.level, req.ladder_round) == ((0, 0) if holds else (0, 1))
    with transaction(db) as s:
        sweep_overdue(s, small, at("2017-04-17"), policy)  # the old 督办 day: nothing
        sweep_overdue(s, small, at("2017-05-02"), policy)
    expected = [(0, 1, D("2017-05-02"))] if holds else [(0, 1, D("2017-04-11")),
                                                       (1, 1, D("2017-05-02"))]
    assert _rungs(db, held) == expected


def test_a_refusal_resumes_the_original_ladder_without_a_burst(db, small):
    policy = _policy(True)
    held, _ = _open(db, small, policy)
    ext = _ask(db, held, "2017-04-10")
    # the office decides on 18 April: 催办 (11 April) and 督办 (17 April) passed meanwhile
    for day in ("2017-04-11", "2017-04-12", "2017-04-17", "2017-04-18"):
        with transaction(db) as s:
            sweep_overdue(s, small, at(day), policy)
    assert _rungs(db, held) == []
    with transaction(db) as s:
        decide_extension(s, ext, grant=False, note="请按期报送", decided_by="t",
                         now=at("2017-04-18", 10), policy=policy)
        req = s.get_one(ProgressRequest, held)
        assert (req.due_on, req.next_action_on) == (D("2017-04-10"), D("2017-04-24"))
        assert s.get_one(ExtensionRequest, ext).state == "refused"
    with transaction(db) as s:
        assert sweep_overdue(s, small, at("2017-04-19"), policy).fired == {1: 0, 2: 0, 3: 0}
    with transaction(db) as s:
        sweep_overdue(s, small, at("2017-04-24"), policy)
    # the 通报 rung on its own day from the original due day; the passed rungs never fire
    assert _rungs(db, held) == [(0, 3, D("2017-04-24"))]
    assert ("extension_decided", 0) in _kinds(db, held)
