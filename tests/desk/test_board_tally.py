"""The board's tally (tracker.desk.tally), kept by triggers, equals the live computation.

The small plan (tests.factories.small_plan) with 2017Q1, 2017Q4 and the 2017 indicator
opened (19 requests), then changed the ways requests change: answered on time and late,
escalated by the sweep, waived, returned (reopened), moved by an extension's new due day,
a measure's section renamed, an assignment's role changed, requests deleted. After each
step the tally holds exactly the requests' GROUP BY, and the board's counts, heat table and
on-time rate read from it equal the live ones (the heat table also cut to its top
rows by the database, `heat_board`) for every filter and on days either side of
the due days (the yellow window moves with the day; the tally does not).
"""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import at
from tests.desk.test_board import year  # noqa: F401 (the fixture)
from tracker.db import transaction
from tracker.desk.board import (
    BoardFilter,
    board,
    board_counts,
    heat_board,
    heat_table,
    heat_top,
    on_time_by_period,
)
from tracker.desk.tally import BACKFILL
from tracker.escalation.office_actions import waive
from tracker.escalation.sweep import sweep_overdue
from tracker.models import Agency, BoardTally, Plan, ProgressReport, ProgressRequest
from tracker.policy import Policy
from tracker.requests.opening import open_due_requests
from tracker.requests.reports import ReportInput, record_reports
from tracker.requests.review import return_report

ONE, TWO = "一、促进按比例就业", "二、加强就业服务"
DAYS = [dt.date(2017, 4, 5), dt.date(2018, 1, 3), dt.date(2018, 1, 23), dt.date(2018, 4, 4)]


def _filters(plan_id: int, agencies: list[int]) -> list[BoardFilter]:
    out = [BoardFilter(), BoardFilter(plan_id=plan_id), BoardFilter(plan_id=plan_id + 999)]
    out += [BoardFilter(agency_id=a) for a in agencies]
    out += [BoardFilter(section=s) for s in (ONE, TWO, "主要指标", "改名的领域")]
    out += [BoardFilter(role=r) for r in ("lead", "co", "district")]
    out += [BoardFilter(period=p) for p in ("2017Q1", "2017Q4", "2017", "2018Q1")]
    out += [BoardFilter(level=n) for n in (1, 2, 3)]
    out += [BoardFilter(light=lt) for lt in ("red", "yellow", "green", "grey")]
    out += [BoardFilter(plan_id=plan_id, agency_id=agencies[0], role="lead", period="2017Q1"),
            BoardFilter(section=TWO, light="red", level=1),
            BoardFilter(agency_id=agencies[1], section=ONE, light="yellow")]
    return out


def _stored(s: Session) -> list[tuple[object, ...]]:
    t = BoardTally
    return sorted(tuple(r) for r in s.execute(select(
        t.period_id, t.agency_id, t.indicator, t.section, t.role, t.level, t.state, t.late,
        t.due_on, t.n).where(t.n != 0)))


def _recounted(db: sessionmaker[Session]) -> list[tuple[object, ...]]:
    """The tally as the migration's backfill counts it from the requests, in a transaction
    rolled back."""
    with db() as s:
        s.execute(text("DELETE FROM board_tally"))
        s.execute(text(BACKFILL))
        rows = _stored(s)
        s.rollback()
    return rows


def _check(db: sessionmaker[Session], policy: Policy, plan_id: int) -> None:
    with db() as s:
        stored = _stored(s)
        agencies = list(s.scalars(select(Agency.id).order_by(Agency.id)))
    assert all(r[-1] > 0 for r in stored)  # never below zero
    assert stored == _recounted(db)
    with db() as s:
        for f, today in itertools.product(_filters(plan_id, agencies), DAYS):
            for name, fn in (("heat", heat_table), ("on time", on_time_by_period)):
                assert fn(s, f, today, policy) == fn(s, f, today, policy, live=True), (name, f, today)
            # the board's heat table cut in the database equals the live table cut in the
            # program, for cuts below, at and above the number of agencies with a red request
            for limit in (1, 2, 3, 50):
                cut = heat_board(s, f, today, policy, limit)
                assert cut == heat_board(s, f, today, policy, limit, live=True), (f, today, limit)
                sections, rows = heat_table(s, f, today, policy)
                assert cut == (sections, *heat_top(rows, limit)), (f, today, limit)
            counts = board_counts(s, f, today, policy)
            assert counts == board_counts(s, f, today, policy, live=True), (f, today)


