"""Small SQL helpers shared by the set-based services."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Integer,
    MetaData,
    Select,
    Table,
    Text,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal


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


# A temporary table holding sets of ids that come from Python (an uploaded sheet's rows, a
# batch of answers): one per connection, rows tagged by the set they belong to.
_ID_SET = Table("tmp_id_set", MetaData(), Column("set_key", Integer, primary_key=True),
                Column("id", BigInteger, primary_key=True), prefixes=["TEMPORARY"])
_set_keys = itertools.count(1)


def id_set(session: Session, ids: Iterable[int]) -> AbstractContextManager[Select[int]]:
    """The ids given, held in a temporary table for the length of the block: yields a
    SELECT of them to use as `column.in_(…)` or in a join, so no statement binds one
    parameter per id (SQLite's limit of variables, PostgreSQL's 65,535, expression depth).

    The rows go in by `fill_rows` (COPY on PostgreSQL, equal-size statements elsewhere) and
    are deleted when the block ends; a transaction rolled back takes them with it. The
    table is created on first use on each connection (CREATE TEMPORARY TABLE IF NOT
    EXISTS: private to the connection, never written to the database file or catalog
    of other sessions). Duplicates are kept once. Use inside the session's transaction.
    """
    return _held(session, _ID_SET, {int(i) for i in ids})


# Names that come from Python (a catalog's agencies), held like `id_set`'s ids.
_NAME_SET = Table("tmp_name_set", MetaData(),
                  Column("set_key", Integer, primary_key=True, autoincrement=False),
                  Column("name", Text, primary_key=True), prefixes=["TEMPORARY"])

SMALL_SET = 16  # below this many values a bound IN list stays as small as a temp table's


def name_set(session: Session, names: Iterable[str]) -> AbstractContextManager[Select[str]]:
    """The names given, held in a temporary table for the length of the block: yields a
    SELECT of them to use as `column.in_(…)` or in a join (see `id_set`: one statement of
    constant size, however many names). Duplicates are kept once. Use inside the
    session's transaction."""
    return _held(session, _NAME_SET, set(names))


@contextmanager
def _held(session: Session, table: Table, values: set[Any]) -> Iterator[Select[Any]]:
    """`values` in temporary `table` (columns set_key, value) under a fresh key for the
    length of the block (`fill_rows`: constant-size statements); yields a SELECT of them.
    The rows are deleted when the block ends; a rollback takes them with it."""
    conn = session.connection()
    table.create(conn, checkfirst=True)
    key = next(_set_keys)
    fill_rows(session, table, ((key, v) for v in sorted(values)))
    value = table.columns[1]
    ok = False
    try:
        yield select(value).where(table.c.set_key == key)
        ok = True
    finally:
        if ok:
            conn.execute(table.delete().where(table.c.set_key == key))


def fill_rows(session: Session, table: Table, rows: Iterable[Sequence[Any]],
              chunk: int = 5000) -> int:
    """Append `rows` (tuples in the order of `table`'s columns) to `table` (a temporary
    staging table); returns how many. PostgreSQL: one COPY … FROM STDIN streaming the
    rows; elsewhere executemany of one single-row INSERT per chunk of `chunk` rows (each
    statement binds one parameter per column, whatever the count; on SQLite through the
    driver's cursor, skipping the engine's per-row listeners). The values are plain
    (int, float, str, bool, None): no datetimes, which only the engine's listener
    stores as UTC text (`tracker.db`). The rows are consumed lazily: a generator keeps
    memory to one chunk."""
    conn = session.connection()
    names = [c.name for c in table.columns]
    n = 0
    if conn.dialect.name == "postgresql":
        raw = conn.connection.dbapi_connection
        quoted = ", ".join(f'"{c}"' for c in names)
        with raw.cursor() as cur:  # type: ignore[union-attr]
            with cur.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row(row)
                    n += 1
        return n
    if conn.dialect.name == "sqlite":
        sql = (f'INSERT INTO "{table.name}" ({", ".join(names)}) '
               f'VALUES ({", ".join("?" for _ in names)})')
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            for part in _chunks(rows, chunk):
                cursor.executemany(sql, part)
                n += len(part)
        finally:
            cursor.close()
        return n
    for part in _chunks(rows, chunk):
        conn.execute(table.insert(), [dict(zip(names, r, strict=True)) for r in part])
        n += len(part)
    return n


