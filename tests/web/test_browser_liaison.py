"""The liaison's whole path in Debian's Chromium: from a real email to a new version.

A notification is dispatched to a real SMTP server on loopback; the link in that email
is opened in Chromium; the item is opened from the list and its form is filled by keyboard
alone and submitted; the history shows the new version with the script tag as text; an
Excel upload with a bad row gets a row-level error. axe-core checks every page for
serious or critical violations.

Issue 10's must-holds, each at 1280x900 and 390x844 (no sideways scroll at 390 px): an
invalid submit lands on the error summary (focused; its link moves focus to the field),
an evidence upload keeps the typed answer, a lead consolidates its peers' answers; the
list, an item with errors and the expired link's page pass axe-core at both sizes.
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
from tests.web_helpers import Clock, liaison_of, make_app, make_settings
from tracker.db import transaction
from tracker.directory.links import load_secret, make_token
from tracker.enums import ChannelKind
from tracker.models import Agency, Assignment, Evidence, Measure, ProgressReport, ProgressRequest
from tracker.requests.opening import open_due_requests
from tracker.requests.reports import submit_answer

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

    # the list is short; the item opens on its own page
    with page.expect_navigation():
        page.click(f"a[href$='/requests/{rid}']")
    assert page.title().startswith("2.2.4 加强辅助器具推广和适配服务")
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
    _tab_to(page, f"r{rid}-submit")
    assert page.evaluate("document.activeElement.textContent.trim()") == "提交"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "已提交，感谢您的报送" in page.inner_text("[role=status]")
    assert axe_violations(page) == []

    page.goto(link + f"/requests/{rid}/history")
    body = page.inner_text("main")
    assert "第 1 版（最新）" in body and "<script>alert('x')</script>已完成需求调研" in body
    assert page.evaluate("document.querySelectorAll('main script').length") == 0
    assert axe_violations(page) == []

    # a second submission is a new version; the first stays readable
    page.goto(link + f"/requests/{rid}")
    page.fill(f"#r{rid}-percent", "40")
    with page.expect_navigation():
        page.click(f"#r{rid}-submit")
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


# Issue 10: the must-holds, at desktop and phone sizes ----------------------------------

SIZES = {"desktop": (1280, 900), "phone": (390, 844)}


def _request(db, agency: str, code: str) -> int:  # type: ignore[no-untyped-def]
    with db() as s:
        return s.scalars(select(ProgressRequest.id)
                         .join(Assignment, Assignment.id == ProgressRequest.assignment_id)
                         .join(Measure, Measure.id == Assignment.measure_id)
                         .join(Agency, Agency.id == ProgressRequest.agency_id)
                         .where(Agency.name == agency, Measure.code == code)).one()


@pytest.fixture
def opened(db, plan, policy, live, browser, request):  # type: ignore[no-untyped-def]
    """Q1 2017 opened; a page of the given size; 市残联's link and base address."""
    settings, clock = live
    with transaction(db) as s:
        open_due_requests(s, plan, at("2017-03-17"), policy)
    width, height = SIZES[request.param]
    page = browser.new_page(bypass_csp=True, viewport={"width": width, "height": height})
    secret = load_secret(settings.home, settings.secret_key)

    def link_of(agency: str) -> str:
        return f"{settings.base_url}/l/{make_token(secret, liaison_of(db, agency), at('2017-03-17'))}"

    return page, link_of, clock, width


def _fits(page, width: int) -> None:  # type: ignore[no-untyped-def]
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert axe_violations(page) == []


@pytest.mark.parametrize("opened", list(SIZES), indirect=True)
def test_invalid_submit_lands_on_the_error_summary(db, opened):
    page, link_of, _, width = opened
    rid = _request(db, "市残联", "2.2.4")
    link = link_of("市残联")
    page.goto(link)
    _fits(page, width)
    assert page.evaluate("document.documentElement.scrollHeight") < 9000  # not 28,000 px
    page.goto(f"{link}/requests/{rid}")
    _fits(page, width)
    # by keyboard: 已完成 at 35 %, which only the server can refuse
    _tab_to(page, f"r{rid}-status")
    for _ in range(3):
        page.keyboard.press("ArrowDown")  # 未开始, 推进中, 已完成
    page.keyboard.press("Tab")
    page.keyboard.type("35")
    page.keyboard.press("Tab")
    page.keyboard.type("已完成需求调研")
    _tab_to(page, f"r{rid}-submit")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    # the page comes back with the summary at the top, focused, and what was typed
    assert page.evaluate("document.activeElement.id") == "error-summary"
    assert page.inner_text("#error-summary li") == "状态为已完成时，完成进度须为 100。"
    assert page.input_value(f"#r{rid}-status") == "completed"
    assert page.input_value(f"#r{rid}-percent") == "35"
    assert page.input_value(f"#r{rid}-narrative") == "已完成需求调研"
    assert page.get_attribute(f"#r{rid}-percent", "aria-describedby") == f"r{rid}-percent-error"
    assert page.inner_text(f"#r{rid}-percent-error").endswith("状态为已完成时，完成进度须为 100。")
    _fits(page, width)
    # its link, by keyboard, moves focus to the field
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.getAttribute('href')") == f"#r{rid}-percent"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == f"r{rid}-percent"
    with db() as s:
        assert s.scalars(select(ProgressReport)).all() == []


