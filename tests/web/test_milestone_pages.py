"""A task's own 完成时限 on the pages (issue 13, build item 5): the liaison sees the
deadline and is asked for a 完成情况报告; an unexplained 未完成 is refused beside its
field; the board names the milestone as 完成时限."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import at
from tests.web_helpers import Clock, liaison_of, make_app, make_settings, token_for
from tracker.catalog.load import load_catalog
from tracker.catalog.schema import Deadline
from tracker.db import transaction
from tracker.directory.contacts import ensure_demo_contacts
from tracker.models import Plan, ProgressRequest, ReportingPeriod
from tracker.requests.opening import open_due_requests

pytestmark = pytest.mark.sqlite_only

LEAD = "市人力资源和社会保障局"


@pytest.fixture
def site(db, db_url, policy, tmp_path):  # type: ignore[no-untyped-def]
    from tests.factories import small_plan

    catalog = small_plan(deadlines={
        "1": Deadline(text="2017年6月底前", kind="date", due=dt.date(2017, 6, 30))})
    with transaction(db) as s:
        plan_id = load_catalog(s, catalog, at("2017-01-05")).plan_id
        ensure_demo_contacts(s, plan_id)
    with db() as s:
        plan = s.get_one(Plan, plan_id)
    with transaction(db) as s:
        open_due_requests(s, plan, at("2017-06-16"), policy)
    with db() as s:
        rid = s.scalars(select(ProgressRequest.id).join(
            ReportingPeriod, ReportingPeriod.id == ProgressRequest.period_id).where(
            ReportingPeriod.label == "2017-06-30")).one()
        quarter = s.scalars(select(ProgressRequest.id).join(
            ReportingPeriod, ReportingPeriod.id == ProgressRequest.period_id).where(
            ReportingPeriod.label == "2017Q2",
            ProgressRequest.agency_id == s.get_one(ProgressRequest, rid).agency_id)).one()
    settings = make_settings(tmp_path, db_url)
    client = TestClient(make_app(db, settings, Clock(at("2017-06-20", 10))),
                        follow_redirects=False)
    token = token_for(settings, liaison_of(db, LEAD), at("2017-06-20"))
    return client, token, rid, quarter


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_liaison_is_asked_for_a_completion_report(site):
    client, token, rid, quarter = site
    index = _text(client.get(f"/l/{token}").text)
    assert "《天津市残疾人就业促进三年行动方案》2017年6月30日完成时限" in index
    page = client.get(f"/l/{token}/requests/{rid}").text
    text = _text(page)
    assert "报送期 2017年6月30日完成时限" in text
    assert "完成时限 2017年6月底前" in text
    assert "截止日期 2017-06-30" in text
    assert '<h2 id="answer-h">报告完成情况</h2>' in page
    assert ("本期是该任务的完成时限。已完成的，状态选“已完成”并报告完成情况；未完成的，须在工作进展中"
            "说明未完成的原因和完成时间安排。") in text
    assert "工作进展（未完成时必填，说明原因和完成时间安排）" in text
    # the quarter's request of the same task: the deadline shown, progress asked as ever
    other = client.get(f"/l/{token}/requests/{quarter}").text
    assert "完成时限 2017年6月底前" in _text(other)
    assert '<h2 id="answer-h">填报进展</h2>' in other and "本期是该任务的完成时限" not in other


def test_an_unexplained_miss_is_refused_beside_the_narrative(site, db):
    client, token, rid, _quarter = site
    r = client.post(f"/l/{token}/requests/{rid}", data={
        "action": "submit", "status": "in_progress", "percent": "80", "narrative": ""})
    assert r.status_code == 422
    assert (f'<a href="#r{rid}-narrative">该任务已到完成时限：未完成的，须在工作进展中说明未完成的原因和'
            "完成时间安排</a>") in r.text
    with db() as s:
        assert s.get_one(ProgressRequest, rid).state == "open"
    r = client.post(f"/l/{token}/requests/{rid}", data={
        "action": "submit", "status": "completed", "percent": "100",
        "narrative": "已出台按比例安排残疾人就业实施办法"})
    assert r.status_code == 303
    with db() as s:
        req = s.get_one(ProgressRequest, rid)
        assert (req.state, req.answered_late) == ("answered", False)
