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
from tracker.enums import ChannelKind
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
    # the refusal leads back to the liaison's own list, not to the staff's home page
    assert f'<a href="/l/{fresh}">返回事项列表</a>' in client.get(
        f"/l/{fresh}/requests/{other}").text
    assert "返回事项列表" not in client.get(f"/l/{forged}/requests/{other}").text
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
    # an unknown id answers as another agency's does: ids of others' files are not revealed
    assert client.get(f"/l/{token}/evidence/{ev.id + 1000}").status_code == 403
    # a second upload of the same file while another writer's temporary file is there (two
    # uploads at once: each writes under a name of its own)
    data = b"%PDF-1.4 twice"
    digest = __import__("hashlib").sha256(data).hexdigest()
    busy = settings.home / "evidence" / digest[:2] / f"{digest}.tmp"
    busy.mkdir(parents=True)
    r = client.post(f"/l/{token}/requests/{rid}/evidence",
                    files={"file": ("\u202egnp.exe\u200b\x85二.pdf", data, "application/pdf")})
    assert r.status_code == 303
    with db() as s:
        assert s.scalars(select(Evidence.filename).where(Evidence.sha256 == digest)).one() == (
            "gnp.exe二.pdf")
    assert client.get(f"/l/{token}/evidence/{ev.id + 1}").content == data


def test_extension_moves_due_day_and_ladder(site, db, plan, policy):
    client, settings, clock = site
    token = token_for(settings, liaison_of(db, "市残联"), at("2017-03-17"))
    rid = _request_of(db, "市残联", "2.2.4")
    r = client.post(f"/l/{token}/requests/{rid}/extension",
                    data={"new_due_on": "2017-04-05", "reason": "x"})
    assert r.status_code == 422 and f'<a href="#r{rid}-due">申请的新截止日期须晚于现截止日期</a>' in r.text
    assert 'value="2017-04-05" aria-describedby=' in r.text and "<details class=\"extension\" open>" in r.text
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


# Issue 10, item 1: the list, one page per item, errors, evidence within the answer ------


def test_landing_page_lists_items_compactly_grouped_with_due_light_and_state(site, db):
    client, settings, clock = site
    token = token_for(settings, liaison_of(db, "市残联"), at("2017-03-17"))
    rid = _request_of(db, "市残联", "2.2.4")
    with db() as s:
        n = s.scalar(select(func.count()).select_from(ProgressRequest)
                     .where(ProgressRequest.agency_id == liaison_of(db, "市残联").agency_id))
    page = client.get(f"/l/{token}").text
    assert page.count("<h2 id=\"g") == 1  # one plan, one period
    assert "《天津市加快推进残疾人小康进程规划纲要》2017年第一季度" in page or "2017年第一季度</h2>" in page
    assert page.count(f'<a href="/l/{token}/requests/') == n
    assert "<form" in page and page.count("<form") == 1  # only the Excel upload
    row = re.search(rf'<a href="/l/{re.escape(token)}/requests/{rid}">.*?</tr>', page, re.S)
    assert row is not None
    assert '<span class="nowrap">2017-04-10</span>' in row.group(0)
    assert '<span class="light light-green">正常</span>' in row.group(0)
    assert '<td class="state" data-label="状态">待报送</td>' in row.group(0)
    assert f"待报送 <strong>{n}</strong> 项" in page
    # 2 working days before the due day: yellow; after it: red and marked overdue
    clock.now = at("2017-04-06", 10)
    page = client.get(f"/l/{token}").text
    assert page.count('<span class="light light-yellow">临近截止</span>') == n
    assert "临近截止或逾期报送" not in page
    assert (f'<p class="group-counts">共 {n} 项：待报送 {n} 项（其中已退回 0 项，已逾期 0 项），'
            '已报送 0 项</p>') in page
    clock.now = at("2017-04-11", 10)
    page = client.get(f"/l/{token}").text
    assert f'<strong class="overdue">{n} 项已逾期</strong>' in page
    assert page.count('<tr class="is-overdue">') == n
    assert '<span class="light light-red">已逾期</span>' in page
    # answered after the due day: yellow again, but it now says why (issue 10, liaison2 5)
    assert client.post(f"/l/{token}/requests/{rid}", data={
        "action": "submit", "status": "in_progress", "percent": "40"}).status_code == 303
    page = client.get(f"/l/{token}").text
    row = re.search(rf'<a href="/l/{re.escape(token)}/requests/{rid}">.*?</tr>', page, re.S)
    assert '<span class="light light-yellow">逾期报送</span>' in row.group(0)
    assert (f'<p class="group-counts">共 {n} 项：待报送 {n - 1} 项（其中已退回 0 项，'
            f'已逾期 {n - 1} 项），已报送 1 项</p>') in page


