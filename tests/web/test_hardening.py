"""Regressions from an adversarial review of the liaison pages and the Excel import."""

from __future__ import annotations

import io
import re
import zipfile

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.conftest import at
from tests.web_helpers import Clock, liaison_of, make_app, make_settings, token_for
from tracker.db import transaction
from tracker.models import Evidence, ProgressReport, ProgressRequest
from tracker.requests.opening import open_due_requests
from tracker.web.deps import app_context


@pytest.fixture
def site(db, db_url, plan, policy, tmp_path):  # type: ignore[no-untyped-def]
    with transaction(db) as s:
        open_due_requests(s, plan, at("2017-12-18"), policy)  # Q4 and the indicator values
    clock = Clock(at("2017-12-20", 10))
    settings = make_settings(tmp_path, db_url)
    client = TestClient(make_app(db, settings, clock), follow_redirects=False)
    token = token_for(settings, liaison_of(db, "市残联"), at("2017-12-18"))
    return client, token


def _ids(db):  # type: ignore[no-untyped-def]
    from tracker.models import Agency
    with db() as s:
        agency = s.scalar(select(Agency.id).where(Agency.name == "市残联"))
        measure = s.scalar(select(ProgressRequest.id).where(
            ProgressRequest.agency_id == agency, ProgressRequest.assignment_id.is_not(None)))
        indicator = s.scalar(select(ProgressRequest.id).where(
            ProgressRequest.agency_id == agency, ProgressRequest.indicator_id.is_not(None)))
    return measure, indicator


def _count(db) -> int:  # type: ignore[no-untyped-def]
    with db() as s:
        return s.scalar(select(func.count()).select_from(ProgressReport))


def test_non_finite_indicator_values_are_refused(site, db):
    client, token = site
    measure, indicator = _ids(db)
    for value in ("inf", "-inf", "nan", "1e308"):
        r = client.post(f"/l/{token}/requests/{indicator}", data={
            "action": "submit", "status": "completed", "percent": "100", "value": value})
        assert r.status_code == 422 and "指标数值须为有效数字" in r.text, value
    client.post(f"/l/{token}/requests/{measure}", data={
        "action": "submit", "status": "in_progress", "percent": "10", "value": "5"})
    with db() as s:
        assert s.scalars(select(ProgressReport.value)).all() == [None]  # not an indicator


def test_framework_errors_are_chinese_pages_with_headers(site, db):
    client, token = site
    for path in (f"/l/{token}/requests/99999999999999999999999/history",
                 f"/l/{token}/requests/abc/history", f"/l/{token}/evidence/9223372036854775808"):
        r = client.get(path)
        assert r.status_code == 404 and "没有找到" in r.text, path
        assert r.headers["content-security-policy"].startswith("default-src 'self'")
    r = client.put(f"/l/{token}")
    assert r.status_code == 405 and "不支持的操作" in r.text and "Method" not in r.text
    assert client.get(f"/l/{token}").headers["cache-control"] == "no-store"
    # no redirect built from the Host header: it would carry the token to that host
    for path in (f"/l/{token}/", "/desk/queues/"):
        r = client.get(path, headers={"Host": "evil.example"}, follow_redirects=False)
        assert r.status_code == 404 and "location" not in r.headers, path


def test_link_issued_in_the_future_is_refused(site, db):
    client, _ = site
    future = token_for(app_context(client.app).settings, liaison_of(db, "市残联"), at("2030-10-01"))
    assert client.get(f"/l/{future}").status_code == 403


def test_extension_date_is_bounded(site, db):
    client, token = site
    measure, _ = _ids(db)
    r = client.post(f"/l/{token}/requests/{measure}/extension",
                    data={"new_due_on": "9999-12-31", "reason": "x"})
    assert r.status_code == 422 and "不能超过" in r.text


def test_filenames_lose_bidi_controls(site, db):
    client, token = site
    measure, _ = _ids(db)
    r = client.post(f"/l/{token}/requests/{measure}/evidence",
                    files={"file": ("\u202egnp.pdf", b"%PDF-1.4 x", "application/pdf")})
    assert r.status_code == 303
    with db() as s:
        assert s.scalars(select(Evidence.filename)).one() == "gnp.pdf"
    assert "字节" in client.get(f"/l/{token}/requests/{measure}").text


def _template(client, token) -> openpyxl.Workbook:  # type: ignore[no-untyped-def]
    return openpyxl.load_workbook(io.BytesIO(client.get(f"/l/{token}/template.xlsx").content))


def _bytes(book) -> bytes:  # type: ignore[no-untyped-def]
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_stray_far_cell_is_refused_fast(site, db):
    client, token = site
    book = _template(client, token)
    book["进展填报"].cell(1048576, 13).value = "x"
    r = client.post(f"/l/{token}/upload", files={"file": ("a.xlsx", _bytes(book))})
    assert r.status_code == 422 and "行数过多" in r.text
    assert _count(db) == 0