@pytest.mark.parametrize("opened", list(SIZES), indirect=True)
def test_evidence_upload_keeps_the_typed_answer(db, opened):
    page, link_of, _, width = opened
    rid = _request(db, "市残联", "2.2.4")
    page.goto(f"{link_of('市残联')}/requests/{rid}")
    page.select_option(f"#r{rid}-status", "delayed")
    page.fill(f"#r{rid}-percent", "35")
    page.fill(f"#r{rid}-narrative", "资金尚未到位，采购延后")
    page.set_input_files(f"#r{rid}-file", files=[{
        "name": "调研报告.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 test"}])
    page.focus(f"#r{rid}-upload")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "佐证材料已上传，页面上填写的内容已保存为草稿" in page.inner_text("[role=status]")
    assert page.input_value(f"#r{rid}-status") == "delayed"
    assert page.input_value(f"#r{rid}-percent") == "35"
    assert page.input_value(f"#r{rid}-narrative") == "资金尚未到位，采购延后"
    assert "调研报告.pdf" in page.inner_text(".files")
    _fits(page, width)
    # and submitting later sends the answer with the file
    with page.expect_navigation():
        page.click(f"#r{rid}-submit")
    with db() as s:
        report = s.scalars(select(ProgressReport)).one()
        assert (report.status, report.percent) == ("delayed", 35)
        assert s.scalars(select(Evidence.report_id)).all() == [report.id]


@pytest.mark.parametrize("opened", list(SIZES), indirect=True)
def test_a_lead_consolidates_its_peers_answers(db, opened):
    page, link_of, _, width = opened
    lead = _request(db, "市残联", "2.2.4")
    answers = [(_request(db, agency, "2.2.4"), percent, text) for agency, percent, text in (
        ("市卫生计生委", "60", "完成辅具适配人员培训"), ("和平区人民政府", "45", "新建社区辅具服务点3个"))]
    with transaction(db) as s:
        for rid, percent, text in answers:
            submit_answer(s, request_id=rid, submitted_by="t",
                          now=at("2017-03-20", 9), fields={
                              "status": "in_progress", "percent": percent, "narrative": text})
    page.goto(f"{link_of('市残联')}/requests/{lead}")
    _fits(page, width)
    _tab_to(page, f"r{lead}-consolidate")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "已汇总配合单位和各区的报送" in page.inner_text("[role=status]")
    assert page.input_value(f"#r{lead}-narrative") == (
        "【配合单位和各区报送情况】\n市卫生计生委：完成辅具适配人员培训\n"
        "和平区人民政府：新建社区辅具服务点3个")
    assert page.input_value(f"#r{lead}-percent") == "45"
    _fits(page, width)
    # the lead edits the draft, then submits
    page.select_option(f"#r{lead}-status", "in_progress")
    page.fill(f"#r{lead}-percent", "50")
    with page.expect_navigation():
        page.click(f"#r{lead}-submit")
    with db() as s:
        report = s.scalars(select(ProgressReport).where(ProgressReport.request_id == lead)).one()
    assert report.percent == 50 and report.narrative.startswith("【配合单位和各区报送情况】\n市卫生计生委：")


@pytest.mark.parametrize("opened", list(SIZES), indirect=True)
def test_expired_link_page_sends_a_new_link(db, opened):
    page, link_of, clock, width = opened
    link = link_of("市残联")
    clock.now = at("2017-04-20", 10)
    response = page.goto(link)
    assert response.status == 410 and "链接已过期" in page.inner_text("h1")
    _fits(page, width)
    with page.expect_navigation():
        page.click("text=向登记邮箱发送新链接")
    assert page.inner_text("[role=status]").startswith("新链接已发送至 a")
    _fits(page, width)


