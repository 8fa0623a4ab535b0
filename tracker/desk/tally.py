"""The overdue board's running counts (`models.BoardTally`), kept by database triggers.

The board's counts per light, its heat table and its on-time rate per period add up the
filtered requests on every view; at national scale (1M requests) that is a read of every
request each time. The tally holds the same requests counted per period, agency, section,
role, ladder level, state, answered late (1 / 0 / -1 not answered) and due day: every
column a filter or a figure reads, and none that changes with the day. The light, which
does (yellow is "due within `Rules.yellow_within` working days" of today), is computed on
reading from state, due day and `late`, with the rule's own CASE (`light`), so a figure
read from the tally equals the live one (`tracker.desk.board`'s `*_live`) exactly.

Triggers keep it (migration 0020; `install`): on PostgreSQL one statement-level trigger per
table and event, reading its transition tables (one INSERT … SELECT … GROUP BY per
statement, however many rows it wrote: a bulk opening adds its requests in one upsert);
on SQLite row triggers. Each adds +1 for a request's new key and -1 for its old one
(an UPDATE that moves none of the counted columns adds nothing); the upserts are sorted by
key, so two writers take the tally's rows in the same order (no deadlock). Besides the
requests' own columns a request's section and role come from its measure and assignment:
a change of a measure's section or an assignment's role or measure moves their requests.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Select, and_, case, func, literal, select, text
from sqlalchemy.engine import Connection

from tracker.enums import Light, RequestState
from tracker.models import Agency, BoardTally, ReportingPeriod
from tracker.policy import Policy
from tracker.requests.rules import yellow_until

INDICATORS = "主要指标"  # as tracker.desk.board: the section of the headline indicators

KEY = "period_id, agency_id, indicator, section, role, level, state, late, due_on"
_ORDINALS = ", ".join(str(i) for i in range(1, 10))


def _upsert(source: str) -> str:
    """One INSERT … SELECT adding `source`'s signed rows to the tally. `source` yields
    period_id, agency_id, indicator, section, role, level, state, answered_late, due_on,
    sign (+1 / -1 per request); keys whose signs cancel are left alone."""
    return (
        f"INSERT INTO board_tally ({KEY}, n) "
        "SELECT d.period_id, d.agency_id, d.indicator, d.section, d.role, d.level, d.state, "
        "CASE WHEN d.answered_late IS NULL THEN -1 WHEN d.answered_late THEN 1 ELSE 0 END, "
        f"d.due_on, sum(d.sign) FROM ({source}) d WHERE true GROUP BY {_ORDINALS} "
        f"HAVING sum(d.sign) <> 0 ORDER BY {_ORDINALS} "
        f"ON CONFLICT ({KEY}) DO UPDATE SET n = board_tally.n + excluded.n")


def _requests(rows: str, sign: str, r: str = "r") -> str:
    """The signed tally source of the requests `rows` (a table or transition table, or on
    SQLite `(SELECT 1)` with `r` the row alias NEW or OLD): section and role looked up."""
    return (
        f"SELECT {r}.period_id AS period_id, {r}.agency_id AS agency_id, "
        f"{r}.indicator_id IS NOT NULL AS indicator, coalesce(m.section, '') AS section, "
        f"coalesce(a.role, '') AS role, {r}.level AS level, {r}.state AS state, "
        f"{r}.answered_late AS answered_late, {r}.due_on AS due_on, {sign} AS sign "
        f"FROM {rows} LEFT JOIN assignment a ON a.id = {r}.assignment_id "
        "LEFT JOIN measure m ON m.id = a.measure_id")


def _moved(changed: str) -> str:
    """The signed source of the requests of `changed` (id, section, role, sign: an
    assignment's old key -1 and new key +1)."""
    return ("SELECT r.period_id AS period_id, r.agency_id AS agency_id, false AS indicator, "
            "c.section AS section, c.role AS role, r.level AS level, r.state AS state, "
            "r.answered_late AS answered_late, r.due_on AS due_on, c.sign AS sign "
            f"FROM ({changed}) c JOIN progress_request r ON r.assignment_id = c.id")


BACKFILL = _upsert(_requests("progress_request r", "1"))

# -- PostgreSQL: statement triggers over transition tables ------------------------------

_PG_REQUEST = f"""
CREATE FUNCTION board_tally_request() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    {_upsert(_requests("new_rows r", "1"))};
  ELSIF TG_OP = 'DELETE' THEN
    {_upsert(_requests("old_rows r", "-1"))};
  ELSE
    {_upsert(_requests(
        "(SELECT *, -1 AS sign FROM old_rows UNION ALL SELECT *, 1 FROM new_rows) r",
        "r.sign"))};
  END IF;
  RETURN NULL;
END $$"""

_PG_ASSIGNMENT = f"""
CREATE FUNCTION board_tally_assignment() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  {_upsert(_moved(
      "SELECT o.id, m.section, o.role, -1 AS sign FROM old_rows o JOIN new_rows w ON w.id = o.id "
      "JOIN measure m ON m.id = o.measure_id "
      "WHERE o.role IS DISTINCT FROM w.role OR o.measure_id IS DISTINCT FROM w.measure_id "
      "UNION ALL SELECT w.id, m.section, w.role, 1 FROM old_rows o JOIN new_rows w ON w.id = o.id "
      "JOIN measure m ON m.id = w.measure_id "
      "WHERE o.role IS DISTINCT FROM w.role OR o.measure_id IS DISTINCT FROM w.measure_id"))};
  RETURN NULL;
END $$"""

_PG_MEASURE = f"""
CREATE FUNCTION board_tally_measure() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  {_upsert(_moved(
      "SELECT a.id, x.section, a.role, x.sign FROM ("
      "SELECT o.id AS measure_id, o.section, -1 AS sign FROM old_rows o "
      "JOIN new_rows w ON w.id = o.id WHERE o.section IS DISTINCT FROM w.section "
      "UNION ALL SELECT w.id, w.section, 1 FROM old_rows o "
      "JOIN new_rows w ON w.id = o.id WHERE o.section IS DISTINCT FROM w.section) x "
      "JOIN assignment a ON a.measure_id = x.measure_id"))};
  RETURN NULL;
END $$"""

PG_INSTALL = [
    _PG_REQUEST, _PG_ASSIGNMENT, _PG_MEASURE,
    "CREATE TRIGGER board_tally_request_insert AFTER INSERT ON progress_request "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION board_tally_request()",
    "CREATE TRIGGER board_tally_request_update AFTER UPDATE ON progress_request "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION board_tally_request()",
    "CREATE TRIGGER board_tally_request_delete AFTER DELETE ON progress_request "
    "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION board_tally_request()",
    "CREATE TRIGGER board_tally_assignment_update AFTER UPDATE ON assignment "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION board_tally_assignment()",
    "CREATE TRIGGER board_tally_measure_update AFTER UPDATE ON measure "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION board_tally_measure()",
]

PG_DROP = [
    "DROP TRIGGER IF EXISTS board_tally_request_insert ON progress_request",
    "DROP TRIGGER IF EXISTS board_tally_request_update ON progress_request",
    "DROP TRIGGER IF EXISTS board_tally_request_delete ON progress_request",
    "DROP TRIGGER IF EXISTS board_tally_assignment_update ON assignment",
    "DROP TRIGGER IF EXISTS board_tally_measure_update ON measure",
    "DROP FUNCTION IF EXISTS board_tally_request()",
    "DROP FUNCTION IF EXISTS board_tally_assignment()",
    "DROP FUNCTION IF EXISTS board_tally_measure()",
]

# -- SQLite: row triggers -------------------------------------------------------------

_COUNTED = ("period_id", "agency_id", "assignment_id", "indicator_id", "level", "state",
            "answered_late", "due_on")
_ANY_COUNTED = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in _COUNTED)

