"""The office's desk over HTTP (issue 10, items 3 and 4): queues with actions, confirmation
pages that show what will be sent, evidence served to staff, names instead of ids, and
each role's landing page."""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.conftest import STAFF_PASSWORD, at
from tests.web_helpers import Clock, liaison_of, make_app, make_settings, token_for
from tracker.db import transaction
from tracker.models import Agency, OutboxMessage, ProgressReport, ProgressRequest
from tracker.requests.extensions import ask_extension
from tracker.requests.opening import open_due_requests


@pytest.fixture
def desk(db, db_url, overdue, tmp_path):  # type: ignore[no-untyped-def]
    clock = Clock(at("2017-04-12", 10))
    settings = make_settings(tmp_path, db_url)
    client = TestClient(make_app(db, settings, clock), follow_redirects=False)
    return client, settings, clock, overdue


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no form token on the page"
    return m.group(1)


def login(client, username="duchashi"):  # type: ignore[no-untyped-def]
    page = client.get("/login")
    return client.post("/login", data={"username": username, "password": STAFF_PASSWORD,
                                       "csrf": _csrf(page.text), "next": "/desk"})


def test_review_queue_accepts_and_returns_fifty_a_page(desk, db):
    client, _, _, ids = desk
    r = login(client)
    assert r.headers["location"] == "/desk/queues"
    overview = client.get("/desk/queues")
    assert "待审核的报送</a>（793 项）" in overview.text
    assert re.search(r'href="/desk/queues/reviews">待审核 <span class="count">793</span>',
                     overview.text)
    board = client.get("/desk")  # the counts are in every desk page's navigation
    assert '待审核 <span class="count">793</span>' in board.text
    page = client.get("/desk/queues/reviews")
    rows = re.findall(r'<tr id="rv(\d+)"', page.text)
    assert len(rows) == 50 and "第 1 / 16 页" in page.text
    last = client.get("/desk/queues/reviews", params={"page": 16})
    assert len(re.findall(r'<tr id="rv', last.text)) == 793 - 15 * 50
    # odd page numbers read as the board reads them: the first page, or the last
    for odd, shown in (("0", 1), ("-1", 1), ("abc", 1), ("1.5", 1), ("99", 16), ("1" * 24, 16)):
        r = client.get("/desk/queues/reviews", params={"page": odd})
        assert r.status_code == 200 and f"第 {shown} / 16 页" in r.text, odd
    assert client.get("/desk/outbox", params={"page": "-1"}).status_code == 200
    first, second = int(rows[0]), int(rows[1])
    r = client.post(f"/desk/reports/{first}/accept",
                    data={"csrf": _csrf(page.text), "back": "/desk/queues/reviews?page=1"})
    assert r.headers["location"] == "/desk/queues/reviews?page=1&m=accepted"
    page = client.get(r.headers["location"])
    assert "已审核通过" in page.text and f'id="rv{first}"' not in page.text
    r = client.post(f"/desk/reports/{second}/return",
                    data={"csrf": _csrf(page.text), "back": "/desk/queues/reviews?page=1",
                          "comment": "  "})
    # the form again with the field marked and the message beside it, no signed blob in a
    # URL (office item 7)
    assert r.status_code == 400 and "location" not in r.headers
    assert (f'<p class="field-error" id="ret-{second}-error"><span class="visually-hidden">错误：'
            "</span>退回须填写意见，说明需要修改什么</p>") in r.text
    assert (f'<textarea id="ret-{second}" name="comment" rows="2" required aria-invalid="true" '
            f'aria-describedby="ret-{second}-error"></textarea>') in r.text
    assert f'<a href="#ret-{second}">退回意见：退回须填写意见，说明需要修改什么</a>' in r.text
    assert "<title>错误：待审核的报送" in r.text
    page = client.get("/desk/queues/reviews")
    r = client.post(f"/desk/reports/{second}/return",
                    data={"csrf": _csrf(page.text), "back": "/desk/queues/reviews?page=1",
                          "comment": "请补充量化数据"})
    page = client.get(r.headers["location"])
    assert "已退回，已通知联络员" in page.text and "待审核 <span class=\"count\">791</span>" in page.text
    with db() as s:
        states = dict(s.execute(select(ProgressReport.id, ProgressReport.review_state)
                                .where(ProgressReport.id.in_([first, second]))).all())
        assert states == {first: "accepted", second: "returned"}
        assert s.scalar(select(func.count()).select_from(OutboxMessage)
                        .where(OutboxMessage.kind == "report_returned")) == 1
    # only a queue page is followed back; anything else goes to the item page
    page = client.get("/desk/queues/reviews")
    r = client.post(f"/desk/reports/{rows[2]}/accept",
                    data={"csrf": _csrf(page.text), "back": "https://evil.example/"})
    assert r.headers["location"].startswith("/desk/requests/")


