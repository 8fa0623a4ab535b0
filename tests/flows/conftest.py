"""Fixtures of the scheduler tests: PostgreSQL databases of their own."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import PG_ADMIN_URL


@pytest.fixture
def pg_urls():  # type: ignore[no-untyped-def]
    """Two empty PostgreSQL databases of our own (sched_*), dropped afterwards."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    names = [f"sched_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield [f"{base}/{name}" for name in names]
    from flows.runtime import dispose_engines

    dispose_engines()
    with admin.connect() as conn:
        for name in names:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = :n"), {"n": name})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()