def test_refused_submit_returns_the_item_page_with_a_summary_linking_each_field(site, db):
    client, settings, _ = site
    token = token_for(settings, liaison_of(db, "市残联"), at("2017-03-17"))
    rid = _request_of(db, "市残联", "2.2.4")
    r = client.post(f"/l/{token}/requests/{rid}", data={
        "action": "submit", "status": "", "percent": "120", "narrative": "进展<b>顺利</b>",
        "problems": "资金未到位"})
    assert r.status_code == 422
    page = r.text
    summary = re.search(r'<div class="error-summary" role="alert".*?</div>', page, re.S).group(0)
    assert 'id="error-summary"' in summary and 'tabindex="-1"' in summary
    assert re.findall(r'<a href="#([^"]+)">([^<]+)</a>', summary) == [
        (f"r{rid}-status", "请选择状态。"), (f"r{rid}-percent", "完成进度须为 0 到 100 的整数。")]
    assert page.index("error-summary") < page.index("<h1")  # at the top
    assert (f'<select id="r{rid}-status" name="status" required aria-describedby='
            f'"r{rid}-status-error" aria-invalid="true">') in page
    assert f'<p class="field-error" id="r{rid}-percent-error">' in page
    assert 'value="120" aria-describedby=' in page  # typed values kept
    assert "进展&lt;b&gt;顺利&lt;/b&gt;</textarea>" in page and "资金未到位</textarea>" in page
    assert "<title>错误：2.2.4" in page
    with db() as s:
        assert s.scalar(select(func.count()).select_from(ProgressReport)) == 0
        assert s.get_one(ProgressRequest, rid).state == "open"


def test_evidence_goes_with_the_answer_and_upload_alone_keeps_the_typed_draft(site, db):
    client, settings, _ = site
    token = token_for(settings, liaison_of(db, "市残联"), at("2017-03-17"))
    rid = _request_of(db, "市残联", "2.2.4")
    typed = {"status": "in_progress", "percent": "35", "narrative": "已完成需求调研"}
    # upload only: the typed answer becomes a draft first, then the file is stored
    r = client.post(f"/l/{token}/requests/{rid}", data={**typed, "action": "upload"},
                    files={"file": ("调研报告.pdf", b"%PDF-1.4 one", "application/pdf")})
    assert r.status_code == 303 and r.headers["location"].endswith(f"/requests/{rid}?m=evidence-draft")
    page = client.get(r.headers["location"]).text
    assert "页面上填写的内容已保存为草稿" in page and "已载入您保存的草稿" in page
    assert "已完成需求调研</textarea>" in page and 'value="35"' in page
    assert '<option value="in_progress" selected>' in page and "调研报告.pdf" in page
    # upload with no file chosen: refused beside the file field, typed values kept
    r = client.post(f"/l/{token}/requests/{rid}", data={**typed, "percent": "36", "action": "upload"},
                    files={"file": ("", b"")})
    assert r.status_code == 422 and f'<a href="#r{rid}-file">请选择要上传的文件。</a>' in r.text
    assert 'value="36"' in r.text
    # a refused submit with a good file: the file and the typed answer are kept as a draft
    r = client.post(f"/l/{token}/requests/{rid}", data={**typed, "status": "completed",
                                                        "action": "submit"},
                    files={"file": ("照片.png", b"\x89PNG\r\n\x1a\nxx", "image/png")})
    assert r.status_code == 422 and "所选佐证材料“照片.png”已上传" in r.text
    assert f'<a href="#r{rid}-percent">状态为已完成时，完成进度须为 100。</a>' in r.text
    # submit with a file: both stored, the evidence belongs to the version submitted
    r = client.post(f"/l/{token}/requests/{rid}", data={**typed, "action": "submit"},
                    files={"file": ("验收单.pdf", b"%PDF-1.4 two", "application/pdf")})
    assert r.status_code == 303 and r.headers["location"].endswith("?m=submitted-evidence")
    with db() as s:
        report = s.scalars(select(ProgressReport)).one()
        files = s.execute(select(Evidence.filename, Evidence.report_id).order_by(Evidence.id)).all()
    assert (report.percent, report.narrative) == (35, "已完成需求调研")
    assert files == [("调研报告.pdf", report.id), ("照片.png", report.id), ("验收单.pdf", report.id)]
    # a file that is not what it says: refused beside the file field, nothing written
    r = client.post(f"/l/{token}/requests/{rid}", data={**typed, "action": "save"},
                    files={"file": ("x.pdf", b"<html>", "application/pdf")})
    assert r.status_code == 422 and f'<a href="#r{rid}-file">文件内容与扩展名 .pdf 不符</a>' in r.text
    with db() as s:
        assert s.scalar(select(func.count()).select_from(Evidence)) == 3