def test_the_tally_follows_every_change(db: sessionmaker[Session], small: Plan, policy: Policy):
    plan_id = small.id
    with db() as s:
        assert _stored(s) == []
    with transaction(db) as s:
        open_due_requests(s, small, at("2017-03-17"), policy)
        open_due_requests(s, small, at("2017-12-20"), policy)
    with db() as s:
        assert s.scalar(select(BoardTally.n).limit(1)) is not None
        # the 18 measures' requests (2017Q1 then 2017Q4, in catalog order), then the indicator's
        ids = list(s.scalars(select(ProgressRequest.id).order_by(
            ProgressRequest.indicator_id.is_not(None), ProgressRequest.id)))
    assert len(ids) == 19
    _check(db, policy, plan_id)
    with db() as s:  # every request open: figures known by hand
        assert board(s, BoardFilter(), dt.date(2018, 1, 23), policy).counts == {"red": 19}
        assert board(s, BoardFilter(), dt.date(2018, 1, 3), policy).counts == {
            "red": 9, "yellow": 9, "green": 1}  # Q4 due 01-08: yellow; the indicator (01-22) green

    def answer(numbers: list[int], day: str) -> None:
        with transaction(db) as s:
            record_reports(s, [ReportInput(request_id=ids[i], status="in_progress", percent=20)
                               for i in numbers], submitted_by="t", now=at(day))

    answer([0, 1, 2, 3, 4, 7, 8], "2017-04-07")  # on time
    answer([5], "2017-04-20")  # late
    answer([10, 12, 13, 15, 17], "2018-01-05")
    answer([11], "2018-01-15")
    _check(db, policy, plan_id)
    with db() as s:
        assert board(s, BoardFilter(), dt.date(2018, 1, 23), policy).counts == {
            "red": 5, "yellow": 2, "green": 12}

    with transaction(db) as s:  # escalation: levels 1-3 on the open requests
        sweep_overdue(s, s.get_one(Plan, plan_id), at("2018-01-23"), policy)
    with db() as s:
        assert s.scalar(select(ProgressRequest.level).where(ProgressRequest.id == ids[6])) == 3
    _check(db, policy, plan_id)

    with transaction(db) as s:
        waive(s, ids[9], reason="任务调整", actor="t", now=at("2018-01-24"), policy=policy)
        report = s.scalar(select(ProgressReport.id).where(ProgressReport.request_id == ids[12]))
        assert report is not None
        return_report(s, report, reviewer="t", comment="请补充完成情况", now=at("2018-01-24"),
                      policy=policy)
    with db() as s:
        assert s.get_one(ProgressRequest, ids[12]).state == "open"
    _check(db, policy, plan_id)

    with transaction(db) as s:  # an extension's new due day; an answer moved back to open
        s.execute(text("UPDATE progress_request SET due_on = :d WHERE id = :i"),
                  {"d": dt.date(2018, 2, 28), "i": ids[14]})
        s.execute(text("UPDATE progress_request SET state = 'open', answered_at = NULL, "
                       "answered_late = NULL WHERE id IN (:a, :b)"), {"a": ids[0], "b": ids[5]})
        s.execute(text("UPDATE progress_request SET next_action_on = NULL"))  # counts nothing
    _check(db, policy, plan_id)

    with transaction(db) as s:  # the catalog renames a section; an agency becomes the lead
        s.execute(text("UPDATE measure SET section = '改名的领域' WHERE section = :s"), {"s": TWO})
        s.execute(text("UPDATE measure SET title = title || '（修订）'"))  # counts nothing
        s.execute(text("UPDATE assignment SET role = 'lead' WHERE role = 'co'"))
    _check(db, policy, plan_id)
    with db() as s:
        assert board(s, BoardFilter(role="co"), dt.date(2018, 1, 23), policy).counts == {}

    with db() as s:  # the first request's agency: its 2018Q1 requests are deleted below
        agency_of_first = s.get_one(ProgressRequest, ids[0]).agency_id
        gone = len(s.scalars(select(ProgressRequest.id).where(
            ProgressRequest.agency_id == agency_of_first, ProgressRequest.assignment_id.is_not(None),
            ProgressRequest.id.in_(ids[:9]))).all())
    assert gone >= 1
    with transaction(db) as s:  # a bulk INSERT … SELECT of a new quarter, then some deleted
        s.execute(text(
            "INSERT INTO reporting_period (plan_id, kind, label, year, starts_on, ends_on, issue_on, "
            "due_on, due_provisional) SELECT plan_id, kind, '2018Q1', 2018, :s, :e, :i, :d, "
            "due_provisional FROM reporting_period WHERE label = '2017Q1'"),
            {"s": dt.date(2018, 1, 1), "e": dt.date(2018, 3, 31), "i": dt.date(2018, 3, 19),
             "d": dt.date(2018, 4, 9)})
        s.execute(text(
            "INSERT INTO progress_request (period_id, agency_id, assignment_id, indicator_id, "
            "issued_on, original_due_on, due_on, due_provisional, state, level, ladder_round, "
            "created_at) SELECT (SELECT id FROM reporting_period WHERE label = '2018Q1'), agency_id, "
            "assignment_id, indicator_id, :i, :d, :d, due_provisional, 'open', 0, 0, created_at "
            "FROM progress_request WHERE period_id = (SELECT id FROM reporting_period "
            "WHERE label = '2017Q1')"), {"i": dt.date(2018, 3, 19), "d": dt.date(2018, 4, 9)})
    _check(db, policy, plan_id)
    with db() as s:
        assert sum(board(s, BoardFilter(), dt.date(2018, 1, 23), policy).counts.values()) == 28
    with transaction(db) as s:
        s.execute(text("DELETE FROM progress_request WHERE period_id = (SELECT id FROM "
                       "reporting_period WHERE label = '2018Q1') AND assignment_id IN "
                       "(SELECT id FROM assignment WHERE agency_id = :a)"), {"a": agency_of_first})
    _check(db, policy, plan_id)
    with db() as s:
        assert sum(board(s, BoardFilter(), dt.date(2018, 1, 23), policy).counts.values()) == 28 - gone