@pytest.mark.parametrize("opened", list(SIZES), indirect=True)
def test_returned_report_and_extension_decision_read_well(db, policy, opened):
    """A returned report heads the list and its item names the office's comment; a
    granted extension shows the decision, the note and both due days; every fault of the
    extension form comes back at once. Each page fits and passes axe-core at both sizes
    (screenshots to $SHOTS_DIR when set, for a person to look at)."""
    import os

    from tracker.models import ExtensionRequest
    from tracker.requests.extensions import ask_extension, decide_extension
    from tracker.requests.review import return_report

    page, link_of, clock, width = opened
    returned, granted = _request(db, "市残联", "2.8.2"), _request(db, "市残联", "2.2.4")
    with transaction(db) as s:
        submit_answer(s, request_id=returned, fields={"status": "in_progress", "percent": "20",
                                                      "narrative": "已启动"},
                      submitted_by="t", now=at("2017-03-18"))
        report_id = s.scalar(select(ProgressReport.id).where(ProgressReport.request_id == returned))
        return_report(s, report_id, reviewer="user:督查室", comment="请补充资金到位情况和下步时间安排",
                      now=at("2017-03-19"), policy=policy)
        agency_id = s.scalar(select(Agency.id).where(Agency.name == "市残联"))
        ask_extension(s, agency_id=agency_id, request_id=granted, new_due_on=at("2017-04-20").date(),
                      reason="需等待财政批复", asked_by="t", now=at("2017-03-19"))
    with transaction(db) as s:
        ext = s.scalars(select(ExtensionRequest)).one()
        decide_extension(s, ext.id, grant=True, note="同意，请于新截止日期前报送",
                         decided_by="user:督查室", now=at("2017-03-20"), policy=policy)
    shots = os.environ.get("SHOTS_DIR")
    link = link_of("市残联")
    size = "desktop" if width > 400 else "phone"

    def look(name: str) -> None:
        _fits(page, width)
        if shots:
            page.screenshot(path=f"{shots}/{name}-{size}.png", full_page=True)

    page.goto(link)
    look("list")
    first = page.locator("table.item-list tbody tr").first
    assert first.get_attribute("class") == "is-returned"
    assert "已退回，请修改后重新报送" in first.inner_text()
    page.goto(f"{link}/requests/{returned}")
    look("returned")
    assert "督查室退回了第 1 版：请补充资金到位情况和下步时间安排" in page.inner_text("main")
    page.goto(f"{link}/requests/{granted}")
    look("granted")
    assert page.inner_text(".facts dd:nth-of-type(5)") == (
        "2017-04-20（已批准延期，原截止日期 2017-04-10，查看审批意见）")
    assert page.inner_text(".extension-decisions li") == (
        "申请延期至 2017-04-20：已批准。原截止日期 2017-04-10，新截止日期 2017-04-20。"
        "督查室意见：同意，请于新截止日期前报送")
    other = _request(db, "市残联", "2.4.2")
    page.goto(f"{link}/requests/{other}")
    page.click("summary:text('申请延期')")
    with page.expect_navigation():  # past the browser's own `required` check
        page.evaluate("document.querySelector('details.extension form').submit()")
    look("extension-errors")
    assert page.locator("#error-summary li").all_inner_texts() == ["请填写有效的新截止日期",
                                                                   "请填写延期理由"]


@pytest.mark.parametrize("opened", list(SIZES), indirect=True)
def test_district_liaison_records_a_meeting_with_its_minutes(db, opened):
    """Issue 11, item 4: from the link's list to the meetings page; a minutes file of the
    wrong type is refused by the server, naming the field, with what was typed kept; the
    PDF is then uploaded and the meeting waits for the office's confirmation."""
    from tracker.models import ExecutiveMeeting

    page, link_of, _, width = opened
    page.goto(link_of("和平区人民政府"))
    with page.expect_navigation():
        page.click("text=记录常务会议、上传会议纪要")
    _fits(page, width)
    page.fill("#m-held-on", "2017-03-15")
    page.fill("#m-name", "和平区人民政府第23次常务会议")
    page.fill("#m-decisions", "研究部署2017年残疾人小康进程重点任务")
    page.set_input_files("#m-minutes", files=[{
        "name": "纪要.txt", "mimeType": "text/plain", "buffer": b"minutes"}])
    with page.expect_navigation():
        page.click("#m-submit")
    assert page.evaluate("document.activeElement.id") == "error-summary"
    assert page.inner_text("#error-summary li").startswith("会议纪要：不支持的文件类型 .txt")
    assert page.input_value("#m-held-on") == "2017-03-15"
    assert page.input_value("#m-name") == "和平区人民政府第23次常务会议"
    assert page.input_value("#m-decisions") == "研究部署2017年残疾人小康进程重点任务"
    _fits(page, width)
    page.set_input_files("#m-minutes", files=[{
        "name": "第23次常务会议纪要.pdf", "mimeType": "application/pdf",
        "buffer": b"%PDF-1.4 minutes"}])
    with page.expect_navigation():
        page.click("#m-submit")
    assert page.inner_text("[role=status]") == "常务会议记录已报送，待督查室确认。"
    assert "第23次常务会议纪要.pdf" in page.inner_text(".meeting-list")
    assert "待确认" in page.inner_text(".meeting-list")
    _fits(page, width)
    with db() as s:
        m = s.scalars(select(ExecutiveMeeting)).one()
        assert (m.government, m.name, m.minutes_filename) == (
            "和平区人民政府", "和平区人民政府第23次常务会议", "第23次常务会议纪要.pdf")