def test_prefill_only_from_the_previous_period(site, db, plan, policy):
    """Q1 is never pre-filled from Q3; Q3 is not pre-filled from Q1 when Q2 went unanswered."""
    client, settings, clock = site
    with transaction(db) as s:
        open_due_requests(s, plan, at("2017-06-16"), policy)
        open_due_requests(s, plan, at("2017-09-25"), policy)
    q1 = _request_of_period(db, "市残联", "2.2.4", "2017Q1")
    q3 = _request_of_period(db, "市残联", "2.2.4", "2017Q3")
    clock.now = at("2017-09-26", 10)
    token = token_for(settings, liaison_of(db, "市残联"), at("2017-09-25"))
    for rid, text in ((q3, "三季度进展"), (q1, "一季度进展")):
        r = client.post(f"/l/{token}/requests/{rid}", data={
            "action": "submit", "status": "in_progress", "percent": "30", "narrative": text})
        assert r.status_code == 303
    q2 = _request_of_period(db, "市残联", "2.2.4", "2017Q2")
    page = client.get(f"/l/{token}/requests/{q2}").text
    assert "已按2017年第一季度报送内容预填" in page and "一季度进展</textarea>" in page
    with transaction(db) as s:
        open_due_requests(s, plan, at("2017-12-25"), policy)
    q4 = _request_of_period(db, "市残联", "2.2.4", "2017Q4")
    clock.now = at("2017-12-26", 10)
    token = token_for(settings, liaison_of(db, "市残联"), at("2017-12-25"))
    page = client.get(f"/l/{token}/requests/{q4}").text
    assert "已按2017年第三季度报送内容预填" in page and "三季度进展</textarea>" in page


def _request_of_period(db, agency: str, code: str, period: str) -> int:  # type: ignore[no-untyped-def]
    from tracker.models import Agency, Assignment, ReportingPeriod

    with db() as s:
        return s.scalars(select(ProgressRequest.id)
                         .join(Assignment, Assignment.id == ProgressRequest.assignment_id)
                         .join(Measure, Measure.id == Assignment.measure_id)
                         .join(Agency, Agency.id == ProgressRequest.agency_id)
                         .join(ReportingPeriod, ReportingPeriod.id == ProgressRequest.period_id)
                         .where(Agency.name == agency, Measure.code == code,
                                ReportingPeriod.label == period)).one()


