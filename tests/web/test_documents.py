"""The office's documents on the desk (issue 12): the preview page and the Word file state
the same counts (after LibreOffice converts the file), edits come back with what was typed
when refused, typed text stays text, and a 督办通知单 is issued with its 文号."""

from __future__ import annotations

import io
import re
import subprocess
from urllib.parse import quote

import docx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import at
from tests.web.test_desk import _csrf, login
from tests.web_helpers import Clock, make_app, make_settings
from tracker.db import transaction
from tracker.documents.render import docx_to_pdf
from tracker.escalation.sweep import sweep_overdue
from tracker.models import AuditEvent, Circular, SupervisionNotice

pytestmark = pytest.mark.sqlite_only  # the point is the pages and the files, not the database


@pytest.fixture
def office(db, db_url, plan, overdue, policy, tmp_path):  # type: ignore[no-untyped-def]
    for day in ("2017-04-17", "2017-04-24"):
        with transaction(db) as s:
            sweep_overdue(s, plan, at(day), policy)
    clock = Clock(at("2017-04-24", 15))
    client = TestClient(make_app(db, make_settings(tmp_path, db_url), clock),
                        follow_redirects=False)
    login(client)
    return client


def _counts(html: str) -> tuple[int, int]:
    m = re.search(r"<strong>(\d+) 项，涉及 (\d+) 个单位</strong>", html)
    assert m, "the page states no counts"
    return int(m.group(1)), int(m.group(2))


def _docx_text(data: bytes) -> str:
    d = docx.Document(io.BytesIO(data))
    cells = [c.text for t in d.tables for row in t.rows for c in row.cells]
    return "\n".join([p.text for p in d.paragraphs] + cells)


def _pdf_text(data: bytes) -> str:
    pdf = docx_to_pdf(data)
    return subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True,
                          check=True).stdout.decode()


def test_page_and_file_state_the_same_counts_and_edits_keep_what_was_typed(office, db):
    with db() as s:
        cid = s.scalars(select(Circular.id)).one()
    page = office.get(f"/desk/circulars/{cid}")
    assert page.status_code == 200
    items, agencies = _counts(page.text)
    with db() as s:  # the seed's first five requests, all still open
        circular = s.get_one(Circular, cid)
        assert (items, agencies) == (5, len({i["agency_id"] for i in circular.items}))
    listing = office.get("/desk/circulars")
    assert f"{items} 项，涉及 {agencies} 个单位" in listing.text
    text = _pdf_text(office.get(f"/desk/circulars/{cid}.docx").content)
    flat = re.sub(r"\s+", "", text)
    assert f"{agencies}个单位共{items}项任务" in flat and f"合计：{items}项" in flat
    assert "督查〔2017〕1号" in flat  # the number it would get, shown before sign-off
    # a refused edit: the page comes back with what was typed, nothing stored
    typed = "截至{截止日期}，共{事项数}项，<script>alert(1)</script>\n请各单位立即整改。"
    ids = re.findall(r'name="drop" value="(\d+)"', page.text)
    r = office.post(f"/desk/circulars/{cid}/edit", data={
        "csrf": _csrf(page.text), "body": typed, "drop": ids[0], "addressees": "市残联"})
    assert r.status_code == 422 and "不列入的事项须填写理由" in r.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text and "<script>alert" not in r.text
    assert 'value="' + ids[0] + '" id="drop-' + ids[0] + '" checked' in r.text
    assert ">市残联</textarea>" in r.text
    with db() as s:
        assert s.get_one(Circular, cid).body is None
    r = office.post(f"/desk/circulars/{cid}/edit", data={
        "csrf": _csrf(r.text), "body": typed, "drop": ids[0], "reason": "已书面说明原因",
        "addressees": "各区人民政府、市各有关部门"})
    assert r.status_code == 303
    page = office.get(r.headers["location"])
    assert "修改已保存" in page.text
    left, _ = _counts(page.text)
    assert left == items - 1 and "已书面说明原因" in page.text
    body = _docx_text(office.get(f"/desk/circulars/{cid}.docx").content)
    assert f"共{left}项，<script>alert(1)</script>" in body and f"合计：{left}项" in body
    assert "各区人民政府、市各有关部门：" in body
    with db() as s:
        assert s.scalars(select(AuditEvent.action).where(
            AuditEvent.action == "circular.edit")).all() == ["circular.edit"]


