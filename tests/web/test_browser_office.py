"""The office's must-holds in Debian's Chromium (issue 10): an extension that holds the
ladder, the review queue, the evidence download. Each page is checked with axe-core at
1280x900 and 390x844, with no sideways scrolling at 390 px; the actions that matter are
done by keyboard alone."""

from __future__ import annotations

import pytest
from playwright.sync_api import sync_playwright
from sqlalchemy import func, select

from tests import smtp_server
from tests.browser import CHROMIUM, CHROMIUM_ARGS, ServerThread, axe_violations
from tests.conftest import STAFF_PASSWORD, at
from tests.web_helpers import Clock, liaison_of, make_app, make_settings, token_for
from tracker.db import transaction
from tracker.directory.staff import create_user
from tracker.enums import StaffRole
from tracker.escalation.sweep import sweep_overdue
from tracker.models import (
    Agency,
    Assignment,
    Escalation,
    Measure,
    OutboxMessage,
    ProgressReport,
    ProgressRequest,
)
from tracker.requests.opening import open_due_requests

pytestmark = pytest.mark.sqlite_only  # the browser and the wiring; services run on both
SIZES = ({"width": 1280, "height": 900}, {"width": 390, "height": 844})


@pytest.fixture
def browser():  # type: ignore[no-untyped-def]
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _serve(db, db_url, tmp_path, clock):  # type: ignore[no-untyped-def]
    port = smtp_server.free_port()
    settings = make_settings(tmp_path, db_url, base_url=f"http://127.0.0.1:{port}")
    server = ServerThread(make_app(db, settings, clock), port)
    server.start()
    return server, settings, f"http://127.0.0.1:{port}"


def _check(page) -> None:  # type: ignore[no-untyped-def]
    """axe-core at both sizes; no sideways scrolling at 390 px; back to desktop size."""
    for size in SIZES:
        page.set_viewport_size(size)
        assert axe_violations(page) == [], (page.url, size)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 1, f"{page.url} scrolls sideways by {overflow}px at {size}"
    page.set_viewport_size(SIZES[0])


def _tab_to(page, selector: str, limit: int = 400) -> None:  # type: ignore[no-untyped-def]
    for _ in range(limit):
        if page.evaluate(f"document.activeElement && document.activeElement.matches({selector!r})"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"could not reach {selector} by keyboard")


def _sign_in(page, base: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(base + "/login")
    page.fill("#username", "duchashi")
    page.fill("#password", STAFF_PASSWORD)
    with page.expect_navigation():
        page.press("#password", "Enter")
    assert page.url == base + "/desk/queues"  # the office lands on its queues


def _request_of(db, agency: str, code: str) -> int:  # type: ignore[no-untyped-def]
    with db() as s:
        return s.scalar(select(ProgressRequest.id)
                        .join(Assignment, Assignment.id == ProgressRequest.assignment_id)
                        .join(Measure, Measure.id == Assignment.measure_id)
                        .join(Agency, Agency.id == ProgressRequest.agency_id)
                        .where(Agency.name == agency, Measure.code == code))


def test_an_extension_holds_the_ladder_and_the_office_decides(db, db_url, plan, policy,
                                                              tmp_path, browser):
    with transaction(db) as s:
        open_due_requests(s, plan, at("2017-03-17"), policy)  # 2017Q1, due 10 April
        create_user(s, username="duchashi", display_name="督查室张科长", role=StaffRole.OFFICE,
                    password=STAFF_PASSWORD, now=at("2017-03-01"))
    clock = Clock(at("2017-04-07", 10))
    server, settings, base = _serve(db, db_url, tmp_path, clock)
    try:
        rid = _request_of(db, "市残联", "2.2.4")
        token = token_for(settings, liaison_of(db, "市残联"), at("2017-04-07"))
        page = browser.new_page(bypass_csp=True)
        page.goto(f"{base}/l/{token}/requests/{rid}")  # the item's own page
        form = page.locator(f"form[action$='/requests/{rid}/extension']")
        form.evaluate("f => { const d = f.closest('details'); if (d) d.open = true; }")
        form.locator("input[name=new_due_on]").fill("2017-04-28")  # the browser's date picker
        form.locator("[name=reason]").focus()
        page.keyboard.type("需汇总各区数据，申请延期")
        form.locator("button[type=submit]").focus()
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert "延期申请已提交" in page.inner_text("main")

        # the sweep of the working day after the due day sends no 催办 for it
        with transaction(db) as s:
            fired = sweep_overdue(s, plan, at("2017-04-11", 8, 30), policy).fired
        assert fired[1] > 0  # others' reminders went out
        with db() as s:
            assert s.scalar(select(func.count()).select_from(Escalation)
                            .where(Escalation.request_id == rid)) == 0
            assert s.scalar(select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.request_id == rid, OutboxMessage.kind == "escalation")) == 0

        clock.now = at("2017-04-11", 10)
        _sign_in(page, base)
        assert page.inner_text(".desk-nav a[href='/desk/queues/extensions'] .count") == "1"
        _check(page)
        page.click(".desk-nav a[href='/desk/queues/extensions']")
        assert "需汇总各区数据，申请延期" in page.inner_text("table.queue")
        assert "已过截止日期，督办暂停" in page.inner_text("table.queue")
        _check(page)
        _tab_to(page, "table.queue input[name=note]")
        page.keyboard.type("同意延期")
        _tab_to(page, "table.queue button[value=grant]")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert "延期申请已处理" in page.inner_text("[role=status]")
        assert "无待办事项" in page.inner_text("main")
        _check(page)
        with db() as s:
            req = s.get_one(ProgressRequest, rid)
            assert (req.due_on.isoformat(), req.next_action_on.isoformat()) == (
                "2017-04-28", "2017-05-02")
    finally:
        server.stop()


