"""`tracker synth` (issue 14, item 5): the deployment holds exactly the rows asked for, on
SQLite and PostgreSQL, and the product's own opening and sweep run on it: every assignment
gets its quarter's request, and every request climbs all three rungs."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import distinct, func, select
from typer.testing import CliRunner

from tests.conftest import at
from tracker.cli import app
from tracker.db import transaction
from tracker.enums import ContactRole, MessageKind, Role
from tracker.escalation.sweep import sweep_overdue
from tracker.models import (
    Agency,
    Assignment,
    Contact,
    Measure,
    OutboxMessage,
    Plan,
    ProgressRequest,
)
from tracker.ops.synth import OFFICE, SynthError, build, counties, national, open_all

run = CliRunner().invoke


def count(s, model, *where) -> int:  # type: ignore[no-untyped-def]
    return s.scalar(select(func.count()).select_from(model).where(*where))


def test_national_plan_holds_the_counts_asked_and_runs(db, policy):
    with transaction(db) as s:
        built = build(s, national(200))
    with db() as s:
        # 40 measures of 5 district agencies each: 5 agencies + the supervision office
        assert (count(s, Plan), count(s, Measure), count(s, Assignment)) == (1, 40, 200)
        assert count(s, Agency) == 6 and built.agencies == 6
        assert count(s, Contact) == 12 and built.contacts == 12
        assert count(s, Contact, Contact.role == ContactRole.LIAISON.value) == 6
        assert count(s, Assignment, Assignment.role == Role.LEAD.value) == 40
        assert count(s, Assignment, Assignment.role == Role.DISTRICT.value) == 160
        assert s.scalar(select(Plan.supervision_office)) == OFFICE
        assert s.scalar(select(Contact.email).join(Agency).where(
            Agency.name == OFFICE, Contact.role == ContactRole.LIAISON.value)) \
            == f"a{s.scalar(select(Agency.id).where(Agency.name == OFFICE))}.liaison@example.org"

    with transaction(db) as s:  # 2017Q1 issues on 17 March: one request per assignment
        opened = open_all(s, built.plan_ids, at("2017-03-17"), policy)
    assert (opened.requests_opened, opened.messages_queued) == (200, 200)
    with transaction(db) as s:  # due 10 April; rungs on 11, 17 and 24 April
        swept = sweep_overdue(s, s.get_one(Plan, built.plan_ids[0]), at("2017-04-24"), policy)
    assert swept.fired == {1: 200, 2: 200, 3: 200}
    with db() as s:
        assert count(s, ProgressRequest) == 200
        by_level = dict(s.execute(
            select(OutboxMessage.level, func.count()).where(
                OutboxMessage.kind == MessageKind.ESCALATION.value)
            .group_by(OutboxMessage.level)).all())
    # the reminder to each liaison; the notice to each deputy head plus its copy to the
    # office; the circular to the office
    assert by_level == {1: 200, 2: 400, 3: 200}


def test_county_plans_share_one_directory(db, policy):
    with transaction(db) as s:
        built = build(s, counties(3, 70, agencies=9))
    with db() as s:
        assert (count(s, Plan), count(s, Measure), count(s, Assignment)) == (3, 120, 210)
        assert (count(s, Agency), count(s, Contact)) == (10, 20)
        assert (built.plans, built.measures, built.assignments) == (3, 120, 210)
        # each plan: 30 measures of 2 agencies, 10 of 1; plan p takes agencies 2p and 2p+1
        for plan_id in built.plan_ids:
            in_plan = Assignment.measure_id.in_(select(Measure.id).where(Measure.plan_id == plan_id))
            assert count(s, Assignment, in_plan) == 70
            assert count(s, Assignment, in_plan, Assignment.role == Role.LEAD.value) == 40
            assert s.scalar(select(func.count(distinct(Assignment.agency_id))).where(in_plan)) == 2
        assert s.scalar(select(func.count(distinct(Assignment.agency_id)))) == 6
    with transaction(db) as s:
        opened = open_all(s, built.plan_ids, at("2017-03-17"), policy)
    assert opened.requests_opened == 210
    for plan_id in built.plan_ids:
        with transaction(db) as s:
            assert sweep_overdue(s, s.get_one(Plan, plan_id), at("2017-04-17"), policy).fired \
                == {1: 70, 2: 70, 3: 0}  # the circular fires on the 24th
    with db() as s:
        assert count(s, ProgressRequest, ProgressRequest.level == 2) == 210


def test_sizes_that_cannot_be_built_are_refused(db):
    with transaction(db) as s, pytest.raises(SynthError, match="至少须有 2 个单位"):
        build(s, counties(2, 70, agencies=1))
    with transaction(db) as s, pytest.raises(SynthError, match="至少为 1"):
        build(s, national(0))


def test_the_command_builds_opens_and_refuses_a_second_run(db, db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    monkeypatch.setenv("TRACKER_DATABASE_URL", db_url)
    r = run(app, ["synth", "--shape", "national", "--assignments", "200",
                  "--open", "2017-03-17T09:00"])
    assert r.exit_code == 0, r.output
    assert re.search(r"任务分解\s*│\s*200 │", r.output) and re.search(r"联系人\s*│\s*12 │", r.output)
    assert "开启进展征询 200 件，排队通知 200 条" in r.output
    with db() as s:
        assert count(s, ProgressRequest) == 200
    r = run(app, ["synth", "--shape", "counties", "--plans", "2", "--assignments-per-plan", "50",
                  "--key", "cty"])  # another key: its own plans and government, beside
    assert r.exit_code == 0, r.output
    with db() as s:
        assert (count(s, Plan), count(s, Assignment), count(s, Agency)) == (3, 300, 9)  # 6 + 2 + office
    r = run(app, ["synth", "--shape", "national", "--assignments", "10"])
    assert r.exit_code == 2 and "已有标识以 synth- 开头的规划" in r.output
    r = run(app, ["synth", "--shape", "national", "--plans", "3"])
    assert r.exit_code == 2 and "须给出 --assignments" in r.output
