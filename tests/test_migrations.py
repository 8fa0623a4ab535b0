"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from pathlib import Path

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


def test_0003_merges_one_agency_named_in_two_plans(tmp_path):
    """Before 0003 each plan had its own agency rows: two plans of one city named 市民政局
    twice. 0003 keeps one row and points everything (assignments, requests, contacts,
    outbox, circular items) at it; a contact both rows had is kept once."""
    import json
    import lzma
    import shutil

    from alembic import command
    from sqlalchemy import text

    from tracker.db import alembic_config, make_engine, migrate

    path = tmp_path / "tracker.db"
    with lzma.open(Path(__file__).parent / "fixtures" / "demo-2017-rev0001.sqlite.xz") as src, \
            open(path, "wb") as dst:
        shutil.copyfileobj(src, dst)
    engine = make_engine(f"sqlite:///{path}")
    command.upgrade(alembic_config(engine), "0002")
    with engine.begin() as conn:
        civil, email, liaison = conn.execute(text(
            "SELECT a.id, l.email, l.id FROM agency a JOIN liaison l ON l.agency_id = a.id "
            "WHERE a.name = '市民政局' AND l.role = 'liaison'")).one()
        conn.execute(text("INSERT INTO plan (id, key, title, issuer, issued, first_year, last_year,"
                          " catalog_hash) VALUES (2, 'second', '第二个规划', '天津市人民政府办公厅',"
                          " '2017-01-05', 2017, 2018, 'x')"))
        conn.execute(text("INSERT INTO agency (id, plan_id, name, kind) "
                          "VALUES (9001, 2, '市民政局', 'city_agency')"))
        conn.execute(text("INSERT INTO liaison (id, agency_id, role, name, email, active, "
                          "token_version) VALUES (9001, 9001, 'liaison', '张三', :e, 1, 1), "
                          "(9002, 9001, 'deputy_head', '李四', 'li@example.org', 1, 1)"),
                     {"e": email})
        conn.execute(text("INSERT INTO outbox_message (key, kind, channel, address, recipient_name,"
                          " agency_id, liaison_id, level, is_copy, status, attempts, next_attempt_at,"
                          " created_at) VALUES ('meet:2:2017:x:meeting_reminder:9001',"
                          " 'meeting_reminder', 'file', :e, '张三', 9001, 9001, 0, 0, 'pending', 0,"
                          " '2017-10-01 00:00:00.000000', '2017-10-01 00:00:00.000000')"),
                     {"e": email})
        conn.execute(text("INSERT INTO circular (plan_id, key, title, items, state, drafted_at) "
                          "VALUES (2, '2:2017-05-01', 't', :i, 'draft', '2017-05-01 00:00:00.000000')"),
                     {"i": json.dumps([{"request_id": 1, "agency_id": 9001}])})
    migrate(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM agency WHERE name = '市民政局'")).scalar() == 1
        assert conn.execute(text("SELECT government FROM agency WHERE id = :a"),
                            {"a": civil}).scalar() == "天津市人民政府"
        contacts = conn.execute(text("SELECT id, email FROM contact WHERE agency_id = :a "
                                     "ORDER BY id"), {"a": civil}).all()
        assert [c[0] for c in contacts if c[1] == email] == [liaison]  # the duplicate is gone
        assert 9002 in [c[0] for c in contacts]  # the other contact moved over
        row = conn.execute(text("SELECT agency_id, contact_id, plan_id FROM outbox_message "
                                "WHERE key LIKE 'meet:2:%'")).one()
        assert tuple(row) == (civil, liaison, 2)
        # 0021 moved the list into circular_item rows (keys an early list lacks left blank)
        item = conn.execute(text("SELECT i.request_id, i.agency_id, i.code, i.due_on "
                                 "FROM circular_item i JOIN circular c ON c.id = i.circular_id "
                                 "WHERE c.plan_id = 2")).one()
        assert tuple(item) == (1, civil, "", None)
        assert conn.execute(text("PRAGMA foreign_key_check")).all() == []
    engine.dispose()

