"""`tracker backup` / `tracker restore` on SQLite (online backup API) and PostgreSQL
(pg_dump / pg_restore): the copy is whole, a restore brings it back and keeps a copy of
what it replaced, and a file that is not a backup is refused with the database untouched."""

from __future__ import annotations

import lzma
import shutil
from pathlib import Path

from sqlalchemy import text
from typer.testing import CliRunner

from tracker.cli import app
from tracker.db import make_engine

run = CliRunner().invoke
FIXTURE = Path(__file__).parent.parent / "fixtures" / "demo-2017-rev0001.sqlite.xz"


def _env(monkeypatch, tmp_path, url):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    monkeypatch.setenv("TRACKER_DATABASE_URL", url)


def _scalar(url: str, sql: str):  # type: ignore[no-untyped-def]
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar()
    finally:
        engine.dispose()


def _exec(url: str, sql: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


def test_backup_then_restore_brings_the_data_back(db_url, plan, tmp_path, monkeypatch):
    _env(monkeypatch, tmp_path, db_url)
    suffix = ".db" if db_url.startswith("sqlite") else ".dump"
    r = run(app, ["backup", "--now", "2017-04-10T09:00"])
    assert r.exit_code == 0, r.output
    target = tmp_path / "backups" / f"tracker-20170410-090000{suffix}"
    assert f"已备份至 {target}" in r.output
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no .part left
    r = run(app, ["backup", "--now", "2017-04-10T09:00"])
    assert r.exit_code == 1 and f"备份文件 {target} 已存在" in r.output
    for day in ("11", "12"):
        r = run(app, ["backup", "--now", f"2017-04-{day}T09:00", "--keep", "2"])
    assert "已删除较早的备份 1 个，保留最近 2 个" in r.output
    assert sorted(p.name for p in target.parent.iterdir()) == [
        f"tracker-20170411-090000{suffix}", f"tracker-20170412-090000{suffix}"]
    target = target.with_name(f"tracker-20170412-090000{suffix}")

    assignments = _scalar(db_url, "SELECT count(*) FROM assignment")
    assert assignments == 798
    _exec(db_url, "UPDATE plan SET title = '被误改的标题'")
    _exec(db_url, "DELETE FROM assignment WHERE id IN (SELECT id FROM assignment ORDER BY id LIMIT 100)")

    r = run(app, ["restore", str(target), "--yes", "--now", "2017-04-13T09:00"])
    assert r.exit_code == 0, r.output
    assert _scalar(db_url, "SELECT count(*) FROM assignment") == 798
    assert _scalar(db_url, "SELECT title FROM plan") == plan.title
    safety = tmp_path / "backups" / f"before-restore-tracker-20170413-090000{suffix}"
    assert f"恢复前的数据库已另存为 {safety}" in r.output and safety.stat().st_size > 0
    if suffix == ".db":  # the safety copy holds what the restore replaced
        assert _scalar(f"sqlite:///{safety}", "SELECT count(*) FROM assignment") == 698


def test_what_is_not_a_backup_is_refused_and_nothing_changes(db_url, plan, tmp_path, monkeypatch):
    _env(monkeypatch, tmp_path, db_url)
    notes = tmp_path / "会议纪要.txt"
    notes.write_text("不是数据库", encoding="utf-8")
    r = run(app, ["restore", str(notes), "--yes"])
    assert r.exit_code == 1 and "Traceback" not in r.output
    expected = "不是 SQLite 数据库文件" if db_url.startswith("sqlite") else "不是 pg_dump 自定义格式的备份"
    assert f"{notes} {expected}" in r.output.replace("\n", "")
    r = run(app, ["restore", str(tmp_path / "missing.db"), "--yes"])
    assert r.exit_code == 1 and "missing.db 不存在" in r.output
    assert _scalar(db_url, "SELECT count(*) FROM assignment") == 798
    assert not (tmp_path / "backups").exists()  # refused before any copy was made


def test_a_foreign_sqlite_file_is_refused(sqlite_url, tmp_path, monkeypatch):
    _env(monkeypatch, tmp_path, f"sqlite:///{tmp_path / 'tracker.db'}")
    other = tmp_path / "other.db"
    _exec(f"sqlite:///{other}", "CREATE TABLE t (x INTEGER)")
    r = run(app, ["restore", str(other), "--yes"])
    assert r.exit_code == 1
    assert "不是本系统的数据库备份（没有 alembic_version 表），未恢复" in r.output.replace("\n", "")


def test_an_old_versions_backup_is_migrated_on_restore(tmp_path, monkeypatch):
    """A backup made by the first release (schema 0001, the 2017 demo) restores into this
    version and is brought to the newest schema with its data."""
    _env(monkeypatch, tmp_path, f"sqlite:///{tmp_path / 'tracker.db'}")
    old = tmp_path / "old-backup.db"
    with lzma.open(FIXTURE) as src, open(old, "wb") as dst:
        shutil.copyfileobj(src, dst)
    requests = _scalar(f"sqlite:///{old}", "SELECT count(*) FROM progress_request")
    r = run(app, ["restore", str(old), "--yes"])
    assert r.exit_code == 0, r.output
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    assert _scalar(url, "SELECT count(*) FROM progress_request") == requests == 3201
    r = run(app, ["doctor", "--now", "2026-06-01T09:00"])
    assert "正常：已连接，结构为最新版本" in r.output


def test_another_programs_or_a_newer_versions_database_is_refused(tmp_path, monkeypatch):
    """A SQLite file that also uses Alembic, with a revision this program does not know
    (another program, or a newer version of this one), is refused before anything is
    touched: the live database stays as it was."""
    import sqlite3

    _env(monkeypatch, tmp_path, f"sqlite:///{tmp_path / 'tracker.db'}")
    assert run(app, ["db", "upgrade"]).exit_code == 0
    other = tmp_path / "other.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE foo (x)")
    con.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
    con.execute("INSERT INTO alembic_version VALUES ('abc123')")
    con.commit()
    con.close()
    r = run(app, ["restore", str(other), "--yes"])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "的结构版本 abc123 不是本系统的版本" in r.output.replace("\n", "")
    assert _scalar(f"sqlite:///{tmp_path / 'tracker.db'}", "SELECT count(*) FROM plan") == 0
    assert not (tmp_path / "backups").exists()


