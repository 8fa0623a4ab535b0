"""`tracker calendar show` / `tracker calendar load` as an office runs them: coverage, a
notice loaded once (a second load does nothing), the notice to liaisons naming the State
Council's document, and a bad file refused naming it."""

from __future__ import annotations

import json

from sqlalchemy import func, select
from typer.testing import CliRunner

from notifications.channels import FileChannel
from notifications.dispatch import dispatch
from tests.conftest import at
from tests.factories import small_plan
from tracker.catalog.load import load_catalog
from tracker.cli import app
from tracker.db import transaction
from tracker.directory.contacts import ensure_demo_contacts
from tracker.enums import ChannelKind, MessageKind
from tracker.models import OutboxMessage, Plan
from tracker.requests.opening import open_due_requests

run = CliRunner().invoke
TITLE = "国务院办公厅关于2027年部分节假日安排的通知"


def test_show_then_load_a_notice_once(db, db_url, policy, tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    monkeypatch.setenv("TRACKER_DATABASE_URL", db_url)
    with transaction(db) as s:
        plan_id = load_catalog(s, small_plan(period=(2026, 2027)), at("2026-01-05")).plan_id
        ensure_demo_contacts(s, plan_id)
    with transaction(db) as s:
        open_due_requests(s, s.get_one(Plan, plan_id), at("2026-12-17", 8), policy.with_session(s))
    dispatch(db, {ChannelKind.EMAIL: FileChannel(tmp_path / "told")}, now=at("2026-12-17", 9),
             calendar=policy.calendar, window=None)

    r = run(app, ["calendar", "show", "--now", "2026-11-30T09:00"])
    assert r.exit_code == 0, r.output
    assert "日历尚未覆盖 2027 年" in r.output.replace("\n", "")

    notice = tmp_path / "2027年放假安排.json"
    notice.write_text("\ufeff" + json.dumps({"holidays": ["2027-01-01", "2027-01-04"],
                                             "workdays": [], "years": [2027]}), encoding="utf-8")
    r = run(app, ["calendar", "load", str(notice), "--reason", TITLE, "--now", "2026-12-20T10:00"])
    assert r.exit_code == 0, r.output
    assert "2027 年已完整" in r.output and "调整截止日期的报送期 2 个" in r.output
    with db() as s:
        queued = s.scalar(select(func.count()).select_from(OutboxMessage)
                          .where(OutboxMessage.kind == MessageKind.DUE_CHANGED.value))
    assert queued > 0
    r = run(app, ["calendar", "load", str(notice), "--now", "2026-12-21T10:00"])
    assert r.exit_code == 0 and "均已载入，无变化" in r.output
    with db() as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.kind == MessageKind.DUE_CHANGED.value)) == queued
    r = run(app, ["calendar", "show", "2027", "--now", "2026-12-21T10:00"])
    assert f"已载入（{notice.name}）" in r.output.replace("\n", "") and "尚未覆盖" not in r.output

    sent = tmp_path / "sent"
    dispatch(db, {ChannelKind.EMAIL: FileChannel(sent)}, now=at("2026-12-21", 9),
             calendar=policy.calendar, window=None)
    from email import message_from_bytes
    from email import policy as email_policy

    bodies = [message_from_bytes(p.read_bytes(), policy=email_policy.default)
              .get_body(("plain",)).get_content() for p in sent.rglob("*.eml")]  # type: ignore[union-attr]
    assert bodies and all(f"根据《{TITLE}》，工作日计算有变" in b for b in bodies)


def test_a_bad_notice_file_is_refused_naming_it(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    bad = tmp_path / "通知.json"
    bad.write_text('{"holidays": ["2027-13-01"]}', encoding="utf-8")
    r = run(app, ["calendar", "load", str(bad)])
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert "2027-13-01" in r.output and "通知.json" in r.output


def test_changing_a_covered_year_needs_yes(db, db_url, tmp_path, monkeypatch):
    """A file that rewrites a year chinese-calendar covers (2017) is refused unless the office
    confirms it is a real mid-year change."""
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    monkeypatch.setenv("TRACKER_DATABASE_URL", db_url)
    change = tmp_path / "2017.json"
    change.write_text(json.dumps({"workdays": ["2017-10-02"]}), encoding="utf-8")
    r = run(app, ["calendar", "load", str(change)])
    assert r.exit_code == 2 and "改动日历库已覆盖年份（2017 年）的安排" in r.output.replace("\n", "")
    r = run(app, ["calendar", "load", str(change), "--yes", "--now", "2017-09-20T09:00"])
    assert r.exit_code == 0 and "已载入 1 个日期" in r.output
