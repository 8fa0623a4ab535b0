"""Each plan's daily work in its own transaction (issue 14, item 1): one plan's failing
sweep leaves the other plans' results committed; batches of plans (item 6)."""

from __future__ import annotations

import datetime as dt

import pytest
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
from sqlalchemy import func, select, update

from flows.plans import PlanRunsFailed, batches, run_plans
from flows.runtime import prefect_context
from tests.conftest import at
from tests.factories import small_plan
from tracker.catalog.load import load_catalog
from tracker.db import transaction
from tracker.directory.contacts import ensure_demo_contacts
from tracker.models import Escalation, OutboxMessage, Plan, ProgressRequest, ReportingPeriod
from tracker.settings import Settings

KEYS = ("plan-a", "plan-b", "plan-c")
# 2107 for 2017: a due day the calendar cannot count working days for (chinese-calendar
# covers 1900-2100), as a mistyped day would be; its ladder raises NotImplementedError
BROKEN_DUE = dt.date(2107, 4, 10)


@pytest.fixture
def three(db) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Three small plans of one city sharing its directory, Q1 2017 opened in each
    (9 requests a plan); key -> plan id."""
    from tracker.dates.workdays import WorkCalendar
    from tracker.enums import ChannelKind
    from tracker.policy import Policy
    from tracker.requests.opening import open_due_requests
    from tracker.settings import Rules

    ids = {}
    with transaction(db) as s:
        for i, key in enumerate(KEYS):
            ids[key] = load_catalog(s, small_plan(plan_id=key, title=f"第{i + 1}个行动方案"),
                                    at("2017-01-05")).plan_id
            ensure_demo_contacts(s, ids[key])
    policy = Policy(Rules(), WorkCalendar(), ChannelKind.EMAIL)
    with transaction(db) as s:
        for pid in ids.values():
            assert open_due_requests(s, s.get_one(Plan, pid), at("2017-03-17"),
                                     policy).requests_opened == 9
    return ids


def _break(db, plan_id: int) -> int:  # type: ignore[no-untyped-def]
    """One open request of the plan moved to BROKEN_DUE (its next action day kept);
    returns its id."""
    with transaction(db) as s:
        rid = s.scalars(select(ProgressRequest.id).join(ReportingPeriod).where(
            ReportingPeriod.plan_id == plan_id).order_by(ProgressRequest.id.desc())).first()
        s.execute(update(ProgressRequest).where(ProgressRequest.id == rid)
                  .values(due_on=BROKEN_DUE))
    return rid


def _fired(db) -> dict[int, int]:  # type: ignore[no-untyped-def]
    """plan id -> escalations fired for its requests."""
    with db() as s:
        return dict(s.execute(
            select(ReportingPeriod.plan_id, func.count())
            .join(ProgressRequest, ProgressRequest.period_id == ReportingPeriod.id)
            .join(Escalation, Escalation.request_id == ProgressRequest.id)
            .group_by(ReportingPeriod.plan_id)).all())


def _escalation_messages(db) -> dict[int, int]:  # type: ignore[no-untyped-def]
    with db() as s:
        return dict(s.execute(select(OutboxMessage.plan_id, func.count())
                              .where(OutboxMessage.kind == "escalation")
                              .group_by(OutboxMessage.plan_id)).all())


def test_one_plans_failing_sweep_leaves_the_others_committed(db, three, policy):
    a, b, c = (three[k] for k in KEYS)
    broken = _break(db, b)
    factory = db
    out = run_plans(("ladder",), [a, b, c], at("2017-04-24"), factory, policy)
    # plan b failed after firing its other requests' rungs: all of it rolled back
    assert out.plans == 3
    assert [(f["plan"], f["step"]) for f in out.failed] == [("plan-b", "ladder")]
    assert out.failed[0]["error"].startswith("NotImplementedError: ")
    assert out.steps["ladder"]["fired"] == {1: 18, 2: 18, 3: 18}
    assert _fired(db) == {a: 27, c: 27}
    messages = _escalation_messages(db)
    assert set(messages) == {a, c} and messages[a] == messages[c] > 0

    # the row mended, the next run fires plan b's rungs and repeats nothing of a's or c's
    with transaction(db) as s:
        s.execute(update(ProgressRequest).where(ProgressRequest.id == broken)
                  .values(due_on=dt.date(2017, 4, 10)))
    again = run_plans(("ladder",), [a, b, c], at("2017-04-24"), factory, policy)
    assert again.failed == [] and again.steps["ladder"]["fired"] == {1: 9, 2: 9, 3: 9}
    assert _fired(db) == {a: 27, b: 27, c: 27}
    assert _escalation_messages(db) == {a: messages[a], b: messages[a], c: messages[a]}


def test_batches_cut_plans_in_order():
    assert batches([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]
    assert batches([7], 50) == [[7]] and batches([], 3) == []


@pytest.fixture
def flow_settings(tmp_path, db_url):  # type: ignore[no-untyped-def]
    """Settings for the flows: one plan per batch, notices written to files."""
    settings = Settings(home=tmp_path, database_url=db_url, channel="file", plans_per_run=1)
    with prefect_context(settings), \
            temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield settings


def test_the_sweep_flow_runs_each_plan_alone_and_reports_the_failed_one(db, three,
                                                                        flow_settings):
    from flows.tracker_flows import overdue_sweep_flow

    a, b, c = (three[k] for k in KEYS)
    _break(db, b)
    with pytest.raises(PlanRunsFailed) as failed:
        overdue_sweep_flow(now=at("2017-04-24", 8, 30).isoformat(), settings=flow_settings)
    assert str(failed.value).startswith(
        "任务 overdue_sweep 有 1 个规划步骤运行失败，已回滚（其余规划的结果已保存）："
        "规划 plan-b（ladder）：NotImplementedError: ")
    result = failed.value.result
    assert (result["plans"], result["ladder"]["fired"]) == (3, {1: 18, 2: 18, 3: 18})
    assert "meetings" in result  # plan b's duties ran in a transaction of their own
    assert _fired(db) == {a: 27, c: 27}
