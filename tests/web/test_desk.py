"""The supervision office's desk over HTTP: accounts, roles, CSRF, board, actions, ledger."""

from __future__ import annotations

import datetime as dt
import io
import re

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.conftest import STAFF_PASSWORD, at
from tests.web_helpers import Clock, liaison_of, make_app, make_settings, token_for
from tracker.db import transaction
from tracker.enums import CircularState
from tracker.escalation.sweep import sweep_overdue
from tracker.models import (
    AuditEvent,
    Circular,
    Escalation,
    OutboxMessage,
    ProgressRequest,
    StaffUser,
)
from tracker.requests.opening import open_due_requests
from tracker.requests.reports import ReportInput, record_reports

PASSWORD = STAFF_PASSWORD


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


def login(client, username="duchashi", password=PASSWORD):  # type: ignore[no-untyped-def]
    page = client.get("/login")
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf": _csrf(page.text), "next": "/desk"})


def test_sign_in_board_and_filters(desk):
    client, _, _, ids = desk
    assert client.get("/desk").status_code == 303  # to /login
    r = login(client)
    assert r.status_code == 303 and r.headers["location"] == "/desk/queues"  # the office's page
    page = client.get("/desk")
    assert page.status_code == 200
    assert "共 798 项" in page.text and "逾期 5" in page.text
    red = client.get("/desk", params={"light": "red"})
    assert "共 5 项" in red.text and red.text.count('class="row-red"') == 5
    assert "催办" in red.text
    one = client.get("/desk", params={"light": "red", "role": "lead"})
    leads = re.search(r"共 (\d+) 项", one.text).group(1)
    assert int(leads) <= 5
    heat = page.text[page.text.index('id="heat-h"'):]
    assert "主要指标" in heat


def test_wrong_password_lockout_and_unlock(desk, db):
    client, _, clock, _ = desk
    for _ in range(4):
        r = login(client, password="wrong password!")
        assert r.status_code == 401 and "用户名或密码错误" in r.text
    r = login(client, password="wrong password!")  # the 5th failure locks
    assert r.status_code == 401
    r = login(client)  # even the right password is refused while locked
    assert r.status_code == 401 and "锁定" in r.text  # same words as a wrong password
    clock.now = clock.now + dt.timedelta(minutes=16)
    assert login(client).status_code == 303
    with db() as s:
        assert s.scalar(select(StaffUser.failed_logins).where(StaffUser.username == "duchashi")) == 0
        assert "user.locked" in s.scalars(select(AuditEvent.action)).all()
    assert login(client, username="nobody").status_code == 401


def test_login_needs_its_form_token(desk):
    client, _, _, _ = desk
    r = client.post("/login", data={"username": "duchashi", "password": PASSWORD})
    assert r.status_code == 403


def test_csrf_missing_replayed_and_stale_session(desk, db):
    client, _, clock, ids = desk
    login(client)
    item = client.get(f"/desk/requests/{ids[0]}")
    token = _csrf(item.text)
    r = client.post(f"/desk/requests/{ids[0]}/note", data={"text": "无令牌"})
    assert r.status_code == 403 and "表单已失效" in r.text
    r = client.post(f"/desk/requests/{ids[0]}/note", data={"text": "第一次", "csrf": token})
    assert r.status_code == 303
    r = client.post(f"/desk/requests/{ids[0]}/note", data={"text": "重放", "csrf": token})
    assert r.status_code == 403
    clock.now = clock.now + dt.timedelta(minutes=31)  # idle too long
    fresh = token  # whatever token: the session is stale first
    r = client.post(f"/desk/requests/{ids[0]}/note", data={"text": "过期", "csrf": fresh})
    assert r.status_code == 401
    assert client.get("/desk").status_code == 303
    with db() as s:
        from tracker.models import Note
        assert s.scalars(select(Note.text)).all() == ["第一次"]


def test_roles_liaison_link_and_performance_cannot_act(desk, db):
    client, settings, _, ids = desk
    token = token_for(settings, liaison_of(db, "市残联"), at("2017-04-12"))
    client.cookies.set("tracker_session", token)
    r = client.get("/desk")
    assert r.status_code == 303  # a liaison link is no staff session
    client.cookies.clear()
    login(client, username="jixiaoban")
    item = client.get(f"/desk/requests/{ids[0]}")
    assert item.status_code == 200 and "立即督办" not in item.text
    r = client.post(f"/desk/requests/{ids[0]}/escalate", data={"csrf": _csrf(item.text)})
    assert r.status_code == 403 and "无权操作" in r.text
    with db() as s:
        assert s.get_one(ProgressRequest, ids[0]).level == 1


