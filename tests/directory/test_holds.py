"""Requests of a name the office has not confirmed (issue 13, F5; `tracker.directory.holds`):
held while the name waits on the review list (opened, but no notice, no 临期提醒, no rung
even with a liaison on file), released from the day the office decides (mapped: moved to
the agency it means, due counted from that day, its liaison told; accepted: the same in
place), a duplicate of the agency's own closed with the reason; and a merge recorded
with `tracker agency merge` resolves the names it merges (F12)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from tests.conftest import at
from tests.directory.test_review import second_plan
from tests.factories import small_plan
from tracker.catalog.load import load_catalog
from tracker.catalog.schema import Catalog
from tracker.db import transaction
from tracker.directory.agencies import resolve
from tracker.directory.contacts import ensure_demo_contacts
from tracker.directory.renames import merge_agencies
from tracker.directory.review import accept_name, map_name, review_page
from tracker.enums import RequestState
from tracker.escalation.sweep import sweep_overdue
from tracker.models import (
    AuditEvent,
    DirectoryReview,
    Escalation,
    OutboxMessage,
    Plan,
    ProgressRequest,
)
from tracker.requests.opening import open_due_requests
from tracker.requests.pre_due import queue_pre_due_reminders

GOV = "天津市人民政府"
HR_NEW = "市人力资源社会保障局"  # plan B's spelling, new to the directory
HR = "市人力资源和社会保障局"
D = dt.date.fromisoformat


def _year_so_far(db: Any, policy: Any, catalog: Catalog | None = None) -> tuple[int, int, int]:
    """Plans A and B loaded, every agency with a liaison (the new name too), 2017Q1 opened
    on 17 March, 临期提醒 on 5 April, every rung of the ladder swept until 24 April.
    Returns plan B's id, the new name's review row and its request of measure 2."""
    with transaction(db) as s:
        load_catalog(s, small_plan(plan_id="plan-a"), at("2017-01-05"))
        b = load_catalog(s, catalog or second_plan(), at("2017-01-06")).plan_id
        for p in s.scalars(select(Plan.id)):
            ensure_demo_contacts(s, p)
    for day in ("2017-03-17", "2017-04-05", "2017-04-11", "2017-04-17", "2017-04-24"):
        with transaction(db) as s:
            for plan in s.scalars(select(Plan)).all():
                open_due_requests(s, plan, at(day), policy)
                queue_pre_due_reminders(s, plan, at(day), policy)
                sweep_overdue(s, plan, at(day), policy)
    with db() as s:
        row = s.scalars(select(DirectoryReview.id).where(DirectoryReview.phrase == HR_NEW)).one()
        added = resolve(s, GOV, HR_NEW)
        rid = s.scalars(select(ProgressRequest.id).where(ProgressRequest.agency_id == added)).one()
    return b, row, rid


def _told(s: Any, request_id: int) -> list[tuple[str, str, int]]:
    return [(k.value, name, level) for k, name, level in s.execute(
        select(OutboxMessage.kind, OutboxMessage.recipient_name, OutboxMessage.level)
        .where(OutboxMessage.request_id == request_id).order_by(OutboxMessage.id))]


def test_a_new_names_requests_are_held_not_sent_nor_chased(db, policy):
    b, row, rid = _year_so_far(db, policy)
    with db() as s:
        req = s.get_one(ProgressRequest, rid)
        assert (req.state, req.level, req.issued_on, req.due_on) == (
            RequestState.OPEN, 0, D("2017-03-17"), D("2017-04-10"))
        assert _told(s, rid) == []  # no 报送通知, no 临期提醒, no 催办/督办/通报
        assert s.scalars(select(Escalation).where(Escalation.request_id == rid)).all() == []
        # its peers of plan B were told and chased as usual: the hold is the name's only
        peer = s.scalars(select(ProgressRequest.id).where(
            ProgressRequest.agency_id == resolve(s, GOV, "市残联"),
            ProgressRequest.state == RequestState.OPEN)).first()
        assert peer is not None and {k for k, _, _ in _told(s, peer)} >= {
            "progress_request", "pre_due_reminder", "escalation"}
        page = review_page(s)
    assert [(i.row.phrase, i.held) for i in page.open if i.row.kind == "name"] == [
        (HR_NEW, 1), ("市统计局", 1)]


def test_mapping_moves_the_held_request_and_its_ladder_starts_that_day(db, policy):
    b, row, rid = _year_so_far(db, policy)
    with transaction(db) as s:
        hr = resolve(s, GOV, HR)
        moved = map_name(s, row, hr, by="user:duchashi", now=at("2017-04-25"), policy=policy)
    assert (moved.moved, moved.closed, moved.kept) == ([rid], [], [])
    with db() as s:
        req = s.get_one(ProgressRequest, rid)
        # as issued on the mapping day with the 15 working days it had (17 March to
        # 10 April): due 17 May (the Labour Day holiday 29 April to 1 May not counted)
        assert (req.agency_id, req.state, req.level, req.issued_on, req.due_on,
                req.original_due_on, req.next_action_on) == (
            hr, RequestState.OPEN, 0, D("2017-04-25"), D("2017-05-17"), D("2017-04-10"),
            D("2017-05-18"))
        assert _told(s, rid) == [("progress_request", f"{HR}联络员", 0)]
    with transaction(db) as s:  # nothing fires before the new due day has passed
        sweep_overdue(s, s.get_one(Plan, b), at("2017-05-17"), policy)
        assert s.scalars(select(Escalation).where(Escalation.request_id == rid)).all() == []
        sweep_overdue(s, s.get_one(Plan, b), at("2017-05-18"), policy)
    with db() as s:
        fired = s.execute(select(Escalation.level, Escalation.effective_on)
                          .where(Escalation.request_id == rid)).all()
        assert [tuple(f) for f in fired] == [(1, D("2017-05-18"))]
        assert _told(s, rid)[-1] == ("escalation", f"{HR}联络员", 1)


def test_a_duplicate_of_the_agencys_own_request_is_closed_with_the_reason(db, policy):
    data = second_plan().model_dump(mode="json")
    data["measures"][1]["co"] = ["市残联", HR]  # hr is asked for measure 2 already
    b, row, rid = _year_so_far(db, policy, Catalog.model_validate(data))
    with transaction(db) as s:
        hr = resolve(s, GOV, HR)
        moved = map_name(s, row, hr, by="user:duchashi", now=at("2017-04-25"), policy=policy)
    assert (moved.moved, moved.closed, moved.kept) == ([], [rid], [])
    with db() as s:
        req = s.get_one(ProgressRequest, rid)
        assert (req.state, req.next_action_on, req.waive_reason) == (
            RequestState.WAIVED, None,
            f"“{HR_NEW}”经督查室核定即“{HR}”，该单位已有同期同一任务的进展调度，此项不再重复报送")
        event = s.scalars(select(AuditEvent).where(
            AuditEvent.action == "directory.review.mapped")).one()
        assert (event.detail["requests_moved"], event.detail["requests_closed"]) == ([], [rid])


def test_accepting_a_name_releases_its_requests_in_place(db, policy):
    b, row, rid = _year_so_far(db, policy)
    with transaction(db) as s:
        assert accept_name(s, row, by="user:duchashi", now=at("2017-04-25"), policy=policy) == 1
    with db() as s:
        req = s.get_one(ProgressRequest, rid)
        added = resolve(s, GOV, HR_NEW)
        assert (req.agency_id, req.issued_on, req.due_on, req.next_action_on) == (
            added, D("2017-04-25"), D("2017-05-17"), D("2017-05-18"))
        assert _told(s, rid) == [("progress_request", f"{HR_NEW}联络员", 0)]


def test_a_merge_closes_the_names_review_row_and_moves_what_it_held(db, policy):
    b, row, rid = _year_so_far(db, policy)
    with transaction(db) as s:
        hr = resolve(s, GOV, HR)
        merge_agencies(s, GOV, [HR_NEW], HR, on=D("2017-04-25"), actor="cli",
                       now=at("2017-04-25"), policy=policy)
    with db() as s:
        review = s.get_one(DirectoryReview, row)
        assert (review.state, review.agency_ids, review.resolved_by) == ("mapped", [hr], "cli")
        event = s.scalars(select(AuditEvent).where(
            AuditEvent.action == "directory.review.mapped")).one()
        assert (event.object_id, event.detail["by_merge"], event.detail["requests_moved"]) == (
            str(row), True, [rid])
        req = s.get_one(ProgressRequest, rid)
        assert (req.agency_id, req.issued_on, req.due_on) == (hr, D("2017-04-25"), D("2017-05-17"))
        assert _told(s, rid) == [("progress_request", f"{HR}联络员", 0)]
        assert [i.row.phrase for i in review_page(s).open if i.row.kind == "name"] == ["市统计局"]


def test_a_merge_into_a_waiting_name_accepts_it(db, policy):
    b, row, rid = _year_so_far(db, policy)
    with transaction(db) as s:  # the office says 市统计局 and the new spelling became one
        merge_agencies(s, GOV, ["市统计局"], HR_NEW, on=D("2017-04-25"), actor="cli",
                       now=at("2017-04-25"), policy=policy)
    with db() as s:
        states = dict(s.execute(select(DirectoryReview.phrase, DirectoryReview.state)
                                .where(DirectoryReview.kind == "name")).all())
        assert states == {HR_NEW: "accepted", "市统计局": "mapped"}
        req = s.get_one(ProgressRequest, rid)
        assert (req.issued_on, req.due_on) == (D("2017-04-25"), D("2017-05-17"))
        assert _told(s, rid) == [("progress_request", f"{HR_NEW}联络员", 0)]