def test_sheet_rows_checked_together(site, db):
    client, token = site
    book = _template(client, token)
    sheet = book["进展填报"]
    first = sheet.cell(2, 1).value
    sheet.cell(2, 7, "推进中")
    sheet.cell(2, 8, 10)
    sheet.cell(3, 1, first)  # the same request twice
    sheet.cell(3, 7, "推进中")
    sheet.cell(3, 8, 20)
    sheet.cell(4, 8, 30)  # a percent without a status
    sheet.cell(5, 7, "已完成")
    sheet.cell(5, 8, 99)  # completed must be 100: the percent column is named
    r = client.post(f"/l/{token}/upload", files={"file": ("a.xlsx", _bytes(book))})
    text = r.text
    assert r.status_code == 422
    assert "第3行 A列（请求编号）：同一请求编号在第2行已出现" in text
    assert "第4行 G列（状态）：填写了完成进度或指标数值但未选择状态" in text
    assert "第5行 H列（完成进度(%)）：状态为已完成时，完成进度须为 100" in text
    assert _count(db) == 0


def _patch_cell(data: bytes, old: str, new: str) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            content = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                content = content.replace(old.encode(), new.encode(), 1)
            dst.writestr(item, content)
    return out.getvalue()


def test_crafted_cells_get_row_errors_not_crashes(site, db):
    client, token = site
    book = _template(client, token)
    book["进展填报"].cell(2, 7, "推进中")
    book["进展填报"].cell(2, 8, 12345)
    data = _patch_cell(_bytes(book), "<v>12345</v>", "<v>1e400</v>")
    r = client.post(f"/l/{token}/upload", files={"file": ("a.xlsx", data)})
    assert r.status_code == 422 and "第2行 H列（完成进度(%)）" in r.text
    broken = _patch_cell(_bytes(book), "<sheetData>", "<!DOCTYPE x [<!ENTITY a 'b'>]><sheetData>")
    r = client.post(f"/l/{token}/upload", files={"file": ("a.xlsx", broken)})
    assert r.status_code == 422 and "不是有效的 Excel" in r.text
    assert not re.search(r"Error|Traceback|archive", r.text)
    assert _count(db) == 0


def test_oversized_body_refused_before_reading(site):
    client, token = site
    r = client.post(f"/l/{token}/upload", content=b"x" * 10,
                    headers={"content-length": str(26 * 1024 * 1024),
                             "content-type": "application/octet-stream"})
    assert r.status_code == 413 and "25 MB" in r.text