def test_lead_consolidates_from_its_item_page(site, db):
    client, settings, _ = site
    lead = _request_of(db, "市残联", "2.2.4")  # 市残联 leads 2.2.4
    with db() as s:
        from tracker.models import Agency, Assignment
        peers = s.execute(select(ProgressRequest.id, Agency.name)
                          .join(Assignment, Assignment.id == ProgressRequest.assignment_id)
                          .join(Agency, Agency.id == ProgressRequest.agency_id)
                          .where(Assignment.measure_id == s.get_one(Assignment, s.get_one(
                              ProgressRequest, lead).assignment_id).measure_id,
                                 ProgressRequest.id != lead)
                          .order_by(Assignment.position)).all()
    (first, first_name), (second, second_name) = peers[0], peers[1]
    for (rid, name), percent in (((first, first_name), "70"), ((second, second_name), "40")):
        token = token_for(settings, liaison_of(db, name), at("2017-03-17"))
        client.post(f"/l/{token}/requests/{rid}", data={
            "action": "submit", "status": "in_progress", "percent": percent,
            "narrative": f"{name}的进展"})
    token = token_for(settings, liaison_of(db, "市残联"), at("2017-03-17"))
    page = client.get(f"/l/{token}/requests/{lead}").text
    assert "汇总配合单位和各区报送</button>" in page
    r = client.post(f"/l/{token}/requests/{lead}/consolidate")
    assert r.status_code == 303 and r.headers["location"].endswith("?m=consolidated")
    page = client.get(r.headers["location"]).text
    assert "并保存为本单位的草稿（尚未提交）" in page and "已载入您保存的草稿" in page
    assert f"{first_name}：{first_name}的进展\n{second_name}：{second_name}的进展</textarea>" in page
    assert 'value="40"' in page
    # a co-agency's page has no such button, and posting is refused on its page
    token = token_for(settings, liaison_of(db, first_name), at("2017-03-17"))
    assert "汇总配合单位和各区报送" not in client.get(f"/l/{token}/requests/{first}").text
    r = client.post(f"/l/{token}/requests/{first}/consolidate")
    assert r.status_code == 422 and "只有牵头单位可以汇总" in r.text


# Expired and revoked links: a new link by email ------------------------------------------


def test_expired_link_offers_a_new_link_once_an_hour_to_the_address_on_file(site, db, tmp_path):
    from tracker.models import OutboxMessage

    client, settings, clock = site
    liaison = liaison_of(db, "市残联")
    token = token_for(settings, liaison, at("2017-03-17"))
    clock.now = at("2017-04-17", 10)  # 31 days later
    page = client.get(f"/l/{token}")
    assert page.status_code == 410 and "链接已过期" in page.text
    assert f'<form method="post" action="/l/{token}/new-link"' in page.text
    assert "向登记邮箱发送新链接</button>" in page.text and "如有疑问，请联系本级政府督查室。" in page.text
    masked = "a" + "***@" + liaison.email.split("@")[1]
    r = client.post(f"/l/{token}/new-link")
    assert r.status_code == 200 and f"新链接已发送至 {masked}。" in r.text
    r = client.post(f"/l/{token}/new-link")  # pressed twice: sent once
    assert f"新链接已发送至 {masked}（60 分钟内只发送一次" in r.text
    clock.now = at("2017-04-17", 10, 59)
    client.post(f"/l/{token}/new-link")
    with db() as s:
        rows = s.execute(select(OutboxMessage.kind, OutboxMessage.address, OutboxMessage.contact_id,
                                OutboxMessage.key)
                         .where(OutboxMessage.kind == "new_link")).all()
    assert [tuple(r) for r in rows] == [("new_link", liaison.email, liaison.id,
                                         f"newlink:{liaison.id}:0")]
    clock.now = at("2017-04-17", 11, 1)  # an hour on: one more
    client.post(f"/l/{token}/new-link")
    new_links = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == "new_link")
    with db() as s:
        assert s.scalar(new_links) == 2
    # a forged token learns nothing and sends nothing
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    r = client.post(f"/l/{forged}/new-link")
    assert r.status_code == 403 and "链接无效" in r.text and "***" not in r.text
    assert "new-link" not in client.get(f"/l/{forged}").text
    with db() as s:
        assert s.scalar(new_links) == 2


def test_revoked_link_of_an_active_liaison_may_ask_the_office_contact_is_shown(db, db_url, plan,
                                                                              policy, tmp_path):
    from tracker.directory.contacts import deactivate_contact

    clock = Clock(at("2017-03-20", 10))
    settings = make_settings(tmp_path, db_url).model_copy(update={
        "office_contact": "市政府督查室　电话：022-23456789　电子邮箱：dcs@tj.gov.cn"})
    client = TestClient(make_app(db, settings, clock), follow_redirects=False)
    liaison = liaison_of(db, "市残联")
    token = token_for(settings, liaison, at("2017-03-17"))
    with transaction(db) as s:
        revoke(s, liaison.id)
    page = client.get(f"/l/{token}")
    assert page.status_code == 403 and "链接已停用" in page.text and "new-link" in page.text
    assert "市政府督查室　电话：022-23456789　电子邮箱：dcs@tj.gov.cn" in page.text
    with transaction(db) as s:
        deactivate_contact(s, liaison.id)
    page = client.get(f"/l/{token}")
    assert page.status_code == 403 and "new-link" not in page.text and "022-23456789" in page.text
    r = client.post(f"/l/{token}/new-link")
    assert r.status_code == 403 and "已发送" not in r.text


