"""Dead letters and a several-agency liaison's page in Debian's Chromium, at desktop and
phone width: axe-core finds nothing serious, nothing scrolls sideways, the requeue is
confirmed and done by keyboard. Screenshots go to $TRACKER_SHOTS when it is set."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright
from sqlalchemy import select

from notifications.channels import EmailChannel
from notifications.dispatch import dispatch
from tests import smtp_server
from tests.browser import CHROMIUM, CHROMIUM_ARGS, ServerThread, axe_violations
from tests.conftest import STAFF_PASSWORD, at
from tests.web.test_browser_desk import _tab_to
from tests.web_helpers import Clock, liaison_of, make_app, make_settings, token_for
from tracker.db import transaction
from tracker.directory.contacts import add_contact
from tracker.enums import ChannelKind
from tracker.models import OutboxMessage

pytestmark = pytest.mark.sqlite_only
WIDTHS = {"desktop": 1280, "phone": 390}


@pytest.fixture
def site(db, db_url, overdue, policy, tmp_path):  # type: ignore[no-untyped-def]
    controller, recorder = smtp_server.start()
    for agency in ("市残联", "市民政局"):
        address = liaison_of(db, agency).email
        recorder.reject[address] = f"550 5.1.1 <{address}>: Recipient address rejected"
    channels = {ChannelKind.EMAIL: EmailChannel("127.0.0.1", controller.port,
                                                "tracker@example.org")}
    dispatch(db, channels, now=at("2017-04-12", 9, 30), calendar=policy.calendar)
    with transaction(db) as s:  # 市民政局's liaison also serves 市残联
        add_contact(s, agency="市残联", name="市民政局联络员", email=liaison_of(db, "市民政局").email)
    port = smtp_server.free_port()
    settings = make_settings(tmp_path, db_url, base_url=f"http://127.0.0.1:{port}")
    server = ServerThread(make_app(db, settings, Clock(at("2017-04-12", 10))), port)
    server.start()
    yield f"http://127.0.0.1:{port}", settings
    server.stop()
    controller.stop()


@pytest.fixture
def page():  # type: ignore[no-untyped-def]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(bypass_csp=True)
        yield context.new_page()
        browser.close()


def _look(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """At each width: no serious axe finding, no sideways scrolling; a screenshot if asked."""
    for label, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 900})
        assert axe_violations(page) == []
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 2, f"{name} scrolls sideways by {overflow}px at {width}px"
        shots = os.environ.get("TRACKER_SHOTS")
        if shots:
            Path(shots).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=f"{shots}/{name}-{label}.png", full_page=name != "person")
    page.set_viewport_size({"width": WIDTHS["desktop"], "height": 900})


def test_dead_letters_requeued_by_keyboard(site, page, db):
    base, _ = site
    page.set_viewport_size({"width": WIDTHS["desktop"], "height": 900})
    page.goto(base + "/login?next=/desk/outbox")
    page.fill("#username", "duchashi")
    page.fill("#password", STAFF_PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url == base + "/desk/outbox"
    with db() as s:
        dead = list(s.scalars(select(OutboxMessage.id).where(OutboxMessage.status == "failed")))
    assert page.inner_text(".desk-nav a[href='/desk/outbox'] .count") == str(len(dead))
    assert page.locator("table.dead-letters tbody tr").count() == len(dead) > 2
    _look(page, "outbox")
    _tab_to(page, "table.dead-letters tbody a[href^='/desk/outbox/retry']")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "将以下通知重新放入发送队列？" in page.inner_text("h2")
    _look(page, "outbox-confirm")
    _tab_to(page, "form button[type=submit]:not(.secondary)")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "已将 1 条通知重新放入发送队列" in page.inner_text("[role=status]")
    assert page.inner_text(".desk-nav a[href='/desk/outbox'] .count") == str(len(dead) - 1)


def test_one_person_serving_two_agencies(site, page, db):
    base, settings = site
    token = token_for(settings, liaison_of(db, "市民政局"), at("2017-04-12"))
    page.set_viewport_size({"width": WIDTHS["desktop"], "height": 900})
    page.goto(f"{base}/l/{token}")
    assert "您是以下 2 个单位的联络员" in page.inner_text("main")
    assert page.locator("td.agency", has_text="市残联").count() > 0
    assert page.locator("td.agency", has_text="市民政局").count() > 0
    _look(page, "person")
