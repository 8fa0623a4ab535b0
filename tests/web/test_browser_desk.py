"""The office's desk in Debian's Chromium: sign in, filter, open an item, escalate.

Every page is checked with axe-core, at 200 % zoom (no horizontal scrolling of the page
body, controls still reachable), and the path is walked by keyboard alone.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import sync_playwright

from tests import smtp_server
from tests.browser import CHROMIUM, CHROMIUM_ARGS, ServerThread, axe_violations
from tests.conftest import STAFF_PASSWORD, at
from tests.web_helpers import Clock, make_app, make_settings
from tracker.models import ProgressRequest

# The wiring and the browser do not depend on the database: these run on the embedded
# default (SQLite); the services and pages under them are tested on both databases.
pytestmark = pytest.mark.sqlite_only


PASSWORD = STAFF_PASSWORD


@pytest.fixture
def site(db, db_url, overdue, tmp_path):  # type: ignore[no-untyped-def]
    port = smtp_server.free_port()
    settings = make_settings(tmp_path, db_url, base_url=f"http://127.0.0.1:{port}")
    server = ServerThread(make_app(db, settings, Clock(at("2017-04-12", 10))), port)
    server.start()
    yield f"http://127.0.0.1:{port}", overdue
    server.stop()


@pytest.fixture
def page():  # type: ignore[no-untyped-def]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(bypass_csp=True, accept_downloads=True)
        yield context.new_page()
        browser.close()


def _tab_to(page, selector: str, limit: int = 300) -> None:  # type: ignore[no-untyped-def]
    for _ in range(limit):
        if page.evaluate(f"document.activeElement && document.activeElement.matches({selector!r})"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"could not reach {selector} by keyboard")


def _check(page) -> None:  # type: ignore[no-untyped-def]
    assert axe_violations(page) == []
    page.evaluate("document.body.style.zoom = '200%'")
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 2, f"page scrolls sideways at 200% zoom by {overflow}px"
    page.evaluate("document.body.style.zoom = ''")


def test_office_signs_in_filters_and_escalates_by_keyboard(site, page, db):
    base, ids = site
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(base + "/desk")
    assert page.url.startswith(base + "/login")
    _check(page)
    _tab_to(page, "#username")
    page.keyboard.type("duchashi")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url == base + "/desk/queues"  # the office lands on its queues
    _check(page)
    page.goto(base + "/desk")
    assert "共 798 项" in page.inner_text("#counts")
    _check(page)

    # filter to the red items by keyboard
    _tab_to(page, "#f-light")
    page.keyboard.press("ArrowDown")  # 全部 -> 逾期
    assert page.eval_on_selector("#f-light", "e => e.value") == "red"
    _tab_to(page, "form.filters button[type=submit]")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "共 5 项" in page.inner_text("#counts")
    assert page.locator("tr.row-red").count() == 5
    _check(page)

    # open the first item, escalate it from the page
    _tab_to(page, "table.board tbody a")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/desk/requests/" in page.url
    _check(page)
    _tab_to(page, "#act-h ~ form button, section.panel form.inline button")
    assert page.evaluate("document.activeElement.textContent.trim()") == "立即督办"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.inner_text("h1") == "确认立即督办"  # nothing sent yet: what will be, to whom
    assert "分管领导" in page.inner_text("table.recipients")
    _check(page)
    _tab_to(page, "form.actions button[type=submit]")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "已督办" in page.inner_text("[role=status]")
    request_id = int(page.url.split("/desk/requests/")[1].split("?")[0])
    with db() as s:
        assert s.get_one(ProgressRequest, request_id).level == 2
    assert "督办" in page.inner_text("section[aria-labelledby=esc-h] table")
    _check(page)

    page.goto(base + "/desk/circulars")
    _check(page)
