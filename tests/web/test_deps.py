"""The web wiring (tracker.web.deps): the clock, the session, refusals, forms, no queries
in routes. Each test fails if a piece of the wiring is bypassed or broken."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import STAFF_PASSWORD, at
from tests.web_helpers import Clock, liaison_of, make_app, make_settings, token_for
from tracker.db import transaction
from tracker.errors import DomainError, NotFound
from tracker.escalation.office_actions import waive
from tracker.models import Agency, Note, ProgressRequest, ReportDraft
from tracker.requests.opening import open_due_requests
from tracker.web.deps import app_context, get_now, get_session

# The wiring and the browser do not depend on the database: these run on the embedded
# default (SQLite); the services and pages under them are tested on both databases.
pytestmark = pytest.mark.sqlite_only


WEB = Path(__file__).resolve().parents[2] / "tracker" / "web"


@pytest.fixture
def liaison_site(db, db_url, plan, policy, tmp_path):  # type: ignore[no-untyped-def]
    """市残联's link over Q1 2017 (due 2017-04-10), the clock on 20 March."""
    with transaction(db) as s:
        open_due_requests(s, plan, at("2017-03-17"), policy)
    clock = Clock(at("2017-03-20", 10))
    settings = make_settings(tmp_path, db_url)
    client = TestClient(make_app(db, settings, clock), follow_redirects=False)
    token = token_for(settings, liaison_of(db, "市残联"), at("2017-03-17"))
    with db() as s:
        rid = s.scalar(select(ProgressRequest.id).join(Agency, Agency.id == ProgressRequest.agency_id)
                       .where(Agency.name == "市残联").order_by(ProgressRequest.id).limit(1))
    return client, clock, token, rid


@pytest.fixture
def desk_site(db, db_url, overdue, tmp_path):  # type: ignore[no-untyped-def]
    clock = Clock(at("2017-04-12", 10))
    client = TestClient(make_app(db, make_settings(tmp_path, db_url), clock), follow_redirects=False)
    _login(client)
    return client, clock, overdue


def _login(client: TestClient) -> None:
    page = client.get("/login")
    r = client.post("/login", data={"username": "duchashi", "password": STAFF_PASSWORD,
                                     "csrf": _csrf(page.text), "next": "/desk"})
    assert r.status_code == 303


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no form token on the page"
    return m.group(1)


def test_pages_and_rules_follow_the_injected_clock(liaison_site):
    client, clock, token, rid = liaison_site
    page = client.get(f"/l/{token}").text
    assert "今天：2017-03-20" in page and 'class="light light-red"' not in page
    clock.now = at("2017-04-12", 10)  # past the due day, the link still young enough
    page = client.get(f"/l/{token}").text
    assert "今天：2017-04-12" in page and "已逾期</strong>" in page
    page = client.get(f"/l/{token}/requests/{rid}").text
    assert "已逾期，请尽快报送" in page
    clock.now = at("2017-04-17", 10)  # the link's 31st day: the same clock expires it
    assert client.get(f"/l/{token}").status_code == 410


def test_clock_override_reaches_the_link_check_and_the_page(liaison_site):
    client, _, token, _ = liaison_site
    client.app.dependency_overrides[get_now] = lambda: at("2017-03-25", 15)
    assert "今天：2017-03-25" in client.get(f"/l/{token}").text
    client.app.dependency_overrides[get_now] = lambda: at("2017-05-01", 15)
    r = client.get(f"/l/{token}")
    assert r.status_code == 410 and "链接已过期" in r.text
    client.app.dependency_overrides.clear()
    assert "今天：2017-03-20" in client.get(f"/l/{token}").text


def test_desk_follows_the_injected_clock(desk_site):
    client, clock, _ = desk_site
    assert "（2017-04-12，" in client.get("/desk").text
    clock.now = at("2017-04-12", 10, 40)  # 40 idle minutes: stale by the same clock
    assert client.get("/desk").status_code == 303
    clock.now = at("2017-04-12", 23, 50)
    _login(client)
    clock.now = at("2017-04-13", 0, 5)
    assert "（2017-04-13，" in client.get("/desk").text


def test_sign_out_needs_the_page_token_and_ends_the_session(db, desk_site):
    from tracker.models import StaffSession

    client, clock, _ = desk_site
    token = _csrf(client.get("/desk").text)
    cookie = client.cookies.get("tracker_session")
    assert client.post("/logout", data={"csrf": "forged"}).status_code == 403
    r = client.post("/logout", data={"csrf": token})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    with db() as s:
        assert s.scalars(select(StaffSession.ended_at)).one() == clock.now
    client.cookies.set("tracker_session", cookie)  # the old cookie is dead on the server
    assert client.get("/desk").status_code == 303
    assert client.post("/logout", data={"csrf": token}).status_code == 303  # nothing to end


def test_session_override_is_one_session_per_request(db, liaison_site):
    """The link check and the handler share the one overridden session."""
    client, _, token, rid = liaison_site
    opened: list[Session] = []

    def session_for_test() -> Iterator[Session]:
        with db() as session:
            opened.append(session)
            yield session

    client.app.dependency_overrides[get_session] = session_for_test
    assert client.get(f"/l/{token}").status_code == 200
    assert len(opened) == 1
    r = client.post(f"/l/{token}/requests/{rid}", data={"action": "save", "narrative": "草稿"})
    assert r.status_code == 303 and len(opened) == 2
    with db() as s:  # the handler's commit went through the overridden session
        assert s.scalar(select(func.count()).select_from(ReportDraft)) == 1