def test_escalate_waive_and_circular_sign_off(desk, db):
    client, _, _, ids = desk
    login(client)
    for expected in (2, 3):
        page = client.get(f"/desk/requests/{ids[0]}")
        r = client.post(f"/desk/requests/{ids[0]}/escalate",
                        data={"csrf": _csrf(page.text), "confirm": "1"})
        assert r.status_code == 303
        with db() as s:
            assert s.get_one(ProgressRequest, ids[0]).level == expected
    page = client.get(f"/desk/requests/{ids[0]}")
    assert "立即" not in page.text.split('id="act-h"')[1].split("</section>")[0]
    with db() as s:
        circular = s.scalars(select(Circular)).one()
        assert circular.state == CircularState.DRAFT and len(circular.items) == 1
        sent_before = s.scalar(select(func.count()).select_from(OutboxMessage)
                               .where(OutboxMessage.kind == "circular_issued"))
    assert sent_before == 0  # a circular goes out only after sign-off
    docx = client.get(f"/desk/circulars/{circular.id}.docx")
    assert docx.status_code == 200 and docx.content[:2] == b"PK"
    listing = client.get("/desk/circulars")
    r = client.post(f"/desk/circulars/{circular.id}/sign", data={"csrf": _csrf(listing.text)})
    assert r.status_code == 303 and r.headers["location"] == f"/desk/circulars/{circular.id}/sign"
    confirm = client.get(r.headers["location"])  # what will be sent, before anything is
    assert "确认审核签发" in confirm.text and confirm.text.count("【通报】") == 2
    with db() as s:
        assert s.get_one(Circular, circular.id).state == CircularState.DRAFT
    r = client.post(f"/desk/circulars/{circular.id}/sign",
                    data={"csrf": _csrf(confirm.text), "confirm": "1",
                          "digest": re.search(r'name="digest" value="(\w+)"', confirm.text)[1]})
    assert r.status_code == 303
    with db() as s:
        assert s.get_one(Circular, circular.id).state == CircularState.SIGNED
        assert s.scalar(select(func.count()).select_from(OutboxMessage)
                        .where(OutboxMessage.kind == "circular_issued")) == 2  # liaison + deputy
    page = client.get(f"/desk/requests/{ids[1]}")
    r = client.post(f"/desk/requests/{ids[1]}/waive",
                    data={"csrf": _csrf(page.text), "reason": "", "confirm": "1"})
    assert "免报须填写理由" in client.get(r.headers["location"]).text
    page = client.get(f"/desk/requests/{ids[1]}")
    client.post(f"/desk/requests/{ids[1]}/waive",
                data={"csrf": _csrf(page.text), "reason": "任务调整", "confirm": "1"})
    with db() as s:
        assert s.get_one(ProgressRequest, ids[1]).state == "waived"
        assert s.scalar(select(func.count()).select_from(Escalation)
                        .where(Escalation.request_id == ids[0])) == 3


def test_ledger_export(desk):
    client, _, _, _ = desk
    login(client)
    r = client.get("/desk/ledger.xlsx", params={"light": "red"})
    assert r.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(r.content))
    assert book.sheetnames == ["台账（打印）", "台账明细"]
    printed = book["台账（打印）"]
    assert printed["A1"].value == "天津市“十三五”加快残疾人小康进程规划纲要督查台账"  # the only plan
    assert printed["A2"].value.startswith("筛选条件：逾期　　制表日期：")
    assert [c.value for c in printed[3]] == ["编号", "任务或指标", "责任单位", "角色", "报送期",
                                             "截止日期", "报送时间", "灯", "督办级别", "备注"]
    assert printed.max_row == 3 + 5 and {printed.cell(r, 8).value for r in range(4, 9)} == {"逾期"}
    sheet = book["台账明细"]
    header = [c.value for c in sheet[2]]
    assert header[:6] == ["规划", "报送期", "编号", "任务或指标", "领域", "责任单位"]
    assert header[-1] == "系统编号"
    assert sheet.max_row == 2 + 5
    assert sheet.freeze_panes == "D3" and sheet.auto_filter.ref
    assert sheet.print_title_rows == "$2:$2" and sheet.page_setup.orientation == "landscape"
    assert sheet.page_setup.paperSize == 9


def test_performance_office_downloads_the_scorecard(desk):
    client, _, _, _ = desk
    login(client, username="jixiaoban")
    page = client.get("/desk")
    assert "下载 2017 年度考核记分卡" in page.text
    r = client.get("/desk/scorecard/2017.xlsx")
    assert r.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(r.content))
    assert book.sheetnames[:3] == ["封面", "图表", "市级部门排名"]
    assert client.get("/desk/scorecard/2030.xlsx").status_code == 404