def test_checked_reports_are_accepted_at_once(desk, db):
    """勾选本页全部 checks every row; the checked rows are accepted by one action; a row
    reviewed meanwhile is reported, not accepted twice."""
    client, _, _, _ = desk
    login(client)
    page = client.get("/desk/queues/reviews", params={"check": "all"})
    rows = [int(i) for i in re.findall(r'<tr id="rv(\d+)"', page.text)]
    assert len(rows) == 50
    assert len(re.findall(r'form="checked-reviews" id="chk-\d+" aria-label="[^"]+" checked>',
                          page.text)) == 50
    r = client.post(f"/desk/reports/{rows[0]}/accept",
                    data={"csrf": _csrf(page.text), "back": "/desk/queues/reviews?page=1"})
    page = client.get("/desk/queues/reviews")
    r = client.post("/desk/reports/accept-checked", data={
        "csrf": _csrf(page.text), "back": "/desk/queues/reviews?page=1",
        "report": [str(i) for i in rows[:3]]})
    assert r.status_code == 303
    page = client.get(r.headers["location"])
    assert "已审核通过勾选的 2 项报送。" in page.text
    assert "另有 1 项未审核通过：已由他人审核，或已有更新的版本。" in page.text
    assert '待审核 <span class="count">790</span>' in page.text
    with db() as s:
        assert s.execute(select(ProgressReport.id, ProgressReport.review_state, ProgressReport
                                .reviewed_by).where(ProgressReport.id.in_(rows[:4]))
                         .order_by(ProgressReport.id)).all() == sorted(
            [(rows[0], "accepted", "user:duchashi"), (rows[1], "accepted", "user:duchashi"),
             (rows[2], "accepted", "user:duchashi"), (rows[3], "pending", None)])
    r = client.post("/desk/reports/accept-checked", data={
        "csrf": _csrf(page.text), "back": "/desk/queues/reviews?page=1"})
    assert "请先勾选要审核通过的报送" in client.get(r.headers["location"]).text


def test_extension_queue_grants_from_the_queue(desk, db, plan, policy):
    client, _, _, _ = desk
    with transaction(db) as s:
        open_due_requests(s, plan, at("2017-06-16"), policy)
        req = s.scalars(select(ProgressRequest).order_by(ProgressRequest.id.desc())).first()
        ext = ask_extension(s, agency_id=req.agency_id, request_id=req.id,
                            new_due_on=at("2017-07-31").date(), reason="需汇总各区数据",
                            asked_by="t", now=at("2017-06-20")).id
        rid = req.id
    login(client)
    page = client.get("/desk/queues/extensions")
    assert "需汇总各区数据" in page.text and "申请至 2017-07-31" in page.text
    r = client.post(f"/desk/extensions/{ext}", data={
        "csrf": _csrf(page.text), "back": "/desk/queues/extensions?page=1",
        "decision": "grant", "note": "同意"})
    assert r.headers["location"] == "/desk/queues/extensions?page=1&m=decided"
    assert "无待办事项" in client.get(r.headers["location"]).text
    with db() as s:
        assert s.get_one(ProgressRequest, rid).due_on.isoformat() == "2017-07-31"


