"""Executive meetings over HTTP (issue 11, item 4): a government's liaison records a meeting
with its minutes from their link; a faulty form comes back (422) naming every field with
what was typed; the office confirms or returns it on /desk/meetings; the navigation counts
the meetings waiting; the board marks the governments without one."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.conftest import STAFF_PASSWORD, at
from tests.web_helpers import Clock, liaison_of, make_app, make_settings, token_for
from tracker.enums import MeetingState, MessageKind
from tracker.models import ExecutiveMeeting, OutboxMessage

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


@pytest.fixture
def site(db, db_url, overdue, tmp_path):  # type: ignore[no-untyped-def]
    clock = Clock(at("2017-09-21", 10))
    settings = make_settings(tmp_path, db_url)
    client = TestClient(make_app(db, settings, clock), follow_redirects=False)
    return client, settings, clock


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no form token on the page"
    return m.group(1)


def _login(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/login")
    client.post("/login", data={"username": "duchashi", "password": STAFF_PASSWORD,
                                "csrf": _csrf(page.text), "next": "/desk"})


def test_liaison_records_a_meeting_with_minutes_and_the_office_confirms(site, db):
    client, settings, clock = site
    token = token_for(settings, liaison_of(db, "和平区人民政府"), at("2017-09-20"))
    index = client.get(f"/l/{token}")
    assert f'href="/l/{token}/meetings"' in index.text
    page = client.get(f"/l/{token}/meetings")
    assert page.status_code == 200 and "政府：和平区人民政府" in page.text
    government = re.search(r'name="government" value="([^"]+)"', page.text).group(1)
    # every fault at once, each naming its field; what was typed comes back
    r = client.post(f"/l/{token}/meetings", data={
        "government": government, "held_on": "2017-10-09", "name": "",
        "decisions": "研究<b>推进</b>残疾人小康进程"},
        files={"minutes": ("纪要.txt", b"hello", "text/plain")})
    assert r.status_code == 422
    assert "未能保存，请修改以下 3 处问题" in r.text
    assert "会议日期：2017年10月9日晚于今天（2017年9月21日），请填写已召开会议的日期" in r.text
    assert "会议名称及届次：请填写" in r.text
    assert "会议纪要：不支持的文件类型 .txt" in r.text
    assert 'value="2017-10-09"' in r.text
    assert "研究&lt;b&gt;推进&lt;/b&gt;残疾人小康进程</textarea>" in r.text  # never as HTML
    assert 'id="m-held-on" name="held_on" type="date"' in r.text and 'aria-invalid="true"' in r.text
    r = client.post(f"/l/{token}/meetings", data={
        "government": government, "held_on": "2017-09-20", "name": "和平区人民政府第23次常务会议",
        "decisions": "研究推进残疾人小康进程工作"},
        files={"minutes": ("第23次常务会议纪要.pdf", PDF, "application/pdf")})
    assert r.status_code == 303 and r.headers["location"].endswith("/meetings?m=meeting")
    listed = client.get(r.headers["location"])
    assert "常务会议记录已报送，待督查室确认。" in listed.text
    assert "和平区人民政府第23次常务会议" in listed.text and "待确认" in listed.text
    with db() as s:
        m = s.scalars(select(ExecutiveMeeting)).one()
        assert (m.government, m.state, m.minutes_filename) == (
            "和平区人民政府", MeetingState.PENDING, "第23次常务会议纪要.pdf")
        mid = m.id
    got = client.get(f"/l/{token}/meetings/{mid}/minutes")
    assert got.content == PDF and got.headers["content-type"] == "application/octet-stream"
    # another district's liaison sees nothing of it
    other = token_for(settings, liaison_of(db, "河东区人民政府"), at("2017-09-20"))
    assert client.get(f"/l/{other}/meetings/{mid}/minutes").status_code == 403
    # a department's liaison records no meeting
    dept = token_for(settings, liaison_of(db, "市民政局"), at("2017-09-20"))
    assert client.get(f"/l/{dept}/meetings").status_code == 403
    assert "/meetings" not in client.get(f"/l/{dept}").text

    _login(client)
    board = client.get("/desk")
    assert '待确认会议 <span class="count">1</span>' in board.text
    assert "常务会议（2017年）" in board.text
    assert re.search(r"已确认 <strong>0</strong> / 待确认 <strong>1</strong> / 未召开 "
                     r'<strong class="overdue">16</strong>：天津市人民政府、河东区人民政府', board.text)
    desk = client.get("/desk/meetings")
    assert desk.status_code == 200 and "待确认的会议记录（1 项）" in desk.text
    assert client.get("/desk/meetings", params={"year": 2030}).status_code == 404  # not in the plan
    assert client.get("/desk/meetings", params={"plan": 999}).status_code == 404
    assert "2016年" in client.get("/desk/meetings", params={"year": 2016}).text
    assert client.get(f"/desk/meetings/{mid}/minutes").content == PDF
    # a return needs a reason: the record's page again, the field marked
    r = client.post(f"/desk/meetings/{mid}/decide",
                    data={"csrf": _csrf(desk.text), "decision": "return", "reason": " "})
    assert r.status_code == 422 and "退回理由：请填写退回理由" in r.text
    r = client.post(f"/desk/meetings/{mid}/decide",
                    data={"csrf": _csrf(r.text), "decision": "confirm", "year": "2017"})
    assert r.status_code == 303 and "m=meeting-confirmed" in r.headers["location"]
    after = client.get(r.headers["location"])
    assert "会议记录已确认，计入当年落实情况。" in after.text
    assert '待确认会议 <span class="count">0</span>' in after.text
    assert re.search(r'<th scope="row">和平区人民政府</th>\s*<td data-label="状态">已确认</td>',
                     after.text)
    with db() as s:
        assert s.get_one(ExecutiveMeeting, mid).state == MeetingState.CONFIRMED
    # confirmed: the liaison can no longer change it
    r = client.post(f"/l/{token}/meetings/{mid}", data={
        "held_on": "2017-09-19", "name": "x", "decisions": "y"})
    assert r.status_code == 409


def test_office_returns_and_the_liaison_corrects(site, db):
    client, settings, clock = site
    token = token_for(settings, liaison_of(db, "市残联"), at("2017-09-20"))
    page = client.get(f"/l/{token}/meetings")
    assert "政府：天津市人民政府" in page.text  # the city's meeting, by its meeting contact
    government = re.search(r'name="government" value="([^"]+)"', page.text).group(1)
    client.post(f"/l/{token}/meetings", data={
        "government": government, "held_on": "2017-09-15", "name": "市政府第18次常务会议",
        "decisions": "研究规划实施"}, files={"minutes": ("纪要.pdf", PDF, "application/pdf")})
    with db() as s:
        mid = s.scalar(select(ExecutiveMeeting.id))
    _login(client)
    desk = client.get(f"/desk/meetings/{mid}")
    r = client.post(f"/desk/meetings/{mid}/decide", data={
        "csrf": _csrf(desk.text), "decision": "return", "reason": "请补充会议纪要第2页"})
    assert r.status_code == 303
    assert "会议记录已退回，已通知联络员。" in client.get(r.headers["location"]).text
    # a replayed form token is refused
    assert client.post(f"/desk/meetings/{mid}/decide", data={
        "csrf": _csrf(desk.text), "decision": "confirm"}).status_code == 403
    with db() as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.kind == MessageKind.MEETING_RETURNED.value)) == 1
    listed = client.get(f"/l/{token}/meetings")
    assert "已退回</strong>：请补充会议纪要第2页" in listed.text
    edit = client.get(f"/l/{token}/meetings/{mid}")
    assert "督查室退回理由：请补充会议纪要第2页" in edit.text and 'value="市政府第18次常务会议"' in edit.text
    r = client.post(f"/l/{token}/meetings/{mid}", data={
        "held_on": "2017-09-15", "name": "市政府第18次常务会议", "decisions": "研究规划实施"},
        files={"minutes": ("纪要（全）.pdf", PDF + b"p2", "application/pdf")})
    assert r.status_code == 303 and r.headers["location"].endswith("m=meeting-corrected")
    with db() as s:
        m = s.get_one(ExecutiveMeeting, mid)
        assert (m.state, m.minutes_filename) == (MeetingState.PENDING, "纪要（全）.pdf")
