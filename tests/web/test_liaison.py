"""The liaison's pages over HTTP: links, the answer form, evidence, extensions, Excel."""

from __future__ import annotations

import datetime as dt
import io
import re

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.conftest import at
from tests.web_helpers import Clock, liaison_of, make_app, make_settings, token_for
from tracker.db import transaction
from tracker.directory.links import revoke
from tracker.escalation.sweep import sweep_overdue
from tracker.models import (
    AuditEvent,
    Evidence,
    ExtensionRequest,
    Measure,
    ProgressReport,
    ProgressRequest,
)
from tracker.requests.extensions import decide_extension
from tracker.requests.opening import open_due_requests


@pytest.fixture
def site(db, db_url, plan, policy, tmp_path):  # type: ignore[no-untyped-def]
    with transaction(db) as s:
        open_due_requests(s, plan, at("2017-03-17"), policy)
    clock = Clock(at("2017-03-20", 10))
    settings = make_settings(tmp_path, db_url)
    client = TestClient(make_app(db, settings, clock), follow_redirects=False)
    return client, settings, clock


def _request_of(db, agency: str, code: str) -> int:  # type: ignore[no-untyped-def]
    from tracker.models import Agency, Assignment

    with db() as s:
        return s.scalar(select(ProgressRequest.id)
                        .join(Assignment, Assignment.id == ProgressRequest.assignment_id)
                        .join(Measure, Measure.id == Assignment.measure_id)
                        .join(Agency, Agency.id == ProgressRequest.agency_id)
                        .where(Agency.name == agency, Measure.code == code))


def test_link_refusals(site, db):
    client, settings, clock = site
    liaison = liaison_of(db, "市残联")
    token = token_for(settings, liaison, at("2017-03-17"))
    assert client.get(f"/l/{token}").status_code == 200
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    r = client.get(f"/l/{forged}")
    assert r.status_code == 403 and "链接无效" in r.text
    clock.now = at("2017-04-17", 10)  # 31 days later
    r = client.get(f"/l/{token}")
    assert r.status_code == 410 and "链接已过期" in r.text
    clock.now = at("2017-03-20", 10)
    with transaction(db) as s:
        revoke(s, liaison.id)
    r = client.get(f"/l/{token}")
    assert r.status_code == 403 and "已停用" in r.text
    other = _request_of(db, "市民政局", "2.1.1")
    fresh = token_for(settings, liaison_of(db, "市残联"), at("2017-03-20"))
    r = client.post(f"/l/{fresh}/requests/{other}", data={"action": "submit", "status": "in_progress",
                                                          "percent": "10"})
    assert r.status_code == 403 and "不属于" in r.text
    with db() as s:
        assert s.scalar(select(func.count()).select_from(ProgressReport)) == 0


def test_submit_versions_and_script_shown_as_text(site, db):
    client, settings, clock = site
    token = token_for(settings, liaison_of(db, "市残联"), at("2017-03-17"))
    rid = _request_of(db, "市残联", "2.2.4")
    page = client.get(f"/l/{token}")
    assert (f'<a href="/l/{token}/requests/{rid}"><span class="code">2.2.4</span> '
            "加强辅助器具推广和适配服务</a>") in page.text
    assert f'for="r{rid}-status"' in client.get(f"/l/{token}/requests/{rid}").text
    r = client.post(f"/l/{token}/requests/{rid}", data={
        "action": "submit", "status": "in_progress", "percent": "30",
        "narrative": "<script>alert('x')</script>", "problems": "", "next_steps": "继续"})
    assert r.status_code == 303
    r = client.post(f"/l/{token}/requests/{rid}", data={
        "action": "submit", "status": "in_progress", "percent": "45", "narrative": "第二版"})
    history = client.get(f"/l/{token}/requests/{rid}/history")
    assert "第 2 版（最新）" in history.text and "第 1 版" in history.text
    assert "<script>alert" not in history.text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in history.text
    with db() as s:
        events = s.scalars(select(AuditEvent.actor).where(AuditEvent.action == "report.submit.web")).all()
    assert len(events) == 2 and all(re.match(r"liaison:\d+:link:", a) for a in events)


def test_validation_errors_keep_typed_values(site, db):
    client, settings, _ = site
    token = token_for(settings, liaison_of(db, "市残联"), at("2017-03-17"))
    rid = _request_of(db, "市残联", "2.2.4")
    r = client.post(f"/l/{token}/requests/{rid}", data={
        "action": "submit", "status": "delayed", "percent": "20", "narrative": "",
        "problems": "资金未到位"})
    assert r.status_code == 422
    assert "须填写工作进展" in r.text and "资金未到位" in r.text


