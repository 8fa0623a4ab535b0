"""Two people deciding the same thing at once (PostgreSQL, where transactions overlap).

Each test holds the first decision's transaction open until the second one is seen waiting
on a row lock in pg_stat_activity, then commits the first: the second must be told that it
was decided already, not decide again. Without the row lock, the second reads the row as
it was and both "succeed" (the attack that found it: grant and refuse both answered 303).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import at
from tests.waiting import wait_for
from tracker.db import transaction
from tracker.enums import ExtensionState, Level
from tracker.errors import DomainError
from tracker.escalation.circulars import sign_off
from tracker.escalation.office_actions import escalate_now
from tracker.models import Agency, Circular, ExtensionRequest, ProgressReport, ProgressRequest
from tracker.requests.extensions import ask_extension, decide_extension
from tracker.requests.opening import open_due_requests
from tracker.requests.reports import submit_answer
from tracker.requests.review import accept_report, return_report

pytestmark = pytest.mark.postgresql_only


def _second_waits(db: sessionmaker[Session], first: Callable[[Session], Any],
                  second: Callable[[Session], Any]) -> Any:
    """Run `first` in an open transaction, start `second` in another thread, wait until it
    waits on a lock, commit `first`; return what `second` raised (or None)."""
    outcome: dict[str, Any] = {}

    def run_second() -> None:
        try:
            with transaction(db) as s:
                second(s)
        except DomainError as exc:
            outcome["error"] = exc

    with transaction(db) as s:
        first(s)
        s.flush()
        thread = threading.Thread(target=run_second)
        thread.start()
        with db() as watcher:
            wait_for("the second decision waiting on the first's row lock", lambda: watcher.scalar(
                text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                     "AND datname = current_database()")) == 1, deadline=30, every=0.05)
    thread.join(30)
    return outcome.get("error")


def _cdpf_request(db: sessionmaker[Session], plan: Any, policy: Any) -> tuple[int, int]:
    with transaction(db) as s:
        open_due_requests(s, plan, at("2017-03-17"), policy)
        agency = s.scalars(select(Agency.id).where(Agency.name == "市残联")).one()
        rid = s.scalars(select(ProgressRequest.id).where(ProgressRequest.agency_id == agency)
                        .order_by(ProgressRequest.id).limit(1)).one()
    return agency, rid


def test_grant_and_refuse_at_once_decide_once(db, plan, policy):
    agency, rid = _cdpf_request(db, plan, policy)
    with transaction(db) as s:
        ext = ask_extension(s, agency_id=agency, request_id=rid, new_due_on=at("2017-04-28").date(),
                            reason="需汇总各区数据", asked_by="t", now=at("2017-04-05")).id
    now = at("2017-04-06")
    error = _second_waits(
        db, lambda s: decide_extension(s, ext, grant=True, note="", decided_by="甲", now=now,
                                       policy=policy),
        lambda s: decide_extension(s, ext, grant=False, note="", decided_by="乙", now=now,
                                   policy=policy))
    assert error is not None and error.message == f"延期申请 {ext} 已处理过（已批准）"
    with db() as s:
        assert s.get_one(ExtensionRequest, ext).state == ExtensionState.GRANTED
        assert s.get_one(ExtensionRequest, ext).decided_by == "甲"
        assert s.get_one(ProgressRequest, rid).due_on.isoformat() == "2017-04-28"


def test_accept_and_return_at_once_review_once(db, plan, policy):
    agency, rid = _cdpf_request(db, plan, policy)
    with transaction(db) as s:
        submit_answer(s, request_id=rid, fields={"status": "in_progress", "percent": "40",
                                                 "narrative": "已完成年度计划的四成"},
                      submitted_by="t", now=at("2017-04-05"), source="web")
        report = s.scalars(select(ProgressReport.id).where(ProgressReport.request_id == rid)).one()
    now = at("2017-04-06")
    error = _second_waits(
        db, lambda s: accept_report(s, report, reviewer="甲", comment="", now=now),
        lambda s: return_report(s, report, reviewer="乙", comment="请补充数据", now=now,
                                policy=policy))
    assert error is not None and "该报告已审核过" in error.message
    with db() as s:
        assert s.get_one(ProgressReport, report).review_state == "accepted"
        assert s.get_one(ProgressRequest, rid).state == "answered"


def test_two_escalations_at_once_raise_one_rung(db, plan, overdue, policy):
    rid = overdue[0]
    with db() as s:
        level = s.get_one(ProgressRequest, rid).level
    now = at("2017-04-20")
    error = _second_waits(
        db, lambda s: escalate_now(s, rid, actor="甲", now=now, policy=policy,
                                   to_level=level + 1),
        lambda s: escalate_now(s, rid, actor="乙", now=now, policy=policy, to_level=level + 1))
    assert error is not None and error.message.startswith(
        f"该事项的督办等级已变为“{Level(level + 1).label}”")
    with db() as s:
        assert s.get_one(ProgressRequest, rid).level == level + 1


def test_two_sign_offs_at_once_sign_once(db, plan, overdue, policy):
    with transaction(db) as s:
        for _ in range(3):
            try:
                escalate_now(s, overdue[0], actor="t", now=at("2017-04-20"), policy=policy)
            except DomainError:
                break
        circular = s.scalars(select(Circular.id).order_by(Circular.id).limit(1)).one()
    now = at("2017-04-21")
    error = _second_waits(
        db, lambda s: sign_off(s, circular, signed_by="甲", now=now, policy=policy),
        lambda s: sign_off(s, circular, signed_by="乙", now=now, policy=policy))
    assert error is not None and error.message == "该通报已签发"
    with db() as s:
        assert s.get_one(Circular, circular).signed_by == "甲"