SQLITE_INSTALL = [
    "CREATE TRIGGER board_tally_request_insert AFTER INSERT ON progress_request BEGIN "
    f"{_upsert(_requests('(SELECT 1) one', '1', 'NEW'))}; END",
    "CREATE TRIGGER board_tally_request_delete AFTER DELETE ON progress_request BEGIN "
    f"{_upsert(_requests('(SELECT 1) one', '-1', 'OLD'))}; END",
    f"CREATE TRIGGER board_tally_request_update AFTER UPDATE ON progress_request WHEN {_ANY_COUNTED} "
    "BEGIN " + _upsert(_requests("(SELECT 1) one", "-1", "OLD") + " UNION ALL "
                       + _requests("(SELECT 1) one", "1", "NEW")) + "; END",
    "CREATE TRIGGER board_tally_assignment_update AFTER UPDATE OF role, measure_id ON assignment "
    "WHEN OLD.role IS NOT NEW.role OR OLD.measure_id IS NOT NEW.measure_id BEGIN "
    + _upsert(_moved(
        "SELECT OLD.id AS id, (SELECT section FROM measure WHERE id = OLD.measure_id) AS section, "
        "OLD.role AS role, -1 AS sign UNION ALL SELECT NEW.id, "
        "(SELECT section FROM measure WHERE id = NEW.measure_id), NEW.role, 1")) + "; END",
    "CREATE TRIGGER board_tally_measure_update AFTER UPDATE OF section ON measure "
    "WHEN OLD.section IS NOT NEW.section BEGIN "
    + _upsert(_moved(
        "SELECT a.id AS id, s.section AS section, a.role AS role, s.sign AS sign FROM "
        "(SELECT OLD.section AS section, -1 AS sign UNION ALL SELECT NEW.section, 1) s "
        "JOIN assignment a ON a.measure_id = NEW.id")) + "; END",
]

SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS board_tally_request_insert",
    "DROP TRIGGER IF EXISTS board_tally_request_delete",
    "DROP TRIGGER IF EXISTS board_tally_request_update",
    "DROP TRIGGER IF EXISTS board_tally_assignment_update",
    "DROP TRIGGER IF EXISTS board_tally_measure_update",
]


def install(conn: Connection) -> None:
    """Create the tally's triggers for `conn`'s dialect (PostgreSQL or SQLite) and count
    the requests already there into the (empty) tally: migration 0020's work."""
    for statement in PG_INSTALL if conn.dialect.name == "postgresql" else SQLITE_INSTALL:
        conn.exec_driver_sql(statement)
    conn.execute(text("DELETE FROM board_tally"))
    conn.exec_driver_sql(BACKFILL)


def uninstall(conn: Connection) -> None:
    """Drop the tally's triggers (migration 0020's downgrade; the table is dropped after)."""
    for statement in PG_DROP if conn.dialect.name == "postgresql" else SQLITE_DROP:
        conn.exec_driver_sql(statement)


# -- reading -----------------------------------------------------------------------------

T = BoardTally


def light(today: dt.date, policy: Policy) -> Any:
    """`requests.rules.light` as a CASE over the tally's columns (as `light_sql` over the
    request's): grey waived, red open and due before today, yellow open and due by
    `rules.yellow_until` or answered late, else green."""
    is_open = T.state == RequestState.OPEN.value
    return case(
        (T.state == RequestState.WAIVED.value, Light.GREY.value),
        (and_(is_open, T.due_on < today), Light.RED.value),
        (and_(is_open, T.due_on <= yellow_until(today, policy)), Light.YELLOW.value),
        (T.late == 1, Light.YELLOW.value),
        else_=Light.GREEN.value,
    )


def section_of() -> Any:
    """A tally row's section as the board names it (主要指标 for an indicator's request)."""
    return case((T.indicator.is_(True), literal(INDICATORS)), else_=T.section)


def filtered(f: Any, lt: Any, *columns: Any, period: bool = False) -> Select[Any]:
    """A SELECT of `columns` over the tally rows a `board.BoardFilter` keeps (plan, agency,
    section, role, period, minimum level, light), as `board._base` does over the requests.
    `period`: join the reporting period even when no filter needs it."""
    q = select(*columns).select_from(T)
    if f.plan_id or f.period or period:
        q = q.join(ReportingPeriod, ReportingPeriod.id == T.period_id)
    if f.plan_id:
        q = q.where(ReportingPeriod.plan_id == f.plan_id)
    if f.period:
        q = q.where(ReportingPeriod.label == f.period)
    if f.agency_id:
        q = q.where(T.agency_id == f.agency_id)
    if f.section == INDICATORS:
        q = q.where(T.indicator.is_(True))
    elif f.section:
        q = q.where(T.indicator.is_(False), T.section == f.section)
    if f.role:
        q = q.where(T.role == f.role)
    if f.level:
        q = q.where(T.level >= f.level)
    if f.light:
        q = q.where(lt == f.light)
    return q.where(T.n > 0)


