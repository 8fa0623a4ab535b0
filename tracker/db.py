"""Engine, sessions and migrations. One URL selects SQLite (default) or PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import DateTime, Engine, create_engine, event
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"

# What SQLAlchemy's SQLite DateTime writes (its default storage format): one text form for
# every timestamp, so comparisons and ORDER BY on the stored strings stay right.
SQLITE_DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


def _naive_utc(value: dt.datetime) -> dt.datetime:
    """The UTC wall time of an aware datetime; naive values are refused as UTCDateTime does."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetime: pass a timezone-aware value")
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def sqlite_utc_text(value: dt.datetime) -> str:
    """An aware datetime as SQLite stores timestamps here: UTC, '%Y-%m-%d %H:%M:%S.%f'."""
    return _naive_utc(value).strftime(SQLITE_DATETIME_FORMAT)


class _UTCSQLiteDateTime(sqlite.DATETIME):
    """SQLite's DATETIME that converts aware values to UTC before dropping the offset.

    SQLAlchemy's own writes the value's wall time and drops the offset, so a datetime bound
    with a plain DateTime type (`func.coalesce(col, now)`, `literal(now)`) was stored as
    Beijing time. By the time `before_cursor_execute` runs, such a value is already text,
    so the listener below cannot see it: the conversion has to happen here.
    """

    def bind_processor(self, dialect: Any) -> Callable[[Any], Any] | None:
        format_value = super().bind_processor(dialect)
        assert format_value is not None

        def process(value: Any) -> Any:
            if isinstance(value, dt.datetime):
                value = _naive_utc(value)
            return format_value(value)

        return process


def _utc_param(value: Any) -> Any:
    return sqlite_utc_text(value) if isinstance(value, dt.datetime) else value


def _utc_params(params: Any) -> Any:
    """One parameter set (a tuple, list or dict) with its datetimes as UTC text."""
    if isinstance(params, dict):
        if any(isinstance(v, dt.datetime) for v in params.values()):
            return {k: _utc_param(v) for k, v in params.items()}
        return params
    if isinstance(params, (tuple, list)) and any(isinstance(v, dt.datetime) for v in params):
        return type(params)(_utc_param(v) for v in params)
    return params


def _utc_cursor_params(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
    """before_cursor_execute: no datetime reaches sqlite3 with its offset dropped.

    Catches what no SQLAlchemy type processed: raw `text()` SQL, `exec_driver_sql`, and
    binds of no type. sqlite3's own adapter (deprecated since Python 3.12) would write
    `isoformat(" ")`: the wall time with its offset ('2017-04-13 23:30:00+08:00'). The ORM
    reads that back as the right instant, but SQL compares, sorts and aggregates the text,
    and it is 8 hours "later" than the UTC text stored everywhere else. A naive datetime
    would be stored as if it were UTC: refused (ValueError).
    """
    if executemany:
        parameters = [_utc_params(p) for p in parameters]
    elif parameters:
        parameters = _utc_params(parameters)
    return statement, parameters


# Execution options of a connection (or an engine made by `read_only_engine`):
READ_ONLY = "tracker_read_only"  # SQLite: BEGIN (deferred), not BEGIN IMMEDIATE
BUSY_MS = "tracker_busy_ms"  # SQLite: how long a write waits for the lock (0: not at all)
SQLITE_BUSY_MS = 30_000


def _sqlite_busy(conn: Any, busy_ms: int) -> None:
    """Set a pooled SQLite connection's busy_timeout, only when it differs from what it
    last had (kept in the pool record's info, so a transaction costs no extra call)."""
    info = conn.connection.info
    if info.get("busy_ms", SQLITE_BUSY_MS) != busy_ms:
        conn.exec_driver_sql(f"PRAGMA busy_timeout={int(busy_ms)}")
        info["busy_ms"] = busy_ms


def read_only_engine(engine: Engine) -> Engine:
    """The same engine and pool for reads: on SQLite a transaction begins DEFERRED, so it
    never takes the write lock (WAL lets it read while a job writes; a temporary table of
    `tracker.sql.id_set` lives in the connection's temp database and needs no lock);
    PostgreSQL is unchanged (its reads never wait for writers). Nothing SQL-level forbids
    a write here (PostgreSQL's READ ONLY and SQLite's query_only also refuse temporary
    tables): `read_only_factory`'s sessions refuse to flush a change instead. Used by the
    web pages' GET requests (`tracker.web.deps.get_session`)."""
    return engine.execution_options(**{READ_ONLY: True})


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets foreign keys, WAL and a busy timeout for concurrent jobs."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        # Every timestamp is stored as UTC text, whichever path binds it: typed binds through
        # this dialect's DateTime (an instance-level colspecs, as type_descriptor allows),
        # untyped and raw ones through the cursor listener.
        engine.dialect.colspecs = {**engine.dialect.colspecs, DateTime: _UTCSQLiteDateTime}
        event.listen(engine, "before_cursor_execute", _utc_cursor_params, retval=True)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn):  # type: ignore[no-untyped-def]
            options = conn.get_execution_options()
            if options.get(READ_ONLY):
                # A read: a DEFERRED transaction (a WAL snapshot) that never asks for the write
                # lock, so a page answers while a job writes.
                conn.exec_driver_sql("BEGIN")
                return
            # Take the write lock up front: two deferred transactions that both read, then
            # write, would deadlock and one would fail with "database is locked" at once.
            _sqlite_busy(conn, options.get(BUSY_MS, SQLITE_BUSY_MS))
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    # PostgreSQL needs neither: every timestamp column is timestamptz, and psycopg sends an
    # aware datetime as timestamptz with its offset, so the same instant is stored whatever
    # the bound type or the session's TimeZone (checked: text(), literal(), coalesce()).
    return create_engine(url, pool_pre_ping=True)


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the latest Alembic revision (idempotent).

    Raises SettingsError (Chinese) when the database carries a revision this program does
    not know: a newer version of the program (or another program) wrote it, and
    nothing here can or should change it."""
    from alembic.util.exc import CommandError

    try:
        command.upgrade(alembic_config(engine), "head")
    except CommandError as exc:
        if "Can't locate revision" not in str(exc):
            raise
        from tracker.settings import SettingsError

        raise SettingsError(schema_too_new(engine)) from None


def schema_too_new(engine: Engine) -> str:
    """The Chinese message for a database whose revision this program does not know."""
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    shown = engine.url.render_as_string(hide_password=True)
    return (f"数据库 {shown} 的结构版本为 {current}，本程序不认识（本程序最新为 {head}）：它由更新版本的"
            "本系统或其他程序写入；请使用相应版本的程序，或从本程序生成的备份恢复（tracker restore）")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def read_only_factory(factory: sessionmaker[Session]) -> sessionmaker[Session]:
    """Sessions of `factory`'s engine that only read (`read_only_engine`); flushing a change
    raises ReadOnlyError before any SQL is sent."""
    engine = factory.kw["bind"]
    reader = sessionmaker(read_only_engine(engine), expire_on_commit=False,
                          info={READ_ONLY: True})
    return reader


class ReadOnlyError(RuntimeError):
    """A read-only session (a page's GET) tried to write."""


@event.listens_for(Session, "before_flush")
def _refuse_writes(session: Session, _context: Any, _instances: Any) -> None:
    if session.info.get(READ_ONLY) and (session.new or session.dirty or session.deleted):
        raise ReadOnlyError("a read-only session tried to write: "
                            f"{[type(o).__name__ for o in (*session.new, *session.dirty, *session.deleted)]}")


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error (nothing half-written)."""
    with factory() as session, session.begin():
        yield session