def _walk(db: sessionmaker[Session], policy: Policy, f: BoardFilter, today: dt.date
          ) -> tuple[list[int], list[int]]:
    """The request ids of every page of 4, forward by `next_key`, then back by `prev_key`."""
    forward: list[list[int]] = []
    with db() as s:
        page = board(s, BoardFilter(**{**f.__dict__, "per_page": 4}), today, policy)
        forward.append([r["id"] for r in page.rows])
        while page.next_key is not None:
            page = board(s, BoardFilter(**{**f.__dict__, "per_page": 4, "after": page.next_key}),
                         today, policy)
            forward.append([r["id"] for r in page.rows])
        backward = [[r["id"] for r in page.rows]]
        while page.prev_key is not None:
            page = board(s, BoardFilter(**{**f.__dict__, "per_page": 4, "before": page.prev_key}),
                         today, policy)
            backward.append([r["id"] for r in page.rows])
    return ([i for p in forward for i in p], [i for p in reversed(backward) for i in p])


def test_pages_one_light_at_a_time_keep_the_order(db, year, policy, monkeypatch):  # noqa: F811
    """Past `SORT_WHOLE` filtered requests the page is read one light at a time; the rows,
    pages forward and back, are those of the one sorted statement, in the same order."""
    from tracker.desk import board as board_module

    today = dt.date(2018, 1, 23)
    with db() as s:  # a request of each light: one of the five red ones waived
        waive(s, s.scalars(select(ProgressRequest.id).where(
            ProgressRequest.state == "open").order_by(ProgressRequest.id)).first(),
            reason="任务调整", actor="t", now=at("2018-01-23"), policy=policy)
        s.commit()
    for f in (BoardFilter(), BoardFilter(light="green"), BoardFilter(section=ONE)):
        with db() as s:
            whole = [r["id"] for r in board(s, BoardFilter(**{**f.__dict__, "per_page": 100}),
                                            today, policy).rows]
        assert whole and _walk(db, policy, f, today) == (whole, whole)
        monkeypatch.setattr(board_module, "SORT_WHOLE", 0)
        assert _walk(db, policy, f, today) == (whole, whole), f
        monkeypatch.setattr(board_module, "SORT_WHOLE", 2000)
    with db() as s:
        lights = [r["light"] for r in board(s, BoardFilter(per_page=100), today, policy).rows]
    assert lights == ["red"] * 4 + ["yellow"] * 2 + ["green"] * 12 + ["grey"]