@pytest.mark.sqlite_only
def test_every_cookie_is_secure_behind_https(db, db_url, tmp_path):
    """With TRACKER_BASE_URL on https, the sign-in form's cookie is Secure too, not only
    the session's (issue 10, item 8)."""
    from fastapi.testclient import TestClient

    from tests.conftest import at
    from tests.web_helpers import Clock, make_app, make_settings

    settings = make_settings(tmp_path, db_url, base_url="https://ducha.example.gov.cn")
    client = TestClient(make_app(db, settings, Clock(at("2017-03-20"))))
    cookie = client.get("/login").headers["set-cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie
    plain = TestClient(make_app(db, make_settings(tmp_path, db_url), Clock(at("2017-03-20"))))
    assert "Secure" not in plain.get("/login").headers["set-cookie"]


@pytest.mark.sqlite_only
def test_a_chunked_body_is_cut_off_at_the_limit(db, db_url, plan, tmp_path):
    """A chunked upload (no Content-Length) to a real server: refused with 413 once the
    body passes 25 MB, long before the 100 MB the client would send."""
    import socket
    import threading

    from tests.browser import ServerThread
    from tests.conftest import at
    from tests.smtp_server import free_port
    from tracker.web.pages import MAX_BODY

    settings = make_settings(tmp_path, db_url)
    token = token_for(settings, liaison_of(db, "市残联"), at("2017-12-18"))
    port = free_port()
    server = ServerThread(make_app(db, settings, Clock(at("2017-12-18"))), port)
    server.start()
    sent = 0
    chunk = b"x" * (1024 * 1024)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall((f"POST /l/{token}/upload HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          "Content-Type: multipart/form-data; boundary=XyZ\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n").encode())
            head = (b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.xlsx\"\r\n"
                    b"Content-Type: application/octet-stream\r\n\r\n")
            sock.sendall(b"%x\r\n" % len(head) + head + b"\r\n")
            answer = b""
            answered_after: list[int] = []

            def read() -> None:  # the answer, and how much had been sent when it came
                nonlocal answer
                try:
                    while b"\r\n\r\n" not in answer:
                        part = sock.recv(65536)
                        if not part:
                            break
                        if not answer:
                            answered_after.append(sent)
                        answer += part
                except OSError:
                    pass

            reader = threading.Thread(target=read)
            reader.start()
            try:
                while sent < 100 * 1024 * 1024 and not answered_after:
                    sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
                    sent += len(chunk)
            except OSError:
                pass  # the server closed the connection after answering
            reader.join(timeout=30)
    finally:
        server.stop()
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    # answered once the body passed the limit (plus what the sockets' buffers hold)
    assert answered_after and answered_after[0] <= MAX_BODY + 8 * 1024 * 1024


@pytest.mark.sqlite_only
def test_a_post_nobody_may_send_is_refused_before_its_body_is_read(db, db_url, plan, tmp_path):
    """A 100 MB chunked upload to a forged or expired link, or to the desk without a
    session, is answered 403/410/401 from the link or cookie alone (not 413 at the 25 MB
    body limit): the server closes the connection, so the client gets to send only what
    the sockets' buffers hold. Counted by the generator that feeds the body. To a good
    link, it is refused with 413 at the limit and the connection closed there too."""
    import httpx

    from tests.browser import ServerThread
    from tests.smtp_server import free_port
    from tracker.web.pages import MAX_BODY

    settings = make_settings(tmp_path, db_url)
    liaison = liaison_of(db, "市残联")
    good = token_for(settings, liaison, at("2017-12-18"))
    forged = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    expired = token_for(settings, liaison, at("2017-10-01"))  # 30 days are up on 12-18
    port = free_port()
    server = ServerThread(make_app(db, settings, Clock(at("2017-12-18"))), port)
    server.start()
    head = (b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.xlsx\"\r\n"
            b"Content-Type: application/octet-stream\r\n\r\n")
    outcomes = []
    titles: list[str] = []
    try:
        for path in (f"/l/{forged}/upload", f"/l/{expired}/upload",
                     f"/l/{forged}/requests/1/evidence", "/desk/meetings", f"/l/{good}/upload"):
            yielded = 0

            def body():  # type: ignore[no-untyped-def]
                nonlocal yielded
                yielded += len(head)
                yield head
                chunk = b"x" * 65536
                while yielded < 100 * 1024 * 1024:
                    yielded += len(chunk)
                    yield chunk

            r = httpx.post(f"http://127.0.0.1:{port}{path}", content=body(), timeout=60,
                           headers={"Content-Type": "multipart/form-data; boundary=XyZ",
                                    "Cookie": "tracker_session=made-up"})
            outcomes.append((r.status_code, r.headers.get("connection"), yielded))
            titles.append(re.search(r"<h1[^>]*>([^<]+)</h1>", r.text).group(1))  # type: ignore[union-attr]
            assert r.headers["content-security-policy"].startswith("default-src 'self'")
    finally:
        server.stop()
    assert [(code, conn) for code, conn, _ in outcomes] == [
        (403, "close"), (410, "close"), (403, "close"), (401, "close"), (413, "close")]
    assert titles == ["链接无效", "链接已过期", "链接无效", "请重新登录", "文件过大"]
    assert all(y < MAX_BODY // 2 for _, _, y in outcomes[:4]), outcomes
    # a good link's upload is read up to the limit, then cut off: the rest is never sent
    assert outcomes[4][2] < MAX_BODY + 8 * 1024 * 1024, outcomes


def _big_xls(template: bytes, folder) -> bytes:  # type: ignore[no-untyped-def]
    """A hostile legacy .xls: the template with 300 rows of unknown requests and long text,
    written by LibreOffice."""
    import subprocess

    book = openpyxl.load_workbook(io.BytesIO(template))
    ws = book["进展填报"]
    for r in range(2, 302):
        ws.cell(r, 1, 900000 + r)
        ws.cell(r, 7, "推进中")
        ws.cell(r, 8, 50)
        ws.cell(r, 9, f"第{r}行" + "工作进展" * 100)
    (folder / "big.xlsx").write_bytes(_bytes(book))
    subprocess.run(["soffice", "--headless", "--norestore",
                    f"-env:UserInstallation={(folder / 'profile').as_uri()}",
                    "--convert-to", "xls", "--outdir", str(folder / "xls"),
                    str(folder / "big.xlsx")], check=True, capture_output=True, timeout=120)
    return (folder / "xls" / "big.xls").read_bytes()


@pytest.mark.sqlite_only
def test_other_pages_answer_within_a_second_while_an_upload_is_read(db, db_url, overdue,
                                                                    tmp_path):
    """A real server on a real SQLite file: while one liaison's 300-row .xls is converted
    by a slow LibreOffice (the real one, started 3 s late: a loaded machine, a big file)
    and read, another agency's liaison page and the desk board each answer in under a
    second, because the upload holds no transaction (and so not SQLite's write lock) until
    the file is parsed. The upload is then refused whole. (Before, every page waited for
    the whole conversion and parse.)"""
    import shutil
    import threading
    import time

    import httpx

    from tests.browser import ServerThread
    from tests.conftest import STAFF_PASSWORD
    from tests.smtp_server import free_port

    slow = tmp_path / "slow-soffice"
    slow.write_text(f"#!/bin/sh\nsleep 3\nexec {shutil.which('soffice')} \"$@\"\n")
    slow.chmod(0o755)
    settings = make_settings(tmp_path, db_url).model_copy(update={"soffice": str(slow)})
    clock = Clock(at("2017-04-12", 10))
    app = make_app(db, settings, clock)
    own = token_for(settings, liaison_of(db, "市残联"), at("2017-04-12"))
    other = token_for(settings, liaison_of(db, "市教委"), at("2017-04-12"))
    before = _count(db)
    port = free_port()
    server = ServerThread(app, port)
    server.start()
    base = f"http://127.0.0.1:{port}"
    try:
        template = httpx.get(f"{base}/l/{own}/template.xlsx", timeout=30).content
        hostile = _big_xls(template, tmp_path)
        assert hostile.startswith(b"\xd0\xcf\x11\xe0") and len(hostile) < 5 * 1024 * 1024
        office = httpx.Client(base_url=base, timeout=30)
        page = office.get("/login")
        nonce = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        assert office.post("/login", data={"username": "duchashi", "password": STAFF_PASSWORD,
                                           "csrf": nonce, "next": "/desk"}).status_code == 303
        answer: list[httpx.Response] = []
        upload = threading.Thread(target=lambda: answer.append(httpx.post(
            f"{base}/l/{own}/upload", files={"file": ("填报.xls", hostile)}, timeout=120)))
        upload.start()
        timings: list[tuple[str, int, float]] = []
        while upload.is_alive():
            for name, get in (("liaison", lambda: httpx.get(f"{base}/l/{other}", timeout=30)),
                              ("desk", lambda: office.get("/desk"))):
                started = time.perf_counter()
                r = get()
                timings.append((name, r.status_code, time.perf_counter() - started))
        upload.join()
    finally:
        server.stop()
    assert answer[0].status_code == 422
    assert "进展填报 第2行 A列（请求编号）：未知的请求编号 900002" in answer[0].text
    assert _count(db) == before  # nothing of the upload recorded
    assert {name for name, _, _ in timings} == {"liaison", "desk"} and len(timings) >= 4
    assert all(code == 200 for _, code, _ in timings)
    assert max(seconds for _, _, seconds in timings) < 1.0, timings


@pytest.mark.sqlite_only
def test_a_legacy_sheet_without_libreoffice_is_refused_on_the_page(db, db_url, plan, policy,
                                                                    tmp_path):
    """TRACKER_SOFFICE= (no LibreOffice): the liaison's page says to save as .xlsx, and the
    same file is recorded once a server has LibreOffice."""
    import subprocess

    with transaction(db) as s:
        open_due_requests(s, plan, at("2017-12-18"), policy)
    settings = make_settings(tmp_path, db_url)
    token = token_for(settings, liaison_of(db, "市残联"), at("2017-12-18"))
    without = TestClient(make_app(db, settings.model_copy(update={"soffice": ""}),
                                  Clock(at("2017-12-20", 10))), follow_redirects=False)
    book = _template(without, token)
    book["进展填报"].cell(2, 7, "推进中")
    book["进展填报"].cell(2, 8, 10)
    (tmp_path / "a.xlsx").write_bytes(_bytes(book))
    subprocess.run(["soffice", "--headless", "--norestore",
                    f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}",
                    "--convert-to", "xls", "--outdir", str(tmp_path), str(tmp_path / "a.xlsx")],
                   check=True, capture_output=True, timeout=120)
    xls = (tmp_path / "a.xls").read_bytes()
    r = without.post(f"/l/{token}/upload", files={"file": ("填报.xls", xls)})
    assert r.status_code == 422
    assert ("文件：这是旧版 Excel（.xls）或 WPS 表格（.et）格式的文件，本系统无法直接读取；"
            "请在 Excel/WPS 中另存为 .xlsx（Excel 工作簿）后再上传") in r.text
    assert _count(db) == 0
    with_lo = TestClient(make_app(db, settings, Clock(at("2017-12-20", 10))), follow_redirects=False)
    r = with_lo.post(f"/l/{token}/upload", files={"file": ("填报.xls", xls)})
    assert r.status_code == 303 and re.search(r"\?m=uploaded&r=\d+$", r.headers["location"])
    assert _count(db) == 1
