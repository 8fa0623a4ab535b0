"""The directory's review list on the desk (issue 13, item 4): `/desk/directory`, office
only. Over HTTP: the navigation counts what waits; each action resolves one row (map,
accept, assign, dismiss) and says so; a refusal comes back (422) beside its row with what
was typed, never as HTML. In Chromium at 1280 and 390 px: axe-core finds nothing serious,
the page never scrolls sideways, and the office maps a name with the keyboard-usable form.
Screenshots go to $TRACKER_SHOTS when it is set."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import sync_playwright
from sqlalchemy import select

from tests import smtp_server
from tests.browser import CHROMIUM, CHROMIUM_ARGS, ServerThread, axe_violations
from tests.conftest import STAFF_PASSWORD, at
from tests.directory.test_review import STAGES, _deadline_flags, second_plan
from tests.factories import small_plan
from tests.web_helpers import Clock, make_app, make_settings
from tracker.catalog.load import load_catalog
from tracker.db import transaction
from tracker.directory.agencies import resolve
from tracker.directory.staff import create_user, sign_in
from tracker.enums import StaffRole
from tracker.models import DirectoryReview
from tracker.settings import Rules
from tracker.web.staff import COOKIE

NOW = at("2017-01-09", 10)
GOV = "天津市人民政府"


def _seed(db: Any) -> dict[str, int]:
    with transaction(db) as s:
        load_catalog(s, small_plan(plan_id="plan-a"), at("2017-01-05"))
        load_catalog(s, second_plan(), at("2017-01-06"))
        for name, role in (("duchashi", StaffRole.OFFICE), ("jixiaoban", StaffRole.PERFORMANCE)):
            create_user(s, username=name, display_name=name, role=role,
                        password=STAFF_PASSWORD, now=at("2017-01-01"))
        return {r.phrase: r.id for r in s.scalars(select(DirectoryReview))}


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no form token on the page"
    return m.group(1)


def _login(client: TestClient, who: str = "duchashi") -> None:
    page = client.get("/login")
    client.post("/login", data={"username": who, "password": STAFF_PASSWORD,
                                "csrf": _csrf(page.text), "next": "/desk"})


@pytest.fixture
def client(db, db_url, tmp_path):  # type: ignore[no-untyped-def]
    reviews = _seed(db)
    settings = make_settings(tmp_path, db_url)
    return TestClient(make_app(db, settings, Clock(NOW)), follow_redirects=False), reviews


def test_the_office_resolves_each_row_and_the_navigation_counts_them(client, db):
    web, reviews = client
    _login(web)
    page = web.get("/desk/directory")
    assert page.status_code == 200
    assert '名录待核 <span class="count">4</span>' in page.text
    assert "<h1>单位名录待核（4 项）</h1>" in page.text
    assert "新单位名称“市人力资源社会保障局”" in page.text
    assert "2 扶持残疾人自主创业：配合单位“等有关部门”" in page.text
    assert "<dd>名录中有相近的名称：市人力资源和社会保障局</dd>" in page.text
    with db() as s:
        hr = resolve(s, GOV, "市人力资源和社会保障局")
        finance = resolve(s, GOV, "市财政局")
        hedong = resolve(s, GOV, "河东区人民政府")
    # a dismissal without a reason: the page again, the row marked, what was typed kept
    r = web.post(f"/desk/directory/{reviews['等有关部门']}", data={
        "csrf": _csrf(page.text), "action": "dismiss", "note": " "})
    assert r.status_code == 422
    assert (f'<p class="field-error" id="rv{reviews["等有关部门"]}-error"><span class="visually-hidden">'
            "错误：</span>请写明不予处理的理由</p>") in r.text
    # a map without a choice names what is missing
    r = web.post(f"/desk/directory/{reviews['市人力资源社会保障局']}", data={
        "csrf": _csrf(r.text), "action": "map", "agency": ""})
    assert r.status_code == 422
    assert ('<div class="error-summary" role="alert"><p>处理未完成：<a href="#rv'
            f'{reviews["市人力资源社会保障局"]}-h">新单位名称“市人力资源社会保障局”</a>：'
            "请选择一个对应的单位</p></div>") in r.text
    assert f'id="map-{reviews["市人力资源社会保障局"]}" name="agency" aria-describedby=' in r.text
    steps = [
        (reviews["市人力资源社会保障局"], {"action": "map", "agency": str(hr)},
         "已对应到已有单位，并记为该单位的简称；其任务分解和暂缓的进展调度已移交该单位（自今日起计算报送期限）。"),
        (reviews["市统计局"], {"action": "accept"},
         "已确认为新单位；其暂缓的进展调度自今日起计算报送期限。"),
        (reviews["等有关部门"], {"action": "assign", "agency": str(finance)},
         "已按所选单位增列任务分解。"),
        (reviews["有关区"], {"action": "dismiss", "note": "<b>由市残联统筹</b>"},
         "已记录不予处理的理由。"),
    ]
    html = r.text
    for review_id, form, said in steps:
        r = web.post(f"/desk/directory/{review_id}", data={"csrf": _csrf(html), **form})
        assert r.status_code == 303, r.text
        html = web.get(r.headers["location"]).text
        assert f'<p class="notice" role="status">{said}</p>' in html
    assert "<h1>单位名录待核（0 项）</h1>" in html and "没有待核定的事项。" in html
    assert '名录待核 <span class="count">0</span>' in html
    assert "不予处理（理由：&lt;b&gt;由市残联统筹&lt;/b&gt;）" in html  # never as HTML
    assert "已对应到已有单位：市人力资源和社会保障局" in html
    # a row resolved already: 409, and the hedong district was never assigned
    r = web.post(f"/desk/directory/{reviews['有关区']}", data={
        "csrf": _csrf(html), "action": "assign", "agency": str(hedong)})
    assert r.status_code == 409


def test_the_performance_office_may_not_open_it(client):
    web, _ = client
    _login(web, "jixiaoban")
    assert web.get("/desk/directory").status_code == 403


SIZES = {"desktop": (1280, 900), "phone": (390, 844)}


@pytest.mark.sqlite_only
@pytest.mark.parametrize("size", SIZES)
def test_the_page_in_chromium_passes_axe_and_maps_a_name(db, db_url, tmp_path, size):
    reviews = _seed(db)
    with transaction(db) as s:  # and a plan whose 完成时限 the importer could not read
        load_catalog(s, _deadline_flags(), at("2017-01-07"))
        stages = s.scalars(select(DirectoryReview.id).where(DirectoryReview.phrase == STAGES)).one()
    with transaction(db) as s:
        cookie = sign_in(s, username="duchashi", password=STAFF_PASSWORD, now=NOW,
                         rules=Rules())[1]
    port = smtp_server.free_port()
    base = f"http://127.0.0.1:{port}"
    server = ServerThread(make_app(db, make_settings(tmp_path, db_url, base_url=base), Clock(NOW)),
                          port)
    server.start()
    width, height = SIZES[size]
    shots = os.environ.get("TRACKER_SHOTS")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context(bypass_csp=True,
                                          viewport={"width": width, "height": height})
            context.add_cookies([{"name": COOKIE, "value": cookie, "url": base}])
            page = context.new_page()
            assert page.goto(base + "/desk/directory").status == 200
            assert axe_violations(page) == []
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            if shots:
                Path(shots).mkdir(parents=True, exist_ok=True)
                page.screenshot(path=f"{shots}/directory-{size}.png", full_page=True)
            row = reviews["市人力资源社会保障局"]
            page.select_option(f"#map-{row}", label="市人力资源和社会保障局")
            page.get_by_role("button", name="对应：市人力资源社会保障局").click()
            page.wait_for_url(base + "/desk/directory?m=mapped")
            assert page.get_by_role("status").inner_text() == (
                "已对应到已有单位，并记为该单位的简称；其任务分解和暂缓的进展调度已移交该单位（自今日起计算报送期限）。")
            page.get_by_label("不予处理的理由").first.fill("")
            page.get_by_role("button", name="不予处理：2 扶持残疾人自主创业 等有关部门").click()
            assert page.get_by_role("alert").inner_text() == (
                "处理未完成：2 扶持残疾人自主创业“等有关部门”：请写明不予处理的理由")
            note = page.get_by_label("不予处理的理由").first
            assert note.get_attribute("aria-invalid") == "true"
            assert note.get_attribute("aria-describedby") == f"rv{reviews['等有关部门']}-error"
            assert axe_violations(page) == []
            if shots:
                page.screenshot(path=f"{shots}/directory-refused-{size}.png", full_page=True)
            # an unreadable 完成时限: a day already past is refused beside its row, then set
            page.get_by_label("完成日期").first.fill("2017-01-06")
            page.get_by_role("button", name="设定完成日期：1 落实按比例安排残疾人就业制度").click()
            assert page.get_by_role("alert").inner_text() == (
                f"处理未完成：1 落实按比例安排残疾人就业制度“{STAGES}”：完成日期 2017年1月6日 早于今天，"
                "无法再作为完成时限跟踪；如无需跟踪，请写明理由后不予处理")
            due = page.locator(f"#due-{stages}")
            assert (due.get_attribute("aria-invalid"), due.input_value()) == ("true", "2017-01-06")
            assert axe_violations(page) == []
            due.fill("2018-06-30")
            page.get_by_role("button", name="设定完成日期：1 落实按比例安排残疾人就业制度").click()
            page.wait_for_url(base + "/desk/directory?m=dated")
            assert page.get_by_role("status").inner_text() == "已设定完成时限；到期前按里程碑向牵头单位调度。"
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            browser.close()
    finally:
        server.stop()
    with db() as s:
        assert s.get_one(DirectoryReview, row).state == "mapped"
        assert (s.get_one(DirectoryReview, stages).state, s.get_one(DirectoryReview, stages).note) == (
            "dated", "2018年6月30日前完成")
