"""One benchmark table over a synthetic deployment (issue 14, item 5; run on demand, not in CI).

    .venv/bin/python benchmarks/run.py [--assignments 10000 100000] [--plans 1]
        [--db sqlite postgresql] [--rounds 5] [--pg-admin URL] [--skip dispatch pages ...]

For each database and size: a fresh database (a temporary SQLite file, or a PostgreSQL
database made through --pg-admin and dropped after) gets `tracker.ops.synth` (national:
one plan; with --plans P > 1, P county plans of N/P assignments sharing one directory).
Then, in this order, each operation as the product runs it and beside it a hand-written
SQL floor of the same result in the same run:

- open (2017Q1, 17 March): `open_due_requests` per plan. Floor: one INSERT … SELECT of
  the requests and one of their liaisons' notices, per plan (the periods are made first,
  outside both timings).
- sweep (24 April: reminder, supervision notice and circular all due): `sweep_overdue`
  per plan. Floor: per plan, three INSERT … SELECT of the rungs, one UPDATE of the
  requests' level, four INSERT … SELECT of the notices (liaison; deputy head + copy to the
  office; office).
- dispatch (24 April): one `notifications.dispatch.dispatch` run over the whole outbox to
  a channel that accepts each digest in memory. Floor, on a copy of the database: one read
  of the due messages in digest order, then per digest (recipient and notice kind: one
  message sent) one transaction recording its delivery attempts, the messages sent and,
  for a ladder rung's digest, the rungs it notified (`escalation.notified_at`); the run
  asserts both recorded the same rungs. (Before 2 December the floor committed once per
  recipient and wrote no rung: less than the product's result.)
- board: GET /desk of the first plan through the real app (in-process), median of
  --rounds. Floor: the counts per rung and the first page of 50 rows, joined.
- lead page: GET /l/<token> of the liaison of the agency with the most requests, median
  of --rounds. Floor: that agency's requests with their task and period, joined.
- scorecard figures (2017, as of 13 February 2018): `annual.scorecard.figures.compute`
  per plan, then its escalation detail streamed once (as the checkpoint's CSV reads it).
  Floor: every figure compute reports by hand-written SQL, each statement read once
  (SCORE_FLOOR: per agency counts, completeness and extensions; led measures with the
  lead's latest report and their requests; indicators; meetings; delivered 督办 notices and
  signed circulars; rungs per agency, per measure, per rung; the district governments'
  requests), and the detail streamed once (SCORE_DETAIL); the run asserts that floor and
  product give the same numbers (`score_floor`, `score_product`).

`--skip NAME ...` leaves rows out (names: open, sweep, dispatch, board, lead, pages = board and
lead, scorecard). A skipped open or sweep still runs the product's step, untimed and without its
floor, since the later rows read its state.

The floors of open and sweep run first on the same state, in a transaction rolled back
(their work done, not kept); the product's run is committed. Peak MiB: the process's peak
resident set during the step (reset before it). Prints one table: operation, assignments,
plans, seconds, peak MiB, SQL floor seconds, ratio.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, bindparam, func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_dispatch import NullChannel, databases, timed  # noqa: E402

from notifications.dispatch import ANY_TIME, dispatch  # noqa: E402
from tracker.annual.scorecard.figures import compute, detail_records  # noqa: E402
from tracker.dates.periods import ensure_periods  # noqa: E402
from tracker.dates.workdays import SHANGHAI, WorkCalendar  # noqa: E402
from tracker.db import make_engine, migrate, session_factory, transaction  # noqa: E402
from tracker.enums import ChannelKind, ContactRole, StaffRole  # noqa: E402
from tracker.escalation.sweep import sweep_overdue  # noqa: E402
from tracker.models import Agency, Contact, OutboxMessage, Plan, ProgressRequest  # noqa: E402
from tracker.ops.synth import OFFICE, build, counties, national, open_all  # noqa: E402
from tracker.policy import Policy  # noqa: E402
from tracker.settings import Rules  # noqa: E402

PG_ADMIN = os.environ.get("TRACKER_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def at(day: str, hour: int = 9) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), SHANGHAI)


OPEN_AT, SWEEP_AT, SCORE_AT = at("2017-03-17"), at("2017-04-24"), at("2018-02-13")


@dataclass
class Row:
    operation: str
    assignments: int
    plans: int
    seconds: float
    peak_mib: float
    floor_seconds: float | None

    @property
    def ratio(self) -> float | None:
        return None if not self.floor_seconds else self.seconds / self.floor_seconds


def rolled_back(engine: Engine, statements: list[tuple[str, dict[str, Any]]]) -> int:
    """Run raw SQL statements in one transaction, then roll it back; returns rows written."""
    written = 0
    with engine.connect() as conn:
        for sql, params in statements:
            written += max(conn.execute(text(sql), params).rowcount or 0, 0)
        conn.rollback()
    return written


# --- floors ----------------------------------------------------------------------------------

def open_floor(engine: Engine, plan_ids: list[int], policy: Policy) -> int:
    from tracker.models import ReportingPeriod
    from tracker.requests.rules import next_action_day

    statements = []
    with session_factory(engine)() as s:
        for plan_id in plan_ids:
            period = s.scalars(select(ReportingPeriod).where(
                ReportingPeriod.plan_id == plan_id, ReportingPeriod.label == "2017Q1")).one()
            p = {"pid": period.id, "plan": plan_id, "issue": period.issue_on, "due": period.due_on,
                 "next": next_action_day(period.due_on, 0, policy), "now": OPEN_AT, "t": True,
                 "f": False}
            statements += [
                ("INSERT INTO progress_request (period_id, agency_id, assignment_id, issued_on, "
                 "original_due_on, due_on, state, level, ladder_round, next_action_on, created_at, "
                 "due_provisional) SELECT :pid, a.agency_id, a.id, :issue, :due, :due, 'open', 0, 0, "
                 ":next, :now, :f FROM assignment a JOIN measure m ON m.id = a.measure_id "
                 "WHERE m.plan_id = :plan AND m.active = :t AND a.active = :t", p),
                (NOTICE.format(level=0, kind="progress_request", copy=":f", to="r.agency_id",
                               role=ContactRole.LIAISON.value, where="r.period_id = :pid"), p),
            ]
    return rolled_back(engine, statements)


NOTICE = ("INSERT INTO outbox_message (key, kind, channel, address, recipient_name, agency_id, "
          "request_id, contact_id, plan_id, level, is_copy, status, attempts, next_attempt_at, "
          "created_at) SELECT 'floor:{level}:' || r.id || ':' || c.id || ':{copy}', '{kind}', "
          "'email', c.email, c.name, r.agency_id, r.id, c.id, :plan, {level}, {copy}, 'pending', 0, "
          ":now, :now FROM progress_request r JOIN contact c ON c.agency_id = {to} AND "
          "c.role = '{role}' AND c.active = :t WHERE {where}")


def sweep_floor(engine: Engine, plan_ids: list[int], office: int) -> int:
    statements = []
    for plan_id in plan_ids:
        mine = ("r.state = 'open' AND r.period_id IN (SELECT id FROM reporting_period "
                "WHERE plan_id = :plan)")
        p = {"plan": plan_id, "now": SWEEP_AT, "t": True, "f": False, "office": office}
        for level in (1, 2, 3):
            statements.append((
                f"INSERT INTO escalation (request_id, round, level, effective_on, created_at) "
                f"SELECT r.id, r.ladder_round, {level}, :day, :now FROM progress_request r "
                f"WHERE {mine}", {**p, "day": SWEEP_AT.date()}))
        statements.append(("UPDATE progress_request SET level = 3, next_action_on = NULL "
                           "WHERE state = 'open' AND period_id IN (SELECT id FROM "
                           "reporting_period WHERE plan_id = :plan)", p))
        for level, to, role, copy in ((1, "r.agency_id", "liaison", ":f"),
                                      (2, "r.agency_id", "deputy_head", ":f"),
                                      (2, ":office", "liaison", ":t"),
                                      (3, ":office", "liaison", ":f")):
            statements.append((NOTICE.format(level=level, kind="escalation", copy=copy, to=to,
                                             role=role, where=mine), p))
    return rolled_back(engine, statements)


# the notice kind a message is grouped under (NoticeKind.of), as the floor writes it by hand
NOTICE_KIND = ("CASE WHEN kind = 'escalation' THEN CASE level WHEN 1 THEN 'reminder' "
               "WHEN 2 THEN 'supervision' ELSE 'circular' END ELSE kind END")


def dispatch_floor(engine: Engine) -> int:
    """The dispatch floor as the product's result requires it: one read of the due messages in
    digest order (recipient, then notice kind), then per digest (one message sent to one
    recipient) one transaction recording its outcome right after its send, as the crash
    guarantee asks: a delivery attempt per message, the messages marked sent, and for a
    ladder rung's digest the rungs it notified (`escalation.notified_at`, which the
    scorecard reads). Returns the messages sent."""
    due = (f"SELECT id, channel, address, {NOTICE_KIND} FROM outbox_message "
           "WHERE status = 'pending' AND next_attempt_at <= :now "
           f"ORDER BY channel, address, {NOTICE_KIND}, id")
    mine = (f"status IN ('pending', 'sending') AND channel = :channel AND address = :address "
            f"AND {NOTICE_KIND} = :notice")
    record = ("INSERT INTO delivery_attempt (message_id, digest_id, attempted_at, ok, permanent) "
              f"SELECT id, :digest, :now, :ok, :no FROM outbox_message WHERE {mine}")
    # driven by the digest's own requests through escalation's (request, round, level) index
    rungs = ("UPDATE escalation SET notified_at = :now WHERE notified_at IS NULL "
             "AND level = CASE :notice WHEN 'reminder' THEN 1 WHEN 'supervision' THEN 2 ELSE 3 END "
             "AND request_id IN (SELECT request_id FROM outbox_message WHERE "
             f"{mine} AND kind = 'escalation' AND NOT is_copy)")
    mark = ("UPDATE outbox_message SET status = 'sent', sent_at = :now, attempts = attempts + 1, "
            f"claim_token = NULL WHERE {mine}")
    sent = 0
    with engine.connect() as conn:
        rows = conn.execute(text(due), {"now": SWEEP_AT}).all()
        conn.commit()
        for (channel, address, notice), group in itertools.groupby(rows, key=lambda r: r[1:4]):
            params = {"now": SWEEP_AT, "channel": channel, "address": address, "notice": notice,
                      "digest": uuid.uuid4().hex[:32], "ok": True, "no": False}
            conn.execute(text(record), params)
            if notice in ("reminder", "supervision", "circular"):
                conn.execute(text(rungs), params)
            conn.execute(text(mark), params)
            conn.commit()
            sent += sum(1 for _ in group)
    return sent


def notified_rungs(engine: Engine) -> int:
    """How many ladder rungs are recorded as notified."""
    with engine.connect() as conn:
        return conn.scalar(text("SELECT count(*) FROM escalation WHERE notified_at IS NOT NULL"))


BOARD_FLOOR = [
    ("SELECT r.level, count(*) FROM progress_request r JOIN reporting_period p "
     "ON p.id = r.period_id WHERE p.plan_id = :plan GROUP BY r.level", {}),
    ("SELECT r.id, r.due_on, r.level, r.state, m.code, m.title, g.name, p.label "
     "FROM progress_request r JOIN reporting_period p ON p.id = r.period_id "
     "JOIN assignment a ON a.id = r.assignment_id JOIN measure m ON m.id = a.measure_id "
     "JOIN agency g ON g.id = r.agency_id WHERE p.plan_id = :plan "
     "ORDER BY r.level DESC, r.due_on, r.id LIMIT 50", {}),
]
LEAD_FLOOR = [
    ("SELECT r.id, r.due_on, r.level, r.state, m.code, m.title, p.label, pl.title "
     "FROM progress_request r JOIN reporting_period p ON p.id = r.period_id "
     "JOIN plan pl ON pl.id = p.plan_id JOIN assignment a ON a.id = r.assignment_id "
     "JOIN measure m ON m.id = a.measure_id WHERE r.agency_id = :agency "
     "ORDER BY r.due_on, r.id", {}),
]
# the scorecard's floor: every figure `compute` reports, by hand-written SQL, each statement
# read once (the escalation detail streamed), then compared with the product's figures
YEAR_REQ = ("SELECT r.* FROM progress_request r JOIN reporting_period p ON p.id = r.period_id "
            "WHERE p.plan_id = :plan AND p.year = :year AND r.state <> 'waived'")
DUE_REQ = YEAR_REQ + " AND (r.state = 'answered' OR r.due_on < :as_of)"
LATEST_LEAD = (
    "SELECT * FROM (SELECT a.measure_id, rp.status, rp.percent, rp.narrative, row_number() OVER "
    "(PARTITION BY a.measure_id ORDER BY p.ends_on DESC, rp.submitted_at DESC, rp.version DESC) "
    "AS rn FROM assignment a JOIN progress_request r ON r.assignment_id = a.id "
    "JOIN reporting_period p ON p.id = r.period_id JOIN progress_report rp ON rp.request_id = r.id "
    "WHERE a.role = 'lead' AND a.active = :t AND p.plan_id = :plan AND p.year = :year) x "
    "WHERE rn = 1")
SCORE_FLOOR = {
    # agency_summary: per agency asked, its counts, completeness, extensions granted
    "summary": (f"SELECT r.agency_id, g.name, g.kind, count(*), "
                "sum(CASE WHEN r.answered_late = :f THEN 1 ELSE 0 END), "
                "sum(CASE WHEN r.answered_late = :t THEN 1 ELSE 0 END), "
                "sum(CASE WHEN f.narrative <> '' AND (f.next_steps <> '' OR f.status = 'completed') "
                "THEN 1 ELSE 0 END) "
                f"FROM ({DUE_REQ}) r JOIN agency g ON g.id = r.agency_id LEFT JOIN progress_report f "
                "ON f.request_id = r.id AND f.version = 1 GROUP BY r.agency_id, g.name, g.kind"),
    "granted": (f"SELECT r.agency_id, count(*) FROM ({DUE_REQ}) r JOIN extension_request x "
                "ON x.request_id = r.id WHERE x.state = 'granted' GROUP BY r.agency_id"),
    # the led measures with the lead's latest word (attainment) and each measure's requests
    "measures": ("SELECT m.id, m.code, m.section, m.title, a.agency_id, g.name, l.status, l.percent, "
                 "l.narrative, s.n, s.on_time, s.late, s.top FROM measure m JOIN assignment a "
                 "ON a.measure_id = m.id AND a.role = 'lead' AND a.active = :t "
                 "JOIN agency g ON g.id = a.agency_id "
                 f"LEFT JOIN ({LATEST_LEAD}) l ON l.measure_id = m.id "
                 "LEFT JOIN (SELECT a.measure_id, count(*) AS n, "
                 "sum(CASE WHEN r.answered_late = :f THEN 1 ELSE 0 END) AS on_time, "
                 "sum(CASE WHEN r.answered_late = :t THEN 1 ELSE 0 END) AS late, max(r.level) AS top "
                 f"FROM ({DUE_REQ}) r JOIN assignment a ON a.id = r.assignment_id "
                 "GROUP BY a.measure_id) s ON s.measure_id = m.id "
                 "WHERE m.plan_id = :plan AND m.active = :t ORDER BY m.position"),
    "indicators": ("SELECT i.id, i.code, g.name, v.value FROM indicator i JOIN agency g "
                   "ON g.id = i.owner_agency_id LEFT JOIN indicator_value v ON v.indicator_id = i.id "
                   "AND v.year = :year WHERE i.plan_id = :plan AND i.active = :t ORDER BY i.id"),
    "meetings": ("SELECT government, held_on, name, state FROM executive_meeting "
                 "WHERE plan_id = :plan AND held_on BETWEEN :jan1 AND :dec31 ORDER BY held_on, id"),
    # deductions: delivered 督办 notices per agency, period and day; signed circulars
    "notices": (f"SELECT r.agency_id, p.label, e.effective_on, min(e.notified_at), count(*) "
                f"FROM ({YEAR_REQ}) r JOIN escalation e ON e.request_id = r.id "
                "JOIN reporting_period p ON p.id = r.period_id WHERE e.level = 2 AND "
                "e.notified_at IS NOT NULL GROUP BY r.agency_id, p.label, e.effective_on"),
    "circulars": ("SELECT c.id, c.title, c.signed_at, i.agency_id, count(*) FROM circular c "
                  "JOIN circular_item i ON i.circular_id = c.id WHERE c.plan_id = :plan AND "
                  "c.state = 'signed' AND i.period IN (SELECT label FROM reporting_period "
                  "WHERE plan_id = :plan AND year = :year) "
                  "GROUP BY c.id, c.title, c.signed_at, i.agency_id ORDER BY c.signed_at, c.id"),
    # the escalation tables: per agency, per measure (or indicator), per rung
    "by_agency": (f"SELECT r.agency_id, g.name, e.level, count(*) FROM ({YEAR_REQ}) r "
                  "JOIN escalation e ON e.request_id = r.id JOIN agency g ON g.id = r.agency_id "
                  "GROUP BY r.agency_id, g.name, e.level"),
    "by_measure": ("SELECT m.code, m.title, g.name, i.code, i.name, o.name, x.level, x.n FROM "
                   "(SELECT a.measure_id, r.indicator_id, e.level, count(*) AS n "
                   f"FROM ({YEAR_REQ}) r JOIN escalation e ON e.request_id = r.id "
                   "LEFT JOIN assignment a ON a.id = r.assignment_id "
                   "GROUP BY a.measure_id, r.indicator_id, e.level) x "
                   "LEFT JOIN measure m ON m.id = x.measure_id LEFT JOIN assignment la "
                   "ON la.measure_id = m.id AND la.role = 'lead' LEFT JOIN agency g "
                   "ON g.id = la.agency_id LEFT JOIN indicator i ON i.id = x.indicator_id "
                   "LEFT JOIN agency o ON o.id = i.owner_agency_id"),
    "by_rung": (f"SELECT e.level, count(*), count(DISTINCT r.agency_id), min(e.effective_on), "
                f"max(e.effective_on) FROM ({YEAR_REQ}) r JOIN escalation e ON e.request_id = r.id "
                "GROUP BY e.level ORDER BY e.level"),
    # the district governments' sheets: their requests of the year, task by task
}
# the district governments' sheets: their requests of the year, task by task (the plan's
# districts bound as the product binds them)
SCORE_DISTRICTS = (
    f"SELECT g.name, m.code, m.title, i.code, p.label, r.due_on, r.answered_late, r.state, r.level "
    f"FROM ({YEAR_REQ}) r JOIN agency g ON g.id = r.agency_id JOIN reporting_period p "
    "ON p.id = r.period_id LEFT JOIN assignment a ON a.id = r.assignment_id LEFT JOIN measure m "
    "ON m.id = a.measure_id LEFT JOIN indicator i ON i.id = r.indicator_id "
    "WHERE g.kind = 'district_government' AND g.name IN :districts")
# the escalation detail (the CSV), streamed once in the product's order
SCORE_DETAIL = (
    "SELECT p.label, m.code, m.title, i.code, i.name, g.name, e.level, e.effective_on, r.due_on, "
    f"r.answered_at FROM escalation e JOIN ({YEAR_REQ}) r ON r.id = e.request_id "
    "JOIN reporting_period p ON p.id = r.period_id JOIN agency g ON g.id = r.agency_id "
    "LEFT JOIN assignment a ON a.id = r.assignment_id LEFT JOIN measure m ON m.id = a.measure_id "
    "LEFT JOIN indicator i ON i.id = r.indicator_id "
    "ORDER BY e.effective_on, e.level, g.id, m.position, e.id")


def score_floor(engine: Engine, plan_id: int) -> dict[str, Any]:
    """The scorecard's figures by SCORE_FLOOR and the streamed SCORE_DETAIL, reduced to the
    numbers `score_product` reads from `compute`'s figures."""
    params = {"plan": plan_id, "year": 2017, "as_of": SCORE_AT.date(), "t": True, "f": False,
              "jan1": dt.date(2017, 1, 1), "dec31": dt.date(2017, 12, 31)}
    with engine.connect() as conn:
        got = {name: conn.execute(text(sql), params).all() for name, sql in SCORE_FLOOR.items()}
        districts = conn.execute(select(Plan.districts).where(Plan.id == plan_id)).scalar_one()
        if districts:
            conn.execute(text(SCORE_DISTRICTS).bindparams(bindparam("districts", expanding=True)),
                         {**params, "districts": list(districts)}).all()
        detail = conn.execution_options(stream_results=True, yield_per=5000).execute(
            text(SCORE_DETAIL), params)
        rows = sum(1 for _ in detail)
    rungs: dict[str, dict[int, int]] = {}
    for _aid, name, level, n in got["by_agency"]:
        rungs.setdefault(name, {})[level] = n
    by_measure: dict[int, int] = {}
    for *_, level, n in got["by_measure"]:
        by_measure[level] = by_measure.get(level, 0) + n
    return {
        "summary": sorted((aid, n, int(on or 0), int(late or 0), int(comp or 0))
                          for aid, _name, _kind, n, on, late, comp in got["summary"]),
        "granted": sum(n for _, n in got["granted"]),
        "led": len(got["measures"]),
        "notices": len(got["notices"]),
        "by_agency": sorted((name, by.get(1, 0), by.get(2, 0), by.get(3, 0))
                            for name, by in rungs.items()),
        "by_measure": by_measure,
        "by_rung": [(level, n, agencies) for level, n, agencies, *_ in got["by_rung"]],
        "detail": rows,
    }


