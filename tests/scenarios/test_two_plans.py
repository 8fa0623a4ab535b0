"""Scenario: two plans of one city loaded together; nothing of one is counted in the other.

The Tianjin plan (the seed) and a small second plan (tests.factories.small_plan) share
agencies of one directory. Plan A's liaisons answer all but five requests; plan B's
answer none. Row by row, in the outbox and in every read model (requests, circular
items, scorecard rows, board rows, ledger rows, the liaison's page), each plan holds only
its own items.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from tests.conftest import at
from tests.factories import small_plan
from tracker.annual.meetings import governments
from tracker.annual.scorecard.figures import compute
from tracker.catalog.load import load_catalog
from tracker.db import transaction
from tracker.desk.board import BoardFilter, board, heat_table, on_time_by_period
from tracker.desk.ledger import ledger_frame
from tracker.directory.agencies import plan_agencies, resolve
from tracker.directory.contacts import ensure_demo_contacts
from tracker.escalation.circulars import circular_list
from tracker.escalation.notices import notice_view
from tracker.escalation.sweep import sweep_overdue
from tracker.models import (
    Agency,
    Assignment,
    Circular,
    Measure,
    OutboxMessage,
    Plan,
    ProgressRequest,
    ReportingPeriod,
    SupervisionNotice,
)
from tracker.requests.answer_form import agency_items
from tracker.requests.opening import open_due_requests
from tracker.requests.reports import ReportInput, record_reports

D = dt.date.fromisoformat


def _requests_of(s, plan_id):  # type: ignore[no-untyped-def]
    return set(s.scalars(select(ProgressRequest.id).join(
        ReportingPeriod, ReportingPeriod.id == ProgressRequest.period_id)
        .where(ReportingPeriod.plan_id == plan_id)))


def test_two_plans_share_the_directory_and_nothing_else(db, plan, policy):
    with transaction(db) as s:
        b_id = load_catalog(s, small_plan(), at("2017-01-05")).plan_id
        ensure_demo_contacts(s, b_id)
        plan_a, plan_b = s.get_one(Plan, plan.id), s.get_one(Plan, b_id)
        open_due_requests(s, plan_a, at("2017-03-17"), policy)
        open_due_requests(s, plan_b, at("2017-03-17"), policy)
    with db() as s:
        a_reqs, b_reqs = _requests_of(s, plan.id), _requests_of(s, b_id)
        # the directory: one 市民政局, and the full name of 市人力社保局 is an alias of it
        assert s.scalar(select(func.count()).select_from(Agency)
                        .where(Agency.name == "市民政局")) == 1
        hr = resolve(s, "天津市人民政府", "市人力社保局")
        assert hr is not None and resolve(s, "天津市人民政府", "市人力资源和社会保障局") == hr
        lead_b = s.scalar(select(Assignment.agency_id).join(Measure).where(
            Measure.plan_id == b_id, Measure.code == "1", Assignment.role == "lead"))
        assert lead_b == hr
        # plan B: 3 measures: (lead + co + 2 districts) + (lead + co) + (lead + 2 districts)
        # = 9 assignments and one indicator (opened with the fourth quarter, not now)
        assert len(a_reqs) == 798 and len(b_reqs) == 9 and not a_reqs & b_reqs
        assert [g for g, _ in governments(s, plan_b)] == [
            "天津市人民政府", "和平区人民政府", "河东区人民政府"]
        assert len(plan_agencies(s, b_id)) == 6  # 5 city agencies named in tasks + 2 districts - 1
    with transaction(db) as s:  # plan A answers all but five; plan B answers nothing
        record_reports(s, [ReportInput(request_id=i, status="in_progress", percent=20,
                                       narrative="正常推进", next_steps="继续")
                           for i in sorted(a_reqs)[5:]], submitted_by="t", now=at("2017-04-07"))
    for day in ("2017-04-11", "2017-04-17", "2017-04-24"):
        with transaction(db) as s:
            for p in (plan_a, plan_b):
                sweep_overdue(s, s.get_one(Plan, p.id), at(day), policy)

    with db() as s:
        # outbox: every message about a request names that request's plan, row by row
        rows = s.execute(select(OutboxMessage.request_id, OutboxMessage.plan_id)
                         .where(OutboxMessage.request_id.is_not(None))).all()
        assert rows and all((rid in a_reqs and pid == plan.id) or (rid in b_reqs and pid == b_id)
                            for rid, pid in rows)
        # circulars: one draft per plan, each with only its own plan's items
        circulars = {c.plan_id: c for c, _, _ in circular_list(s)}
        assert set(circulars) == {plan.id, b_id}
        assert {i["request_id"] for i in circulars[plan.id].items} == set(sorted(a_reqs)[:5])
        assert {i["request_id"] for i in circulars[b_id].items} == b_reqs
        assert s.scalar(select(func.count()).select_from(Circular)) == 2
        # 督办通知单 (issue 12): each plan's list only its own plan's requests
        for n in s.scalars(select(SupervisionNotice)):
            listed = {i["request_id"] for i in notice_view(s, n.id, policy=policy,
                                                           now=at("2017-04-25")).items}
            assert listed and listed <= (a_reqs if n.plan_id == plan.id else b_reqs)
        # the board, filtered by plan, and all plans together
        today = D("2017-04-25")
        today_at = at("2017-04-25")
        red_a = board(s, BoardFilter(plan_id=plan.id, light="red", per_page=10_000), today, policy)
        red_b = board(s, BoardFilter(plan_id=b_id, light="red", per_page=10_000), today, policy)
        both = board(s, BoardFilter(light="red", per_page=10_000), today, policy)
        assert {r["id"] for r in red_a.rows} == set(sorted(a_reqs)[:5])
        assert {r["id"] for r in red_b.rows} == b_reqs
        assert red_a.total + red_b.total == both.total == 14
        assert {r["plan"] for r in red_b.rows} == {"天津市残疾人就业促进三年行动方案"}
        heat_b = heat_table(s, BoardFilter(plan_id=b_id), today, policy)[1]
        assert sum(total for _, _, total in heat_b) == 9
        assert on_time_by_period(s, BoardFilter(plan_id=b_id), today, policy) == [("2017Q1", 0, 9)]
        assert on_time_by_period(s, BoardFilter(plan_id=plan.id), today, policy) == [
            ("2017Q1", 793, 798)]
        # the ledger
        ledger_b = ledger_frame(s, BoardFilter(plan_id=b_id), today, policy)
        assert set(ledger_b["系统编号"]) == b_reqs and set(ledger_b["规划"]) == {
            "天津市残疾人就业促进三年行动方案"}
        # the scorecard: plan B's rows count plan B's requests only
        card_b = compute(s, s.get_one(Plan, b_id), 2017, policy.rules.scoring, now=today_at).summary
        assert int(card_b["应报"].sum()) == 9 and int(card_b["按时"].sum()) == 0
        card_a = compute(s, s.get_one(Plan, plan.id), 2017, policy.rules.scoring, now=today_at).summary
        assert int(card_a["应报"].sum()) == 798 and int(card_a["按时"].sum()) == 793
        # the liaison of 市民政局 sees both plans' items from one page
        civil = resolve(s, "天津市人民政府", "市民政局")
        assert civil is not None
        items = agency_items(s, civil, D("2017-04-25"))
        titles = {plan.id: plan_a.title, b_id: plan_b.title}
        assert {i.plan for i in items} == set(titles.values())
        assert all(i.request_id in (a_reqs if i.plan == titles[plan.id] else b_reqs)
                   for i in items)
        assert {i.request_id for i in items if i.plan == titles[b_id]} == set(s.scalars(
            select(ProgressRequest.id).where(ProgressRequest.id.in_(b_reqs),
                                             ProgressRequest.agency_id == civil)))


def test_one_digest_names_each_items_plan(db, plan, policy):
    from notifications.render import message_rows, render_digests
    from tracker.enums import ContactRole, MessageKind
    from tracker.models import Contact

    with transaction(db) as s:
        b_id = load_catalog(s, small_plan(), at("2017-01-05")).plan_id
        ensure_demo_contacts(s, b_id)
        for p in (plan.id, b_id):
            open_due_requests(s, s.get_one(Plan, p), at("2017-03-17"), policy)
    with db() as s:
        civil = resolve(s, "天津市人民政府", "市民政局")
        liaison = s.scalars(select(Contact).where(Contact.agency_id == civil,
                                                  Contact.role == ContactRole.LIAISON)).one()
        ids = list(s.scalars(select(OutboxMessage.id).where(
            OutboxMessage.contact_id == liaison.id,
            OutboxMessage.kind == MessageKind.PROGRESS_REQUEST)))
        digests = render_digests(message_rows(s, ids), now=at("2017-03-17", 17),
                                 calendar=policy.calendar)
    assert len(digests) == 1  # one person, one digest, both plans
    body = digests[0][1].body
    assert "《天津市残疾人就业促进三年行动方案》" in body
    assert "《天津市“十三五”加快残疾人小康进程规划纲要》" in body
    assert "扶持残疾人自主创业" in body
