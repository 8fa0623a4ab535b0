"""Benchmark the scorecard workbook and the ledger at size (issue 14, item 3; on demand).

    .venv/bin/python benchmarks/bench_books.py [--assignments 10000 100000] [--db sqlite postgresql]

For each size and database: builds a plan of N assignments with
`bench_services.synthetic_catalog` (50 agencies a measure), opens 2017's first quarter
(N requests), answers none and sweeps on 24 April so every request climbs the three
rungs (3 N escalations: the per-escalation detail). Then, each in its own process so
that its peak RSS (ru_maxrss) is its own:

- scorecard: `compute` + `write_scorecard` + `write_escalation_detail` (what the checkpoint
  renders), against its SQL floor: the figures' bare GROUP BY over the year's requests
  and the detail's bare SELECT fetched through the same kind of cursor;
- ledger: `ledger_workbook` (count, stream, constant-memory workbook) against its floor:
  the bare SELECT of the requests with their subjects, fetched in chunks.

- ledger-xlsx: not the ledger, its Excel floor: the bare statement streamed into a
  constant-memory workbook, 32 unformatted cells a row (the ledger's 10 + 22), against
  the same bare SELECT.

A process that only opens the plan is measured too (base MiB: what each peak includes;
ru_maxrss survives exec, so the database is built in a child as well). Prints one table:
operation, rows, seconds, peak MiB, base MiB, floor seconds, ratio.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TODAY = "2017-04-24"


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build(url: str, assignments: int) -> int:
    """A fresh database at `url` holding the plan, the quarter's requests and their
    escalations; returns the plan id."""
    from bench_services import at, synthetic_catalog

    from tracker.catalog.load import load_catalog
    from tracker.dates.workdays import WorkCalendar
    from tracker.db import make_engine, migrate, session_factory, transaction
    from tracker.directory.contacts import ensure_demo_contacts
    from tracker.enums import ChannelKind
    from tracker.escalation.sweep import sweep_overdue
    from tracker.models import Plan
    from tracker.policy import Policy
    from tracker.requests.opening import open_due_requests
    from tracker.settings import Rules

    engine = make_engine(url)
    migrate(engine)
    factory = session_factory(engine)
    policy = Policy(Rules(), WorkCalendar(), ChannelKind.FILE)
    catalog = synthetic_catalog(assignments)
    catalog = catalog.model_copy(update={"plan": catalog.plan.model_copy(
        update={"supervision_office": "基准市人民政府督查室"})})
    with transaction(factory) as s:
        plan_id = load_catalog(s, catalog, at("2017-01-03")).plan_id
        ensure_demo_contacts(s, plan_id)
    with transaction(factory) as s:
        open_due_requests(s, s.get_one(Plan, plan_id), at("2017-03-17"), policy)
    for day in ("2017-04-12", "2017-04-19", TODAY):
        with transaction(factory) as s:
            sweep_overdue(s, s.get_one(Plan, plan_id), at(day), policy)
    engine.dispose()
    return plan_id


def run_op(op: str, url: str, plan_id: int) -> dict[str, Any]:
    """One operation in this process: its seconds, rows and peak RSS (MiB)."""
    import datetime as dt

    from bench_services import at
    from sqlalchemy import func, select

    from tracker.annual.scorecard.excel import write_escalation_detail, write_scorecard
    from tracker.annual.scorecard.figures import _detail_query, _year_requests, compute
    from tracker.dates.workdays import WorkCalendar
    from tracker.db import make_engine, session_factory
    from tracker.desk.board import BoardFilter
    from tracker.desk.ledger import ledger_title
    from tracker.desk.ledger_book import ledger_workbook
    from tracker.enums import ChannelKind
    from tracker.models import Agency, Plan, ProgressRequest
    from tracker.policy import Policy
    from tracker.requests.subjects import with_subject
    from tracker.settings import Rules

    engine = make_engine(url)
    factory = session_factory(engine)
    policy = Policy(Rules(), WorkCalendar(), ChannelKind.FILE)
    today = dt.date.fromisoformat(TODAY)
    rows = 0
    start = time.perf_counter()
    with factory() as s, tempfile.TemporaryDirectory() as folder:
        plan = s.get_one(Plan, plan_id)
        if op == "baseline":
            pass
        elif op == "scorecard":
            figures = compute(s, plan, 2017, policy.rules.scoring, now=at("2018-02-13"))
            write_scorecard(figures, Path(folder) / "card.xlsx")
            detail = write_escalation_detail(figures, Path(folder) / "detail.csv")
            rows = sum(1 for _ in detail.open(encoding="utf-8-sig")) - 1
        elif op == "scorecard-floor":
            req = _year_requests(plan, 2017)
            s.execute(select(req.c.agency_id, func.count(), func.sum(req.c.level))
                      .group_by(req.c.agency_id)).all()
            for _ in s.execute(_detail_query(plan, 2017).execution_options(yield_per=5000)):
                rows += 1
        elif op == "ledger":
            f = BoardFilter(plan_id=plan_id)
            data = ledger_workbook(s, f, today, policy, ledger_title(s, f, today))
            rows = s.scalar(select(func.count()).select_from(ProgressRequest)) or 0
            (Path(folder) / "ledger.xlsx").write_bytes(data)
        elif op == "ledger-xlsx-floor":
            # the bare statement streamed into a constant-memory workbook, every value as
            # it comes, no format: what writing this many cells costs at the least
            import xlsxwriter

            book = xlsxwriter.Workbook(str(Path(folder) / "floor.xlsx"),
                                       {"constant_memory": True, "tmpdir": folder})
            sheet = book.add_worksheet()
            stmt = with_subject(select(*[c for c in ProgressRequest.__table__.c], Agency.name,
                                       Agency.kind, Agency.id, Agency.name)) \
                .order_by(ProgressRequest.id).execution_options(yield_per=2000)
            for r, record in enumerate(s.execute(stmt)):
                for c, value in enumerate(record):
                    sheet.write(r, c, value if isinstance(value, (int, float)) else str(value))
                for c in range(len(record), 32):  # the ledger's 10 + 22 cells a row
                    sheet.write_string(r, c, "x")
                rows += 1
            book.close()
        elif op == "ledger-floor":
            stmt = with_subject(select(ProgressRequest.id, ProgressRequest.due_on,
                                       ProgressRequest.state, Agency.name)) \
                .order_by(ProgressRequest.id).execution_options(yield_per=2000)
            for _ in s.execute(stmt):
                rows += 1
        else:
            raise SystemExit(f"unknown op {op}")
    seconds = time.perf_counter() - start
    engine.dispose()
    return {"op": op, "rows": rows, "seconds": seconds, "peak_mib": _peak_mib()}


def _child(op: str, url: str, plan_id: int) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--run", op, "--url", url,
                          "--plan-id", str(plan_id)], capture_output=True, text=True,
                         check=False)
    if out.returncode:
        raise SystemExit(f"{op} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _database(kind: str, n: int) -> str:
    if kind == "sqlite":
        return f"sqlite:///{Path(tempfile.mkdtemp(prefix='bench-books-')) / 'bench.db'}"
    from sqlalchemy import create_engine, text

    name = f"bench_books_{n}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"


def _drop(kind: str, url: str) -> None:
    if kind != "postgresql":
        return
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--assignments", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--db", nargs="*", default=["sqlite", "postgresql"])
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--plan-id", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run == "build":  # in a child: ru_maxrss survives exec, so the parent stays small
        print(json.dumps({"plan_id": build(args.url, args.plan_id)}))
        return
    if args.run:
        print(json.dumps(run_op(args.run, args.url, args.plan_id)))
        return
    print(f"{'database':10} {'assign.':>8} {'operation':11} {'rows':>8} {'seconds':>8} "
          f"{'peak MiB':>9} {'base MiB':>9} {'floor s':>8} {'ratio':>6}")
    for kind in args.db:
        for n in args.assignments:
            url = _database(kind, n)
            try:
                t = time.perf_counter()
                plan_id = _child("build", url, n)["plan_id"]
                built = time.perf_counter() - t
                base = _child("baseline", url, plan_id)
                for op in ("scorecard", "ledger", "ledger-xlsx"):
                    done = _child(op, url, plan_id) if op != "ledger-xlsx" else \
                        _child("ledger-xlsx-floor", url, plan_id)
                    floor = _child("scorecard-floor" if op == "scorecard" else "ledger-floor",
                                   url, plan_id)
                    print(f"{kind:10} {n:8d} {op:11} {done['rows']:8d} {done['seconds']:8.2f} "
                          f"{done['peak_mib']:9.0f} {base['peak_mib']:9.0f} "
                          f"{floor['seconds']:8.2f} {done['seconds'] / floor['seconds']:6.1f}",
                          flush=True)
                print(f"{'':10} (built in {built:.0f} s)", flush=True)
            finally:
                _drop(kind, url)


if __name__ == "__main__":
    main()