def score_product(figures: Any, detail: int) -> dict[str, Any]:
    """The same numbers from `compute`'s figures and the count of its detail's rows."""
    from tracker.enums import Level

    s, by_agency = figures.summary, figures.escalations_by_agency
    levels = {lv.label: lv.value for lv in Level}
    return {
        "summary": sorted((int(r["agency_id"]), int(r["应报"]), int(r["按时"]), int(r["逾期报送"]),
                           int(r["完整"])) for _, r in s.iterrows()),
        "granted": int(s["获批延期"].sum()),
        "led": len(figures.measures),
        "notices": int((figures.deductions["文书"] == "督办通知").sum()),
        "by_agency": sorted((r["单位"], int(r["催办(项)"]), int(r["督办(项)"]), int(r["通报(项)"]))
                            for _, r in by_agency.iterrows()),
        "by_measure": {lv.value: int(figures.escalations_by_measure[c].sum())
                       for lv, c in ((Level.REMINDER, "催办(项)"), (Level.SUPERVISION_NOTICE, "督办(项)"),
                                     (Level.CIRCULAR, "通报(项)"))
                       if int(figures.escalations_by_measure[c].sum())},
        "by_rung": [(levels[r["级别"]], int(r["事项数"]), int(r["涉及单位数"]))
                    for _, r in figures.escalations_by_rung.iterrows()],
        "detail": detail,
    }


