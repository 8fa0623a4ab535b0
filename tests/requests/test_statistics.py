"""Planner statistics after a bulk write (issue 14, many plans): a job that runs right after a
big opening must not plan on a table PostgreSQL still believes empty. The opening and the
sweep refresh them in their own transaction, by autovacuum's rule (50 rows + 10 %)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.conftest import at
from tracker.catalog.load import load_catalog
from tracker.catalog.schema import Catalog
from tracker.db import make_engine, migrate, session_factory, transaction
from tracker.directory.contacts import ensure_demo_contacts
from tracker.escalation.sweep import sweep_overdue
from tracker.models import Plan, ProgressRequest
from tracker.policy import Policy
from tracker.requests.opening import open_due_requests
from tracker.sql import refresh_statistics


def _counted(session: Session, table: str) -> float:
    return float(session.scalar(text(
        "SELECT reltuples FROM pg_class WHERE oid = CAST(:t AS regclass)"), {"t": table}))


@pytest.mark.postgresql_only
def test_a_big_opening_and_sweep_refresh_the_planner_statistics(fresh_pg_url, catalog: Catalog,
                                                                policy: Policy) -> None:
    engine = make_engine(fresh_pg_url)
    migrate(engine)
    factory = session_factory(engine)
    with transaction(factory) as s:
        plan_id = load_catalog(s, catalog, at("2017-01-03")).plan_id
        ensure_demo_contacts(s, plan_id)
    with transaction(factory) as s:
        assert _counted(s, "progress_request") < 0  # never analysed
        opened = open_due_requests(s, s.get_one(Plan, plan_id), at("2017-03-17"), policy)
        assert opened.requests_opened > 50
        # counted in the opening's own transaction, its new rows included
        assert _counted(s, "progress_request") == opened.requests_opened
        # a write of fewer than 50 + 10 % of the rows counted leaves them
        assert not refresh_statistics(s, ProgressRequest.__table__, 50)  # type: ignore[arg-type]
        assert refresh_statistics(s, ProgressRequest.__table__,  # type: ignore[arg-type]
                                  50 + opened.requests_opened // 10 + 1)
    with transaction(factory) as s:
        assert _counted(s, "escalation") < 0
        fired = sweep_overdue(s, s.get_one(Plan, plan_id), at("2017-04-24"), policy).fired
        assert sum(fired.values()) > 50
        assert _counted(s, "escalation") == sum(fired.values())
    engine.dispose()


def test_sqlite_keeps_no_statistics_and_is_left_alone(db, small) -> None:  # type: ignore[no-untyped-def]
    with transaction(db) as s:
        ran = refresh_statistics(s, ProgressRequest.__table__, 10_000)  # type: ignore[arg-type]
        assert ran is (s.get_bind().dialect.name == "postgresql")
        if not ran:
            assert s.scalar(text("SELECT count(*) FROM sqlite_master "
                                 "WHERE name = 'sqlite_stat1'")) == 0
