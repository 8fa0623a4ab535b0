"""The overdue ladder: each rung fires once, on its working day, to the right people."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from tests.conftest import at
from tracker.db import transaction
from tracker.enums import ContactRole, MessageKind
from tracker.escalation.sweep import sweep_overdue
from tracker.models import (
    Agency,
    Circular,
    Contact,
    Escalation,
    ExtensionRequest,
    OutboxMessage,
    ProgressRequest,
    SupervisionNotice,
)
from tracker.requests.opening import open_due_requests
from tracker.requests.reports import ReportInput, record_reports
from tracker.requests.rules import ladder_dates

D = dt.date.fromisoformat


def _setup(db, plan, policy):  # type: ignore[no-untyped-def]
    with transaction(db) as s:
        open_due_requests(s, plan, at("2017-03-17"), policy)
    with db() as s:
        ids = s.scalars(select(ProgressRequest.id).order_by(ProgressRequest.id)).all()
    with transaction(db) as s:  # everyone but the first three answers on time
        record_reports(s, [ReportInput(request_id=i, status="in_progress", percent=20,
                                       narrative="正常推进", next_steps="继续")
                           for i in ids[3:]], submitted_by="t", now=at("2017-04-07"))
    return ids[:3]


def _sweep(db, plan, policy, day):  # type: ignore[no-untyped-def]
    with transaction(db) as s:
        return sweep_overdue(s, plan, at(day), policy)


def test_ladder_dates_and_once_only(db, small, policy):
    late = _setup(db, small, policy)
    assert ladder_dates(D("2017-04-10"), policy) == [D("2017-04-11"), D("2017-04-17"),
                                                    D("2017-04-24")]
    assert _sweep(db, small, policy, "2017-04-10").fired == {1: 0, 2: 0, 3: 0}
    assert _sweep(db, small, policy, "2017-04-11").fired == {1: 3, 2: 0, 3: 0}
    assert _sweep(db, small, policy, "2017-04-11").fired == {1: 0, 2: 0, 3: 0}
    assert _sweep(db, small, policy, "2017-04-14").fired == {1: 0, 2: 0, 3: 0}
    assert _sweep(db, small, policy, "2017-04-17").fired == {1: 0, 2: 3, 3: 0}
    with transaction(db) as s:  # a late report stops the ladder for that request
        record_reports(s, [ReportInput(request_id=late[0], status="in_progress", percent=5)],
                       submitted_by="t", now=at("2017-04-18"))
    assert _sweep(db, small, policy, "2017-04-24").fired == {1: 0, 2: 0, 3: 2}
    assert _sweep(db, small, policy, "2017-05-30").fired == {1: 0, 2: 0, 3: 0}
    with db() as s:
        rows = s.execute(select(Escalation.level, Escalation.effective_on, func.count())
                         .group_by(Escalation.level, Escalation.effective_on)
                         .order_by(Escalation.level)).all()
        assert rows == [(1, D("2017-04-11"), 3), (2, D("2017-04-17"), 3), (3, D("2017-04-24"), 2)]
        first = s.get_one(ProgressRequest, late[0])
        assert (first.level, first.answered_late, first.next_action_on) == (2, True, None)
        assert s.get_one(ProgressRequest, late[1]).next_action_on is None  # top rung reached


def test_missed_days_catch_up_with_rule_dates(db, small, policy):
    _setup(db, small, policy)
    assert _sweep(db, small, policy, "2017-05-02").fired == {1: 3, 2: 3, 3: 3}
    with db() as s:
        dates = s.scalars(select(Escalation.effective_on).distinct()
                          .order_by(Escalation.effective_on)).all()
    assert dates == [D("2017-04-11"), D("2017-04-17"), D("2017-04-24")]


def test_one_run_raises_each_request_to_the_top_rung_it_reached(db, small, policy):
    """Rungs caught up in one run (the 督办 and 通报 of a request already at 催办): each
    request ends on the day's top rung with no next action day, every rung's notices are
    queued once, the documents are drafted, and a rerun changes nothing."""
    late = _setup(db, small, policy)
    assert _sweep(db, small, policy, "2017-04-11").fired == {1: 3, 2: 0, 3: 0}
    with db() as s:
        assert [s.get_one(ProgressRequest, i).level for i in late] == [1, 1, 1]
    assert _sweep(db, small, policy, "2017-04-25").fired == {1: 0, 2: 3, 3: 3}

    def state():  # type: ignore[no-untyped-def]
        with db() as s:
            levels = [(s.get_one(ProgressRequest, i).level,
                       s.get_one(ProgressRequest, i).next_action_on) for i in late]
            notices = s.execute(select(OutboxMessage.level, OutboxMessage.is_copy, func.count())
                                .where(OutboxMessage.kind == MessageKind.ESCALATION)
                                .group_by(OutboxMessage.level, OutboxMessage.is_copy)
                                .order_by(OutboxMessage.level, OutboxMessage.is_copy)).all()
            drafts = (s.scalar(select(func.count()).select_from(SupervisionNotice)),
                      [len(c.items) for c in s.scalars(select(Circular))])
            answered = s.scalar(select(func.count()).select_from(ProgressRequest)
                                .where(ProgressRequest.level > 0))
        return levels, notices, drafts, answered

    before = state()
    assert before[0] == [(3, None)] * 3
    # liaison (催办); deputy head and the office's copy (督办); the office (通报)
    assert before[1] == [(1, False, 3), (2, False, 3), (2, True, 3), (3, True, 3)]
    with db() as s:  # one 督办通知单 per agency of the late requests, one draft circular
        agencies = {s.get_one(ProgressRequest, i).agency_id for i in late}
    assert before[2] == (len(agencies), [3])
    assert before[3] == 3  # the requests answered on time stay on no rung
    assert _sweep(db, small, policy, "2017-04-25").fired == {1: 0, 2: 0, 3: 0}
    assert state() == before


def test_recipients_per_rung(db, small, policy):
    late = _setup(db, small, policy)
    _sweep(db, small, policy, "2017-04-24")
    with db() as s:
        office = s.scalar(select(Agency.id).where(Agency.name == "市政府督查室"))
        subject = s.get_one(ProgressRequest, late[0]).agency_id
        contact = {c.id: (c.agency_id, c.role) for c in s.scalars(select(Contact))}
        msgs = s.scalars(select(OutboxMessage).where(
            OutboxMessage.kind == MessageKind.ESCALATION,
            OutboxMessage.request_id == late[0])).all()
        got = sorted((m.level, contact[int(m.key.rsplit(":", 1)[1])], m.is_copy) for m in msgs)
    assert got == [
        (1, (subject, ContactRole.LIAISON), False),
        (2, (subject, ContactRole.DEPUTY_HEAD), False),
        (2, (office, ContactRole.LIAISON), True),
        (3, (office, ContactRole.LIAISON), True),
    ]


def test_concurrent_sweeps_fire_each_rung_once(db, small, policy):
    import threading

    _setup(db, small, policy)
    results = []
    barrier = threading.Barrier(2)

    def run() -> None:
        barrier.wait(timeout=10)
        results.append(_sweep(db, small, policy, "2017-04-24"))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = {lvl: sum(r.fired[lvl] for r in results) for lvl in (1, 2, 3)}
    assert total == {1: 3, 2: 3, 3: 3}
    with db() as s:
        assert s.scalar(select(func.count()).select_from(Escalation)) == 9
        # liaison + deputy + office copy + office circular, once each per request
        assert s.scalar(select(func.count()).select_from(OutboxMessage)
                        .where(OutboxMessage.kind == MessageKind.ESCALATION)) == 3 * 4


def test_pending_extension_holds_the_ladder_until_decided(db, small, policy):
    """DESIGN.md: a pending extension request holds the ladder until it is decided; a
    refusal resumes the original due day's ladder without firing the rungs that passed
    while it was held (tracker.requests.extensions)."""
    from tracker.requests.extensions import ask_extension, decide_extension

    held, other, _ = _setup(db, small, policy)
    with transaction(db) as s:
        agency_id = s.get_one(ProgressRequest, held).agency_id
        ask_extension(s, agency_id=agency_id, request_id=held, new_due_on=D("2017-04-28"),
                      reason="数据尚在汇总", asked_by="t", now=at("2017-04-07"))
    _sweep(db, small, policy, "2017-04-12")  # the reminder day of the 10 April due day
    with db() as s:
        fired = set(s.scalars(select(Escalation.request_id).where(Escalation.level == 1)))
        assert other in fired and held not in fired
    with transaction(db) as s:  # refused after the 催办 day: that rung is not sent late
        ext_id = s.scalars(select(ExtensionRequest.id)).one()
        decide_extension(s, ext_id, grant=False, note="", decided_by="t", now=at("2017-04-13"),
                         policy=policy)
        assert s.get_one(ProgressRequest, held).next_action_on == D("2017-04-17")
    assert _sweep(db, small, policy, "2017-04-14").fired == {1: 0, 2: 0, 3: 0}
    _sweep(db, small, policy, "2017-04-17")
    with db() as s:
        rows = s.execute(select(Escalation.level, Escalation.effective_on)
                         .where(Escalation.request_id == held)).all()
        assert rows == [(2, D("2017-04-17"))]  # 督办 on its own day from the original due day


def test_next_action_day_rule(policy):
    from tracker.requests.rules import next_action_day

    due = D("2017-04-10")
    assert next_action_day(due, 0, policy) == D("2017-04-11")
    assert next_action_day(due, 1, policy) == D("2017-04-17")
    assert next_action_day(due, 0, policy, after=D("2017-04-17")) == D("2017-04-24")
    assert next_action_day(due, 3, policy) is None
    assert next_action_day(due, 0, policy, held=True) is None


@pytest.mark.sqlite_only
def test_circular_rung_reached_by_more_requests_than_the_variable_limit(
        db, plan, policy, limited_sqlite):
    """Issue 14: all 798 requests of the seed's first quarter reach the circular rung on
    one day, 16 times SQLite's lowered limit of 50 variables: the sweep, the draft's items
    and its preview still work (sets travel as SELECTs, never as lists of ids)."""
    from sqlalchemy import text

    from tracker.escalation.circulars import circular_items, circular_view
    from tracker.models import Circular

    with limited_sqlite() as s:  # the limit is in force on this engine's connections
        assert s.execute(text("SELECT 1")).scalar() == 1
        raw = s.connection().connection.dbapi_connection
        assert raw.getlimit(__import__("sqlite3").SQLITE_LIMIT_VARIABLE_NUMBER) == 50
    with transaction(db) as s:
        assert open_due_requests(s, plan, at("2017-03-17"), policy).requests_opened == 798
    with transaction(limited_sqlite) as s:
        fired = sweep_overdue(s, s.get_one(type(plan), plan.id), at("2017-04-24"), policy).fired
    assert fired == {1: 798, 2: 798, 3: 798}
    with transaction(db) as s:  # a few answered since: the draft lists the others
        ids = s.scalars(select(ProgressRequest.id).order_by(ProgressRequest.id)).all()
        record_reports(s, [ReportInput(request_id=i, status="in_progress", percent=10)
                           for i in ids[:3]], submitted_by="t", now=at("2017-04-25"))
    with limited_sqlite() as s:
        circular = s.scalars(select(Circular)).one()
        assert len(circular.items) == 798
        items = circular_items(s, circular)
        assert len(items) == 795 and {i["request_id"] for i in items} == set(ids[3:])
        view = circular_view(s, circular.id, policy=policy, now=at("2017-04-25"))
        assert view.counts.items == 795


def test_each_plans_sweep_reads_its_own_plan(db, small, policy):
    """With two plans sharing the directory, each plan's sweep fires its own requests
    only, and its circular lists only its own (issue 14: each plan's circular collected
    every plan's items)."""
    from tests.factories import small_plan
    from tracker.catalog.load import load_catalog
    from tracker.models import Circular, Plan, ReportingPeriod

    with transaction(db) as s:
        other_id = load_catalog(s, small_plan(plan_id="second-plan", title="第二个行动方案"),
                                at("2017-01-05")).plan_id
    with transaction(db) as s:
        for p in s.scalars(select(Plan)):
            open_due_requests(s, p, at("2017-03-17"), policy)
    per_plan = {}
    with transaction(db) as s:
        for pid in (small.id, other_id):
            per_plan[pid] = sweep_overdue(s, s.get_one(Plan, pid), at("2017-04-24"), policy).fired
    assert per_plan == {small.id: {1: 9, 2: 9, 3: 9}, other_id: {1: 9, 2: 9, 3: 9}}
    with db() as s:
        for c in s.scalars(select(Circular)):
            plans = set(s.scalars(select(ReportingPeriod.plan_id).join(
                ProgressRequest, ProgressRequest.period_id == ReportingPeriod.id).where(
                ProgressRequest.id.in_([i["request_id"] for i in c.items]))))
            assert (len(c.items), plans) == (9, {c.plan_id})