def test_a_supervision_notice_is_previewed_issued_and_kept(office, db):
    listing = office.get("/desk/notices")
    assert listing.status_code == 200 and "督办通知单" in listing.text
    with db() as s:
        nid = s.scalars(select(SupervisionNotice.id).order_by(SupervisionNotice.id)).first()
    page = office.get(f"/desk/notices/{nid}")
    items, agencies = _counts(page.text)
    assert agencies == 1 and "督查〔2017〕1号" in page.text
    digest = re.search(r'name="digest" value="([0-9a-f]+)"', page.text).group(1)
    r = office.post(f"/desk/notices/{nid}/issue", data={"csrf": _csrf(page.text)})
    assert r.status_code == 303 and "error=" in r.headers["location"]  # no fingerprint: refused
    page = office.get(r.headers["location"])
    assert "本次未印发" in page.text
    r = office.post(f"/desk/notices/{nid}/issue", data={"csrf": _csrf(page.text),
                                                         "digest": digest})
    assert r.status_code == 303
    page = office.get(r.headers["location"])
    assert "督办通知单已印发" in page.text and "已印发" in page.text
    assert 'name="drop"' not in page.text  # issued: nothing to edit
    kept = office.get(f"/desk/notices/{nid}.docx")
    assert kept.status_code == 200
    assert kept.headers["content-disposition"] == (
        "attachment; filename*=UTF-8''" + quote("督办通知单-督查〔2017〕1号.docx"))
    text = _docx_text(kept.content)
    assert "督查〔2017〕1号" in text and f"合计：{items}项" in text
    with db() as s:
        assert s.get_one(SupervisionNotice, nid).document == kept.content
    r = office.post(f"/desk/notices/{nid}/issue", data={"csrf": _csrf(page.text),
                                                         "digest": digest})
    assert r.status_code == 303 and "error=" in r.headers["location"]
    assert "该督办通知单已印发" in office.get(r.headers["location"]).text


def test_a_circular_changed_after_its_confirmation_is_not_signed(office, db):
    """The attack of issue 12: A confirms 5 items, B edits the draft, A's 确认签发 must not
    sign B's version under A's name."""
    with db() as s:
        cid = s.scalars(select(Circular.id)).one()
    confirm = office.get(f"/desk/circulars/{cid}/sign")
    seen = re.search(r'name="digest" value="([0-9a-f]+)"', confirm.text).group(1)
    page = office.get(f"/desk/circulars/{cid}")
    r = office.post(f"/desk/circulars/{cid}/edit", data={
        "csrf": _csrf(page.text), "title": "另一窗口改过的标题"})
    assert r.status_code == 303
    r = office.post(f"/desk/circulars/{cid}/sign", data={
        "csrf": _csrf(office.get(f"/desk/circulars/{cid}").text), "confirm": "1",
        "digest": seen})
    assert r.status_code == 303 and "error=" in r.headers["location"]
    assert "本次未签发" in office.get(r.headers["location"]).text
    with db() as s:
        assert s.get_one(Circular, cid).state == "draft"
    confirm = office.get(f"/desk/circulars/{cid}/sign")  # what it is now, confirmed again
    assert "另一窗口改过的标题" in confirm.text
    r = office.post(f"/desk/circulars/{cid}/sign", data={
        "csrf": _csrf(confirm.text), "confirm": "1",
        "digest": re.search(r'name="digest" value="([0-9a-f]+)"', confirm.text).group(1)})
    assert r.status_code == 303 and r.headers["location"] == "/desk/circulars?m=signed"
    with db() as s:
        signed = s.get_one(Circular, cid)
        assert (signed.state, signed.title, signed.number) == (
            "signed", "另一窗口改过的标题", "督查〔2017〕1号")
