"""`tracker doctor`: the database's state, the mail server as the dispatcher would reach it,
and a broken check that does not hide the others."""

from __future__ import annotations

import datetime as dt

from alembic import command
from typer.testing import CliRunner

from tests import smtp_server
from tests.conftest import at
from tracker.cli import app
from tracker.db import alembic_config, make_engine
from tracker.ops import doctor as doctor_mod
from tracker.ops.doctor import provider_findings
from tracker.settings import Settings

run = CliRunner().invoke


def _lines(output: str, mark: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(mark)]


def test_a_database_behind_the_program_is_an_error_until_upgraded(tmp_path, monkeypatch):
    # the local Prefect API's state of this test alone: a test before it in the same
    # worker may have left a stale one, which doctor rightly warns about
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect-home"))
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    engine = make_engine(url)
    command.upgrade(alembic_config(engine), "0005")
    engine.dispose()
    r = run(app, ["doctor", "--now", "2026-06-01T09:00"])
    assert r.exit_code == 1
    assert _lines(r.output, "错误") == [
        "错误：数据库结构版本 0005，程序要求 " + _head()
        + "：请运行 tracker db upgrade（升级前先 tracker backup）"]
    r = run(app, ["db", "upgrade"])
    assert r.exit_code == 0 and f"数据库结构已由 0005 升级至 {_head()}" in r.output
    r = run(app, ["doctor", "--now", "2026-06-01T09:00"])
    assert r.exit_code == 0, r.output
    assert f"正常：已连接，结构为最新版本（{_head()}）" in r.output
    assert "警告：尚未载入规划：请运行 tracker catalog load" in r.output
    assert "警告：尚无定时任务调度主节点：tracker serve 尚未在本数据库上运行过" in r.output
    assert r.output.splitlines()[-1] == "检查完毕：错误 0 项，警告 3 项"


def test_an_unreachable_database_is_named_and_the_other_checks_still_run(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    monkeypatch.setenv("TRACKER_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:1/none")
    r = run(app, ["doctor", "--now", "2026-06-01T09:00"])
    assert r.exit_code == 1
    [line] = _lines(r.output, "错误")
    assert line.startswith("错误：无法连接 postgresql+psycopg://postgres@127.0.0.1:1/none：")
    assert "Traceback" not in r.output
    assert "运行环境（TRACKER_ENV）：development" in r.output  # the report goes on


def test_production_mail_server_is_reached_with_its_login(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    mail, _ = smtp_server.start(login=("ducha", "right"))
    try:
        for key, value in (("ENV", "production"), ("SMTP_PORT", str(mail.port)),
                           ("SMTP_USER", "ducha"), ("SMTP_PASSWORD", "wrong"),
                           ("SMTP_FROM", "ducha@tj.gov.cn"), ("BASE_URL", "https://ducha.tj.gov.cn")):
            monkeypatch.setenv(f"TRACKER_{key}", value)
        r = run(app, ["doctor", "--now", "2026-06-01T09:00"])
        assert r.exit_code == 1
        assert _lines(r.output, "错误") == [
            f"错误：邮件服务器 127.0.0.1:{mail.port}：邮件服务器拒绝登录"
            "（请检查 TRACKER_SMTP_USER / TRACKER_SMTP_PASSWORD）：SMTP 535"]
        monkeypatch.setenv("TRACKER_SMTP_PASSWORD", "right")
        r = run(app, ["doctor", "--now", "2026-06-01T09:00"])
        assert r.exit_code == 0, r.output
        assert f"正常：邮件服务器 127.0.0.1:{mail.port} 可连接并已登录" in r.output
    finally:
        mail.stop()
    r = run(app, ["doctor", "--now", "2026-06-01T09:00"])  # the server is gone
    assert r.exit_code == 1 and f"错误：邮件服务器 127.0.0.1:{mail.port}：无法连接邮件服务器" in r.output


def test_a_check_that_raises_is_one_error_line(tmp_path, monkeypatch):
    def broken(settings, now):  # type: ignore[no-untyped-def]
        raise RuntimeError("日历数据读取失败")

    def fine(settings, now):  # type: ignore[no-untyped-def]
        return [("warn", f"{now.year + 1}年节假日安排尚未载入")]

    monkeypatch.setattr(doctor_mod, "_test_broken", broken, raising=False)
    monkeypatch.setattr(doctor_mod, "_test_fine", fine, raising=False)
    found = provider_findings(Settings(home=tmp_path), at("2026-11-30"),
                              [("日历", "tracker.ops.doctor:_test_broken"),
                               ("调度", "tracker.ops.doctor:_test_fine")])
    assert [(f.level, f.topic, f.message) for f in found] == [
        ("error", "日历", "检查未能完成：日历数据读取失败"),
        ("warn", "调度", "2027年节假日安排尚未载入"),
    ]
    assert isinstance(at("2026-11-30"), dt.datetime)


def _head() -> str:
    from alembic.script import ScriptDirectory

    from tracker.db import alembic_config

    return ScriptDirectory.from_config(alembic_config(make_engine("sqlite://"))).get_current_head()  # type: ignore[return-value]


def test_a_database_from_a_newer_version_is_named_not_upgraded(tmp_path, monkeypatch):
    from sqlalchemy import text as sql

    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    assert run(app, ["db", "upgrade"]).exit_code == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'tracker.db'}")
    with engine.begin() as conn:
        conn.execute(sql("UPDATE alembic_version SET version_num = '0099'"))
    engine.dispose()
    expected = "的结构版本为 0099，本程序不认识"
    r = run(app, ["doctor", "--now", "2026-06-01T09:00"])
    assert r.exit_code == 1 and expected in r.output.replace("\n", "")
    r = run(app, ["db", "upgrade"])
    assert r.exit_code == 1 and expected in r.output.replace("\n", "")
    r = run(app, ["liaison", "list"])  # any command: one line, no traceback
    assert r.exit_code == 2 and expected in r.output.replace("\n", "") and "Traceback" not in r.output


def test_agencies_nobody_would_hear_from_are_named(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    assert run(app, ["catalog", "load"]).exit_code == 0
    assert run(app, ["liaison", "add", "市残联", "王联络", "wang@tj.gov.cn"]).exit_code == 0
    r = run(app, ["doctor", "--now", "2026-06-01T09:00"])
    [line] = [x for x in r.output.replace("\n", "").split("警告：") if "没有在用的联络员" in x]
    assert "等 51 个单位没有在用的联络员：其进展调度和催办无人接收" in line and "市残联" not in line