def test_close_out_from_the_item_page(desk, db, tmp_path):
    from tracker.models import Assignment, Measure
    from tracker.requests.evidence import store_evidence

    client, _, _, _ = desk
    with db() as s:
        rid, agency_id, measure_id = s.execute(
            select(ProgressRequest.id, ProgressRequest.agency_id, Measure.id)
            .join(Assignment, Assignment.id == ProgressRequest.assignment_id)
            .join(Measure, Measure.id == Assignment.measure_id)
            .where(Measure.code == "2.7.1", Assignment.role == "lead")).one()
    login(client)
    page = client.get(f"/desk/requests/{rid}")
    # no button the service would refuse: the reason instead (office item 6)
    assert "签批办结销号</button>" not in page.text
    assert "<strong>暂不能办结销号：</strong>2.7.1：牵头单位最新报送的状态不是“已完成”。" in page.text
    r = client.post(f"/desk/measures/{measure_id}/close-out",
                    data={"csrf": _csrf(page.text), "request_id": rid})
    confirm = client.get(r.headers["location"])  # the confirmation page names the refusal
    assert "不是“已完成”" in confirm.text and 'name="confirm"' not in confirm.text
    r = client.post(f"/desk/measures/{measure_id}/close-out",
                    data={"csrf": _csrf(confirm.text), "request_id": rid, "confirm": "1"})
    assert "不是“已完成”" in client.get(r.headers["location"]).text
    with transaction(db) as s:
        store_evidence(s, tmp_path, agency_id=agency_id, request_id=rid, filename="验收.pdf",
                       data=b"%PDF-1.7 x", uploaded_by="t", now=at("2017-04-12"))
        record_reports(s, [ReportInput(request_id=rid, status="completed", percent=100,
                                       narrative="已完成")], submitted_by="t", now=at("2017-04-12"))
    page = client.get(f"/desk/requests/{rid}")
    assert "签批办结销号</button>" in page.text and "暂不能办结销号" not in page.text
    r = client.post(f"/desk/measures/{measure_id}/close-out",
                    data={"csrf": _csrf(page.text), "request_id": rid, "confirm": "1"})
    assert "已办结销号" in client.get(r.headers["location"]).text
    with db() as s:
        assert s.get_one(Measure, measure_id).closed_by == "user:duchashi"


def test_desk_review_round_trip_and_guards(desk, db, plan, policy):
    """Regressions from an adversarial review of the desk."""
    from tracker.models import Circular, ProgressReport

    client, _, clock, ids = desk
    login(client)
    # escalating before the due day is refused
    with transaction(db) as s:
        open_due_requests(s, plan, at("2017-06-16"), policy)
        future = s.scalar(select(ProgressRequest.id).order_by(ProgressRequest.id.desc()))
    page = client.get(f"/desk/requests/{future}")
    r = client.post(f"/desk/requests/{future}/escalate",
                    data={"csrf": _csrf(page.text), "confirm": "1"})
    assert "尚未逾期" in client.get(r.headers["location"]).text
    # a report returned, then accepted from a stale tab: the second review is refused
    with db() as s:
        report_id = s.scalar(select(ProgressReport.id).where(ProgressReport.request_id == ids[6]))
    tab1 = _csrf(client.get(f"/desk/requests/{ids[6]}").text)
    tab2 = _csrf(client.get(f"/desk/requests/{ids[6]}").text)
    client.post(f"/desk/reports/{report_id}/return", data={"csrf": tab1, "comment": "请补充"})
    r = client.post(f"/desk/reports/{report_id}/accept", data={"csrf": tab2})
    assert "已审核过" in client.get(r.headers["location"]).text
    # the reopened request gets a fresh ladder: a new reminder after its new due day
    with transaction(db) as s:
        sweep_overdue(s, plan, at("2017-04-18"), policy)
    with db() as s:
        rounds = s.execute(select(Escalation.round, Escalation.level)
                           .where(Escalation.request_id == ids[6])).all()
    assert rounds == [(1, 1)]
    # crafted messages in the address are not shown; odd filters do not break the board
    assert "请致电" not in client.get("/desk/circulars", params={"error": "请致电 010"}).text
    for params in ({"agency": "9" * 20}, {"level": "9" * 20}, {"page": str(2**63)}):
        assert client.get("/desk", params=params).status_code == 200
    page = client.get(f"/desk/requests/{ids[0]}")
    r = client.post("/desk/requests/2147483000/note", data={"csrf": _csrf(page.text), "text": "x"})
    assert r.status_code == 303
    # a circular leaves out what was answered after the draft was made
    for _ in range(2):
        page = client.get(f"/desk/requests/{ids[0]}")
        client.post(f"/desk/requests/{ids[0]}/escalate",
                    data={"csrf": _csrf(page.text), "confirm": "1"})
    with transaction(db) as s:
        record_reports(s, [ReportInput(request_id=ids[0], status="in_progress", percent=5)],
                       submitted_by="t", now=at("2017-04-13"))
        circular_id = s.scalar(select(Circular.id))
    listing = client.get("/desk/circulars")
    r = client.post(f"/desk/circulars/{circular_id}/sign",
                    data={"csrf": _csrf(listing.text), "confirm": "1"})
    assert "均已报送、免报或不列入" in client.get(r.headers["location"]).text


def test_sweep_purges_dead_sessions(desk, db, plan, policy):
    from tracker.directory.staff import purge_sessions
    from tracker.models import StaffSession
    from tracker.settings import Rules

    client, _, clock, _ = desk
    login(client)
    client.get("/desk")
    with transaction(db) as s:
        assert purge_sessions(s, clock.now, Rules()) == 0
        assert purge_sessions(s, clock.now + dt.timedelta(minutes=31), Rules()) == 1
    with db() as s:
        assert s.scalar(select(func.count()).select_from(StaffSession)) == 0
