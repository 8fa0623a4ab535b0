"""The catalog's measures and assignments written set-based (issue 14, item 1): the part
of `tracker.catalog.load` whose size grows with the plan.

Measures are read as plain rows of their plan (one query), compared in Python and written
by executemany (inserts, then updates by id): one statement per row changed, each of one
row's size. Assignments never become Python rows: the catalog's explicit listings (lead,
co-responsible, named districts, and the agencies the office picked on the review list)
go to a temporary table, the measures shared by every district to a second and the plan's
districts to a third; every assignment wanted is the first table's rows plus the product
of the other two. A new plan inserts them in one INSERT … SELECT; a reload makes two
passes over the plan's rows, scoped to its measures and backed by the unique index on
(measure, agency): one LEFT JOIN keeping the rows wanted that are new or differ (a
fourth temporary table, then an UPDATE … FROM and an INSERT … SELECT of those), and one
UPDATE … WHERE NOT EXISTS deactivating the rows no longer wanted. A national plan of
40 measures shared by 25,000 districts is 25,000 staged rows, not a million objects.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    bindparam,
    exists,
    insert,
    literal_column,
    or_,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from tracker.catalog.deadline_rows import DEADLINE_COLUMNS, deadline_values
from tracker.catalog.schema import Catalog
from tracker.catalog.schema import Measure as CatalogMeasure
from tracker.directory.review import picked_assignments
from tracker.enums import Role
from tracker.models import Assignment, Measure
from tracker.sql import staged

Bump = Callable[[str, int], None]
CHUNK = 1000  # rows per executemany

_META = MetaData()
# one row per (measure, agency) the catalog lists explicitly, deduplicated in Python (the
# first listing wins), with the office's picks
_LISTED = Table("tmp_catalog_listed", _META,
                Column("measure_id", BigInteger, primary_key=True, autoincrement=False),
                Column("agency_id", BigInteger, primary_key=True, autoincrement=False),
                Column("role", String(16)), Column("position", Integer),
                prefixes=["TEMPORARY"])
# the measures every district government shares, with the position of the first district
_SHARED = Table("tmp_catalog_shared", _META,
                Column("measure_id", BigInteger, primary_key=True, autoincrement=False),
                Column("base", Integer),
                prefixes=["TEMPORARY"])
# the plan's district governments, each with its index in `plan.districts` (first
# occurrence of an agency: two names of one agency count once)
_DISTRICTS = Table("tmp_catalog_district", _META,
                   Column("agency_id", BigInteger, primary_key=True, autoincrement=False),
                   Column("idx", Integer),
                   prefixes=["TEMPORARY"])
# candidate picks of the review list, to find the positions their rows already have
_PICKS = Table("tmp_catalog_pick", _META,
               Column("measure_id", BigInteger, primary_key=True, autoincrement=False),
               Column("agency_id", BigInteger, primary_key=True, autoincrement=False),
               prefixes=["TEMPORARY"])

# a reload's rows wanted that are new (`found` false) or differ from the plan's row
_CHANGED = Table("tmp_catalog_changed", _META,
                 Column("measure_id", BigInteger, primary_key=True, autoincrement=False),
                 Column("agency_id", BigInteger, primary_key=True, autoincrement=False),
                 Column("role", String(16)), Column("position", Integer),
                 Column("found", Boolean), prefixes=["TEMPORARY"])

_LEAD, _CO, _DISTRICT = Role.LEAD.value, Role.CO.value, Role.DISTRICT.value
_MEASURE_COLUMNS = ("section", "title", "text", "position", "active", "targets", "leader")


def load_measures(session: Session, catalog: Catalog, plan_id: int, kept: Collection[str],
                  bump: Bump) -> dict[str, int]:
    """Insert the catalog's new measures, update the changed ones (a measure keeps its id),
    deactivate those of plan `plan_id` the catalog no longer has; write each 完成时限
    (`deadline_rows.deadline_values`; codes in `kept` keep the office's). Bumps
    measures_created / _updated / _deactivated and deadlines_updated as the ORM rows
    did. Returns {code: measure id} of every measure of the plan. One read of the plan's
    measures, then executemany in chunks (each statement one row's size)."""
    m_table: Table = Measure.__table__  # type: ignore[assignment]
    cols = [m_table.c[c] for c in ("id", "code", *_MEASURE_COLUMNS, *DEADLINE_COLUMNS)]
    existing = {row[1]: tuple(row) for row in session.execute(
        select(*cols).where(m_table.c.plan_id == plan_id))}
    new_rows: list[dict[str, Any]] = []
    changed_rows: list[dict[str, Any]] = []
    size = len(_MEASURE_COLUMNS)
    created = updated = dated = 0
    for pos, m in enumerate(catalog.measures):
        values = (m.section, m.title, m.text, pos, True,
                  [t.model_dump(mode="json") for t in m.targets], m.leader)
        deadline = deadline_values(m, kept)
        old = existing.get(m.code)
        if old is None:
            new_rows.append(dict(plan_id=plan_id, code=m.code,
                                 **dict(zip(_MEASURE_COLUMNS, values, strict=True)),
                                 **(deadline or dict.fromkeys(DEADLINE_COLUMNS))))
            created += 1
            dated += deadline is not None and deadline["deadline_text"] is not None
            continue
        changed = old[2:2 + size] != values
        moved = deadline is not None and old[2 + size:] != tuple(deadline.values())
        updated += changed
        dated += moved
        if changed or moved:
            keep = dict(zip(DEADLINE_COLUMNS, old[2 + size:], strict=True))
            changed_rows.append(dict(b_id=old[0], **dict(zip(_MEASURE_COLUMNS, values, strict=True)),
                                     **(deadline or keep)))
    bump("measures_created", created)
    bump("measures_updated", updated)
    bump("deadlines_updated", dated)
    wanted = {m.code for m in catalog.measures}
    dropped = [dict(b_id=row[0], active=False) for code, row in existing.items()
               if code not in wanted and row[2 + _MEASURE_COLUMNS.index("active")]]
    if dropped:
        bump("measures_deactivated", len(dropped))
    by_id = update(m_table).where(m_table.c.id == bindparam("b_id"))
    _executemany(session, insert(m_table), new_rows)
    _executemany(session, by_id, changed_rows)
    _executemany(session, by_id, dropped)
    return {code: mid for code, mid in session.execute(
        select(m_table.c.code, m_table.c.id).where(m_table.c.plan_id == plan_id))}


def load_assignments(session: Session, catalog: Catalog, plan_id: int,
                     measure_ids: dict[str, int], agencies: dict[str, int], *, fresh: bool,
                     bump: Bump) -> None:
    """The catalog's assignments, one per (measure, agency): the first listing wins (lead,
    then co, then districts), so two names of one agency (市国税局 and 市地税局 after their
    merge) keep the stronger role, at the position of that listing. The agencies the office
    picked for a flagged phrase on the review list stay too (they are not in the catalog),
    after the measure's listings (or where their row already is). Assignments of the plan
    that are not wanted are deactivated, never deleted. `fresh`: the plan was created by
    this load (no rows to compare). Bumps assignments_created / _updated / _deactivated.
    A fixed number of statements whatever the size (see the module)."""
    districts: list[tuple[int, int]] = []
    district_ids: set[int] = set()
    for j, name in enumerate(catalog.plan.districts):
        if agencies[name] not in district_ids:
            district_ids.add(agencies[name])
            districts.append((agencies[name], j))
    picks = {} if fresh else _picks(session, catalog, plan_id, measure_ids, agencies,
                                    district_ids)

    def listed() -> Iterator[tuple[int, int, str, int]]:
        for m in catalog.measures:
            mid = measure_ids[m.code]
            for aid, (role, pos) in _listing(m, agencies).items():
                yield mid, aid, role, pos
            for aid, pos, role in picks.get(mid, ()):
                yield mid, aid, role.value, pos

    shared = ((measure_ids[m.code], 1 + len(m.co)) for m in catalog.measures if m.districts)
    with staged(session, _LISTED, listed()) as e, staged(session, _SHARED, shared) as f, \
            staged(session, _DISTRICTS, districts) as d:
        fan = (select(f.c.measure_id, d.c.agency_id, literal_column("'district'").label("role"),
                      (f.c.base + d.c.idx).label("position"))
               .select_from(f.join(d, true()))
               .where(~exists().where(e.c.measure_id == f.c.measure_id,
                                      e.c.agency_id == d.c.agency_id)))
        w = union_all(select(e.c.measure_id, e.c.agency_id, e.c.role, e.c.position),
                      fan).subquery("w")
        a: Table = Assignment.__table__  # type: ignore[assignment]
        conn = session.connection()
        insert_of = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        columns = ["measure_id", "agency_id", "role", "position", "active"]
        if fresh:  # a new plan: every row wanted is new
            done = conn.execute(insert_of(a).from_select(columns, select(
                w.c.measure_id, w.c.agency_id, w.c.role, w.c.position, true().label("active"))
                .where(w.c.measure_id.is_not(None))).execution_options(preserve_rowcount=True))
            _bump(bump, "assignments_created", done.rowcount)
            return
        # a reload: one pass of the rows wanted against the plan's, keeping the new and the
        # changed ones (a few, as a rule), then each applied
        _CHANGED.create(conn, checkfirst=True)
        conn.execute(_CHANGED.delete())
        c = _CHANGED
        conn.execute(insert(c).from_select(["measure_id", "agency_id", "role", "position",
                                            "found"], select(
            w.c.measure_id, w.c.agency_id, w.c.role, w.c.position,
            a.c.id.is_not(None).label("found"))
            .select_from(w.outerjoin(a, and_(a.c.measure_id == w.c.measure_id,
                                            a.c.agency_id == w.c.agency_id)))
            .where(or_(a.c.id.is_(None), a.c.role != w.c.role, a.c.position != w.c.position,
                       a.c.active.is_(False)))))
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f'ANALYZE "{c.name}"')
        done = conn.execute(update(a).where(
            c.c.found.is_(True), a.c.measure_id == c.c.measure_id, a.c.agency_id == c.c.agency_id)
            .values(role=c.c.role, position=c.c.position, active=True)
            .execution_options(preserve_rowcount=True))
        _bump(bump, "assignments_updated", done.rowcount)
        done = conn.execute(insert_of(a).from_select(columns, select(
            c.c.measure_id, c.c.agency_id, c.c.role, c.c.position, true().label("active"))
            .where(c.c.found.is_(False))).on_conflict_do_nothing()
            .execution_options(preserve_rowcount=True))
        _bump(bump, "assignments_created", done.rowcount)
        conn.execute(c.delete())
        plan_measures = select(Measure.id).where(Measure.plan_id == plan_id)
        done = conn.execute(update(a).where(
            a.c.measure_id.in_(plan_measures), a.c.active.is_(True),
            ~exists().where(e.c.measure_id == a.c.measure_id, e.c.agency_id == a.c.agency_id),
            ~exists().select_from(f.join(d, true())).where(
                f.c.measure_id == a.c.measure_id, d.c.agency_id == a.c.agency_id))
            .values(active=False).execution_options(preserve_rowcount=True))
        _bump(bump, "assignments_deactivated", done.rowcount)


def _listing(m: CatalogMeasure, agencies: dict[str, int]) -> dict[int, tuple[str, int]]:
    """{agency id: (role's value, position)} of measure `m`'s explicit listing (lead, co,
    named districts; not the districts of `districts: true`), the first listing of an
    agency winning."""
    rows = [(m.lead, _LEAD)] + [(c, _CO) for c in m.co]
    if not m.districts:
        rows += [(d, _DISTRICT) for d in m.district_names]
    out: dict[int, tuple[str, int]] = {}
    for pos, (name, role) in enumerate(rows):
        out.setdefault(agencies[name], (role, pos))
    return out


def _picks(session: Session, catalog: Catalog, plan_id: int, measure_ids: dict[str, int],
           agencies: dict[str, int], district_ids: set[int]
           ) -> dict[int, list[tuple[int, int, Role]]]:
    """{measure id: [(agency id, position, role)]} of the agencies the office picked on the
    review list that the catalog does not list for the measure, in the order picked: a
    row already there keeps its position, a new one goes after the measure's listings and
    the picks before it. Two queries; the picks' rows are found by a join."""
    by_id = {measure_ids[m.code]: m for m in catalog.measures}
    listings: dict[int, dict[int, tuple[str, int]]] = {}
    wanted: list[tuple[int, int, Role]] = []
    seen: set[tuple[int, int]] = set()
    for (mid, aid), role in picked_assignments(session, plan_id):
        m = by_id.get(mid)
        if m is None or (mid, aid) in seen:
            continue
        seen.add((mid, aid))
        if mid not in listings:
            listings[mid] = _listing(m, agencies)
        if aid in listings[mid] or (m.districts and aid in district_ids):
            continue
        wanted.append((mid, aid, role))
    if not wanted:
        return {}
    a: Table = Assignment.__table__  # type: ignore[assignment]
    with staged(session, _PICKS, sorted({(mid, aid) for mid, aid, _ in wanted})) as p:
        there = {(mid, aid): pos for mid, aid, pos in session.execute(
            select(a.c.measure_id, a.c.agency_id, a.c.position).join(
                p, and_(p.c.measure_id == a.c.measure_id, p.c.agency_id == a.c.agency_id)))}
    sizes = {mid: 1 + len(by_id[mid].co) + len(catalog.plan.districts if by_id[mid].districts
                                               else by_id[mid].district_names)
             for mid in listings}
    out: dict[int, list[tuple[int, int, Role]]] = {}
    for mid, aid, role in wanted:
        pos = there.get((mid, aid), sizes[mid])
        sizes[mid] = max(sizes[mid], pos + 1)
        out.setdefault(mid, []).append((aid, pos, role))
    return out


def _executemany(session: Session, stmt: Any, rows: list[dict[str, Any]]) -> None:
    conn = session.connection()
    for start in range(0, len(rows), CHUNK):
        conn.execute(stmt, rows[start:start + CHUNK])


def _bump(bump: Bump, key: str, n: int | None) -> None:
    if n and n > 0:
        bump(key, n)