def _chunks(rows: Iterable[Sequence[Any]], size: int) -> Iterator[list[Sequence[Any]]]:
    it = iter(rows)
    while part := list(itertools.islice(it, size)):
        yield part


@contextmanager
def staged(session: Session, table: Table, rows: Iterable[Sequence[Any]]) -> Iterator[Table]:
    """`table` (a module-level TEMPORARY Table, private to the connection) holding `rows`
    (see `fill_rows`) for the length of the block, to join against or INSERT … SELECT
    from: data from Python enters SQL as rows, never as bound lists. Created on first use
    on each connection, emptied before and after; on PostgreSQL analysed once filled (a
    temporary table has no statistics otherwise). Use inside the session's transaction."""
    conn = session.connection()
    table.create(conn, checkfirst=True)
    conn.execute(table.delete())
    filled = fill_rows(session, table, rows)
    if conn.dialect.name == "postgresql" and filled:
        conn.exec_driver_sql(f'ANALYZE "{table.name}"')
    ok = False
    try:
        yield table
        ok = True
    finally:
        if ok:
            conn.execute(table.delete())


def insert_ignore_rows(session: Session, table: Table, rows: Iterable[dict[str, Any]],
                       chunk: int = 1000) -> None:
    """INSERT … ON CONFLICT DO NOTHING of many rows as executemany in chunks of `chunk`:
    each statement binds one row's parameters (`insert_ignore_values` writes all rows
    into one statement, whose size grows with them). Every row must have the same keys.
    Does not count (a driver's executemany may not); count before and after if needed."""
    dialect = session.get_bind().dialect.name
    stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    stmt = stmt.on_conflict_do_nothing()
    conn = session.connection()
    it = iter(rows)
    while part := list(itertools.islice(it, chunk)):
        conn.execute(stmt, part)


# a bulk write refreshes its table's planner statistics by PostgreSQL's own autovacuum rule
# (autovacuum_analyze_threshold 50 + autovacuum_analyze_scale_factor 0.1 of the rows last
# counted), at once rather than whenever autovacuum comes round
STATISTICS_MIN_ROWS = 50
STATISTICS_SHARE = 0.1


def refresh_statistics(session: Session, table: Table, added: int) -> bool:
    """Refresh the planner's statistics of `table` after a bulk write that added `added`
    rows, when those and the changes not yet counted (`n_mod_since_analyze`) reach
    STATISTICS_MIN_ROWS + STATISTICS_SHARE × the rows last counted (`pg_class.reltuples`):
    autovacuum's rule, applied in the writer's transaction (its own new rows included), so
    that the next job does not plan on a table the planner still believes empty and pick
    an index that reads every plan's rows instead of the plan's own (issue 14: many plans).
    `ANALYZE (SKIP_LOCKED)`: skipped when another transaction is analysing the table, so
    plans opened side by side never wait on each other. PostgreSQL only (SQLite keeps no
    statistics unless ANALYZE is run by hand); returns whether it ran."""
    if added <= 0 or session.get_bind().dialect.name != "postgresql":
        return False
    row = session.execute(text(
        "SELECT c.reltuples, coalesce(s.n_mod_since_analyze, 0) FROM pg_class c "
        "LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid "
        "WHERE c.oid = CAST(:t AS regclass)"), {"t": table.name}).one()
    counted, changed = max(float(row[0]), 0.0), int(row[1])
    if added + changed < STATISTICS_MIN_ROWS + STATISTICS_SHARE * counted:
        return False
    session.execute(text(f'ANALYZE (SKIP_LOCKED) "{table.name}"'))
    return True


class Unindexed(ColumnElement[Any]):
    """A column SQLite must not look up by index (written `+column`): the rows come from
    a list (`claimed`), and given an index on the column SQLite would rather read every
    row of that state and test each against the list."""

    inherit_cache = True
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]

    def __init__(self, column: ColumnElement[Any]) -> None:
        self.column = column
        self.type = column.type

    @property
    def _from_objects(self) -> list[Any]:
        return self.column._from_objects


@compiles(Unindexed)
def _unindexed(element: Unindexed, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.column, **kw)  # type: ignore[no-any-return]


@compiles(Unindexed, "sqlite")
def _unindexed_sqlite(element: Unindexed, compiler: Any, **kw: Any) -> str:
    return f"+{compiler.process(element.column, **kw)}"