def test_draft_then_prefill_from_last_period(site, db, plan, policy):
    client, settings, clock = site
    token = token_for(settings, liaison_of(db, "市残联"), at("2017-03-17"))
    rid = _request_of(db, "市残联", "2.2.4")
    client.post(f"/l/{token}/requests/{rid}", data={"action": "save", "status": "in_progress",
                                                    "percent": "", "narrative": "草稿内容"})
    assert "已载入您保存的草稿" in client.get(f"/l/{token}/requests/{rid}").text
    client.post(f"/l/{token}/requests/{rid}", data={"action": "submit", "status": "in_progress",
                                                    "percent": "25", "narrative": "一季度进展"})
    with transaction(db) as s:
        open_due_requests(s, plan, at("2017-06-16"), policy)
    clock.now = at("2017-06-19", 10)
    token = token_for(settings, liaison_of(db, "市残联"), at("2017-06-16"))  # Q2's link
    with db() as s:
        q2 = s.scalars(select(ProgressRequest.id).where(
            ProgressRequest.assignment_id == s.get_one(ProgressRequest, rid).assignment_id,
            ProgressRequest.id != rid)).one()
    page = client.get(f"/l/{token}/requests/{q2}").text
    assert "已按2017年第一季度报送内容预填" in page and "一季度进展" in page


def test_evidence_limits_and_safe_download(site, db):
    client, settings, _ = site
    token = token_for(settings, liaison_of(db, "市残联"), at("2017-03-17"))
    rid = _request_of(db, "市残联", "2.2.4")
    r = client.post(f"/l/{token}/requests/{rid}/evidence",
                    files={"file": ("x.pdf", b"<html><script>alert(1)</script>", "application/pdf")})
    assert r.status_code == 422 and "不符" in r.text
    r = client.post(f"/l/{token}/requests/{rid}/evidence",
                    files={"file": ("page.html", b"<html></html>", "text/html")})
    assert r.status_code == 422 and "不支持的文件类型" in r.text
    r = client.post(f"/l/{token}/requests/{rid}/evidence",
                    files={"file": ("证明.pdf", b"%PDF-1.4 test", "application/pdf")})
    assert r.status_code == 303
    with db() as s:
        ev = s.scalars(select(Evidence)).one()
    assert ev.sha256 == __import__("hashlib").sha256(b"%PDF-1.4 test").hexdigest()
    d = client.get(f"/l/{token}/evidence/{ev.id}")
    assert d.status_code == 200 and d.content == b"%PDF-1.4 test"
    assert d.headers["content-type"] == "application/octet-stream"
    assert d.headers["content-disposition"].startswith("attachment")
    assert d.headers["x-content-type-options"] == "nosniff"
    other = token_for(settings, liaison_of(db, "市民政局"), at("2017-03-17"))
    assert client.get(f"/l/{other}/evidence/{ev.id}").status_code == 403


def test_extension_moves_due_day_and_ladder(site, db, plan, policy):
    client, settings, clock = site
    token = token_for(settings, liaison_of(db, "市残联"), at("2017-03-17"))
    rid = _request_of(db, "市残联", "2.2.4")
    r = client.post(f"/l/{token}/requests/{rid}/extension",
                    data={"new_due_on": "2017-04-05", "reason": "x"})
    assert r.status_code == 422 and "须晚于" in r.text
    r = client.post(f"/l/{token}/requests/{rid}/extension",
                    data={"new_due_on": "2017-04-20", "reason": "需等待财政批复"})
    assert r.status_code == 303
    with transaction(db) as s:
        ext = s.scalars(select(ExtensionRequest)).one()
        decide_extension(s, ext.id, grant=True, note="同意", decided_by="user:督查室",
                         now=at("2017-03-22"), policy=policy)
    with db() as s:
        req = s.get_one(ProgressRequest, rid)
        assert (req.due_on, req.original_due_on) == (dt.date(2017, 4, 20), dt.date(2017, 4, 10))
        assert req.next_action_on == dt.date(2017, 4, 21)
    with transaction(db) as s:
        sweep_overdue(s, plan, at("2017-04-11"), policy)
    with db() as s:
        assert s.get_one(ProgressRequest, rid).level == 0  # others got 催办, this one did not
        other = s.scalar(select(ProgressRequest).where(ProgressRequest.id != rid).limit(1))
        assert other.level == 1  # (ids are not contiguous on PostgreSQL: pick any other)


