"""The office's CLI twins: template and import, extensions, review, links."""

from __future__ import annotations

import io
import os

import openpyxl
from sqlalchemy import select
from typer.testing import CliRunner

from tests.conftest import at
from tracker.cli import app
from tracker.db import transaction
from tracker.models import Agency, ExtensionRequest, ProgressReport, ProgressRequest
from tracker.requests.extensions import ask_extension
from tracker.requests.opening import open_due_requests

run = CliRunner().invoke


def test_template_import_extension_review(db, db_url, plan, policy, tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKER_DATABASE_URL", db_url)
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    with transaction(db) as s:
        open_due_requests(s, plan, at("2017-03-17"), policy)
    sheet_path = tmp_path / "t.xlsx"
    r = run(app, ["template", "市残联", "-o", str(sheet_path), "--now", "2017-03-20T10:00"])
    assert r.exit_code == 0, r.output
    book = openpyxl.load_workbook(sheet_path)
    book["进展填报"].cell(2, 7, "推进中")
    book["进展填报"].cell(2, 8, "三十")
    buf = io.BytesIO()
    book.save(buf)
    sheet_path.write_bytes(buf.getvalue())
    r = run(app, ["import", "市残联", str(sheet_path), "--now", "2017-03-21T10:00"])
    assert r.exit_code == 2 and "第2行 H列（完成进度(%)）" in r.output
    book["进展填报"].cell(2, 8, 30)
    book.save(sheet_path)
    r = run(app, ["import", "市残联", str(sheet_path), "--now", "2017-03-21T10:00"])
    assert r.exit_code == 0 and "已记录 1 项报送：按时 1 项，逾期 0 项" in r.output
    with db() as s:
        report_id = s.scalar(select(ProgressReport.id))
        agency_id = s.scalar(select(Agency.id).where(Agency.name == "市残联"))
        rid = s.scalar(select(ProgressRequest.id).where(ProgressRequest.agency_id == agency_id,
                                                        ProgressRequest.state == "open"))
    r = run(app, ["review", "return", str(report_id), "请补充", "--now", "2017-03-22T10:00"])
    assert r.exit_code == 0, r.output
    with transaction(db) as s:
        import datetime as dt
        ask_extension(s, agency_id=agency_id, request_id=rid, new_due_on=dt.date(2017, 4, 28),
                      reason="等待审计结果", asked_by="t", now=at("2017-03-23"))
    r = run(app, ["extension", "list"])
    assert "等待审计结果" in r.output
    with db() as s:
        ext_id = s.scalar(select(ExtensionRequest.id))
    r = run(app, ["extension", "decide", str(ext_id), "grant", "--note", "同意"])
    assert r.exit_code == 0 and "granted" in r.output
    r = run(app, ["extension", "decide", str(ext_id), "refuse"])
    assert r.exit_code == 2 and "已处理过" in r.output
    r = run(app, ["liaison", "link", "市残联", "--now", "2017-03-20T10:00"])
    assert r.exit_code == 0 and "/l/" in r.output


def test_outbox_counts_and_retry_of_dead_letters(db, db_url, plan, policy, tmp_path, monkeypatch):
    """Messages failed for good (a refused address, before the setup was fixed) go back in
    the queue with `tracker outbox retry`; `tracker outbox` shows the counts by state."""
    from sqlalchemy import update

    from tracker.models import OutboxMessage

    monkeypatch.setenv("TRACKER_DATABASE_URL", db_url)
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    with transaction(db) as s:
        open_due_requests(s, plan, at("2017-03-17"), policy)
        s.execute(update(OutboxMessage).where(OutboxMessage.id.in_(
            select(OutboxMessage.id).order_by(OutboxMessage.id).limit(3).scalar_subquery()))
            .values(status="failed", attempts=8, last_error="收件地址被拒收"))
    r = run(app, ["outbox"])
    assert r.exit_code == 0 and "发送失败" in r.output and "795" in r.output
    r = run(app, ["outbox", "retry", "--now", "2017-03-18T09:00"])
    assert r.exit_code == 0 and "已重新排队 3 条" in r.output
    with db() as s:
        rows = s.execute(select(OutboxMessage.status, OutboxMessage.attempts)
                         .where(OutboxMessage.last_error == "收件地址被拒收")).all()
    assert rows == [("pending", 0)] * 3
    r = run(app, ["outbox", "retry", "99999999"])
    assert r.exit_code == 2 and "没有编号为 99999999 的通知" in r.output


def test_serve_on_a_taken_port_says_so_before_starting_anything(tmp_path, monkeypatch):
    import socket

    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = run(app, ["serve", "--port", str(port)])
    assert r.exit_code == 2
    assert f"无法在 127.0.0.1:{port} 上提供网页：端口已被其他程序占用，请用 --port 换一个端口" in r.output
    assert not (tmp_path / "prefect" / "api.json").exists()  # no local API was started


def test_a_worker_hands_its_env_file_and_absolute_paths_to_flow_runs(tmp_path, monkeypatch):
    """Flow runs of a process worker start in a temporary folder: the worker passes on the
    .env file's TRACKER_* lines and the data folder and database as absolute paths."""
    from tracker.cli.deploy import worker_environment
    from tracker.settings import Settings

    for key in [k for k in os.environ if k.startswith("TRACKER_")]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(
        "\ufeffTRACKER_ENV=production\nTRACKER_SMTP_FROM=督查室 <ducha@tj.gov.cn>\n"
        "TRACKER_SMTP_PORT=465\n", encoding="utf-8")
    monkeypatch.setenv("TRACKER_SMTP_PORT", "587")  # the environment wins, as for Settings
    env = worker_environment(Settings())
    assert env["TRACKER_ENV"] == "production" and env["TRACKER_SMTP_FROM"] == "督查室 <ducha@tj.gov.cn>"
    assert env["TRACKER_SMTP_PORT"] == "587"
    assert env["TRACKER_HOME"] == str(tmp_path / "var")
    assert env["TRACKER_DATABASE_URL"] == f"sqlite:///{tmp_path / 'var' / 'tracker.db'}"
    assert env["TRACKER_OUTBOX_DIR"] == str(tmp_path / "var" / "outbox")


def test_import_reads_a_sheet_saved_as_xls(db, db_url, plan, policy, tmp_path, monkeypatch):
    """`tracker import` converts an Excel 97-2003 file with LibreOffice, as the page does."""
    from tests.exchange.test_convert import _as_xls

    monkeypatch.setenv("TRACKER_DATABASE_URL", db_url)
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    with transaction(db) as s:
        open_due_requests(s, plan, at("2017-03-17"), policy)
    sheet_path = tmp_path / "t.xlsx"
    r = run(app, ["template", "市残联", "-o", str(sheet_path), "--now", "2017-03-20T10:00"])
    assert r.exit_code == 0, r.output
    book = openpyxl.load_workbook(sheet_path)
    book["进展填报"].cell(2, 7, "推进中")
    book["进展填报"].cell(2, 8, 30)
    buf = io.BytesIO()
    book.save(buf)
    xls = tmp_path / "t.xls"
    xls.write_bytes(_as_xls(buf.getvalue(), tmp_path))
    r = run(app, ["import", "市残联", str(xls), "--now", "2017-03-21T10:00"])
    assert r.exit_code == 0 and "已记录 1 项报送：按时 1 项，逾期 0 项" in r.output, r.output
    with db() as s:
        assert s.scalar(select(ProgressReport.percent)) == 30


def test_as_of_day_fixes_the_clock_after_the_demos_last_action():
    """`serve --as-of DAY` stands at 18:00 Asia/Shanghai, after the demo's 17:00 dispatch
    (office item 2); a time given is kept."""
    import datetime as dt

    from tracker.cli.run import as_of_instant
    from tracker.dates.workdays import SHANGHAI

    assert as_of_instant("2017-10-20") == dt.datetime(2017, 10, 20, 18, 0, tzinfo=SHANGHAI)
    assert as_of_instant("2017-10-20T09:30") == dt.datetime(2017, 10, 20, 9, 30, tzinfo=SHANGHAI)


def test_overdue_level_by_name_or_number(db, db_url, overdue, tmp_path, monkeypatch):
    """Office item 10: `--level 通报` (and 催办/督办, 1/2/3) reads as the board's level."""
    monkeypatch.setenv("TRACKER_DATABASE_URL", db_url)
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    for level, total in (("催办", 5), ("1", 5), ("督办", 0), ("通报", 0), ("3", 0)):
        r = run(app, ["overdue", "--level", level, "--now", "2017-04-12T10:00"])
        assert r.exit_code == 0 and f"共 {total} 项" in r.output, (level, r.output)
    # periods by their names, as on the pages
    table = run(app, ["overdue", "--now", "2017-04-12T10:00"]).output  # narrow cells fold
    assert "2017年" in table and "Q1" not in table
    r = run(app, ["overdue", "--level", "五", "--now", "2017-04-12T10:00"])
    assert r.exit_code == 2
    assert "--level 的值“五”无效：应为 催办、督办、通报（或 1、2、3）" in r.output.replace("\n", "")
    # a period as stored or as the table prints it; one that does not exist is an error,
    # not an empty table that reads as "nothing overdue"
    for period in ("2017Q1", "2017年第一季度"):
        r = run(app, ["overdue", "--period", period, "--now", "2017-04-12T10:00"])
        assert r.exit_code == 0 and "共 5 项" in r.output, (period, r.output)
    r = run(app, ["overdue", "--period", "2017Q9", "--now", "2017-04-12T10:00"])
    assert r.exit_code == 2
    assert ("报送期 2017Q9 不存在；现有报送期：2017（2017年度）、2017Q1（2017年第一季度）、"
            "2017Q2（2017年第二季度）、2017Q3（2017年第三季度）、2017Q4（2017年第四季度）"
            ) in r.output.replace("\n", "")
    r = run(app, ["ledger", "-o", str(tmp_path / "l.xlsx"), "--level", "督办",
                  "--now", "2017-04-12T10:00"])
    assert r.exit_code == 0 and "l.xlsx: 0 行" in " ".join(r.output.split())  # long paths wrap