def test_confirmation_pages_show_what_will_be_sent(desk, db):
    client, _, _, ids = desk
    login(client)
    with db() as s:
        agency = s.scalar(select(Agency.name).join(ProgressRequest,
                                                   ProgressRequest.agency_id == Agency.id)
                          .where(ProgressRequest.id == ids[0]))
    item = client.get(f"/desk/requests/{ids[0]}")
    title = re.search(r"<h1>(.*?)</h1>", item.text).group(1)  # the period in words
    assert title.startswith("2017年第一季度 ") and "2017Q1" not in title
    # a POST without confirm acts on nothing: it leads to the confirmation page
    r = client.post(f"/desk/requests/{ids[0]}/escalate", data={"csrf": _csrf(item.text)})
    assert r.headers["location"] == f"/desk/requests/{ids[0]}/escalate"
    page = client.get(r.headers["location"])
    with db() as s:
        assert s.get_one(ProgressRequest, ids[0]).level == 1
        assert s.scalar(select(func.count()).select_from(OutboxMessage)
                        .where(OutboxMessage.level == 2)) == 0  # the preview left nothing
    assert "<h1>确认立即督办</h1>" in page.text
    table = page.text[page.text.index('id="send-h"'):]
    assert f"{agency}分管领导" in table and "市政府督查室联络员（抄送）" in table
    assert re.search(r"a\d+\.deputy@example\.org", table)
    assert "【督办】" in table and "逾期未报送进展情况" in table
    r = client.post(f"/desk/requests/{ids[0]}/escalate",
                    data={"csrf": _csrf(page.text), "confirm": "1"})
    assert "已督办" in client.get(r.headers["location"]).text
    # 免报: the reason travels to the confirmation page and back
    item = client.get(f"/desk/requests/{ids[1]}")
    r = client.post(f"/desk/requests/{ids[1]}/waive",
                    data={"csrf": _csrf(item.text), "reason": "任务调整"})
    page = client.get(r.headers["location"])
    assert "<h1>确认免报</h1>" in page.text and "任务调整" in page.text
    assert "免报" in page.text[page.text.index('id="send-h"'):]
    assert 'name="reason" value="任务调整"' in page.text
    with db() as s:
        assert s.get_one(ProgressRequest, ids[1]).state == "open"


def test_evidence_is_listed_and_downloaded_by_staff_only(desk, db):
    client, settings, _, ids = desk
    token = token_for(settings, liaison_of(db, "市残联"), at("2017-04-12"))
    with db() as s:
        rid = s.scalar(select(ProgressRequest.id).join(Agency, Agency.id == ProgressRequest.agency_id)
                       .where(Agency.name == "市残联", ProgressRequest.id.in_(ids[5:])))
    data = b"%PDF-1.4 <script>alert(1)</script> evidence"
    r = client.post(f"/l/{token}/requests/{rid}/evidence",
                    files={"file": ("验收报告 2017.pdf", data, "application/pdf")})
    assert r.status_code == 303
    assert client.get("/desk/evidence/1").status_code == 303  # to /login
    login(client)
    item = client.get(f"/desk/requests/{rid}")
    listing = item.text[item.text.index('id="evidence-h"'):]
    assert "验收报告 2017.pdf" in listing and f"{len(data)} 字节" in listing
    assert "市残联联络员</td>" in listing and "联络员（市残联" not in listing
    assert "2017-04-12 10:00" in listing
    href = re.search(r'href="(/desk/evidence/\d+)"', listing).group(1)
    for user in ("duchashi", "jixiaoban"):
        client.cookies.clear()
        login(client, user)
        r = client.get(href)
        assert r.status_code == 200 and r.content == data
        assert r.headers["content-type"] == "application/octet-stream"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["content-security-policy"] == "sandbox"
        disposition = r.headers["content-disposition"]
        assert disposition.startswith("attachment; filename*=UTF-8''")
        assert unquote(disposition.split("''", 1)[1]) == "验收报告 2017.pdf"
    assert client.get("/desk/evidence/999999").status_code == 404


def test_people_by_name_and_labels_in_chinese(desk, db):
    client, settings, _, ids = desk
    token = token_for(settings, liaison_of(db, "市残联"), at("2017-04-12"))
    with db() as s:
        rid = s.scalar(select(ProgressRequest.id).join(Agency, Agency.id == ProgressRequest.agency_id)
                       .where(Agency.name == "市残联", ProgressRequest.id.in_(ids[5:])))
    client.post(f"/l/{token}/requests/{rid}", data={
        "action": "submit", "status": "in_progress", "percent": "30", "narrative": "第二版"})
    login(client)
    page = client.get(f"/desk/requests/{rid}")
    r = client.post(f"/desk/requests/{rid}/note", data={"csrf": _csrf(page.text), "text": "已电话督促"})
    page = client.get(r.headers["location"]).text
    assert "联络员#" not in page and "链接" not in page and "user:" not in page
    assert "工作人员 duchashi" not in page
    assert "督查室张科长：已电话督促" in page
    audit = page[page.index('id="audit-h"'):]
    # a person once (office item 9): the liaison's name says the agency, the office's
    # display name says 督查室
    assert "<td>市残联联络员</td>" in audit and "联络员（市残联" not in audit and "网页报送" in audit
    assert "<span>督查室张科长</span>" in page and "（督查室）" not in page
    for raw in ("report_returned", "in_progress", "pending", "escalation"):
        assert raw not in re.sub(r"<[^>]+>", "", page)