def _fill(data: bytes, edits: dict[tuple[int, int], object]) -> bytes:
    book = openpyxl.load_workbook(io.BytesIO(data))
    sheet = book["进展填报"]
    for (row, col), value in edits.items():
        cell = sheet.cell(row=row, column=col, value=value)
        if isinstance(value, str) and value.startswith("'="):  # Excel's text prefix
            cell.value, cell.data_type = value[1:], "s"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_excel_round_trip(site, db):
    client, settings, _ = site
    token = token_for(settings, liaison_of(db, "市残联"), at("2017-03-17"))
    data = client.get(f"/l/{token}/template.xlsx").content
    book = openpyxl.load_workbook(io.BytesIO(data))
    sheet = book["进展填报"]
    assert sheet.protection.sheet is True
    assert sheet.cell(2, 1).protection.locked and not sheet.cell(2, 7).protection.locked
    rows = sheet.max_row - 1
    with db() as s:
        from tracker.models import Agency
        n = s.scalar(select(func.count()).select_from(ProgressRequest)
                     .join(Agency, Agency.id == ProgressRequest.agency_id)
                     .where(Agency.name == "市残联"))
    assert rows == n
    lists = [dv.formula1 for dv in sheet.data_validations.dataValidation]
    assert any("推进中" in (f or "") for f in lists)
    good = _fill(data, {(2, 7): "推进中", (2, 8): 40, (2, 9): "'=1+1", (2, 10): "@所有人",
                        (3, 7): "已完成", (3, 8): 100, (3, 9): "-已完成验收"})
    r = client.post(f"/l/{token}/upload", files={"file": ("a.xlsx", good)})
    assert r.status_code == 303, r.text
    with db() as s:
        reports = s.scalars(select(ProgressReport).order_by(ProgressReport.id)).all()
    assert [(r.percent, r.source) for r in reports] == [(40, "excel"), (100, "excel")]
    assert (reports[0].narrative, reports[0].problems, reports[1].narrative) == (
        "=1+1", "@所有人", "-已完成验收")
    again = openpyxl.load_workbook(io.BytesIO(client.get(f"/l/{token}/template.xlsx").content))
    # answered rows leave the template; a returned or open one is pre-filled as text only
    assert all(c.data_type != "f" for row in again["进展填报"].iter_rows() for c in row)


def test_bad_upload_names_sheet_row_column_and_imports_nothing(site, db):
    client, settings, _ = site
    token = token_for(settings, liaison_of(db, "市残联"), at("2017-03-17"))
    data = client.get(f"/l/{token}/template.xlsx").content
    other = _request_of(db, "市民政局", "2.1.1")
    bad = _fill(data, {(2, 7): "推进中", (2, 8): 40,
                       (3, 7): "差不多", (3, 8): 10,
                       (4, 7): "推进中", (4, 8): 150,
                       (5, 7): "推进中", (5, 8): "50",
                       (6, 1): 999999, (6, 7): "推进中", (6, 8): 5,
                       (7, 1): other, (7, 7): "推进中", (7, 8): 5,
                       (8, 7): "推进中", (8, 8): 5, (8, 9): "=HYPERLINK(\"http://x\")"})
    r = client.post(f"/l/{token}/upload", files={"file": ("a.xlsx", bad)})
    assert r.status_code == 422
    text = r.text
    assert "进展填报 第3行 G列（状态）：状态“差不多”不在下拉列表中" in text
    assert "进展填报 第4行 H列（完成进度(%)）：完成进度须为0到100的整数" in text
    assert "进展填报 第5行 H列（完成进度(%)）：数字以文本形式存储" in text
    assert "进展填报 第6行 A列（请求编号）：未知的请求编号 999999" in text
    assert "进展填报 第7行 A列（请求编号）：该行属于其他单位" in text
    assert "进展填报 第8行 I（工作进展）列" not in text
    assert "进展填报 第8行 I列（工作进展）：不接受公式" in text
    with db() as s:
        assert s.scalar(select(func.count()).select_from(ProgressReport)) == 0
    r = client.post(f"/l/{token}/upload", files={"file": ("a.xlsx", b"not excel")})
    assert r.status_code == 422 and "不是有效的 Excel" in r.text


def test_control_characters_typed_are_removed_not_a_500(site, db):
    """A NUL (PostgreSQL refuses it in text), an escape sequence and CR-LF line ends typed
    into an answer are stored as the text a person sees."""
    client, settings, clock = site
    token = token_for(settings, liaison_of(db, "市残联"), at("2017-03-17"))
    rid = _request_of(db, "市残联", "2.2.4")
    r = client.post(f"/l/{token}/requests/{rid}", data={
        "action": "submit", "status": "in_progress", "percent": "30",
        "narrative": "第一段\x00\r\n\x1b[31m第二段\u2028", "problems": "\x07", "next_steps": "继续"})
    assert r.status_code == 303
    with db() as s:
        stored = s.execute(select(ProgressReport.narrative, ProgressReport.problems)
                           .where(ProgressReport.request_id == rid)).one()
    assert tuple(stored) == ("第一段\n[31m第二段", "")
