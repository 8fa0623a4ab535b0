"""Calendar lifetime on the database (issue 9, item 4): a provisional due day in a year
the calendar does not cover, and a loaded notice moving due days, ladders and telling the
liaisons once."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import func, select

from notifications.channels import FileChannel
from notifications.dispatch import dispatch
from tests.conftest import at
from tests.factories import small_plan
from tracker.catalog.load import load_catalog
from tracker.dates.stored import store_overrides
from tracker.dates.workdays import read_overrides
from tracker.db import transaction
from tracker.desk.board import BoardFilter, board
from tracker.desk.ledger import ledger_frame
from tracker.directory.contacts import ensure_demo_contacts
from tracker.enums import ChannelKind, MessageKind
from tracker.escalation.sweep import sweep_overdue
from tracker.models import Escalation, OutboxMessage, Plan, ProgressRequest, ReportingPeriod
from tracker.requests.opening import open_due_requests
from tracker.requests.recompute import recompute_due_dates

D = dt.date
PROVISIONAL = "（暂定，以国务院办公厅公布的放假安排为准）"


def _plan(db, years):  # type: ignore[no-untyped-def]
    with transaction(db) as s:
        plan_id = load_catalog(s, small_plan(period=years), at(f"{years[0]}-01-05")).plan_id
        ensure_demo_contacts(s, plan_id)
    with db() as s:
        return s.get_one(Plan, plan_id)


def _requests(db):  # type: ignore[no-untyped-def]
    with db() as s:
        return s.execute(select(ReportingPeriod.label, ProgressRequest.due_on,
                                ProgressRequest.due_provisional, ProgressRequest.next_action_on)
                         .join(ReportingPeriod).distinct().order_by(ReportingPeriod.label)).all()


def _body(path) -> str:  # type: ignore[no-untyped-def]
    from email import message_from_bytes
    from email import policy as email_policy

    msg = message_from_bytes(path.read_bytes(), policy=email_policy.default)
    part = msg.get_body(preferencelist=("plain",))
    return str(part.get_content()) if part is not None else ""


def _load(db, path, now, policy):  # type: ignore[no-untyped-def]
    """What `tracker calendar load` does, in one transaction; returns the recompute or None."""
    work, rest, years = read_overrides(path)
    with transaction(db) as s:
        if not store_overrides(s, workdays=work, holidays=rest, years=years, source=path.name,
                               now=now).changed:
            return None
        return recompute_due_dates(s, now, policy.with_session(s), reason="测试通知")


def test_q4_2026_gets_a_provisional_due_day_that_skips_new_years_day(db, policy, tmp_path):
    plan = _plan(db, (2026, 2027))
    with transaction(db) as s:
        open_due_requests(s, plan, at("2026-12-17", 8), policy.with_session(s))
    # 5th working day after 2026-12-31: 1 Jan (Fri) holiday, 2-3 weekend, 4..8 Jan;
    # the reminder rung +1 working day: Monday 11 January
    assert _requests(db) == [("2026", D(2027, 1, 22), True, D(2027, 1, 25)),
                             ("2026Q4", D(2027, 1, 8), True, D(2027, 1, 11))]
    with db() as s:
        rows = board(s, BoardFilter(plan_id=plan.id), D(2026, 12, 17), policy).rows
        assert {r["provisional"] for r in rows} == {True}
        frame = ledger_frame(s, BoardFilter(plan_id=plan.id), D(2026, 12, 17), policy)
        assert set(frame["截止日期说明"]) == {"暂定，以国务院办公厅公布的放假安排为准"}
        assert board(s, BoardFilter(plan_id=plan.id), D(2026, 12, 17),
                     policy).calendar_warning is not None
    sent = tmp_path / "sent"
    dispatch(db, {ChannelKind.EMAIL: FileChannel(sent)}, now=at("2026-12-17", 9),
             calendar=policy.calendar, window=None)
    bodies = [_body(p) for p in sent.rglob("*.eml")]
    assert bodies and all(PROVISIONAL in b for b in bodies)


def test_loading_a_notice_moves_due_days_and_ladder_and_tells_each_liaison_once(
        db, policy, tmp_path):
    plan = _plan(db, (2026, 2027))
    with transaction(db) as s:
        open_due_requests(s, plan, at("2026-12-17", 8), policy.with_session(s))
    with db() as s:
        liaisons = s.scalar(select(func.count(func.distinct(ProgressRequest.agency_id))))
    told = tmp_path / "told"  # the request notices went out with the provisional day
    dispatch(db, {ChannelKind.EMAIL: FileChannel(told)}, now=at("2026-12-17", 9),
             calendar=policy.calendar, window=None)
    # a notice invented for the test: 4 January 2027 a rest day, the year complete
    notice = tmp_path / "2027.json"
    notice.write_text(json.dumps({"holidays": ["2027-01-01", "2027-01-04"], "years": [2027]}),
                      encoding="utf-8")
    result = _load(db, notice, at("2026-12-20", 10), policy)
    assert result is not None and result.requests_moved > 0
    # due 5th working day after 31 Dec: 5, 6, 7, 8, 11 January; no longer provisional;
    # rungs +1/+5/+10: 12, 18, 25 January (were 11, 15, 22)
    assert _requests(db) == [("2026", D(2027, 1, 25), False, D(2027, 1, 26)),
                             ("2026Q4", D(2027, 1, 11), False, D(2027, 1, 12))]
    with db() as s:
        changed = s.execute(select(OutboxMessage.address, OutboxMessage.payload)
                            .where(OutboxMessage.kind == MessageKind.DUE_CHANGED.value)).all()
    assert len({a for a, _ in changed}) == liaisons
    assert {(p["previous_due_on"], p["due_on"]) for _, p in changed} == {
        ("2027-01-08", "2027-01-11"), ("2027-01-22", "2027-01-25")}
    # loading the same file again changes and queues nothing
    assert _load(db, notice, at("2026-12-21", 10), policy) is None
    with transaction(db) as s:  # and a recompute on the same calendar finds nothing
        again = recompute_due_dates(s, at("2026-12-21"), policy.with_session(s))
        assert (again.requests_moved, again.ladders_moved, again.messages_queued) == (0, 0, 0)
    with db() as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.kind == MessageKind.DUE_CHANGED.value)) == len(changed)
    # one 截止时间调整 notice per liaison, naming both days
    sent = tmp_path / "sent"
    dispatch(db, {ChannelKind.EMAIL: FileChannel(sent)}, now=at("2026-12-21", 9),
             calendar=policy.calendar, window=None)
    with db() as s:
        digests = s.scalar(select(func.count(func.distinct(OutboxMessage.address))).where(
            OutboxMessage.kind == MessageKind.DUE_CHANGED.value,
            OutboxMessage.status == "sent"))
    assert digests == liaisons
    notes = [b for b in map(_body, sent.rglob("*.eml")) if "截止日期相应调整" in b]
    assert len(notes) == liaisons == len(list(sent.rglob("*.eml")))
    assert "截止日期由2027年1月8日调整为2027年1月11日。" in "".join(notes)
    (tmp_path.parent / "due_changed_sample.txt").write_text(notes[0], encoding="utf-8")
    # the ladder fires on the new days, not the old: nothing on 11 January (old +1)
    fired = {}
    for day in ("2027-01-11", "2027-01-12", "2027-01-15", "2027-01-18", "2027-01-22",
                "2027-01-25"):
        with transaction(db) as s:
            r = sweep_overdue(s, plan, at(day, 8, 30), policy.with_session(s))
            fired[day] = dict(r.fired)
    assert fired["2027-01-11"] == {1: 0, 2: 0, 3: 0}
    assert fired["2027-01-15"] == {1: 0, 2: 0, 3: 0}
    assert fired["2027-01-22"] == {1: 0, 2: 0, 3: 0}
    with db() as s:
        rungs = set(s.execute(select(Escalation.level, Escalation.effective_on)
                              .join(ProgressRequest).where(ProgressRequest.due_on
                                                           == D(2027, 1, 11))).all())
    assert rungs == {(1, D(2027, 1, 12)), (2, D(2027, 1, 18)), (3, D(2027, 1, 25))}


def test_a_mid_year_change_in_a_covered_year_moves_the_ladder(db, policy, tmp_path):
    """January 2020: chinese-calendar already knows the Spring Festival break extended to
    2 February; a further change (invented: 3-7 February rest days, as a local extension
    would make them) moves the supervision rung of the 2019 indicator request."""
    plan = _plan(db, (2019, 2020))
    with transaction(db) as s:
        open_due_requests(s, plan, at("2019-12-20", 8), policy.with_session(s))
    with db() as s:
        due = s.scalar(select(ProgressRequest.due_on).join(ReportingPeriod)
                       .where(ReportingPeriod.label == "2019"))
    assert due == D(2020, 1, 21)  # the 15th working day of January 2020 (19 Jan worked)
    with transaction(db) as s:
        sweep_overdue(s, plan, at("2020-01-22", 8, 30), policy.with_session(s))  # 催办
    with db() as s:
        before = s.scalar(select(ProgressRequest.next_action_on).where(
            ProgressRequest.due_on == due))
    assert before == D(2020, 2, 5)  # +5: 22, 23 Jan, 3, 4, 5 Feb
    change = tmp_path / "2020.json"
    change.write_text(json.dumps({"holidays": [f"2020-02-0{d}" for d in range(3, 8)]}),
                      encoding="utf-8")
    result = _load(db, change, at("2020-01-31", 10), policy)
    assert result is not None and result.ladders_moved > 0
    with db() as s:
        after = s.scalar(select(ProgressRequest.next_action_on).where(
            ProgressRequest.due_on == due))
    assert after == D(2020, 2, 12)  # 22, 23 Jan, 10, 11, 12 Feb


def test_a_liaison_not_yet_told_gets_the_new_day_in_the_request_notice_only(db, policy, tmp_path):
    """The notice is loaded before the dispatcher sent the request notices: those go out
    with the new day, and no 截止时间调整 notice corrects a day nobody was told."""
    plan = _plan(db, (2026, 2027))
    with transaction(db) as s:
        open_due_requests(s, plan, at("2026-12-17", 8), policy.with_session(s))
    notice = tmp_path / "2027.json"
    notice.write_text(json.dumps({"holidays": ["2027-01-04"], "years": [2027]}), encoding="utf-8")
    result = _load(db, notice, at("2026-12-17", 8, 30), policy)
    assert result is not None and result.requests_moved > 0 and result.messages_queued == 0
    sent = tmp_path / "sent"
    dispatch(db, {ChannelKind.EMAIL: FileChannel(sent)}, now=at("2026-12-17", 9),
             calendar=policy.calendar, window=None)
    bodies = [_body(p) for p in sent.rglob("*.eml")]
    assert bodies and all("截止日期相应调整" not in b for b in bodies)
    assert all("2027年1月8日" not in b and PROVISIONAL not in b for b in bodies)
    assert any("截止日期：2027年1月11日" in b for b in bodies)


def _due_changed(db):  # type: ignore[no-untyped-def]
    with db() as s:
        return sorted((p["previous_due_on"], p["due_on"], st) for p, st in s.execute(
            select(OutboxMessage.payload, OutboxMessage.status)
            .where(OutboxMessage.kind == MessageKind.DUE_CHANGED.value)).all())


def test_a_change_undone_and_redone_is_told_each_time_and_never_twice(db, policy, tmp_path):
    """X makes 2017-04-10 a rest day (Q1 due 4/10 -> 4/11), Y makes it a working day again.
    Dispatched between loads, each move is told, the repeat of X too; loaded twice before
    the dispatcher's turn, X then Y cancel out: the pending notice is dropped, none goes."""
    plan = _plan(db, (2017, 2018))
    with transaction(db) as s:
        open_due_requests(s, plan, at("2017-03-17", 8), policy.with_session(s))
    sent = tmp_path / "sent"

    def deliver(day: str) -> None:
        dispatch(db, {ChannelKind.EMAIL: FileChannel(sent)}, now=at(day, 17),
                 calendar=policy.calendar, window=None)

    deliver("2017-03-17")
    x, y = tmp_path / "x.json", tmp_path / "y.json"
    x.write_text(json.dumps({"holidays": ["2017-04-10"]}), encoding="utf-8")
    y.write_text(json.dumps({"workdays": ["2017-04-10"]}), encoding="utf-8")
    with db() as s:
        liaisons = s.scalar(select(func.count(func.distinct(ProgressRequest.agency_id))))
    _load(db, x, at("2017-03-20", 10), policy)
    deliver("2017-03-20")
    _load(db, y, at("2017-03-21", 10), policy)
    deliver("2017-03-21")
    _load(db, x, at("2017-03-22", 10), policy)  # the same move as the first: told again
    deliver("2017-03-22")
    told = _due_changed(db)
    quarter = [t for t in told if t[0].startswith("2017-04")]
    assert {t[2] for t in quarter} == {"sent"}
    back = [t[:2] for t in quarter].count(("2017-04-11", "2017-04-10"))  # one per request and liaison
    assert back >= liaisons
    assert [t[:2] for t in quarter].count(("2017-04-10", "2017-04-11")) == 2 * back
    # Y then X before the dispatcher runs: back where the liaison was told, nothing goes
    before = len(told)
    _load(db, y, at("2017-03-23", 10), policy)
    _load(db, x, at("2017-03-23", 11), policy)
    after = _due_changed(db)
    assert len(after) == before + back  # Y's notices, then dropped by X
    assert [t for t in after if t[2] != "sent"] == [("2017-04-11", "2017-04-10", "dropped")] * back