def test_an_unwritable_target_and_a_bad_time_are_one_line_each(db_url, plan, tmp_path, monkeypatch):
    _env(monkeypatch, tmp_path, db_url)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    r = run(app, ["backup", "--out", str(blocker / "sub" / "t.db")])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert f"无法写入备份文件 {blocker / 'sub' / 't.db'}" in r.output.replace("\n", "")
    r = run(app, ["backup", "--now", "2027-13-01"])
    assert r.exit_code == 2 and "--now 的值“2027-13-01”不是有效的时间" in r.output
    r = run(app, ["restore", str(tmp_path / "x.db")], input="")
    assert r.exit_code == 1 and "已取消，数据库未改动" in r.output and "Aborted" not in r.output


def test_an_older_postgresql_backup_restores_over_a_newer_schema(fresh_pg, tmp_path, monkeypatch):
    """A pg_dump taken at schema 0006 restored into a database at head: the tables the newer
    revisions added go with the old schema, and the restore migrates to head."""
    from alembic import command

    from tracker.db import alembic_config

    old_url, new_url = fresh_pg("tracker_old"), fresh_pg("tracker_new")
    engine = make_engine(old_url)
    command.upgrade(alembic_config(engine), "0006")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO audit_event (id, at, actor, action, object_type, "
                          "object_id, detail) VALUES (7, '2017-01-05 00:00', 'old', '旧版本的记录', "
                          "'plan', '1', '{}')"))
    engine.dispose()
    _env(monkeypatch, tmp_path, old_url)
    dump = tmp_path / "old.dump"
    assert run(app, ["backup", "--out", str(dump)]).exit_code == 0
    _env(monkeypatch, tmp_path, new_url)
    assert run(app, ["db", "upgrade"]).exit_code == 0
    r = run(app, ["restore", str(dump), "--yes", "--now", "2017-04-11T09:00"])
    assert r.exit_code == 0, r.output
    assert _scalar(new_url, "SELECT action FROM audit_event WHERE id = 7") == "旧版本的记录"
    r = run(app, ["doctor", "--now", "2026-06-01T09:00"])
    assert "正常：已连接，结构为最新版本" in r.output


def test_a_copy_never_takes_an_old_journal_left_under_its_name(tmp_path):
    """A server killed while it had `tracker-….db` open leaves its `-wal` and `-shm`; the
    file is then deleted and a new copy written under the same name (the demo's snapshot):
    SQLite would replay that old journal into the new copy at its first open."""
    import sqlite3

    from tracker.ops.backup import SIDECARS, backup

    target = tmp_path / "tracker-2017-10-20.db"
    old = sqlite3.connect(target)
    old.execute("PRAGMA journal_mode=wal")
    old.execute("PRAGMA wal_autocheckpoint=0")
    old.execute("CREATE TABLE staff_session (id INTEGER PRIMARY KEY, token TEXT)")
    old.execute("INSERT INTO staff_session (token) VALUES ('stale')")
    old.commit()
    kept = {s: target.with_name(target.name + s).read_bytes() for s in ("-wal", "-shm")}
    old.close()  # closing checkpoints and removes the journal: put it back, as a kill leaves it
    target.unlink()
    for suffix, data in kept.items():
        target.with_name(target.name + suffix).write_bytes(data)
    assert len(kept["-wal"]) > 0

    source = tmp_path / "live.db"
    with sqlite3.connect(source) as live:
        live.execute("CREATE TABLE staff_session (id INTEGER PRIMARY KEY, token TEXT)")
    live.close()
    backup(f"sqlite:///{source}", target)

    assert [s for s in SIDECARS if target.with_name(target.name + s).exists()] == []
    copy = sqlite3.connect(target)
    try:
        assert copy.execute("SELECT count(*) FROM staff_session").fetchone()[0] == 0
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        copy.close()
