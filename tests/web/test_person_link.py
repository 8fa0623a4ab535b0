"""One person, liaison of several agencies (issue 8, item 4): one link opens all their
items, each labelled with its agency; answering is authorised per item by the person's
active contacts at the moment of the request."""

from __future__ import annotations

import io
import re

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import at
from tests.web_helpers import Clock, make_app, make_settings, token_for
from tracker.db import transaction
from tracker.directory.contacts import add_contact, deactivate_contact
from tracker.enums import ChannelKind
from tracker.models import Agency, Assignment, Contact, Measure, ProgressReport, ProgressRequest
from tracker.requests.opening import open_due_requests

PERSON = "li.si@example.org"


@pytest.fixture
def person(db, db_url, small, policy, tmp_path):  # type: ignore[no-untyped-def]
    """Li Si is the liaison of 市民政局 and of 市残联 (the same address, typed two ways)."""
    with transaction(db) as s:
        open_due_requests(s, small, at("2017-03-17"), policy)
        add_contact(s, agency="市民政局", name="李四", email=PERSON)
        add_contact(s, agency="市残联", name="李四", email="李四 <Li.Si@Example.org>")
    clock = Clock(at("2017-03-20", 10))
    settings = make_settings(tmp_path, db_url)
    client = TestClient(make_app(db, settings, clock), follow_redirects=False)
    with db() as s:
        contacts = {name: c for c, name in s.execute(
            select(Contact, Agency.name).join(Agency, Agency.id == Contact.agency_id)
            .where(Contact.email == PERSON))}
    return client, settings, contacts


def _request(db, agency: str, code: str) -> int:  # type: ignore[no-untyped-def]
    with db() as s:
        return s.scalars(select(ProgressRequest.id)
                         .join(Assignment, Assignment.id == ProgressRequest.assignment_id)
                         .join(Measure, Measure.id == Assignment.measure_id)
                         .join(Agency, Agency.id == ProgressRequest.agency_id)
                         .where(Agency.name == agency, Measure.code == code)).one()


ANSWER = {"action": "submit", "status": "in_progress", "percent": "40", "narrative": "已推进"}


def test_one_link_opens_every_agency_of_the_person(person, db):
    client, settings, contacts = person
    token = token_for(settings, contacts["市民政局"], at("2017-03-17"))
    page = client.get(f"/l/{token}")
    assert page.status_code == 200
    assert "您是以下 2 个单位的联络员" in page.text and "市民政局、市残联" in page.text
    # 市民政局 leads measure 2; 市残联 is co on 2 and leads 3: three items, each labelled
    rows = re.findall(r'<span class="code">(\S+)</span> ([^<]+)</a></th>\s*'
                      r'<td class="agency" data-label="单位">([^<]+)</td>', page.text)
    assert rows == [("2", "扶持残疾人自主创业", "市民政局"), ("2", "扶持残疾人自主创业", "市残联"),
                    ("3", "开展残疾人职业技能培训", "市残联")]
    assert "《天津市残疾人就业促进三年行动方案》2017年第一季度" in page.text
    item = client.get(f"/l/{token}/requests/{_request(db, '市残联', '3')}").text
    assert "<dt>单位</dt><dd>市残联（牵头单位）</dd>" in item
    # the same page from the other agency's contact: the same items
    other = token_for(settings, contacts["市残联"], at("2017-03-17"))
    assert client.get(f"/l/{other}").text.count('<tr>') == 3 + 1
    # an item of the other agency answered through this link, recorded for its agency
    rid = _request(db, "市残联", "3")
    r = client.post(f"/l/{token}/requests/{rid}", data=ANSWER)
    assert r.status_code == 303
    history = client.get(f"/l/{token}/requests/{rid}/history")
    assert history.status_code == 200 and "历次报送：2017年第一季度 3 " in history.text
    assert "（市残联）</h1>" in history.text
    with db() as s:
        report = s.scalars(select(ProgressReport).where(ProgressReport.request_id == rid)).one()
        assert report.percent == 40 and f"liaison:{contacts['市民政局'].id}:" in report.submitted_by


