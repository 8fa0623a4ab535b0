"""Benchmark the set-based services at national scale (run on demand, not in CI).

    .venv/bin/python benchmarks/bench_services.py [--assignments 100000] [--url URL]

Builds a synthetic plan (measures × agencies) with N assignments in a fresh database,
then times: catalog load, opening a quarter's requests (+ outbox rows), the overdue
sweep firing all three rungs, one dispatcher batch claim + render, and the scorecard
figures. Targets for 100k assignments on a 2-core machine, SQLite: each step < 10 s,
peak memory < 1.5 GB. The script prints each step's time and the peak RSS.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from notifications.render import message_rows, render_digests
from tracker.annual.scorecard.figures import compute
from tracker.catalog.load import load_catalog
from tracker.catalog.schema import Agency, Catalog, Measure, PlanInfo
from tracker.dates.workdays import SHANGHAI, WorkCalendar
from tracker.db import make_engine, migrate, session_factory, transaction
from tracker.directory.contacts import ensure_demo_contacts
from tracker.enums import AgencyKind, ChannelKind
from tracker.escalation.sweep import sweep_overdue
from tracker.models import OutboxMessage, Plan
from tracker.policy import Policy
from tracker.requests.opening import open_due_requests
from tracker.settings import Rules

TARGET_SECONDS = 10.0


def synthetic_catalog(assignments: int, per_measure: int = 50) -> Catalog:
    measures = max(assignments // per_measure, 1)
    agencies = [Agency(name=f"单位{i:04d}", kind=AgencyKind.CITY_AGENCY) for i in range(per_measure)]
    agencies.append(Agency(name="市政府督查室", kind=AgencyKind.CITY_AGENCY))
    ms = [Measure(code=f"2.{1 + i // 99}.{1 + i % 99}", section="合成", title=f"任务{i}", text="",
                  lead=agencies[0].name, co=[a.name for a in agencies[1:per_measure]],
                  districts=False) for i in range(measures)]
    return Catalog(plan=PlanInfo(id="bench", title="基准", issuer="基准", issued=dt.date(2016, 12, 8),
                                 period=(2016, 2020), government="基准市人民政府",
                                 supervision_office="市政府督查室"),
                   agencies=agencies, measures=ms)


def at(day: str) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(9), SHANGHAI)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--assignments", type=int, default=100_000)
    parser.add_argument("--url", default=None, help="database URL (default: a temp SQLite file)")
    args = parser.parse_args()
    url = args.url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    engine = make_engine(url)
    migrate(engine)
    factory = session_factory(engine)
    policy = Policy(Rules(), WorkCalendar(), ChannelKind.FILE)
    catalog = synthetic_catalog(args.assignments)
    timings: list[tuple[str, float, str]] = []

    def step(name: str, fn):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        out = fn()
        timings.append((name, time.perf_counter() - t, str(out)))
        return out

    def load() -> int:
        with transaction(factory) as s:
            pid = load_catalog(s, catalog, at("2017-01-03")).plan_id
            ensure_demo_contacts(s, pid)
        return pid

    plan_id = step("catalog load", load)

    def opened() -> int:
        with transaction(factory) as s:
            return open_due_requests(s, s.get_one(Plan, plan_id), at("2017-03-17"), policy).requests_opened

    step("open quarter requests", opened)

    def sweep() -> dict[int, int]:
        with transaction(factory) as s:
            return sweep_overdue(s, s.get_one(Plan, plan_id), at("2017-04-24"), policy).fired

    step("overdue sweep (3 rungs)", sweep)

    def render() -> int:
        with factory() as s:
            ids = list(s.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id).limit(20_000)))
            return len(render_digests(message_rows(s, ids), now=at("2017-04-24"),
                                      calendar=policy.calendar))

    step("render 20k messages into digests", render)

    def figures() -> int:
        with factory() as s:
            return len(compute(s, s.get_one(Plan, plan_id), 2017, policy.rules.scoring,
                               now=at("2018-02-13")).summary)

    step("scorecard figures", figures)
    with factory() as s:
        outbox = s.scalar(select(func.count()).select_from(OutboxMessage))
    print(f"{args.assignments} assignments on {engine.dialect.name}; outbox rows: {outbox}")
    for name, seconds, out in timings:
        flag = "OK " if seconds < TARGET_SECONDS else "SLOW"
        print(f"  {flag} {name:34s} {seconds:7.2f} s   {out[:60]}")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak RSS {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