def read(engine: Engine, statements: list[tuple[str, dict[str, Any]]], **params: Any) -> int:
    rows = 0
    with engine.connect() as conn:
        for sql, p in statements:
            rows += len(conn.execute(text(sql), {**p, **params}).all())
    return rows


def median_seconds(fn: Any, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


# --- one size on one database ----------------------------------------------------------------

OPERATIONS = ("open", "sweep", "dispatch", "board", "lead", "pages", "scorecard")


def measure(kind: str, assignments: int, plans: int, rounds: int, pg_admin: str,
            skip: frozenset[str] = frozenset()) -> list[Row]:
    from starlette.testclient import TestClient

    from tests.web_helpers import Clock, make_settings, token_for
    from tracker.directory.staff import create_user
    from tracker.web.app import create_app

    policy = Policy(Rules(), WorkCalendar(), ChannelKind.EMAIL)
    tmp = Path(tempfile.mkdtemp(prefix="bench-run-"))
    rows: list[Row] = []

    def row(name: str, seconds: float, peak: float, floor: float | None) -> None:
        rows.append(Row(f"{name} ({kind})", assignments, plans, seconds, peak, floor))
        print_table(rows[-1:], header=False)

    try:
        with databases(kind, pg_admin, tmp) as make:
            url = make("run")
            engine = make_engine(url)
            migrate(engine)
            factory = session_factory(engine)
            spec = national(assignments) if plans == 1 else counties(plans, assignments // plans)
            with transaction(factory) as s:
                built = build(s, spec)
                for plan_id in built.plan_ids:
                    ensure_periods(s, s.get_one(Plan, plan_id), 2017, policy.rules, policy.calendar)
            assert built.assignments == assignments, built
            with engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE")
                conn.commit()

            floor = None
            if "open" not in skip:
                floor, _, n = timed(lambda: open_floor(engine, built.plan_ids, policy))
                assert n == 2 * assignments, n
            seconds, peak, opened = timed(lambda: _commit(factory, lambda s: open_all(
                s, built.plan_ids, OPEN_AT, policy)))
            assert opened.requests_opened == assignments, opened
            if "open" not in skip:
                row("open", seconds, peak, floor)

            with factory() as s:
                office = s.scalar(select(Agency.id).where(Agency.government == spec.government,
                                                          Agency.name == OFFICE))
            if "sweep" not in skip:
                floor, _, _ = timed(lambda: sweep_floor(engine, built.plan_ids, office))
            seconds, peak, fired = timed(lambda: _commit(factory, lambda s: sum(
                sum(sweep_overdue(s, s.get_one(Plan, p), SWEEP_AT, policy).fired.values())
                for p in built.plan_ids)))
            assert fired == 3 * assignments, fired
            if "sweep" not in skip:
                row("sweep (3 rungs)", seconds, peak, floor)

            with factory() as s:
                outbox = s.scalar(select(func.count()).select_from(OutboxMessage))
                lead, _ = s.execute(select(ProgressRequest.agency_id, func.count())
                                    .group_by(ProgressRequest.agency_id)
                                    .order_by(func.count().desc(), ProgressRequest.agency_id)
                                    .limit(1)).one()
            if "dispatch" not in skip:
                floor_url = make.copy(engine, url)
                engine = make_engine(url)
                factory = session_factory(engine)
                channel = NullChannel()
                seconds, peak, result = timed(lambda: dispatch(
                    factory, {ChannelKind.EMAIL: channel}, now=SWEEP_AT,  # type: ignore[dict-item]
                    calendar=policy.calendar, window=ANY_TIME, run_timeout=36_000,
                    max_batches=1_000_000))
                assert result.sent == outbox and not result.errors, result
                floor_engine = make_engine(floor_url)
                floor, _, sent = timed(lambda: dispatch_floor(floor_engine))
                assert sent == outbox, (sent, outbox)
                # the same rungs recorded as notified by both
                notified = [notified_rungs(e) for e in (engine, floor_engine)]
                assert notified[0] == notified[1] > 0, notified
                floor_engine.dispose()
                row(f"dispatch ({outbox:,} messages)", seconds, peak, floor)

            settings = make_settings(tmp, url)
            with transaction(factory) as s:
                create_user(s, username="bench", display_name="bench", role=StaffRole.OFFICE,
                            password="benchmark-password", now=SWEEP_AT)
                liaison = s.scalars(select(Contact).where(
                    Contact.agency_id == lead, Contact.role == ContactRole.LIAISON.value)).one()
            client = TestClient(create_app(factory, settings, Clock(SWEEP_AT)),
                                follow_redirects=False)
            page = client.get("/login").text
            csrf = page.split('name="csrf" value="')[1].split('"')[0]
            client.post("/login", data={"username": "bench", "password": "benchmark-password",
                                        "csrf": csrf})
            first = built.plan_ids[0]

            def board() -> None:
                r = client.get("/desk", params={"plan": first})
                assert r.status_code == 200, r.status_code

            if not skip & {"board", "pages"}:
                board()
                seconds = median_seconds(board, rounds)
                _, peak, _ = timed(board)
                floor = median_seconds(lambda: read(engine, BOARD_FLOOR, plan=first), rounds)
                row("board (median)", seconds, peak, floor)

            token = token_for(settings, liaison, SWEEP_AT)

            def lead_page() -> None:
                r = client.get(f"/l/{token}")
                assert r.status_code == 200, r.status_code

            if not skip & {"lead", "pages"}:
                lead_page()
                seconds = median_seconds(lead_page, rounds)
                _, peak, _ = timed(lead_page)
                floor = median_seconds(lambda: read(engine, LEAD_FLOOR, agency=lead), rounds)
                row("lead page (median)", seconds, peak, floor)

            def figures() -> list[tuple[Any, int]]:
                # compute, then the detail streamed once (as the checkpoint's CSV reads it)
                out = []
                with factory() as s:
                    for p in built.plan_ids:
                        got = compute(s, s.get_one(Plan, p), 2017, policy.rules.scoring,
                                      now=SCORE_AT)
                        out.append((got, sum(1 for _ in detail_records(got))))
                return out

            if "scorecard" not in skip:
                seconds, peak, computed = timed(figures)
                floor, _, floors = timed(lambda: [score_floor(engine, p) for p in built.plan_ids])
                product = [score_product(f, n) for f, n in computed]
                assert product == floors, ("the scorecard's floor and product disagree",
                                           product, floors)
                row("scorecard figures", seconds, peak, floor)
            client.close()
            engine.dispose()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


def _commit(factory: Any, fn: Any) -> Any:
    with transaction(factory) as s:
        return fn(s)


def print_table(rows: list[Row], header: bool = True) -> None:
    if header:
        print(f"| {'operation':40s} | {'assignments':>11s} | {'plans':>5s} | {'seconds':>8s} | "
              f"{'peak MiB':>8s} | {'SQL floor s':>11s} | {'ratio':>6s} |")
        print(f"|{'-' * 42}|{'-' * 12}:|{'-' * 6}:|{'-' * 9}:|{'-' * 9}:|{'-' * 12}:|{'-' * 7}:|")
    for r in rows:
        floor = f"{r.floor_seconds:11.4f}" if r.floor_seconds is not None else f"{'-':>11s}"
        ratio = f"{r.ratio:5.2f}×" if r.ratio is not None else f"{'-':>6s}"
        print(f"| {r.operation:40s} | {r.assignments:11,d} | {r.plans:5d} | {r.seconds:8.3f} | "
              f"{r.peak_mib:8.0f} | {floor} | {ratio} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--assignments", type=int, nargs="+", default=[10_000])
    parser.add_argument("--plans", type=int, default=1, help="> 1: county plans of N/P each")
    parser.add_argument("--db", nargs="+", choices=["sqlite", "postgresql"],
                        default=["sqlite", "postgresql"])
    parser.add_argument("--rounds", type=int, default=5, help="requests per page (median)")
    parser.add_argument("--pg-admin", default=PG_ADMIN,
                        help="PostgreSQL URL allowed to create and drop databases")
    parser.add_argument("--skip", nargs="+", choices=OPERATIONS, default=[],
                        help="rows to leave out (pages = board and lead)")
    args = parser.parse_args()
    print(f"{platform.node()}: {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{dt.date.today().isoformat()}")
    rows: list[Row] = []
    for kind in args.db:
        for n in args.assignments:
            rows += measure(kind, n, args.plans, args.rounds, args.pg_admin, frozenset(args.skip))
    print()
    print_table(rows)


if __name__ == "__main__":
    main()