def counts(conn: Any, f: Any, today: dt.date, policy: Policy) -> dict[str, int]:
    """Requests per light for the filter (`board.board_counts_live`'s figures)."""
    lt = light(today, policy)
    return {str(k): int(n) for k, n in conn.execute(
        filtered(f, lt, lt, func.sum(T.n)).group_by(lt).having(func.sum(T.n) > 0))}


def red_cells(conn: Any, f: Any, today: dt.date, policy: Policy
              ) -> list[tuple[int, str, str, int]]:
    """(agency id, agency name, section, red requests) for the filter: the heat table's
    cells (`board.heat_table`), from the tally's open rows due before today."""
    lt = light(today, policy)
    section = section_of()
    q = (filtered(f, lt, T.agency_id, Agency.name, section, func.sum(T.n))
         .join(Agency, Agency.id == T.agency_id)
         .where(T.state == RequestState.OPEN.value, T.due_on < today)
         .group_by(T.agency_id, Agency.name, section).having(func.sum(T.n) > 0)
         .order_by(T.agency_id))
    return [(int(a), str(name), str(s), int(n)) for a, name, s, n in conn.execute(q)]


def red_top(conn: Any, f: Any, today: dt.date, policy: Policy, limit: int
            ) -> tuple[list[tuple[int, str, str, int]], tuple[int, dict[str, int], int] | None]:
    """The heat table cut to its first `limit` agencies in the database: (agency id, name,
    section, red requests) of the `limit` agencies with most red requests (ties by agency
    id), in that order; and the others added up as (agencies, red requests per section,
    total), None when there are no others. `red_cells` ranked and cut as `board.heat_top`
    does, without sending every agency's cells to the program (25,000 agencies at 1M
    requests).

    Two aggregates over the filtered red rows, with no join between them, so that no plan
    depends on the tally's statistics (the triggers fill it; nothing analyses it on the
    way): the agencies' totals, cut by a top-N sort (and counted before the cut); then the
    cells, the first agencies by their own id and the others in one group, by a hashed IN
    over at most `limit` ids."""
    lt = light(today, policy)
    section = section_of()
    total = func.sum(T.n)
    top = (filtered(f, lt, T.agency_id, total.label("total"), func.count().over())
           .where(T.state == RequestState.OPEN.value, T.due_on < today)
           .group_by(T.agency_id).having(total > 0)
           .order_by(total.desc(), T.agency_id).limit(limit).subquery("top"))
    ranked = [(int(a), str(name), int(n)) for a, name, n in conn.execute(
        select(top.c.agency_id, Agency.name, top.c[2]).join(Agency, Agency.id == top.c.agency_id)
        .order_by(top.c.total.desc(), top.c.agency_id))]
    if not ranked:
        return [], None
    ids = [a for a, _, _ in ranked]
    shown = case((T.agency_id.in_(ids), T.agency_id))  # NULL: one of the others
    cells: dict[int | None, dict[str, int]] = {}
    for agency_id, s, n in conn.execute(
            filtered(f, lt, shown, section, func.sum(T.n))
            .where(T.state == RequestState.OPEN.value, T.due_on < today)
            .group_by(shown, section).having(func.sum(T.n) > 0)):
        cells.setdefault(agency_id, {})[str(s)] = int(n)
    rows = [(a, name, s, n) for a, name, _ in ranked for s, n in sorted(cells[a].items())]
    rest = cells.get(None)
    return rows, ((ranked[0][2] - len(ranked), rest, sum(rest.values())) if rest else None)


def on_time(conn: Any, f: Any, today: dt.date, policy: Policy) -> list[tuple[str, int, int]]:
    """(period label, answered on time, requests) per period, waived excluded, in due
    order (`board.on_time_by_period`'s figures)."""
    lt = light(today, policy)
    q = (filtered(f, lt, ReportingPeriod.label,
                  func.sum(case((T.late == 0, T.n), else_=0)), func.sum(T.n), period=True)
         .where(T.state != RequestState.WAIVED.value)
         .group_by(ReportingPeriod.label).having(func.sum(T.n) > 0)
         .order_by(func.min(ReportingPeriod.due_on), ReportingPeriod.label))
    return [(str(label), int(on or 0), int(n)) for label, on, n in conn.execute(q)]
