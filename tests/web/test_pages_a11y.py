"""Every page of the product in Debian's Chromium, at desktop and phone size (issue 10).

For each page in PAGES: it answers with its expected status, axe-core finds no serious or
critical violation, and the page never scrolls sideways
(document.documentElement.scrollWidth <= the viewport's width). The seeded state is the
`overdue` fixture (Q1 2017, five requests red on 12 April, reminders fired) plus dead
letters (two liaisons' mail servers refuse), a request escalated to the top rung (a draft
circular) and a waived request.

Adding a page is one line in PAGES: its path may name any key of `Seeded` in braces.
Screenshots go to $TRACKER_SHOTS when it is set.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import sync_playwright
from sqlalchemy import select

from notifications.channels import EmailChannel
from notifications.dispatch import dispatch
from tests import smtp_server
from tests.browser import CHROMIUM, CHROMIUM_ARGS, ServerThread, axe_violations
from tests.conftest import STAFF_PASSWORD, at
from tests.web_helpers import Clock, liaison_of, make_app, make_settings, token_for
from tracker.annual.meeting_records import MeetingInput, Minutes, submit_meeting
from tracker.db import transaction
from tracker.directory.staff import sign_in
from tracker.enums import ChannelKind, OutboxStatus
from tracker.escalation.office_actions import escalate_now, waive
from tracker.models import Agency, Circular, OutboxMessage, ProgressRequest, SupervisionNotice
from tracker.settings import Rules
from tracker.web.staff import COOKIE

pytestmark = pytest.mark.sqlite_only

NOW = at("2017-04-12", 10)
SIZES = {"desktop": (1280, 900), "phone": (390, 844)}


@dataclass(frozen=True)
class Visit:
    """One page: `path` (formatted with the seeded ids), who is signed in ("office",
    "performance" or nobody), the status it answers with, and a form to POST to `path`
    from a page of the site (for pages that only a submission reaches)."""

    name: str
    path: str
    who: str | None = None
    status: int = 200
    form: dict[str, str] | None = None


PAGES = [
    Visit("home", "/"),
    Visit("login", "/login"),
    Visit("board", "/desk", "office"),
    Visit("board-filtered", "/desk?agency={mca}&period=2017Q1&light=red", "office"),
    Visit("board-filtered-empty", "/desk?agency={cdpf}&role=co&light=red", "office"),
    Visit("board-section", "/desk?plan={plan}&section=基本民生保障&level=1", "office"),
    Visit("board-page-2", "/desk?page=2", "office"),
    Visit("board-performance", "/desk", "performance"),
    Visit("item-escalated", "/desk/requests/{top}", "office"),
    Visit("item-answered", "/desk/requests/{answered}", "office"),
    Visit("circulars", "/desk/circulars", "office"),
    Visit("outbox", "/desk/outbox", "office"),
    Visit("queues", "/desk/queues", "office"),
    Visit("queue-reviews", "/desk/queues/reviews", "office"),
    Visit("queue-extensions", "/desk/queues/extensions", "office"),
    Visit("queue-circulars", "/desk/queues/circulars", "office"),
    Visit("queue-agencies", "/desk/queues/agencies", "office"),
    Visit("scorecards", "/desk/scorecards", "performance"),
    Visit("indicators", "/desk/indicators?year=2017", "office"),
    Visit("confirm-escalate", "/desk/requests/{answered}/escalate", "office"),
    Visit("confirm-escalate-refused", "/desk/requests/{top}/escalate", "office"),
    Visit("confirm-waive", "/desk/requests/{top}/waive", "office"),
    Visit("confirm-sign", "/desk/circulars/{circular}/sign", "office"),
    Visit("circular-preview", "/desk/circulars/{circular}", "office"),
    Visit("notices", "/desk/notices", "office"),
    Visit("notice-preview", "/desk/notices/{notice}", "office"),
    Visit("notice-preview-performance", "/desk/notices/{notice}", "performance"),
    Visit("outbox-retry", "/desk/outbox/retry?message={dead}", "office"),
    Visit("outbox-retry-all", "/desk/outbox/retry", "office"),
    Visit("meetings", "/desk/meetings", "office"),
    Visit("directory", "/desk/directory", "office"),
    Visit("meetings-performance", "/desk/meetings?year=2016", "performance"),
    Visit("meeting", "/desk/meetings/{meeting}", "office"),
    Visit("liaison", "/l/{token}"),
    Visit("liaison-item", "/l/{token}/requests/{answered}"),
    Visit("liaison-item-errors", "/l/{token}/requests/{answered}", status=422,
          form={"action": "submit", "status": "delayed", "percent": "140"}),
    Visit("liaison-history", "/l/{token}/requests/{answered}/history"),
    Visit("liaison-meetings", "/l/{token}/meetings"),
    Visit("liaison-meeting-edit", "/l/{token}/meetings/{meeting}"),
    Visit("liaison-meetings-errors", "/l/{token}/meetings", status=422,
          form={"held_on": "2017-05-01", "name": "", "decisions": ""}),
    Visit("link-expired", "/l/{expired}", status=410),
    Visit("error-403-agency", "/l/{token}/requests/{top}/history", status=403),
    Visit("error-403-role", "/desk/outbox", "performance", status=403),
    Visit("error-404", "/desk/requests/99999999", "office", status=404),
    Visit("error-404-path", "/no-such-page", status=404),
    Visit("error-409-waived", "/l/{token}/requests/{waived}", status=409,
          form={"action": "save", "status": "in_progress", "percent": "10"}),
]


@dataclass(frozen=True)
class Seeded:
    plan: int
    cdpf: int  # 市残联, whose liaison's link is `token`
    mca: int  # 市民政局
    top: int  # 市民政局's red request, escalated to the top rung (a draft circular)
    answered: int  # a request of 市残联 answered on time
    waived: int  # 市残联's red request, waived
    dead: int  # a dead letter
    circular: int  # the draft circular holding 市民政局's top rung
    notice: int  # the draft 督办通知单 of 市民政局's supervision rung
    meeting: int  # 天津市人民政府's executive meeting recorded by 市残联's liaison, pending
    token: str
    expired: str  # 市残联's liaison's link of 1 January


@pytest.fixture
def site(db, db_url, plan, overdue, policy, tmp_path):  # type: ignore[no-untyped-def]
    controller, recorder = smtp_server.start()
    for agency in ("市残联", "市民政局"):
        address = liaison_of(db, agency).email
        recorder.reject[address] = f"550 5.1.1 <{address}>: Recipient address rejected"
    channels = {ChannelKind.EMAIL: EmailChannel("127.0.0.1", controller.port,
                                                "tracker@example.org")}
    try:
        dispatch(db, channels, now=at("2017-04-12", 9, 30), calendar=policy.calendar)
    finally:
        controller.stop()
    with transaction(db) as s:
        cdpf = s.scalars(select(Agency.id).where(Agency.name == "市残联")).one()
        mca = s.scalars(select(Agency.id).where(Agency.name == "市民政局")).one()
        red = {s.get_one(ProgressRequest, i).agency_id: i for i in overdue[:5]}
        for _ in range(2):  # reminder (the sweep's) -> supervision notice -> circular
            escalate_now(s, red[mca], actor="user:duchashi", now=NOW, policy=policy)
        waive(s, red[cdpf], reason="该项工作已并入年度专项", actor="user:duchashi", now=NOW,
              policy=policy)
        answered = s.scalars(select(ProgressRequest.id).where(
            ProgressRequest.agency_id == cdpf, ProgressRequest.id.not_in(overdue[:5]))
            .order_by(ProgressRequest.id).limit(1)).one()
        dead = s.scalars(select(OutboxMessage.id).where(
            OutboxMessage.status == OutboxStatus.FAILED).order_by(OutboxMessage.id).limit(1)
            ).one()
        circular = s.scalars(select(Circular.id).order_by(Circular.id).limit(1)).one()
        notice = s.scalars(select(SupervisionNotice.id).order_by(SupervisionNotice.id)
                           .limit(1)).one()
        meeting = submit_meeting(
            s, tmp_path, agencies=[cdpf], typed=MeetingInput(
                held_on="2017-03-28", name="天津市人民政府第81次常务会议",
                decisions="研究《天津市“十三五”加快残疾人小康进程规划纲要》实施工作，明确2017年重点任务分工。"),
            minutes=Minutes("市政府第81次常务会议纪要.pdf", b"%PDF-1.4\n%%EOF\n"),
            recorded_by="liaison:1", now=at("2017-03-29", 10)).id
        cookies = {who: sign_in(s, username=name, password=STAFF_PASSWORD, now=NOW,
                                rules=Rules())[1]
                   for who, name in (("office", "duchashi"), ("performance", "jixiaoban"))}
    port = smtp_server.free_port()
    settings = make_settings(tmp_path, db_url, base_url=f"http://127.0.0.1:{port}")
    liaison = liaison_of(db, "市残联")
    seeded = Seeded(plan=plan.id, cdpf=cdpf, mca=mca, top=red[mca], answered=answered,
                    waived=red[cdpf], dead=dead, circular=circular, notice=notice,
                    meeting=meeting,
                    token=token_for(settings, liaison, NOW),
                    expired=token_for(settings, liaison, at("2017-01-03")))
    server = ServerThread(make_app(db, settings, Clock(NOW)), port)
    server.start()
    yield f"http://127.0.0.1:{port}", seeded, cookies
    server.stop()


def _open(browser: Any, base: str, size: tuple[int, int], cookie: str | None) -> Any:
    context = browser.new_context(bypass_csp=True, viewport={"width": size[0], "height": size[1]})
    if cookie:
        context.add_cookies([{"name": COOKIE, "value": cookie, "url": base}])
    return context.new_page()


def _visit(page: Any, base: str, visit: Visit, seeded: Seeded) -> int:
    """Go to the page; return the HTTP status it answered with."""
    url = base + visit.path.format(**asdict(seeded))
    if visit.form is None:
        return int(page.goto(url).status)
    page.goto(base + "/")
    with page.expect_navigation() as navigation:
        page.evaluate("""([action, fields]) => {
            const form = document.createElement('form');
            form.method = 'post'; form.action = action;
            for (const [name, value] of Object.entries(fields)) {
                const input = document.createElement('input');
                input.type = 'hidden'; input.name = name; input.value = value;
                form.appendChild(input);
            }
            document.body.appendChild(form); form.submit();
        }""", [url, visit.form])
    return int(navigation.value.status)


@pytest.mark.parametrize("size", SIZES)
def test_every_page_passes_axe_and_never_scrolls_sideways(site, size):
    base, seeded, cookies = site
    width, height = SIZES[size]
    shots = os.environ.get("TRACKER_SHOTS")
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pages = {who: _open(browser, base, (width, height), cookies.get(who or ""))
                 for who in {v.who for v in PAGES}}
        for visit in PAGES:
            page = pages[visit.who]
            status = _visit(page, base, visit, seeded)
            if status != visit.status:
                problems.append(f"{visit.name}: HTTP {status}, expected {visit.status}")
            if visit.who and "/login" in page.url:
                problems.append(f"{visit.name}: sent to the sign-in page")
            for v in axe_violations(page):
                problems.append(f"{visit.name}: axe {v['impact']} {v['id']} {v['nodes'][:3]}")
            scroll = page.evaluate("document.documentElement.scrollWidth")
            if scroll > width:
                problems.append(f"{visit.name}: scrolls sideways ({scroll}px wide at {width}px)")
            if shots:
                Path(shots).mkdir(parents=True, exist_ok=True)
                name = re.sub(r"[^a-z0-9-]", "", visit.name)
                page.screenshot(path=f"{shots}/{name}-{size}.png", full_page=True)
        browser.close()
    assert problems == []


CONTROLS = ["text", "password", "email", "date", "number", "file", "select", "textarea"]
PROBE = """(kinds) => {
    const main = document.querySelector('main');
    for (const kind of kinds) {
        const label = document.createElement('label');
        label.htmlFor = 'probe-' + kind; label.textContent = kind;
        const el = document.createElement(['select', 'textarea'].includes(kind) ? kind : 'input');
        if (el.tagName === 'INPUT') el.type = kind;
        el.id = 'probe-' + kind;
        main.append(label, el);
    }
}"""
STYLE = """(el) => { const s = getComputedStyle(el); return {
    border: s.borderTopWidth + ' ' + s.borderTopStyle + ' ' + s.borderTopColor,
    font: s.fontSize + ' ' + s.fontFamily.split(',')[0], tall: el.offsetHeight >= 44,
    outline: s.outlineWidth + ' ' + s.outlineStyle + ' ' + s.outlineColor,
    halo: s.boxShadow.includes('rgb(255, 191, 71)'), shadow: s.boxShadow,
    transition: s.transitionDuration}; }"""


@pytest.fixture
def bare_site(db, db_url, tmp_path):  # type: ignore[no-untyped-def]
    port = smtp_server.free_port()
    settings = make_settings(tmp_path, db_url, base_url=f"http://127.0.0.1:{port}")
    server = ServerThread(make_app(db, settings, Clock(NOW)), port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def test_controls_share_one_style_and_a_visible_focus_ring(bare_site):
    """Every kind of field (text, password, email, date, number, file, select, textarea):
    the same 2 px dark border, body font (Noto Sans CJK SC first), at least 44 px tall, and
    on focus a 3 px ring of the ink colour (16:1 on white) with a yellow halo; buttons show
    the ring on keyboard focus; with reduced motion asked for, nothing transitions."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for motion in ("no-preference", "reduce"):
            context = browser.new_context(bypass_csp=True, reduced_motion=motion,
                                          viewport={"width": 390, "height": 844})
            page = context.new_page()
            page.goto(bare_site + "/login")
            page.evaluate(PROBE, CONTROLS)
            for kind in CONTROLS:
                style = page.eval_on_selector(f"#probe-{kind}", STYLE)
                assert style["border"] == "2px solid rgb(90, 101, 112)", kind
                assert style["font"] == '16px "Noto Sans CJK SC"', kind
                assert style["tall"], kind
                page.focus(f"#probe-{kind}")
                focused = page.eval_on_selector(f"#probe-{kind}", STYLE)
                assert focused["outline"] == "3px solid rgb(27, 27, 27)", kind
                assert focused["halo"], (kind, focused["shadow"])
            _tab_to_button(page)
            button = page.eval_on_selector("button[type=submit]", STYLE)
            assert button["outline"] == "3px solid rgb(27, 27, 27)" and button["halo"]
            assert button["tall"]
            assert button["transition"] == ("0s" if motion == "reduce" else "0.12s, 0.12s")
            assert page.evaluate("getComputedStyle(document.body).fontFamily").startswith(
                '"Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC"')
            context.close()
        browser.close()


def _tab_to_button(page: Any) -> None:
    page.focus("#password")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.type") == "submit"
