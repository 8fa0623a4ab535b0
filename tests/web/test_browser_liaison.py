"""The liaison's whole path in Debian's Chromium: from a real email to a new version.

A notification is dispatched to a real SMTP server on loopback; the link in that email
is opened in Chromium; the form is filled by keyboard alone and submitted; the history
shows the new version with the script tag as text; an Excel upload with a bad row gets
a row-level error. axe-core checks every page for serious or critical violations.
"""

from __future__ import annotations

import io
import re

import openpyxl
import pytest
from playwright.sync_api import sync_playwright
from sqlalchemy import select

from notifications.channels import EmailChannel
from notifications.dispatch import dispatch
from tests import smtp_server
from tests.browser import CHROMIUM, CHROMIUM_ARGS, ServerThread, axe_violations
from tests.conftest import at
from tests.web_helpers import Clock, make_app, make_settings
from tracker.db import transaction
from tracker.directory.links import load_secret, make_token
from tracker.enums import ChannelKind
from tracker.models import Agency, Assignment, Measure, ProgressReport, ProgressRequest
from tracker.requests.opening import open_due_requests

# The wiring and the browser do not depend on the database: these run on the embedded
# default (SQLite); the services and pages under them are tested on both databases.
pytestmark = pytest.mark.sqlite_only



@pytest.fixture
def browser():  # type: ignore[no-untyped-def]
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def live(db, db_url, plan, policy, tmp_path):  # type: ignore[no-untyped-def]
    port = smtp_server.free_port()
    settings = make_settings(tmp_path, db_url, base_url=f"http://127.0.0.1:{port}")
    clock = Clock(at("2017-03-20", 10))
    server = ServerThread(make_app(db, settings, clock), port)
    server.start()
    yield settings, clock
    server.stop()


def _link_from_email(db, policy, settings):  # type: ignore[no-untyped-def]
    controller, recorder = smtp_server.start()
    secret = load_secret(settings.home, settings.secret_key)
    try:
        dispatch(db, {ChannelKind.EMAIL: EmailChannel("127.0.0.1", controller.port, "t@example.org")},
                 now=at("2017-03-17", 9, 5), calendar=policy.calendar,
                 link_for=lambda who: f"{settings.base_url}/l/"
                                      f"{make_token(secret, who, at('2017-03-17', 9, 5))}")
    finally:
        controller.stop()
    mail = next(m for m in recorder.messages if "市残联联络员" in m["To"])
    match = re.search(r"(http://127\.0\.0\.1:\d+/l/\S+)", mail.get_content())
    assert match, mail.get_content()
    return match.group(1)


def _tab_to(page, element_id: str, limit: int = 400) -> None:  # type: ignore[no-untyped-def]
    for _ in range(limit):
        if page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"could not reach #{element_id} by keyboard")


def test_liaison_answers_from_the_email_link(db, plan, policy, live, browser):
    settings, clock = live
    with transaction(db) as s:
        open_due_requests(s, plan, at("2017-03-17"), policy)
    link = _link_from_email(db, policy, settings)
    with db() as s:
        rid = s.scalar(select(ProgressRequest.id)
                       .join(Assignment, Assignment.id == ProgressRequest.assignment_id)
                       .join(Measure, Measure.id == Assignment.measure_id)
                       .join(Agency, Agency.id == ProgressRequest.agency_id)
                       .where(Agency.name == "市残联", Measure.code == "2.2.4"))
    page = browser.new_page(bypass_csp=True, accept_downloads=True)  # CSP would block axe
    page.goto(link)
    assert page.title().startswith("市残联 进展填报")
    assert axe_violations(page) == []

    # keyboard alone: reach the status field, choose, type, submit
    _tab_to(page, f"r{rid}-status")
    page.keyboard.press("ArrowDown")  # 未开始
    page.keyboard.press("ArrowDown")  # 推进中
    assert page.eval_on_selector(f"#r{rid}-status", "e => e.value") == "in_progress"
    page.keyboard.press("Tab")
    page.keyboard.type("35")
    page.keyboard.press("Tab")
    page.keyboard.type("<script>alert('x')</script>已完成需求调研")
    _tab_to(page, f"r{rid}-next")
    page.keyboard.type("下季度完成采购")
    page.keyboard.press("Tab")  # the 提交 button
    assert page.evaluate("document.activeElement.textContent.trim()") == "提交"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "已提交，感谢您的报送" in page.inner_text("[role=status]")
    assert axe_violations(page) == []

    page.goto(link.replace("/l/", "/l/", 1) + f"/requests/{rid}/history")
    body = page.inner_text("main")
    assert "第 1 版（最新）" in body and "<script>alert('x')</script>已完成需求调研" in body
    assert page.evaluate("document.querySelectorAll('main script').length") == 0
    assert axe_violations(page) == []

    # a second submission is a new version; the first stays readable
    page.goto(link + f"#r{rid}")
    page.fill(f"#r{rid}-percent", "40")
    with page.expect_navigation():
        page.click(f"#r{rid} button[value=submit]")
    page.goto(link + f"/requests/{rid}/history")
    assert "第 2 版（最新）" in page.inner_text("main") and "第 1 版" in page.inner_text("main")
    with db() as s:
        assert s.scalars(select(ProgressReport.percent).where(ProgressReport.request_id == rid)
                         .order_by(ProgressReport.version)).all() == [35, 40]

    # Excel: download the template from the page, break one row, upload, read the error
    page.goto(link)
    with page.expect_download() as info:
        page.click("text=下载本单位填报表（Excel）")
    path = info.value.path()
    book = openpyxl.load_workbook(io.BytesIO(open(path, "rb").read()))
    sheet = book["进展填报"]
    sheet.cell(2, 7, "推进中")
    sheet.cell(2, 8, 180)
    out = io.BytesIO()
    book.save(out)
    page.set_input_files("#upload-file", files=[{
        "name": "进展填报.xlsx", "buffer": out.getvalue(),
        "mimeType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}])
    with page.expect_navigation():
        page.click("text=上传并导入")
    errors = page.inner_text("#upload-errors")
    assert "进展填报 第2行 H列（完成进度(%)）：完成进度须为0到100的整数" in errors
    assert axe_violations(page) == []

    # a forged link gets a clear page
    response = page.goto(link[:-4] + "AAAA")
    assert response.status == 403 and "链接无效" in page.inner_text("main")
    assert axe_violations(page) == []