def test_a_change_to_past_days_moves_them_without_telling_anyone(db, policy, tmp_path):
    """A correction loaded years later (2018-01-08 made a rest day, loaded in 2026) moves the
    open request's due day, but no liaison is told to meet a deadline long past."""
    plan = _plan(db, (2017, 2018))
    with transaction(db) as s:
        open_due_requests(s, plan, at("2017-03-17", 8), policy.with_session(s))
    dispatch(db, {ChannelKind.EMAIL: FileChannel(tmp_path / "sent")}, now=at("2017-03-17", 17),
             calendar=policy.calendar, window=None)
    late = tmp_path / "late.json"
    late.write_text(json.dumps({"holidays": ["2017-04-10"]}), encoding="utf-8")
    result = _load(db, late, at("2026-11-30", 10), policy)
    assert result is not None and result.requests_moved > 0 and result.messages_queued == 0
    assert _due_changed(db) == []


def test_a_flip_stamped_in_the_past_reaches_a_process_that_cached_the_calendar(db, policy):
    """A long-running process caches the stored overrides; a later load that only flips a
    stored day, stamped earlier than the newest row, still reaches it."""
    from tracker.dates.stored import with_stored

    with transaction(db) as s:
        store_overrides(s, workdays=set(), holidays={D(2017, 4, 10)}, years=set(), source="a",
                        now=at("2017-03-20"))
        store_overrides(s, workdays=set(), holidays={D(2017, 5, 2)}, years=set(), source="b",
                        now=at("2017-03-26"))
    with db() as s:
        assert not with_stored(policy.calendar, s).is_workday(D(2017, 4, 10))
    with transaction(db) as s:
        store_overrides(s, workdays={D(2017, 4, 10)}, holidays=set(), years=set(), source="c",
                        now=at("2017-03-02"))
    with db() as s:
        assert with_stored(policy.calendar, s).is_workday(D(2017, 4, 10))
