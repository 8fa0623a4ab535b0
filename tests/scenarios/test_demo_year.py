"""`tracker demo` end to end, and the scorecard it writes checked against the database."""

from __future__ import annotations

import datetime as dt
import sqlite3

import openpyxl
import pytest
from typer.testing import CliRunner

from tests.conftest import ROOT, at
from tracker.annual.scorecard.excel import SHEETS
from tracker.cli import app
from tracker.db import transaction
from tracker.models import Plan


@pytest.fixture(scope="module")
def demo(tmp_path_factory):  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("demo")
    result = CliRunner().invoke(app, ["demo", "--out", str(out),
                                      "--catalog", str(ROOT / "tasks_catalog.json")])
    assert result.exit_code == 0, result.output
    return out, result.output


def test_demo_prints_summary_and_writes_files(demo):
    out, output = demo
    assert "合计" in output and "3201" in output  # 4 × 798 requests + 9 indicator values
    assert "催办" in output and "scorecard-2017-tianjin-disability-2016-2020.xlsx" in output
    assert (out / "tracker.db").exists()
    assert len(list((out / "outbox").glob("*.eml"))) > 100
    assert "Traceback" not in output and "CancelledError" not in output
    # the same seeded year prints the same figures as before the code was regrouped
    rows = {cells[0]: cells[1:] for line in output.splitlines()
            if (cells := [c.strip() for c in line.strip("│┃ ").split("│")]) and len(cells) == 5
            and cells[1].isdigit()}
    assert rows == {"2017Q1": ["798", "613", "112", "73"], "2017Q2": ["798", "649", "102", "47"],
                    "2017Q3": ["798", "634", "110", "54"], "2017Q4": ["798", "654", "88", "56"],
                    "2017": ["9", "7", "2", "0"], "合计": ["3201", "2557", "414", "230"]}
    ladder = {cells[0]: cells[1] for line in output.splitlines()
              if (cells := [c.strip() for c in line.strip("│┃ ").split("│")]) and len(cells) == 2
              and cells[1].isdigit()}
    assert ladder == {"催办": "644", "督办": "443", "通报": "337"}
    # 临期提醒 3 working days before each due day; those answered first are not sent
    assert ("临期提醒 已发送 1529 条（截止日前3个工作日，发给尚未报送的联络员；另有 834 条"
            "在发送前已报送，不再发送）") in output.replace("\n", "")
    con = sqlite3.connect(out / "tracker.db")
    # 1 October 2017 is National Day: the meeting reminders went out on Saturday 30
    # September, a make-up working day (stored as UTC text: 08:30 Shanghai is 00:30 UTC)
    assert {d[:10] for d, in con.execute(
        "SELECT created_at FROM outbox_message WHERE kind = 'meeting_reminder'")} == {"2017-09-30"}
    # the meetings were recorded by the governments' liaisons with their minutes; by year
    # end the office had confirmed all 16 (the city's two, 14 districts' one; December's in
    # January), after returning one district's record once
    assert con.execute("SELECT state, count(*), count(minutes_sha256), min(recorded_by) "
                       "FROM executive_meeting GROUP BY state").fetchall() == [
        ("confirmed", 16, 16, "demo:liaison")]
    assert con.execute("SELECT count(*) FROM outbox_message "
                       "WHERE kind = 'meeting_returned'").fetchone() == (1,)
    assert con.execute("SELECT count(*) FROM executive_meeting "
                       "WHERE decided_at >= '2018-01-01'").fetchone() == (1,)


def test_demo_says_how_to_explore_a_day_of_its_year(demo, monkeypatch):
    """The demo keeps its database as it stood on 2017-10-20 and prints how to open it with
    a fixed clock, the office account it made and a liaison link valid on that day."""
    from fastapi.testclient import TestClient

    from flows.demo import DEMO_PASSWORD, DEMO_PERF_PASSWORD, DEMO_PERF_USER, DEMO_USER
    from tests.web_helpers import Clock
    from tracker.db import make_engine, session_factory
    from tracker.directory.staff import sign_in
    from tracker.enums import StaffRole
    from tracker.settings import Settings
    from tracker.web.app import create_app

    out, output = demo
    text = output.replace("\n", "")
    snap = out / "tracker-2017-10-20.db"
    assert f"TRACKER_DATABASE_URL=sqlite:///{snap}" in text and "serve --as-of 2017-10-20" in text
    con = sqlite3.connect(snap)  # Q1-Q3 opened by then, Q4 not yet
    assert con.execute("SELECT count(*) FROM progress_request").fetchone() == (3 * 798,)
    link = text.split("市残联联络员（2017-10-20 有效）：http://127.0.0.1:8000", 1)[1].split()[0]
    settings = Settings(home=out, database_url=f"sqlite:///{snap}", secret_key=None)
    engine = make_engine(settings.database_url)
    client = TestClient(create_app(session_factory(engine), settings,
                                   Clock(at("2017-10-20", 10))))
    page = client.get(link)
    assert page.status_code == 200 and "2017年第三季度</h2>" in page.text
    assert "2017年第四季度" not in page.text
    with session_factory(engine)() as s:  # the office account the demo printed signs in
        user, _ = sign_in(s, username=DEMO_USER, password=DEMO_PASSWORD,
                          now=at("2017-10-20", 10), rules=settings.rules)
        assert user.role == StaffRole.OFFICE
        user, _ = sign_in(s, username=DEMO_PERF_USER, password=DEMO_PERF_PASSWORD,
                          now=at("2017-10-20", 18), rules=settings.rules)
        assert user.role == StaffRole.PERFORMANCE
    assert "绩效办：http://127.0.0.1:8000/login ，账号 jixiaoban，密码 demo-2017-jixiaoban" in text
    assert "页面时间固定在该日 18:00" in text
    engine.dispose()
    monkeypatch.setenv("TRACKER_ENV", "production")  # never a fixed clock in production
    r = CliRunner().invoke(app, ["serve", "--as-of", "2017-10-20"])
    assert r.exit_code == 2 and "TRACKER_ENV=production 时不可使用" in r.output
    monkeypatch.setenv("TRACKER_ENV", "development")
    r = CliRunner().invoke(app, ["serve", "--as-of", "2017-13-01"])
    assert r.exit_code == 2 and "“2017-13-01”不是有效的日期" in r.output


