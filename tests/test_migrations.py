"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from tests.conftest import _engine
from tracker.models import Base


def test_head_matches_the_models(db_url):
    engine = _engine(db_url)  # migrated to head by the fixture
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = compare_metadata(ctx, Base.metadata)
    assert diffs == []
