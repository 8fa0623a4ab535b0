"""Small SQL helpers shared by the set-based services."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    MetaData,
    Select,
    Table,
    cast,
    func,
    literal_column,
    select,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler


@compiles(Table, "sqlite")
def _sqlite_table(table: Table, compiler: SQLCompiler, **kw: Any) -> str:
    """SQLite's INDEXED BY from `Select.with_hint(table, "INDEXED BY ix", "sqlite")`, which
    SQLAlchemy's SQLite compiler leaves out: a query whose point is one index (the
    dispatcher's claim reads a partial index in its order) names it, as SQLite without
    statistics would otherwise guess another; a missing index is then an error, not a scan.
    Any other table compiles as it always does."""
    text = compiler.visit_table(table, **kw)
    hint = (kw.get("fromhints") or {}).get(table)
    if hint and kw.get("asfrom") and not kw.get("ashint"):
        text += f" {hint}"
    return text


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


def json_list_ids(session: Session, table: Any, column: Any, key: str,
                  *where: Any) -> Select[int]:
    """A SELECT of the integers under `key` in each object of the JSON list `column` of
    `table`'s rows matching `where` (e.g. the request ids of one circular's items), for
    use as `x.in_(…)`: one statement of constant size, however long the list (no bound
    parameter per id). SQLite: json_each; PostgreSQL: json_array_elements."""
    if session.get_bind().dialect.name == "postgresql":
        elem = func.json_array_elements(column).table_valued("value").alias("elem")
        value: Any = cast(elem.c.value.op("->>")(literal_column(f"'{_json_key(key)}'")),
                          Integer)
    else:
        elem = func.json_each(column).table_valued("value").alias("elem")
        value = func.json_extract(elem.c.value, literal_column(f"'$.{_json_key(key)}'"))
    return select(value).select_from(table).join(elem, true()).where(*where)


def _json_key(key: str) -> str:
    if not key.isidentifier():
        raise ValueError(f"not a plain JSON key: {key!r}")
    return key


# A temporary table holding sets of ids that come from Python (an uploaded sheet's rows, a
# batch of answers): one per connection, rows tagged by the set they belong to.
_ID_SET = Table("tmp_id_set", MetaData(), Column("set_key", Integer, primary_key=True),
                Column("id", BigInteger, primary_key=True), prefixes=["TEMPORARY"])
_set_keys = itertools.count(1)


@contextmanager
def id_set(session: Session, ids: Iterable[int]) -> Iterator[Select[int]]:
    """The ids given, held in a temporary table for the length of the block: yields a
    SELECT of them to use as `column.in_(…)` or in a join, so no statement binds one
    parameter per id (SQLite's limit of variables, PostgreSQL's 65,535, expression depth).

    The rows go in by executemany in chunks of 1,000 (each statement the same size) and
    are deleted when the block ends; a transaction rolled back takes them with it. The
    table is created on first use on each connection (CREATE TEMPORARY TABLE IF NOT
    EXISTS: private to the connection, never written to the database file or catalog
    of other sessions). Duplicates are kept once. Use inside the session's transaction.
    """
    conn = session.connection()
    _ID_SET.create(conn, checkfirst=True)
    key = next(_set_keys)
    unique = sorted({int(i) for i in ids})
    for start in range(0, len(unique), 1000):
        conn.execute(_ID_SET.insert(), [{"set_key": key, "id": i}
                                        for i in unique[start:start + 1000]])
    ok = False
    try:
        yield select(_ID_SET.c.id).where(_ID_SET.c.set_key == key)
        ok = True
    finally:
        if ok:
            conn.execute(_ID_SET.delete().where(_ID_SET.c.set_key == key))