def test_an_error_after_a_write_rolls_back(db, desk_site):
    """The form token is used up inside the request; a 404 afterwards rolls it back, so the
    same token still works (nothing half-written stays)."""
    client, _, ids = desk_site
    token = _csrf(client.get(f"/desk/requests/{ids[0]}").text)
    r = client.post("/desk/reports/2147483000/accept", data={"csrf": token})
    assert r.status_code == 404 and "没有找到" in r.text
    r = client.post(f"/desk/requests/{ids[0]}/note", data={"csrf": token, "text": "仍可用"})
    assert r.status_code == 303
    with db() as s:
        assert s.scalars(select(Note.text)).all() == ["仍可用"]


def test_unknown_rows_are_404_pages(desk_site):
    client, _, ids = desk_site
    token = _csrf(client.get(f"/desk/requests/{ids[0]}").text)
    for path in ("/desk/extensions/2147483000", "/desk/reports/2147483000/return"):
        r = client.post(path, data={"csrf": token})
        assert r.status_code == 404 and "没有找到" in r.text, path
    assert client.get("/desk/circulars/2147483000.docx").status_code == 404
    assert client.get("/desk/requests/2147483000").status_code == 404


def test_domain_error_is_a_chinese_page_with_its_status(desk_site):
    client, _, _ = desk_site
    app = client.app

    def refuse() -> None:
        raise DomainError("该通报已签发，不能再修改。", status=409, code="conflict")

    def missing() -> None:
        raise NotFound("没有编号为 7 的报告")

    app.add_api_route("/test-refusal", refuse)
    app.add_api_route("/test-missing", missing)
    r = client.get("/test-refusal")
    assert r.status_code == 409 and "该通报已签发，不能再修改。" in r.text
    assert r.headers["content-security-policy"].startswith("default-src 'self'")
    assert r.headers["cache-control"] == "no-store" and 'lang="zh-CN"' in r.text
    r = client.get("/test-missing")  # a code with a page of its own shows that page
    assert r.status_code == 404 and "没有找到您要访问的页面" in r.text


def test_liaison_refusals_keep_their_pages(db, liaison_site, policy):
    client, _, token, rid = liaison_site
    other = token_for(app_context(client.app).settings, liaison_of(db, "市民政局"),
                      at("2017-03-17"))
    r = client.post(f"/l/{other}/requests/{rid}", data={"action": "save"})
    assert r.status_code == 403 and "该事项不属于此链接对应的单位" in r.text
    with transaction(db) as s:
        waive(s, rid, reason="任务调整", actor="t", now=at("2017-03-20"), policy=policy)
    for action in ("save", "submit"):
        r = client.post(f"/l/{token}/requests/{rid}",
                        data={"action": action, "status": "in_progress", "percent": "10"})
        assert r.status_code == 409 and "已由督查室同意免报" in r.text, action


def test_forms_never_end_in_a_bare_422(liaison_site):
    client, _, token, rid = liaison_site
    # nothing chosen: a browser sends an empty file part
    r = client.post(f"/l/{token}/requests/{rid}/evidence", files={"file": ("", b"")})
    assert r.status_code == 422 and "请选择要上传的文件。" in r.text
    r = client.post(f"/l/{token}/upload", data={"file": "not a file"})
    assert r.status_code == 422 and "请选择要上传的 Excel 文件。" in r.text
    # a bad answer comes back with what was typed and every problem in Chinese
    r = client.post(f"/l/{token}/requests/{rid}", data={
        "status": "completed", "percent": "abc", "narrative": "已落实"})
    assert r.status_code == 422 and "完成进度须为 0 到 100 的整数。" in r.text and "已落实" in r.text
    r = client.post(f"/l/{token}/requests/{rid}/extension", data={"new_due_on": "下个月"})
    assert r.status_code == 422 and "请填写有效的新截止日期" in r.text and "请填写延期理由" in r.text
    # a file where text belongs is a bad request, in Chinese, not a framework error
    r = client.post(f"/l/{token}/requests/{rid}", files={"narrative": ("a.txt", b"x")})
    assert r.status_code == 400 and "提交有误" in r.text and "detail" not in r.text


_QUERY = re.compile(r"\bsession\.(get|get_one|execute|scalar|scalars|query)\(|\bselect\(")


def test_routes_do_not_query():
    """Routes parse, call a service, render: no query, no hand-read form or app.state."""
    modules = sorted(WEB.glob("*.py"))
    assert len(modules) >= 7
    for path in modules:
        text = path.read_text(encoding="utf-8")
        for number, line in enumerate(text.splitlines(), 1):
            assert not _QUERY.search(line), f"{path.name}:{number}: {line.strip()}"
        if path.name not in ("deps.py", "app.py"):
            assert "app.state" not in text, path.name
            assert "request.form(" not in text, path.name
    # the check itself sees a query when there is one
    assert _QUERY.search("req = session.get(ProgressRequest, 1)")
    assert _QUERY.search("rows = session.execute(select(Plan.id))")


def test_the_clock_must_be_aware(liaison_site):
    client, clock, token, _ = liaison_site
    clock.now = dt.datetime(2017, 3, 20, 10)  # naive: refused, never guessed
    with pytest.raises(ValueError, match="aware"):
        client.get(f"/l/{token}")
    r = TestClient(client.app, raise_server_exceptions=False).get(f"/l/{token}")
    assert r.status_code == 500 and "出错了" in r.text
