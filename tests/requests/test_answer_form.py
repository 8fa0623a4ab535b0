"""The liaison's pages read an agency's items as sets, whatever their number (issue 14)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from tests.conftest import at
from tracker.catalog.load import load_catalog
from tracker.catalog.schema import Agency, Catalog, Measure, PlanInfo
from tracker.db import transaction
from tracker.directory.contacts import ensure_demo_contacts
from tracker.enums import AgencyKind, RequestState, Role
from tracker.models import Agency as AgencyRow
from tracker.models import Plan, ProgressRequest
from tracker.requests.answer_form import agency_items
from tracker.requests.opening import open_due_requests
from tracker.requests.reports import ReportInput, record_reports

LED = 80  # more than the lowered limits: 50 variables, expression depth 50


def lead_heavy_plan() -> Catalog:
    """80 tasks led by 市残联, each with 市民政局 and 市财政局 as co-responsible."""
    agencies = [Agency(name=n, kind=AgencyKind.CITY_AGENCY)
                for n in ("市残联", "市民政局", "市财政局", "市政府督查室")]
    measures = [Measure(code=f"{i + 1}", section="一、合成", title=f"任务{i + 1}", text="",
                        lead="市残联", co=["市民政局", "市财政局"], districts=False)
                for i in range(LED)]
    return Catalog(plan=PlanInfo(id="lead-heavy", title="牵头事项多的行动方案", issuer="天津市人民政府办公厅",
                                 issued=dt.date(2017, 1, 5), period=(2017, 2018),
                                 government="天津市人民政府", supervision_office="市政府督查室",
                                 performance_office="市绩效办"),
                   agencies=agencies, measures=measures)


@pytest.mark.sqlite_only
def test_a_lead_with_more_items_than_the_limits_sees_them_with_their_peers(
        db, policy, limited_sqlite):
    with transaction(db) as s:
        plan_id = load_catalog(s, lead_heavy_plan(), at("2017-01-05")).plan_id
        ensure_demo_contacts(s, plan_id)
    with transaction(db) as s:
        assert open_due_requests(s, s.get_one(Plan, plan_id), at("2017-03-17"),
                                 policy).requests_opened == 3 * LED
        lead = s.scalar(select(AgencyRow.id).where(AgencyRow.name == "市残联"))
        civil = s.scalar(select(AgencyRow.id).where(AgencyRow.name == "市民政局"))
        theirs = s.scalars(select(ProgressRequest.id).where(ProgressRequest.agency_id == civil)
                           .order_by(ProgressRequest.id)).all()
        # 市民政局 answered its first 60 items; the lead answered its own first one twice
        record_reports(s, [ReportInput(request_id=i, status="in_progress", percent=30,
                                       narrative="民政推进") for i in theirs[:60]],
                       submitted_by="t", now=at("2017-04-01"))
        first = s.scalars(select(ProgressRequest.id).where(ProgressRequest.agency_id == lead)
                          .order_by(ProgressRequest.id)).first()
        for pct in (10, 20):
            record_reports(s, [ReportInput(request_id=first, status="in_progress", percent=pct)],
                           submitted_by="t", now=at("2017-04-02"))
    with limited_sqlite() as s:  # every query of the lead's page under the lowered limits
        items = agency_items(s, lead, dt.date(2017, 4, 5), policy)
        compact = agency_items(s, lead, dt.date(2017, 4, 5), policy, detail=False)
    assert len(items) == len(compact) == LED
    assert all(i.role == Role.LEAD for i in items)
    answered = [i for i in items if i.state == RequestState.ANSWERED]
    assert [(i.request_id, i.versions, i.latest["percent"]) for i in answered] == [(first, 2, 20)]
    assert all(len(i.peers) == 2 for i in items)
    reported = sorted(sum(1 for p in i.peers if p["report"] is not None) for i in items)
    assert reported == [0] * (LED - 60) + [1] * 60
    assert {p["report"]["narrative"] for i in items for p in i.peers if p["report"]} == {"民政推进"}


@pytest.mark.sqlite_only
def test_a_batch_of_answers_larger_than_the_limits_is_recorded(db, policy, limited_sqlite):
    """An Excel sheet or a CLI batch of 240 answers: recorded, evidence and drafts settled,
    and summarised for the page, with 50 variables allowed per statement."""
    from tracker.exchange.upload import recorded_summary

    with transaction(db) as s:
        plan_id = load_catalog(s, lead_heavy_plan(), at("2017-01-05")).plan_id
    with transaction(db) as s:
        open_due_requests(s, s.get_one(Plan, plan_id), at("2017-03-17"), policy)
        ids = s.scalars(select(ProgressRequest.id).order_by(ProgressRequest.id)).all()
        lead = s.scalar(select(AgencyRow.id).where(AgencyRow.name == "市残联"))
    assert len(ids) == 3 * LED
    with transaction(limited_sqlite) as s:
        result = record_reports(s, [ReportInput(request_id=i, status="in_progress", percent=40)
                                    for i in ids], submitted_by="t", now=at("2017-04-10", 20))
        assert (result.recorded, result.late) == (3 * LED, 0)
        summary = recorded_summary(s, [lead], result.report_ids)
    assert summary is not None and summary.startswith(f"已导入 {LED} 项：1、2、3、")
    with db() as s:
        states = s.scalars(select(ProgressRequest.state).distinct()).all()
    assert states == [RequestState.ANSWERED]
