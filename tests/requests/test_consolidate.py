"""A lead agency's consolidation of its co-agencies' and districts' answers (issue 10, item 1)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import at
from tracker.db import transaction
from tracker.errors import Forbidden
from tracker.models import Agency, Assignment, Measure, ProgressRequest, ReportDraft
from tracker.requests.consolidate import ConsolidateError, consolidate
from tracker.requests.drafts import save_draft
from tracker.requests.opening import open_due_requests
from tracker.requests.reports import submit_answer

NOW = at("2017-04-05", 10)


def _request(db, agency: str, code: str) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    with db() as s:
        return s.execute(select(ProgressRequest.id, ProgressRequest.agency_id)
                         .join(Assignment, Assignment.id == ProgressRequest.assignment_id)
                         .join(Measure, Measure.id == Assignment.measure_id)
                         .join(Agency, Agency.id == ProgressRequest.agency_id)
                         .where(Agency.name == agency, Measure.code == code)).one()


def _answer(db, agency: str, percent: str, narrative: str, problems: str = "") -> None:  # type: ignore[no-untyped-def]
    rid, _ = _request(db, agency, "1")
    with transaction(db) as s:
        submit_answer(s, request_id=rid, submitted_by="t", now=at("2017-04-01", 10), fields={
            "status": "in_progress", "percent": percent, "narrative": narrative,
            "problems": problems})


def test_lead_draft_gathers_peers_lines_and_their_lowest_percent(db, small, policy):
    """Measure 1 of the small plan: lead 市人力资源和社会保障局, co 市财政局, districts
    和平区 and 河东区 (河东区 has not reported)."""
    with transaction(db) as s:
        open_due_requests(s, small, at("2017-03-17"), policy)
    _answer(db, "市财政局", "60", "拨付就业补助资金300万元\n已下达各区", "资金拨付进度偏慢")
    _answer(db, "和平区人民政府", "45", "新增安置残疾人就业12人")
    lead, lead_agency = _request(db, "市人力资源和社会保障局", "1")
    with transaction(db) as s:
        done = consolidate(s, agencies=[lead_agency], request_id=lead, saved_by="liaison:1",
                           now=NOW)
    assert done.reported == ["市财政局", "和平区人民政府"]
    assert done.missing == ["河东区人民政府"]
    with db() as s:
        draft = s.scalars(select(ReportDraft).where(ReportDraft.request_id == lead)).one()
    assert draft.fields == {
        "status": "", "percent": "45",  # the lead had none: the lowest of its peers'
        "narrative": "【配合单位和各区报送情况】\n市财政局：拨付就业补助资金300万元 已下达各区\n"
                     "和平区人民政府：新增安置残疾人就业12人",
        "problems": "【配合单位和各区报送情况】\n市财政局：资金拨付进度偏慢", "next_steps": "",
        "value": ""}

    # the lead's own text and percent are kept, even a line it typed that starts with a
    # peer's name; pressing again does not repeat the lines
    own = "本局牵头制定实施细则。\n和平区人民政府：场地问题由本局协调解决。\n"
    with transaction(db) as s:
        save_draft(s, agency_id=lead_agency, request_id=lead, saved_by="liaison:1", now=NOW,
                   fields={**draft.fields, "status": "in_progress", "percent": "50",
                           "narrative": own + draft.fields["narrative"]})
    with transaction(db) as s:
        consolidate(s, agencies=[lead_agency], request_id=lead, saved_by="liaison:1", now=NOW)
    with db() as s:
        again = s.scalars(select(ReportDraft).where(ReportDraft.request_id == lead)).one()
    assert (again.fields["status"], again.fields["percent"]) == ("in_progress", "50")
    assert again.fields["narrative"] == (
        "本局牵头制定实施细则。\n和平区人民政府：场地问题由本局协调解决。\n"
        "【配合单位和各区报送情况】\n市财政局：拨付就业补助资金300万元 已下达各区\n"
        "和平区人民政府：新增安置残疾人就业12人")
    with db() as s:  # nothing was submitted
        assert s.get_one(ProgressRequest, lead).state == "open"


def test_only_the_lead_consolidates_and_only_its_own(db, small, policy):
    with transaction(db) as s:
        open_due_requests(s, small, at("2017-03-17"), policy)
    co, co_agency = _request(db, "市财政局", "1")
    lead, lead_agency = _request(db, "市人力资源和社会保障局", "1")
    with transaction(db) as s, pytest.raises(ConsolidateError, match="只有牵头单位") as exc:
        consolidate(s, agencies=[co_agency], request_id=co, saved_by="t", now=NOW)
    assert exc.value.code == "not-lead"
    with transaction(db) as s, pytest.raises(Forbidden):
        consolidate(s, agencies=[co_agency], request_id=lead, saved_by="t", now=NOW)
    with db() as s:
        assert s.scalars(select(ReportDraft)).all() == []
