"""Many plans against one: the same number of assignments as one national plan and as P
county plans sharing one agency directory, opened and swept by the daily jobs' own
per-plan steps (`flows.plans.run_plans`: each step of each plan in its own transaction).

Issue 14, "Must hold": 1,000 plans of 1,000 assignments sweep within 1.5x of one plan of
1M. Both deployments are built by `tracker.ops.synth` in databases of their own; the
sweep day (2017-04-24) puts every opened request on all three rungs, so both shapes do
the same work: the counties' ratio to the national plan is the figure.

    benchmarks/bench_plans.py [--assignments 1000000] [--plans 1000] [--db postgresql]
                              [--shapes national counties]

Prints one table: operation, shape, assignments, plans, seconds, peak MiB, the ratio of the
counties' seconds to the national plan's, and the load average of the five minutes before
each step ended (the machine is shared: a ratio means little under a changing load).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import sys
import tempfile
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_dispatch import databases, timed  # noqa: E402
from run import OPEN_AT, PG_ADMIN, SWEEP_AT  # noqa: E402

from flows.plans import run_plans  # noqa: E402
from tracker.dates.periods import ensure_periods  # noqa: E402
from tracker.dates.workdays import WorkCalendar  # noqa: E402
from tracker.db import make_engine, migrate, session_factory, transaction  # noqa: E402
from tracker.enums import ChannelKind  # noqa: E402
from tracker.models import Plan  # noqa: E402
from tracker.ops.synth import build, counties, national  # noqa: E402
from tracker.policy import Policy  # noqa: E402
from tracker.settings import Rules  # noqa: E402


def one_shape(make: Any, name: str, spec: Any, policy: Policy) -> dict[str, Any]:
    """Build `spec` in a new database, then open and sweep it plan by plan; returns the
    timings and what each step did."""
    url = make(name)
    engine = make_engine(url)
    migrate(engine)
    factory = session_factory(engine)
    with transaction(factory) as s:
        built = build(s, spec)
        for plan_id in built.plan_ids:
            ensure_periods(s, s.get_one(Plan, plan_id), 2017, policy.rules, policy.calendar)
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    out: dict[str, Any] = {"plans": len(built.plan_ids), "assignments": built.assignments}
    for step, at in (("open", OPEN_AT), ("ladder", SWEEP_AT)):
        seconds, peak, runs = timed(partial(run_plans, (step,), built.plan_ids, at, factory,
                                            policy, job=f"bench-{step}"))
        assert not runs.failed, runs.failed
        out[step] = (seconds, peak, runs.steps[step])
        out[step + " load"] = os.getloadavg()[1]  # the last five minutes'
    engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--assignments", type=int, default=1_000_000)
    parser.add_argument("--plans", type=int, default=1000)
    parser.add_argument("--db", nargs="+", choices=["sqlite", "postgresql"],
                        default=["postgresql"])
    parser.add_argument("--pg-admin", default=PG_ADMIN)
    parser.add_argument("--shapes", nargs="+", choices=["national", "counties"],
                        default=["national", "counties"],
                        help="one shape only measures its time and memory (no ratio)")
    args = parser.parse_args()
    per_plan = args.assignments // args.plans
    policy = Policy(Rules(), WorkCalendar(), ChannelKind.EMAIL)
    print(f"{platform.node()}: {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{dt.date.today().isoformat()}, load average {os.getloadavg()[0]:.1f}", flush=True)
    lines = []
    for kind in args.db:
        tmp = Path(tempfile.mkdtemp(prefix="bench-plans-"))
        try:
            with databases(kind, args.pg_admin, tmp) as make:
                specs = {"national": lambda: national(args.assignments),
                         "counties": lambda: counties(args.plans, per_plan)}
                got = {shape: one_shape(make, shape, specs[shape](), policy)
                       for shape in args.shapes}
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        fired = {shape: r["ladder"][2]["fired"] for shape, r in got.items()}
        assert len({str(f) for f in fired.values()}) == 1, fired  # both shapes did the same
        for step, label in (("open", "open"), ("ladder", "sweep (3 rungs)")):
            for shape, r in got.items():
                seconds, peak, _ = r[step]
                ratio = seconds / got["national"][step][0] if "national" in got else 1.0
                lines.append(f"| {label} ({kind}) | {shape} | {r['assignments']:,} | "
                             f"{r['plans']:,} | {seconds:.1f} | {peak:.0f} | {ratio:.2f}× | "
                             f"{r[step + ' load']:.1f} |")
                print(lines[-1], flush=True)
    print()
    print("| operation | shape | assignments | plans | seconds | peak MiB | ratio to one plan "
          "| load (5 min) |")
    print("|---|---|--:|--:|--:|--:|--:|--:|")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
