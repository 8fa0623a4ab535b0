"""`tracker backup` / `tracker restore`: a consistent copy of the database, and back.

SQLite: the online backup API (`sqlite3.Connection.backup`), so a copy taken while
`tracker serve` writes is consistent, and a restore replaces the live file's pages under
SQLite's own locking (other processes see the old or the new database, never a mix).
PostgreSQL: `pg_dump --format=custom` and `pg_restore --clean --if-exists
--single-transaction` (PostgreSQL's client tools must be on PATH, of the server's major
version or newer).

Nothing half-written stays: a copy is written to a temporary name beside its target and
renamed only once complete and checked; a PostgreSQL restore is one transaction.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from tracker.dates.workdays import SHANGHAI
from tracker.ops.files import os_reason


class BackupError(Exception):
    """A backup or restore that cannot be done; the message is Chinese and names the file."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size: int  # bytes
    kind: str  # "sqlite" | "postgresql"


def default_path(home: Path, url: str, now: dt.datetime) -> Path:
    """HOME/backups/tracker-YYYYMMDD-HHMMSS.db (.dump for PostgreSQL), Asia/Shanghai time."""
    suffix = ".db" if make_url(url).get_backend_name() == "sqlite" else ".dump"
    return home / "backups" / f"tracker-{now.astimezone(SHANGHAI):%Y%m%d-%H%M%S}{suffix}"


def backup(url: str, target: Path) -> BackupResult:
    """Copy the database at `url` (SQLAlchemy URL) to the file `target`.

    Raises BackupError if the target exists, the database cannot be read, or (PostgreSQL)
    pg_dump is missing or fails; the target is then left absent.
    """
    if target.exists():
        raise BackupError(f"备份文件 {target} 已存在，请换一个文件名")
    partial = target.with_name(target.name + ".part")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial.unlink(missing_ok=True)
        partial.touch()
    except OSError as exc:
        raise BackupError(f"无法写入备份文件 {target}：{os_reason(exc)}") from None
    try:
        if _is_sqlite(url):
            kind = "sqlite"
            _sqlite_copy(_sqlite_path(url), partial, check_source=False)
        else:
            kind = "postgresql"
            _run([_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={partial}",
                  _libpq(url)], "pg_dump", env=_pg_env(url))
        if kind == "sqlite":
            # a journal left beside the name by a file deleted before (a server killed
            # while it had it open) would be replayed into this copy at its first open
            _remove_sidecars(target)
        os.replace(partial, target)
    except OSError as exc:
        raise BackupError(f"无法写入备份文件 {target}：{os_reason(exc)}") from None
    finally:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
    return BackupResult(target, target.stat().st_size, kind)


def restore(url: str, source: Path, safety_copy: Path | None) -> BackupResult | None:
    """Replace the database at `url` with the backup `source`, then leave migrating to the
    caller (a backup of an older version is brought to head by `tracker.db.migrate`).

    `safety_copy`: where to back up the current database first (None, or no SQLite file
    yet: no copy). Returns that copy's result. Raises BackupError if `source` is missing or is not a backup of
    this product (a SQLite file with the alembic_version table; a pg_dump archive), or if
    the restore fails, in which case the database is as it was.
    """
    if not source.is_file():
        raise BackupError(f"备份文件 {source} 不存在")
    sqlite = _is_sqlite(url)
    if sqlite:
        _check_sqlite_backup(source)
    else:
        with source.open("rb") as f:
            if f.read(5) != b"PGDMP":
                raise BackupError(f"{source} 不是 pg_dump 自定义格式的备份（应由 tracker backup 生成）")
    fresh = sqlite and not _sqlite_path(url).exists()  # a new machine: nothing to keep
    saved = backup(url, safety_copy) if safety_copy is not None and not fresh else None
    if fresh:
        _sqlite_path(url).parent.mkdir(parents=True, exist_ok=True)
    if sqlite:
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        dst = sqlite3.connect(_sqlite_path(url), timeout=60)
        try:
            src.backup(dst)
        except sqlite3.Error as exc:
            raise BackupError(f"恢复失败（数据库未改动）：{exc}") from exc
        finally:
            src.close()
            dst.close()
    else:
        _pg_restore(url, source)
    return saved


def _pg_restore(url: str, source: Path) -> None:
    """Replace everything in the database's public schema by the archive, in ONE transaction:
    the schema is dropped and made anew (tables a newer version added go too, so an older
    backup migrates cleanly afterwards), then the archive's SQL runs; any error rolls all
    of it back."""
    script = subprocess.run([_tool("pg_restore"), "--no-owner", "--no-privileges", "--file=-",
                             str(source)], capture_output=True, check=False)
    if script.returncode != 0:
        detail = script.stderr.decode("utf-8", "replace").strip().splitlines()
        raise BackupError(f"{source} 无法读取（pg_restore 退出码 {script.returncode}）："
                          f"{detail[-1] if detail else ''}")
    body = b"DROP SCHEMA IF EXISTS public CASCADE;\nCREATE SCHEMA public;\n" + script.stdout
    proc = subprocess.run([_tool("psql"), "--no-psqlrc", "--quiet", "--single-transaction",
                           "--set=ON_ERROR_STOP=1", f"--dbname={_libpq(url)}"],
                          input=body, capture_output=True, check=False, env=_pg_env(url))
    if proc.returncode != 0:
        detail = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise BackupError(f"恢复失败（数据库未改动）：{detail[-1] if detail else proc.returncode}")


