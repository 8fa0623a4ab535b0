"""The office's queues (issue 10, item 3): what each holds, oldest first, 50 a page, and
the counts every desk page shows."""

from __future__ import annotations

from sqlalchemy import select

from tests.conftest import at
from tests.web_helpers import liaison_of
from tracker.db import transaction
from tracker.desk.queues import PER_PAGE, QueueCounts, queue_counts, queue_page
from tracker.directory.contacts import deactivate_contact
from tracker.escalation.sweep import sweep_overdue
from tracker.models import ProgressReport, ProgressRequest
from tracker.requests.extensions import ask_extension
from tracker.requests.reports import ReportInput, record_reports
from tracker.requests.review import accept_report, return_report


def test_each_queue_holds_what_waits_oldest_first(db, plan, policy, overdue):
    ids = overdue  # Q1 2017: 798 requests, 793 answered on 7 April, 5 reminded on 12 April
    with db() as s:
        assert queue_counts(s) == QueueCounts(reviews=793, extensions=0, circulars=0,
                                              dead_letters=0, agencies=0)
        first = queue_page(s, "reviews", 1)
        last = queue_page(s, "reviews", 99)  # past the end: the last page
        reports = s.scalars(select(ProgressReport.id).order_by(ProgressReport.id)).all()
    assert (first.total, first.pages, len(first.items)) == (793, 16, PER_PAGE)
    assert (last.page, len(last.items)) == (16, 793 - 15 * PER_PAGE)
    assert [i.row.id for i in first.items] == reports[:PER_PAGE]  # same time: by id
    assert first.items[0].subject.startswith(("1.", "2.", "3.", "I"))
    assert first.items[0].plan == plan.title and first.items[0].period == "2017Q1"

    later, other = ids[5], ids[6]
    with transaction(db) as s:
        # a second version supersedes the first: only the latest waits for review
        record_reports(s, [ReportInput(request_id=later, status="in_progress", percent=40,
                                       narrative="第二版")], submitted_by="t", now=at("2017-04-13"))
        accept_report(s, s.scalar(select(ProgressReport.id).where(
            ProgressReport.request_id == other)), reviewer="t", comment="", now=at("2017-04-13"))
        agency = s.get_one(ProgressRequest, ids[0]).agency_id
    with db() as s:
        assert queue_counts(s).reviews == 792
        newest = queue_page(s, "reviews", 16).items[-1]
        assert (newest.request_id, newest.row.version) == (later, 2)
    cdpf = liaison_of(db, "市残联").id
    with transaction(db) as s:
        return_report(s, newest.row.id, reviewer="t", comment="请补充数据",
                      now=at("2017-04-13"), policy=policy)
        # an extension asked for a request due later (Q2), and a draft circular
        from tracker.requests.opening import open_due_requests
        open_due_requests(s, plan, at("2017-06-16"), policy)
        q2 = s.scalar(select(ProgressRequest.id).where(ProgressRequest.agency_id == agency)
                      .order_by(ProgressRequest.id.desc()))
        ask_extension(s, agency_id=agency, request_id=q2, new_due_on=at("2017-07-31").date(),
                      reason="汇总中", asked_by="t", now=at("2017-06-20"))
        sweep_overdue(s, plan, at("2017-04-24"), policy)
        deactivate_contact(s, cdpf)
    with db() as s:
        counts = queue_counts(s)
        assert (counts.reviews, counts.extensions, counts.circulars, counts.agencies) == (
            791, 1, 1, 1)
        ext = queue_page(s, "extensions").items[0]
        assert ext.request_id == q2 and ext.row[0].reason == "汇总中" and ext.period == "2017Q2"
        circular = queue_page(s, "circulars").items[0]
        draft, listed = circular.row  # with the counts its documents state (issue 12)
        assert draft.title.endswith("（稿）") and circular.plan == plan.title
        assert (listed.items, listed.agencies) == (len(draft.items), len(
            {i["agency_id"] for i in draft.items}))
        agency_row = queue_page(s, "agencies").items[0]
        assert agency_row.agency == "市残联" and agency_row.row[1] > 0  # its open requests