def test_each_role_lands_on_its_page(desk):
    client, _, _, _ = desk
    r = login(client, "jixiaoban")
    assert r.headers["location"] == "/desk/scorecards"
    page = client.get("/desk/scorecards")
    assert 'href="/desk/scorecard/2017.xlsx"' in page.text and "本年度" in page.text
    # only years some measure was asked about: the plan runs from 2016, asked from 2017
    assert "2016 年度考核记分卡" not in page.text and "2016" not in client.get("/desk").text
    r = client.get("/desk/scorecard/2016.xlsx")
    assert r.status_code == 404 and "2016 年度尚无任务进展调度，没有可生成的考核记分卡" in r.text
    assert client.get("/desk/queues").status_code == 403  # the office's queues only
    assert "待审核" not in page.text  # no queue counts for a role that cannot act
    r = client.get("/desk/scorecard/2017.xlsx")
    assert r.status_code == 200 and r.content[:2] == b"PK"
    client.cookies.clear()
    page = client.get("/login", params={"next": "/desk/circulars"})
    r = client.post("/login", data={"username": "duchashi", "password": STAFF_PASSWORD,
                                    "csrf": _csrf(page.text), "next": "/desk/circulars"})
    assert r.headers["location"] == "/desk/circulars"  # a page asked for is kept


def test_browsing_mode_says_the_notice_is_queued_not_sent(db, db_url, overdue, tmp_path):
    """Under `serve --as-of` no job sends: returning a report says so (office item 3)."""
    from tracker.web.app import create_app

    settings = make_settings(tmp_path, db_url)
    client = TestClient(create_app(db, settings, Clock(at("2017-04-12", 10)), browsing=True),
                        follow_redirects=False)
    login(client)
    page = client.get("/desk/queues/reviews")
    rid = re.findall(r'<tr id="rv(\d+)"', page.text)[0]
    r = client.post(f"/desk/reports/{rid}/return",
                    data={"csrf": _csrf(page.text), "back": "/desk/queues/reviews?page=1",
                          "comment": "请补充量化数据"})
    page = client.get(r.headers["location"]).text
    assert "已退回；已生成通知（浏览模式不发送）。" in page and "已通知联络员" not in page


def test_review_queue_filters_by_agency_and_period_and_orders(desk, db):
    """Office item 4: agency and period filters (GET), newest or oldest first, 50 a page;
    item 5: periods named in words, the code kept as the option's value."""
    client, settings, _, ids = desk
    token = token_for(settings, liaison_of(db, "市残联"), at("2017-04-12"))
    with db() as s:
        cdpf = s.scalar(select(Agency.id).where(Agency.name == "市残联"))
        mine = list(s.scalars(select(ProgressRequest.id).where(
            ProgressRequest.agency_id == cdpf, ProgressRequest.id.in_(ids[5:]))
            .order_by(ProgressRequest.id)))
    later = mine[0]  # a second version, submitted later: the newest of the queue
    client.post(f"/l/{token}/requests/{later}", data={
        "action": "submit", "status": "in_progress", "percent": "30", "narrative": "第二版"})
    login(client)
    page = client.get("/desk/queues/reviews")
    assert '<option value="2017Q1" >2017年第一季度</option>' in page.text
    assert "2017年第一季度 · " in page.text and "2017Q1 · " not in page.text
    r = client.get("/desk/queues/reviews", params={"agency": cdpf, "period": "2017Q1"})
    rows = [int(x) for x in re.findall(r'<tr id="rv(\d+)"', r.text)]
    assert f"符合筛选条件的 {len(mine)} 项。" in r.text and len(rows) == len(mine) == 37
    assert "待审核的报送（793 项）" in r.text  # the heading keeps the whole queue's size
    assert f'<option value="{cdpf}" selected>市残联</option>' in r.text
    with db() as s:
        reports = dict(s.execute(select(ProgressReport.id, ProgressReport.request_id)
                                 .where(ProgressReport.id.in_(rows))).all())
    assert sorted(reports.values()) == mine and reports[rows[-1]] == later  # oldest first
    r = client.get("/desk/queues/reviews", params={"agency": cdpf, "order": "newest"})
    newest = [int(x) for x in re.findall(r'<tr id="rv(\d+)"', r.text)]
    assert newest == rows[::-1]
    whole = client.get("/desk/queues/reviews", params={"order": "newest"})
    assert re.findall(r'<tr id="rv(\d+)"', whole.text)[0] == str(rows[-1])
    assert len(re.findall(r'<tr id="rv', whole.text)) == 50 and "第 1 / 16 页" in whole.text
    assert 'href="/desk/queues/reviews?page=2&amp;order=newest"' in whole.text
    none = client.get("/desk/queues/reviews", params={"period": "2017Q4"})
    assert "没有符合筛选条件的待办事项。" in none.text
    # an action taken under a filter comes back to the same filter
    back = f"/desk/queues/reviews?page=1&agency={cdpf}&period=2017Q1&order=newest"
    r = client.post(f"/desk/reports/{newest[0]}/accept", data={"csrf": _csrf(r.text), "back": back})
    assert r.headers["location"] == (f"/desk/queues/reviews?page=1&agency={cdpf}"
                                     "&period=2017Q1&order=newest&m=accepted")
    assert f"符合筛选条件的 {len(mine) - 1} 项。" in client.get(r.headers["location"]).text


