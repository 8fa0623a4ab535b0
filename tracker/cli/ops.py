"""Operations: `tracker doctor`, `tracker backup` / `restore`, `tracker db upgrade`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tracker.cli.common import app, console, current_settings, fail, parse_now

db_app = typer.Typer(help="The database schema (Alembic migrations).", no_args_is_help=True)
app.add_typer(db_app, name="db")

MARKS = {"ok": "[green]正常[/]", "warn": "[yellow]警告[/]", "error": "[bold red]错误[/]"}


def say(line: str) -> None:
    console.print(line, highlight=False, soft_wrap=True, markup=False)


@app.command("doctor")
def doctor(now: Annotated[str | None, typer.Option(help="ISO time (default: now)")] = None) -> None:
    """What is in effect and what is wrong: environment, database, channels, calendar,
    scheduler, Prefect. Exits 1 if anything will not work."""
    from rich.markup import escape

    from tracker.ops.doctor import run_checks

    findings = run_checks(current_settings(), parse_now(now))
    for f in findings:
        if f.level == "info":
            say(f.message)
        else:
            console.print(f"{MARKS[f.level]}：{escape(f.message)}", highlight=False, soft_wrap=True)
    errors = sum(f.level == "error" for f in findings)
    warnings = sum(f.level == "warn" for f in findings)
    say(f"检查完毕：错误 {errors} 项，警告 {warnings} 项")
    if errors:
        raise typer.Exit(1)


@app.command("backup")
def backup_cmd(
    out: Annotated[Path | None, typer.Option(
        help="backup file (default: HOME/backups/tracker-YYYYMMDD-HHMMSS.db or .dump)")] = None,
    now: Annotated[str | None, typer.Option(help="ISO time for the default name")] = None,
    keep: Annotated[int | None, typer.Option(
        help="then keep only the newest N backups in HOME/backups")] = None,
) -> None:
    """Copy the database to a file: SQLite's online backup, or pg_dump for PostgreSQL."""
    from tracker.ops.backup import BackupError, backup, default_path, prune

    settings = current_settings()
    target = out or default_path(settings.home, settings.database_url, parse_now(now))
    try:
        result = backup(settings.database_url, target)
    except BackupError as exc:
        raise fail(str(exc), code=1) from exc
    say(f"已备份至 {result.path}（{result.size / 1024 / 1024:.1f} MB）")
    if keep is not None:
        gone = prune(settings.home / "backups", keep)
        if gone:
            say(f"已删除较早的备份 {len(gone)} 个，保留最近 {keep} 个")


@app.command("restore")
def restore_cmd(
    source: Annotated[Path, typer.Argument(help="a file written by tracker backup")],
    yes: Annotated[bool, typer.Option("--yes", help="do not ask for confirmation")] = False,
    now: Annotated[str | None, typer.Option(help="ISO time for the safety copy's name")] = None,
) -> None:
    """Replace the database with a backup. The current database is backed up first."""
    from tracker.db import make_engine, migrate
    from tracker.ops.backup import BackupError, default_path, restore

    settings = current_settings()
    try:
        confirmed = yes or typer.confirm(f"将用 {source} 覆盖当前数据库，当前数据先另存备份。确认恢复？")
    except (EOFError, RuntimeError) as exc:  # no one to answer (stdin closed): click's Abort
        if type(exc).__name__ != "Abort":
            raise
        confirmed = False
    if not confirmed:
        raise fail("已取消，数据库未改动（无人值守时请加 --yes）", code=1)
    safety = default_path(settings.home, settings.database_url, parse_now(now))
    safety = safety.with_name("before-restore-" + safety.name)
    try:
        saved = restore(settings.database_url, source, safety)
    except BackupError as exc:
        raise fail(str(exc), code=1) from exc
    if saved is not None:
        say(f"恢复前的数据库已另存为 {saved.path}")
    engine = make_engine(settings.database_url)
    try:
        migrate(engine)  # a backup of an older version is brought to this version's schema
    except Exception as exc:  # noqa: BLE001  (one line in Chinese, the safety copy named above)
        raise fail(f"已恢复数据，但升级数据库结构失败：{getattr(exc, 'orig', exc)}", code=1) from None
    finally:
        engine.dispose()
    say(f"已从 {source} 恢复数据库")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database schema to this version (every command also does so on start)."""
    from alembic.migration import MigrationContext

    from tracker.db import make_engine, migrate
    from tracker.settings import SettingsError

    engine = make_engine(current_settings().database_url)
    try:
        with engine.connect() as conn:
            before = MigrationContext.configure(conn).get_current_revision()
        migrate(engine)
        with engine.connect() as conn:
            after = MigrationContext.configure(conn).get_current_revision()
    except SettingsError as exc:
        raise fail(str(exc), code=1) from None
    except Exception as exc:  # noqa: BLE001  (driver errors: one line, no traceback)
        raise fail(f"数据库升级失败：{getattr(exc, 'orig', exc)}", code=1) from exc
    finally:
        engine.dispose()
    say(f"数据库结构已是最新版本（{after}）" if before == after
        else f"数据库结构已由 {before or '空库'} 升级至 {after}")