def test_the_new_link_mail_carries_a_link_that_opens(site, db, policy):
    from flows.runtime import link_maker
    from notifications.channels import EmailChannel
    from notifications.dispatch import dispatch
    from tests import smtp_server

    client, settings, clock = site
    liaison = liaison_of(db, "市残联")
    token = token_for(settings, liaison, at("2017-03-17"))
    clock.now = at("2017-04-17", 10)
    client.post(f"/l/{token}/new-link")
    controller, recorder = smtp_server.start()
    try:
        dispatch(db, {ChannelKind.EMAIL: EmailChannel("127.0.0.1", controller.port,
                                                      "tracker@example.org")},
                 now=at("2017-04-17", 10, 5), calendar=policy.calendar,
                 link_for=link_maker(settings, at("2017-04-17", 10, 5)))
    finally:
        controller.stop()
    [mail] = [m for m in recorder.messages if liaison.email in m["To"]
              and m["Subject"] == "【新填报链接】规划纲要进展情况在线填报的新链接"]
    body = mail.get_content()
    assert "现将新的在线填报链接发送给您" in body
    link = re.search(r"http://testserver(/l/\S+)", body).group(1)
    assert client.get(link).status_code == 200


# Issue 10, what a new user found on the liaison's side ---------------------------------


def _summary_links(page: str) -> list[tuple[str, str]]:
    summary = re.search(r'<div class="error-summary" role="alert".*?</div>', page, re.S)
    assert summary is not None
    return re.findall(r'<a href="#([^"]+)">([^<]+)</a>', summary.group(0))


def test_every_fault_of_an_answer_is_reported_at_once_even_beside_a_refused_file(site, db):
    client, settings, _ = site
    token = token_for(settings, liaison_of(db, "市残联"), at("2017-03-17"))
    rid = _request_of(db, "市残联", "2.2.4")
    typed = {"action": "submit", "status": "delayed", "percent": "150", "narrative": ""}
    r = client.post(f"/l/{token}/requests/{rid}", data=typed)
    assert r.status_code == 422
    assert _summary_links(r.text) == [
        (f"r{rid}-percent", "完成进度须为 0 到 100 的整数。"),
        (f"r{rid}-narrative", "状态为滞后或受阻时，须填写工作进展。")]
    assert "请修改以下 2 处问题" in r.text
    r = client.post(f"/l/{token}/requests/{rid}", data=typed,
                    files={"file": ("setup.exe", b"MZ\x90\x00", "application/octet-stream")})
    assert r.status_code == 422
    links = _summary_links(r.text)
    assert [suffix for suffix, _ in links] == [f"r{rid}-file", f"r{rid}-percent", f"r{rid}-narrative"]
    assert links[0][1].startswith("不支持的文件类型 .exe")
    with db() as s:
        assert s.scalar(select(func.count()).select_from(ProgressReport)) == 0
        assert s.scalar(select(func.count()).select_from(Evidence)) == 0


def test_the_extension_form_reports_date_and_reason_at_once(site, db):
    client, settings, _ = site
    token = token_for(settings, liaison_of(db, "市残联"), at("2017-03-17"))
    rid = _request_of(db, "市残联", "2.2.4")
    r = client.post(f"/l/{token}/requests/{rid}/extension", data={"new_due_on": "", "reason": " "})
    assert r.status_code == 422
    assert _summary_links(r.text) == [(f"r{rid}-due", "请填写有效的新截止日期"),
                                      (f"r{rid}-reason", "请填写延期理由")]
    r = client.post(f"/l/{token}/requests/{rid}/extension",
                    data={"new_due_on": "2017-04-01", "reason": ""})
    assert _summary_links(r.text) == [(f"r{rid}-due", "申请的新截止日期须晚于现截止日期"),
                                      (f"r{rid}-reason", "请填写延期理由")]
    with db() as s:
        assert s.scalar(select(func.count()).select_from(ExtensionRequest)) == 0


