"""Small SQL helpers shared by the set-based services."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_ignore_from_select(
    session: Session, table: Table, columns: list[str], select: Select[*tuple[Any, ...]]
) -> int:
    """INSERT … SELECT … ON CONFLICT DO NOTHING; returns the number of rows inserted.

    The unique constraints decide who wins when two runs race: the loser inserts nothing
    (STYLE.md #6). Works on SQLite and PostgreSQL.
    """
    dialect = session.get_bind().dialect.name
    ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    stmt = ins.from_select(columns, select).on_conflict_do_nothing()
    result = session.connection().execute(stmt.execution_options(preserve_rowcount=True))
    return max(result.rowcount or 0, 0)  # type: ignore[attr-defined]


def insert_ignore_values(session: Session, table: Table, rows: list[dict[str, Any]]) -> int:
    """Multi-row INSERT … ON CONFLICT DO NOTHING; returns the number of rows inserted."""
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    stmt = ins.values(rows).on_conflict_do_nothing().execution_options(preserve_rowcount=True)
    result = session.connection().execute(stmt)
    return max(result.rowcount or 0, 0)  # type: ignore[attr-defined]