def test_deactivating_one_contact_removes_just_that_agency(person, db):
    client, settings, contacts = person
    token = token_for(settings, contacts["市民政局"], at("2017-03-17"))
    theirs, ours = _request(db, "市残联", "3"), _request(db, "市民政局", "2")
    with transaction(db) as s:
        deactivate_contact(s, contacts["市残联"].id)
    page = client.get(f"/l/{token}")
    assert page.status_code == 200 and "【市残联】" not in page.text
    assert page.text.count("<tr>") == 1 + 1 and "<h1>市民政局 · 进展填报</h1>" in page.text
    r = client.post(f"/l/{token}/requests/{theirs}", data=ANSWER)
    assert r.status_code == 403 and "不属于" in r.text
    assert client.post(f"/l/{token}/requests/{ours}", data=ANSWER).status_code == 303
    # the deactivated contact's own link stops at once
    other = token_for(settings, contacts["市残联"], at("2017-03-17"))
    assert client.get(f"/l/{other}").status_code == 403
    with db() as s:
        assert s.scalars(select(ProgressReport.request_id)).all() == [ours]


def test_excel_sheets_of_each_agency_through_one_link(person, db):
    client, settings, contacts = person
    token = token_for(settings, contacts["市民政局"], at("2017-03-17"))
    page = client.get(f"/l/{token}")
    canlian = contacts["市残联"].agency_id
    assert f"/l/{token}/template.xlsx?agency={canlian}" in page.text
    sheet = client.get(f"/l/{token}/template.xlsx", params={"agency": canlian})
    assert sheet.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(sheet.content))
    rows = list(book["进展填报"].iter_rows(min_row=2, values_only=True))
    assert len(rows) == 2  # 市残联's two items, not 市民政局's
    for row in range(2, 4):
        book["进展填报"].cell(row, 7, "推进中")
        book["进展填报"].cell(row, 8, 50)
    buf = io.BytesIO()
    book.save(buf)
    r = client.post(f"/l/{token}/upload", files={"file": ("t.xlsx", buf.getvalue())})
    assert r.status_code == 303, r.text
    with db() as s:
        answered = s.scalars(select(ProgressRequest.agency_id).join(
            ProgressReport, ProgressReport.request_id == ProgressRequest.id)).all()
    assert answered == [canlian, canlian]
    # an agency outside the link's person: refused
    with db() as s:
        foreign = s.scalar(select(Agency.id).where(Agency.name == "市财政局"))
    assert client.get(f"/l/{token}/template.xlsx", params={"agency": foreign}).status_code == 403
    with transaction(db) as s:
        deactivate_contact(s, contacts["市残联"].id)
    assert client.get(f"/l/{token}/template.xlsx", params={"agency": canlian}).status_code == 403


def test_the_link_in_the_persons_one_digest_opens_all_their_items(db, db_url, small, policy,
                                                                   tmp_path):
    """Through the real dispatcher and SMTP server: the person gets one digest for both
    agencies, and its link opens both agencies' items."""
    import re

    from flows.runtime import link_maker
    from notifications.channels import EmailChannel
    from notifications.dispatch import dispatch
    from tests import smtp_server

    with transaction(db) as s:
        add_contact(s, agency="市民政局", name="李四", email=PERSON)
        add_contact(s, agency="市残联", name="李四", email=PERSON)
        open_due_requests(s, small, at("2017-03-17"), policy)
    settings = make_settings(tmp_path, db_url)
    controller, recorder = smtp_server.start()
    try:
        dispatch(db, {ChannelKind.EMAIL: EmailChannel("127.0.0.1", controller.port,
                                                      "tracker@example.org")},
                 now=at("2017-03-17", 9, 5), calendar=policy.calendar,
                 link_for=link_maker(settings, at("2017-03-17", 9, 5)))
    finally:
        controller.stop()
    mine = [m for m in recorder.messages if PERSON in m["To"]]
    assert len(mine) == 1
    link = re.search(r"http://testserver(/l/\S+)", mine[0].get_content()).group(1)
    client = TestClient(make_app(db, settings, Clock(at("2017-03-20", 10))),
                        follow_redirects=False)
    page = client.get(link)
    assert page.status_code == 200 and page.text.count("<tr>") == 3 + 1
    assert 'data-label="单位">市民政局</td>' in page.text
    assert 'data-label="单位">市残联</td>' in page.text