def test_the_extension_decision_is_shown_and_one_grant_per_request(site, db, policy):
    client, settings, clock = site
    token = token_for(settings, liaison_of(db, "市残联"), at("2017-03-17"))
    granted, refused = _request_of(db, "市残联", "2.2.4"), _request_of(db, "市残联", "2.4.2")
    for rid in (granted, refused):
        assert client.post(f"/l/{token}/requests/{rid}/extension", data={
            "new_due_on": "2017-04-20", "reason": "需等待财政批复"}).status_code == 303
    page = client.get(f"/l/{token}/requests/{granted}").text
    assert "<li>申请延期至 2017-04-20：待督查室审批。</li>" in page and 'name="new_due_on"' not in page
    with transaction(db) as s:
        by_request = {e.request_id: e.id for e in s.scalars(select(ExtensionRequest))}
        decide_extension(s, by_request[granted], grant=True, note="同意，请按期报送",
                         decided_by="user:督查室", now=at("2017-03-22"), policy=policy)
        decide_extension(s, by_request[refused], grant=False, note="理由不充分",
                         decided_by="user:督查室", now=at("2017-03-22"), policy=policy)
    for day in ("2017-03-23", "2017-04-25"):  # before and after the due days alike
        clock.now = at(day, 10)
        token = token_for(settings, liaison_of(db, "市残联"), at(day))
        page = client.get(f"/l/{token}/requests/{granted}").text
        assert ("<li>申请延期至 2017-04-20：<strong>已批准</strong>。原截止日期 2017-04-10，"
                "新截止日期 2017-04-20。督查室意见：同意，请按期报送</li>") in page
        assert 'name="new_due_on"' not in page
        page = client.get(f"/l/{token}/requests/{refused}").text
        assert ("<li>申请延期至 2017-04-20：<strong>未批准</strong>。截止日期仍为 2017-04-10。"
                "督查室意见：理由不充分</li>") in page
    clock.now = at("2017-03-23", 10)
    token = token_for(settings, liaison_of(db, "市残联"), at("2017-03-17"))
    page = client.get(f"/l/{token}/requests/{granted}").text
    assert "本事项已批准过一次延期，不能再申请。" in page
    # a refused one may be asked again before its due day; a granted one may not
    assert 'name="new_due_on"' in client.get(f"/l/{token}/requests/{refused}").text
    r = client.post(f"/l/{token}/requests/{granted}/extension",
                    data={"new_due_on": "2017-04-28", "reason": "再延一周"})
    assert r.status_code == 422 and "本事项已批准过一次延期，不能再申请" in r.text
    with db() as s:
        assert s.scalar(select(func.count()).select_from(ExtensionRequest)) == 2


def _answered_then_returned(client, settings, db, policy, returned_at):  # type: ignore[no-untyped-def]
    """市残联's 2.8.2 answered on the page, then returned by the office at `returned_at`;
    (the liaison's token, the request id)."""
    from tracker.requests.review import return_report

    token = token_for(settings, liaison_of(db, "市残联"), at("2017-03-17"))
    rid = _request_of(db, "市残联", "2.8.2")
    assert client.post(f"/l/{token}/requests/{rid}", data={
        "action": "submit", "status": "in_progress", "percent": "20"}).status_code == 303
    with transaction(db) as s:
        report_id = s.scalar(select(ProgressReport.id).where(ProgressReport.request_id == rid))
        return_report(s, report_id, reviewer="user:督查室", comment="请补充资金到位情况",
                      now=returned_at, policy=policy)
    return token, rid