def test_the_review_queue_accepts_one_and_returns_one(db, db_url, overdue, tmp_path, browser):
    server, _, base = _serve(db, db_url, tmp_path, Clock(at("2017-04-12", 10)))
    try:
        page = browser.new_page(bypass_csp=True)
        _sign_in(page, base)
        _check(page)
        page.click(".desk-nav a[href='/desk/queues/reviews']")
        assert page.locator("table.queue tbody tr").count() == 50
        assert "第 1 / 16 页" in page.inner_text("main")
        _check(page)
        first, second = (page.locator("table.queue tbody tr").nth(i).get_attribute("id")[2:]
                         for i in (0, 1))
        _tab_to(page, f"#rv{first} button")  # 审核通过
        assert page.evaluate("document.activeElement.textContent.trim()") == "审核通过"
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert "已审核通过" in page.inner_text("[role=status]")
        _tab_to(page, f"#rv{second} details.return summary")  # the return form is folded
        page.keyboard.press("Enter")
        _tab_to(page, f"#ret-{second}")
        page.keyboard.type("请补充量化数据")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent.trim()") == "退回修改"
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert "已退回" in page.inner_text("[role=status]")
        assert page.inner_text(".desk-nav a[href='/desk/queues/reviews'] .count") == "791"
        _check(page)
        with db() as s:
            states = dict(s.execute(select(ProgressReport.id, ProgressReport.review_state).where(
                ProgressReport.id.in_([int(first), int(second)]))).all())
        assert states == {int(first): "accepted", int(second): "returned"}
    finally:
        server.stop()


def test_staff_download_a_liaisons_evidence(db, db_url, overdue, tmp_path, browser):
    clock = Clock(at("2017-04-12", 10))
    server, settings, base = _serve(db, db_url, tmp_path, clock)
    try:
        rid = _request_of(db, "市残联", "2.2.4")
        token = token_for(settings, liaison_of(db, "市残联"), at("2017-04-12"))
        data = b"%PDF-1.4\n<html><script>alert(1)</script></html>\n" + bytes(range(256))
        page = browser.new_page(bypass_csp=True, accept_downloads=True)
        page.goto(f"{base}/l/{token}/requests/{rid}")  # evidence goes within the answer
        page.locator(f"#r{rid}-file").set_input_files(files=[{
            "name": "验收报告.pdf", "buffer": data, "mimeType": "application/pdf"}])
        with page.expect_navigation():
            page.click(f"#r{rid}-upload")
        assert "佐证材料已上传" in page.inner_text("main")

        _sign_in(page, base)
        page.goto(f"{base}/desk/requests/{rid}")
        listing = page.inner_text("table.evidence")
        assert "验收报告.pdf" in listing and "市残联联络员" in listing
        assert "联络员（市残联" not in listing  # a person once (office item 9)
        assert "2017-04-12 10:00" in listing
        _check(page)
        _tab_to(page, "table.evidence a")
        with page.expect_download() as info:
            page.keyboard.press("Enter")
        download = info.value
        assert download.suggested_filename == "验收报告.pdf"
        with open(download.path(), "rb") as f:
            assert f.read() == data
        href = page.get_attribute("table.evidence a", "href")
        response = page.request.get(base + href)  # the same signed-in browser
        assert response.body() == data
        headers = response.headers
        assert headers["content-type"] == "application/octet-stream"
        assert headers["content-disposition"] == (
            "attachment; filename*=UTF-8''%E9%AA%8C%E6%94%B6%E6%8A%A5%E5%91%8A.pdf")
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["content-security-policy"] == "sandbox"
    finally:
        server.stop()