def prune(folder: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` backups named tracker-YYYYMMDD-HHMMSS.* in `folder`
    (safety copies named before-restore-* are never deleted). Returns what was deleted."""
    found = sorted(p for p in folder.glob("tracker-*") if p.suffix in (".db", ".dump"))
    gone = found[:-keep] if keep > 0 else []
    for path in gone:
        path.unlink()
    return gone


SIDECARS = ("-wal", "-shm", "-journal")  # SQLite's write-ahead log, its index, rollback journal


def remove_sqlite(path: Path) -> None:
    """Delete the SQLite database file `path` and its journal files (`SIDECARS`), so that a
    new database written under the same name never replays an old journal (SQLite applies
    a `-wal` found beside a database file at its first open). Missing files are fine;
    raises OSError if one cannot be deleted."""
    path.unlink(missing_ok=True)
    _remove_sidecars(path)


def _remove_sidecars(path: Path) -> None:
    for suffix in SIDECARS:
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def _is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("内存数据库无法备份")
    return Path(database)


def _sqlite_copy(source: Path, target: Path, *, check_source: bool) -> None:
    if not source.is_file():
        raise BackupError(f"数据库文件 {source} 不存在")
    src = sqlite3.connect(source, timeout=60)
    try:
        dst = sqlite3.connect(target)
    except sqlite3.Error:
        src.close()
        raise BackupError(f"无法写入备份文件 {target}") from None
    try:
        src.backup(dst)
        ok = dst.execute("PRAGMA integrity_check").fetchone()[0]
        if ok != "ok":
            raise BackupError(f"备份 {target} 完整性检查未通过")
    except sqlite3.Error as exc:
        full = "full" in str(exc)
        raise BackupError(f"无法写入备份文件 {target}：磁盘空间不足" if full
                          else f"备份失败（{source} → {target}）：{exc}") from exc
    finally:
        src.close()
        dst.close()


def _check_sqlite_backup(source: Path) -> None:
    try:
        con = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            ok = con.execute("PRAGMA quick_check").fetchone()[0]
            has_version = con.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table' "
                                      "AND name = 'alembic_version'").fetchone()[0]
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{source} 不是 SQLite 数据库文件：{exc}") from exc
    if ok != "ok":
        raise BackupError(f"{source} 已损坏（完整性检查未通过），未恢复")
    if not has_version:
        raise BackupError(f"{source} 不是本系统的数据库备份（没有 alembic_version 表），未恢复")
    con = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        revision = (con.execute("SELECT version_num FROM alembic_version").fetchone() or [None])[0]
    finally:
        con.close()
    check_revision(revision, str(source))


def check_revision(revision: str | None, source: str) -> None:
    """Refuse a backup whose schema revision this program does not know (another program's
    database that also uses Alembic) or that a newer version of this program wrote."""
    from alembic.script import ScriptDirectory

    from tracker.db import alembic_config, make_engine

    engine = make_engine("sqlite://")
    try:
        scripts = ScriptDirectory.from_config(alembic_config(engine))
        known = {rev.revision for rev in scripts.walk_revisions()}
        head = scripts.get_current_head()
    finally:
        engine.dispose()
    if revision is None:
        raise BackupError(f"{source} 中的数据库没有结构版本记录，不是本系统的备份，未恢复")
    if revision not in known:
        raise BackupError(f"{source} 的结构版本 {revision} 不是本系统的版本（本程序最新为 {head}）："
                          "可能是其他系统的数据库，或由更新版本的本系统生成；未恢复")


def _libpq(url: str) -> str:
    """The SQLAlchemy URL as a libpq connection URI (no driver suffix, no password: the
    password travels in PGPASSWORD, never on a command line other users can read)."""
    u = make_url(url)
    return u.set(drivername="postgresql", password=None).render_as_string(hide_password=False)


def _pg_env(url: str) -> dict[str, str]:
    env = dict(os.environ)
    password = make_url(url).password
    if password:
        env["PGPASSWORD"] = str(password)
    return env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"找不到 {name}：请安装 PostgreSQL 客户端（Debian：apt-get install "
                          "postgresql-client）")
    return found


def _run(argv: list[str], name: str, env: dict[str, str] | None = None) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, env=env)
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise BackupError(f"{name} 失败（退出码 {proc.returncode}）：{detail[-1] if detail else ''}")