def test_a_returned_report_is_marked_listed_first_and_counted(site, db, policy):
    client, settings, clock = site
    token, rid = _answered_then_returned(client, settings, db, policy, at("2017-03-21"))
    with db() as s:
        n = s.scalar(select(func.count()).select_from(ProgressRequest)
                     .where(ProgressRequest.agency_id == liaison_of(db, "市残联").agency_id))
    page = client.get(f"/l/{token}").text
    first = re.search(r'<tbody>\s*<tr([^>]*)>.*?</tr>', page, re.S)
    assert first is not None and first.group(1) == ' class="is-returned"'
    assert f'/requests/{rid}"' in first.group(0)
    assert ('<td class="state" data-label="状态"><strong class="returned">已退回，请修改后重新报送'
            '</strong></td>') in first.group(0)
    assert (f'待报送 <strong>{n}</strong> 项，其中<strong class="returned">1 项已退回修改</strong>。'
            ) in page
    assert f"共 {n} 项：待报送 {n} 项（其中已退回 1 项，已逾期 0 项），已报送 0 项" in page
    page = client.get(f"/l/{token}/requests/{rid}").text
    assert "督查室退回了第 1 版：请补充资金到位情况" in page
    assert '<strong class="returned">已退回，请修改后重新报送</strong>' in page


def test_a_return_that_moves_the_due_day_claims_no_extension(site, db, policy):
    """Returned two days before the due day: it is due again 3 working days later, which
    the page says as such, not as a granted extension (none was asked)."""
    client, settings, _ = site
    token, rid = _answered_then_returned(client, settings, db, policy, at("2017-04-07"))
    page = client.get(f"/l/{token}/requests/{rid}").text
    assert "已批准延期" not in page
    assert "2017-04-12（退回修改后重新报送的期限；原截止日期 2017-04-10）" in page


def test_liaison_pages_name_the_period_in_words_never_its_code(site, db):
    client, settings, _ = site
    token = token_for(settings, liaison_of(db, "市残联"), at("2017-03-17"))
    rid = _request_of(db, "市残联", "2.2.4")
    assert client.post(f"/l/{token}/requests/{rid}", data={
        "action": "submit", "status": "in_progress", "percent": "20"}).status_code == 303
    for path in ("", f"/requests/{rid}", f"/requests/{rid}/history"):
        page = client.get(f"/l/{token}{path}").text
        assert "2017年第一季度" in page and "2017Q1" not in page, path


def test_the_sheet_leaves_status_empty_and_the_upload_names_what_it_recorded(site, db):
    client, settings, clock = site
    token = token_for(settings, liaison_of(db, "市残联"), at("2017-03-17"))
    rid = _request_of(db, "市残联", "2.2.4")
    assert client.post(f"/l/{token}/requests/{rid}", data={
        "action": "save", "status": "in_progress", "percent": "60",
        "narrative": "草稿里的进展"}).status_code == 303
    data = client.get(f"/l/{token}/template.xlsx").content
    sheet = openpyxl.load_workbook(io.BytesIO(data))["进展填报"]
    row = next(r for r in range(2, sheet.max_row + 1) if sheet.cell(r, 1).value == rid)
    assert [sheet.cell(row, c).value for c in (7, 8, 9)] == [None, None, "草稿里的进展"]
    meta = openpyxl.load_workbook(io.BytesIO(data))["说明"]
    assert "只有填写了状态的行才会报送" in " ".join(str(c.value) for c in meta["B"])
    # untouched: nothing is submitted
    r = client.post(f"/l/{token}/upload", files={"file": ("a.xlsx", data)})
    assert r.status_code == 303 and r.headers["location"].endswith("?m=uploaded-none")
    codes = [sheet.cell(r, 3).value for r in (2, 3, 4)]
    clock.now = at("2017-04-11", 10)  # after the due day: the answers are late
    filled = _fill(data, {(2, 7): "推进中", (2, 8): 40, (3, 7): "推进中", (3, 8): 50,
                          (4, 7): "已完成", (4, 8): 100})
    r = client.post(f"/l/{token}/upload", files={"file": ("a.xlsx", filled)})
    assert r.status_code == 303
    page = client.get(r.headers["location"]).text
    assert f'<p class="notice" role="status">已导入 3 项：{"、".join(codes)}（其中逾期 3 项）。</p>' in page
    with db() as s:
        assert s.scalar(select(func.count()).select_from(ProgressReport)) == 3
    # report ids typed into the address bar show nothing of another agency's
    other = token_for(settings, liaison_of(db, "市民政局"), at("2017-03-17"))
    assert "已导入" not in client.get(f"/l/{other}?m=uploaded&r=1,2,3,4,5").text
