"""Shared fixtures: real SQLite and PostgreSQL databases, the seed's catalog, a clock.

PostgreSQL is the machine's server at 127.0.0.1:5432 (user postgres, trust auth; `.ci/run`
starts it). Each test session creates its own database and drops it at the end.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import uuid
from pathlib import Path

# Prefect keeps its ephemeral API database under PREFECT_HOME: one per test session (and one
# per pytest-xdist worker, which inherits the controller's environment), quiet.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="prefect-home-")
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="prefect-home-"))
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "ERROR")
# Two workers share two cores: Prefect's temporary API may need more than its default 20 s.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

import pytest  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from tracker.catalog.parse import parse_plan_text
from tracker.catalog.schema import Catalog
from tracker.dates.workdays import SHANGHAI, WorkCalendar
from tracker.db import make_engine, migrate, session_factory, transaction
from tracker.enums import ChannelKind
from tracker.models import Base, Plan
from tracker.policy import Policy
from tracker.settings import Rules

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "data" / "seed" / "tianjin-disability-plan-2016-2020.txt"
PG_ADMIN_URL = os.environ.get("TRACKER_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def at(day: str, hour: int = 9, minute: int = 0) -> dt.datetime:
    """An aware Asia/Shanghai datetime for an ISO day."""
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour, minute), SHANGHAI)


@pytest.fixture(scope="session")
def seed_text() -> str:
    return SEED.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def catalog(seed_text: str) -> Catalog:
    return parse_plan_text(seed_text)


@pytest.fixture
def policy() -> Policy:
    return Policy(Rules(), WorkCalendar(), ChannelKind.EMAIL)


@pytest.fixture(scope="session")
def pg_url():  # type: ignore[no-untyped-def]
    name = f"tracker_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with admin.connect() as conn:
        conn.execute(text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name})
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.fixture
def fresh_pg():  # type: ignore[no-untyped-def]
    """A factory of empty PostgreSQL databases (not migrated), each dropped after the test:
    `fresh_pg("prefix")` returns the URL of a new one."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    names: list[str] = []

    def make(prefix: str = "tracker_scratch") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        names.append(name)
        return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"

    yield make
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def fresh_pg_url(fresh_pg) -> str:  # type: ignore[no-untyped-def]
    """One empty PostgreSQL database for this test (dropped after)."""
    return fresh_pg("tracker_mig")


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'tracker.db'}"


_engines: dict[str, object] = {}


def _engine(url: str):  # type: ignore[no-untyped-def]
    if url not in _engines:
        engine = make_engine(url)
        migrate(engine)
        _engines[url] = engine
    return _engines[url]


def _wipe(engine) -> None:  # type: ignore[no-untyped-def]
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
        # the requests' delete triggers counted them out of the board's tally after it may
        # have been emptied (tracker.desk.tally): empty it again
        conn.execute(text("DELETE FROM board_tally"))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test on a database runs on SQLite and PostgreSQL, unless marked
    `pytest.mark.sqlite_only` (its point is not the database: the browser, the web wiring)
    or `pytest.mark.postgresql_only` (its point is two transactions at once: SQLite's
    BEGIN IMMEDIATE serialises them anyway)."""
    if "db_url" in metafunc.fixturenames:
        kinds = (["sqlite"] if metafunc.definition.get_closest_marker("sqlite_only") else
                 ["postgresql"] if metafunc.definition.get_closest_marker("postgresql_only")
                 else ["sqlite", "postgresql"])
        metafunc.parametrize("db_url", kinds, indirect=True)


@pytest.fixture
def db_url(request: pytest.FixtureRequest) -> str:
    """The URL of an empty, migrated database of each kind (emptied after the test)."""
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    engine = _engine(url)
    _wipe(engine)
    yield url
    _wipe(engine)


@pytest.fixture
def db(db_url: str) -> sessionmaker[Session]:
    return session_factory(_engine(db_url))  # type: ignore[arg-type]


@pytest.fixture
def plan(db: sessionmaker[Session], catalog: Catalog) -> Plan:
    """The seed's catalog loaded, with a liaison and a deputy head for every agency."""
    from tracker.catalog.load import load_catalog
    from tracker.directory.contacts import ensure_demo_contacts

    with transaction(db) as s:
        plan_id = load_catalog(s, catalog, at("2017-01-03")).plan_id
        ensure_demo_contacts(s, plan_id)
    with db() as s:
        return s.get_one(Plan, plan_id)


@pytest.fixture
def small(db: sessionmaker[Session]) -> Plan:
    """A small plan (tests.factories.small_plan: 3 measures, 9 assignments, 1 indicator)
    with a liaison and a deputy head for each of its agencies: for tests whose point is a
    rule, not the size of the seed."""
    from tests.factories import small_plan
    from tracker.catalog.load import load_catalog
    from tracker.directory.contacts import ensure_demo_contacts

    with transaction(db) as s:
        plan_id = load_catalog(s, small_plan(), at("2017-01-05")).plan_id
        ensure_demo_contacts(s, plan_id)
    with db() as s:
        return s.get_one(Plan, plan_id)


STAFF_PASSWORD = "correct horse battery"


@pytest.fixture
def overdue(db: sessionmaker[Session], plan: Plan, policy: Policy) -> list[int]:
    """Q1 2017 opened; all but the first five requests answered; reminders fired on 12 April.

    Also an office account `duchashi` and a performance-office account `jixiaoban`
    (password STAFF_PASSWORD). Returns the request ids in order.
    """
    from sqlalchemy import select as _select

    from tracker.directory.staff import create_user
    from tracker.enums import StaffRole
    from tracker.escalation.sweep import sweep_overdue
    from tracker.models import ProgressRequest
    from tracker.requests.opening import open_due_requests
    from tracker.requests.reports import ReportInput, record_reports

    with transaction(db) as s:
        open_due_requests(s, plan, at("2017-03-17"), policy)
        create_user(s, username="duchashi", display_name="督查室张科长", role=StaffRole.OFFICE,
                    password=STAFF_PASSWORD, now=at("2017-03-01"))
        create_user(s, username="jixiaoban", display_name="绩效办李科长",
                    role=StaffRole.PERFORMANCE, password=STAFF_PASSWORD, now=at("2017-03-01"))
    with db() as s:
        ids = list(s.scalars(_select(ProgressRequest.id).order_by(ProgressRequest.id)))
    with transaction(db) as s:
        record_reports(s, [ReportInput(request_id=i, status="in_progress", percent=20)
                           for i in ids[5:]], submitted_by="t", now=at("2017-04-07"))
        sweep_overdue(s, plan, at("2017-04-12"), policy)
    return ids


@pytest.fixture
def limited_sqlite(db_url):  # type: ignore[no-untyped-def]
    """A second engine on the test's SQLite database whose connections allow 50 bound
    variables and an expression depth of 50 (SQLite's defaults: 32,766 and 1,000): a
    statement that binds one parameter per item, or chains one OR per item, fails here
    as it would at national size."""
    import sqlite3

    from sqlalchemy import event

    from tracker.db import make_engine, session_factory

    engine = make_engine(db_url)
    # what SQLAlchemy pages a many-row INSERT by (it knows SQLite's real limit, 32,766)
    engine.dialect.insertmanyvalues_max_parameters = 50

    @event.listens_for(engine, "connect")
    def _limits(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        dbapi_conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 50)
        dbapi_conn.setlimit(sqlite3.SQLITE_LIMIT_EXPR_DEPTH, 50)

    yield session_factory(engine)
    engine.dispose()