def _rows(sheet):  # type: ignore[no-untyped-def]
    rows = list(sheet.iter_rows(values_only=True))
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


def test_scorecard_figures_equal_the_database(demo):
    out, _ = demo
    book = openpyxl.load_workbook(out / "scorecard-2017-tianjin-disability-2016-2020.xlsx")
    assert book.sheetnames == SHEETS
    con = sqlite3.connect(out / "tracker.db")
    escalations_of = """(SELECT {what} FROM escalation e
                 JOIN progress_request r2 ON r2.id = e.request_id
                 JOIN reporting_period p2 ON p2.id = r2.period_id
                 WHERE r2.agency_id = a.id AND e.level = {level} AND p2.year = 2017)"""
    per_agency = {row[0]: row[1:] for row in con.execute(f"""
        SELECT a.name, count(r.id), sum(r.answered_late = 0), sum(r.answered_late = 1),
               {escalations_of.format(what="count(*)", level=2)},
               {escalations_of.format(what="count(*)", level=3)},
               {escalations_of.format(what="count(DISTINCT r2.period_id || e.effective_on)", level=2)},
               {escalations_of.format(what="count(DISTINCT r2.period_id || e.effective_on)", level=3)}
        FROM agency a JOIN progress_request r ON r.agency_id = a.id
        JOIN reporting_period p ON p.id = r.period_id WHERE p.year = 2017 GROUP BY a.id""")}
    summary = _rows(book["汇总"])
    assert len(summary) == len(per_agency) == 52
    for row in summary:
        n, on, late, notice_items, circular_items, notices, circulars = per_agency[row["单位"]]
        assert (row["应报"], row["按时"], row["逾期报送"], row["未报"]) == (n, on, late, n - on - late)
        assert (row["督办项数"], row["通报项数"]) == (notice_items, circular_items)
        assert (row["督办通知(份)"], row["通报(份)"]) == (notices, circulars)
        assert row["扣分"] == 2 * notices + 5 * circulars
        parts = [row[k] or 0 for k in ("按时报送得分", "完整性得分", "牵头任务进展得分", "常务会议得分")]
        assert row["总分"] == pytest.approx(max(sum(parts) - row["扣分"], 0), abs=0.02)
    ranks = [r["排名"] for r in summary]
    assert ranks == sorted(ranks) and ranks[0] == 1
    values = dict(con.execute("SELECT i.code, v.value FROM indicator_value v "
                              "JOIN indicator i ON i.id = v.indicator_id WHERE v.year = 2017"))
    for row in _rows(book["指标"]):
        assert row["2017年实际值"] == pytest.approx(values[row["编号"]])
    escalations = con.execute("SELECT count(*) FROM escalation").fetchone()[0]
    assert len(_rows(book["逾期督办"])) == escalations
    meetings = _rows(book["常务会议"])
    assert len(meetings) == 17 and sum(r["是否履职"] == "否" for r in meetings) == 2
    sheet = book["汇总"]
    assert sheet.freeze_panes == "B2" and sheet.auto_filter.ref


def test_user_text_never_becomes_a_formula(db, plan, policy, tmp_path):
    from sqlalchemy import select

    from tracker.annual.checkpoint import run_checkpoint
    from tracker.models import Assignment, ProgressRequest
    from tracker.requests.opening import open_due_requests
    from tracker.requests.reports import ReportInput, record_reports

    with transaction(db) as s:
        open_due_requests(s, plan, at("2017-12-18"), policy)
    with db() as s:
        lead = s.scalars(select(ProgressRequest.id)
                         .join(Assignment, Assignment.id == ProgressRequest.assignment_id)
                         .where(Assignment.role == "lead").order_by(ProgressRequest.id)).first()
    evil = ["=HYPERLINK(\"http://x\",\"点我\")", "+1+1", "-2+3", "@SUM(A1)", "<script>alert(1)</script>"]
    with transaction(db) as s:
        for text in evil:
            record_reports(s, [ReportInput(request_id=lead, status="delayed", percent=10,
                                           narrative=text)], submitted_by="t",
                           now=at("2017-12-20"))
        p = s.get_one(Plan, plan.id)
        result = run_checkpoint(s, p, 2017, at("2018-02-11"), policy, tmp_path)
    book = openpyxl.load_workbook(result.path)
    cells = [c for row in book["任务进展"].iter_rows() for c in row if c.value == evil[-1]]
    assert cells and all(c.data_type == "s" for c in cells)
    for text in evil[:-1]:
        with transaction(db) as s:
            record_reports(s, [ReportInput(request_id=lead, status="delayed", percent=10,
                                           narrative=text)], submitted_by="t",
                           now=at("2017-12-21"))
            result = run_checkpoint(s, s.get_one(Plan, plan.id), 2017,
                                    at("2018-02-11") + dt.timedelta(minutes=1), policy, tmp_path)
        book = openpyxl.load_workbook(result.path)
        found = [c for row in book["任务进展"].iter_rows() for c in row if c.value == text]
        assert found and all(c.data_type == "s" for c in found), text