def test_return_without_comment_on_the_item_page_marks_the_field(desk, db):
    """Office item 7 on the item page: 400, the field marked, nothing returned."""
    client, _, _, ids = desk
    login(client)
    rid = ids[5]
    page = client.get(f"/desk/requests/{rid}")
    report = int(re.search(r'action="/desk/reports/(\d+)/return"', page.text).group(1))
    r = client.post(f"/desk/reports/{report}/return", data={"csrf": _csrf(page.text), "comment": ""})
    assert r.status_code == 400 and "error=" not in r.text
    assert f'aria-invalid="true" aria-describedby="ret-{report}-error"' in r.text
    assert f'id="ret-{report}-error"><span class="visually-hidden">错误：</span>退回须填写意见' in r.text
    with db() as s:
        assert s.get_one(ProgressReport, report).review_state == "pending"
    # the page's new form token works: the same form, now with a comment
    r = client.post(f"/desk/reports/{report}/return",
                    data={"csrf": _csrf(r.text), "comment": "请补充量化数据"})
    assert r.status_code == 303 and r.headers["location"] == f"/desk/requests/{rid}?m=returned"


def test_agencies_without_liaison_are_explained_in_the_offices_words(desk, db):
    """Office item 8: what the office does about an agency nobody can be notified at, and
    where, without commands or developer notes."""
    from tracker.directory.contacts import deactivate_contact

    client, _, _, _ = desk
    with transaction(db) as s:
        deactivate_contact(s, liaison_of(db, "市残联").id)
    login(client)
    for path in ("/desk/queues", "/desk/queues/agencies"):
        text = client.get(path).text
        assert ("请与该单位联系，确定一名联络员（姓名、手机、电子邮箱），报系统管理员录入通讯录；"
                "录入后该单位即从本列表移除，此后的通知发给该联络员。") in text, path
        assert "tracker liaison add" not in text and "无法匹配" not in text, path


def test_the_issued_scorecard_is_shown_and_served_as_issued(desk, db, plan, policy, tmp_path):
    """Issue 11, item 5: once the checkpoint issued the year's card, the performance
    office's page says when and by which rules, and both downloads are the stored files."""
    from tracker.annual.checkpoint import run_checkpoint
    from tracker.models import Plan

    client, _, clock, _ = desk
    login(client, "jixiaoban")
    page = client.get("/desk/scorecards").text
    assert "（试算版：本年度，数据截至今日）" in page and "（正式版，" not in page
    assert "现行考核规则版本 2026.1（校验码 " in page
    with transaction(db) as s:
        issued = run_checkpoint(s, s.get_one(Plan, plan.id), 2017, at("2018-02-13"), policy,
                                tmp_path / "cards")
    clock.now = at("2018-02-14", 10)
    client.cookies.clear()
    login(client, "jixiaoban")
    page = client.get("/desk/scorecards").text
    assert "（正式版，2018年2月13日印发，考核规则版本 2026.1）" in page
    r = client.get("/desk/scorecard/2017.xlsx")
    assert r.status_code == 200 and r.content == issued.path.read_bytes()
    r = client.get("/desk/scorecard/2017-escalations.csv")
    assert r.status_code == 200 and r.content == issued.detail_path.read_bytes()
    assert r.content.startswith("\ufeff报送期,编号,任务,责任单位,级别,截止日期,发出日期,报送日期".encode())
    assert "逾期督办明细" in unquote(r.headers["content-disposition"])
