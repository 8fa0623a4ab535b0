"""A simulated year through the scheduler's stored triggers, in-process or as a subprocess.

The jobs do their work through the task bodies of `flows.tracker_flows` called directly
(`task.fn`), not through Prefect flow runs: a year of fires through Prefect costs minutes,
and what is under test here is the scheduler (job store, triggers, lease, claims), which
calls them through the same `FireRunner` as production.

As a subprocess: `python -m tests.flows.sched_sim URL HOME HOLDER` reads commands on stdin,
one per line, and answers each with one JSON line on stdout:
    tick ISO   -> {"ran": [[job, fire_at ISO, status], ...]}  (empty unless it leads)
    hang JOB   -> {"ok": true}; JOB's next run blocks forever once claimed (kill it then)
    quit       -> exits
`python -m tests.flows.sched_sim real URL HOME HOLDER TTL EVERY` runs the real scheduler
(see `real`).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from flows.leader import FireRunner
from flows.runtime import factory_for
from flows.scheduler import ClockDriver, SimClock
from tracker.annual.checkpoint import checkpoint_day
from tracker.catalog.load import load_catalog
from tracker.catalog.schema import Catalog
from tracker.dates.periods import year_specs
from tracker.dates.workdays import SHANGHAI
from tracker.db import transaction
from tracker.directory.contacts import ensure_demo_contacts
from tracker.enums import ChannelKind
from tracker.models import DeliveryAttempt, JobFire, OutboxMessage
from tracker.policy import Policy
from tracker.requests.rules import ladder_dates
from tracker.settings import Settings

YEAR = 2017
START = dt.datetime(YEAR, 1, 3, 9, tzinfo=SHANGHAI)  # the plan is loaded, the jobs stored
HOLIDAY_FROM = dt.datetime(2017, 9, 29, 17, tzinfo=SHANGHAI)  # last tick before the jump
HOLIDAY_TO = dt.datetime(2017, 10, 9, 7, tzinfo=SHANGHAI)  # first tick after it
HANG: set[str] = set()  # jobs whose next run blocks forever, after its claim is committed


def sim_settings(home: Path, url: str) -> Settings:
    # the year's outbox is compared row by row: the daily archive runs, archiving nothing
    return Settings(home=home, database_url=url, outbox_dir=home / "outbox",
                    channel=ChannelKind.FILE, secret_key="sched-sim-secret", env="development",
                    outbox_retention_days=36500)


def small_catalog(catalog: Catalog) -> Catalog:
    """The seed's plan with its first three measures and two indicators (a year in seconds)."""
    return catalog.model_copy(update={"measures": catalog.measures[:3],
                                      "indicators": catalog.indicators[:2]})


def load_plan(settings: Settings, catalog: Catalog) -> None:
    with transaction(factory_for(settings.database_url)) as s:
        plan_id = load_catalog(s, small_catalog(catalog), START).plan_id
        ensure_demo_contacts(s, plan_id)


def ticks(policy: Policy) -> list[dt.datetime]:
    """The clock's stops through the year: 08:30 and 17:00 of every day something is due
    (issue, pre-due, due and ladder days of each period, the meeting notices, the annual
    checkpoint), and every day from 29 September to 9 October (National Day week) at 07:00,
    08:30 and 17:00. Between two stops the jobs' fires coalesce into one run at the stop."""
    cal = policy.calendar
    days: set[dt.date] = set()
    for spec in year_specs(YEAR, policy.rules, cal):
        days.update({spec.issue_on, cal.add(spec.due_on, -3), spec.due_on})
        days.update(ladder_dates(spec.due_on, policy))
    days.update({dt.date(YEAR, 9, 29), dt.date(YEAR, 11, 15), dt.date(YEAR + 1, 1, 2),
                 checkpoint_day(YEAR, policy)})
    days.update(dt.date(YEAR, 9, 29) + dt.timedelta(days=k) for k in range(11))
    out: set[dt.datetime] = set()
    for day in days:
        if START.date() < day <= checkpoint_day(YEAR, policy):
            for hour, minute in ((8, 30), (17, 0)):
                out.add(dt.datetime.combine(day, dt.time(hour, minute), SHANGHAI))
            if dt.date(YEAR, 9, 29) <= day <= dt.date(YEAR, 10, 9):
                out.add(dt.datetime.combine(day, dt.time(7, 0), SHANGHAI))
    return sorted(out)


def direct_call(settings: Settings) -> Callable[[str, dt.datetime], Any]:
    """`call(job, now)` running each job's task bodies directly (no Prefect flow run)."""
    from flows.tracker_flows import (
        archive_outbox_task,
        deliver_outbox_task,
        meeting_duty_task,
        open_requests_task,
        scorecard_task,
        sweep_ladder_task,
    )

    bodies: dict[str, Callable[[str], Any]] = {
        "progress_requests": lambda now: open_requests_task.fn(now, settings),
        "overdue_sweep": lambda now: {"ladder": sweep_ladder_task.fn(now, settings),
                                      "meetings": meeting_duty_task.fn(now, settings)},
        "dispatch": lambda now: deliver_outbox_task.fn(now, settings),
        "annual_checkpoint": lambda now: scorecard_task.fn(now, settings, None),
        "outbox_archive": lambda now: archive_outbox_task.fn(now, settings),
    }

    def call(name: str, now: dt.datetime) -> Any:
        if name in HANG:  # a process killed in the middle of this run (see `main`)
            threading.Event().wait()
        return bodies[name](now.isoformat())

    return call


def driver(settings: Settings, holder: str, start: dt.datetime) -> ClockDriver:
    clock = SimClock(start)
    runner = FireRunner(factory_for(settings.database_url), holder, direct_call(settings), clock)
    return ClockDriver(settings, runner, clock)


def run_ticks(d: ClockDriver, stops: list[dt.datetime]) -> Iterator[list[tuple[str, str, str]]]:
    for now in stops:
        yield [(o.job, o.fire_at.astimezone(SHANGHAI).isoformat(), o.status or "skipped")
               for o in d.tick(now)]


def outbox_state(url: str) -> dict[str, Any]:
    """What the year told whom: every outbox row (key, status, attempts), the successful
    delivery attempts per message, and every claimed fire (job, fire time, status)."""
    with factory_for(url)() as s:
        rows = sorted((k, str(st), n) for k, st, n in s.execute(
            select(OutboxMessage.key, OutboxMessage.status, OutboxMessage.attempts)))
        sends = dict(s.execute(select(DeliveryAttempt.message_id, func.count())
                               .where(DeliveryAttempt.ok.is_(True))
                               .group_by(DeliveryAttempt.message_id)).all())
        fires = sorted((j, f.astimezone(SHANGHAI), st, h, n.astimezone(SHANGHAI))
                       for j, f, st, h, n in s.execute(
                           select(JobFire.job, JobFire.fire_at, JobFire.status, JobFire.holder,
                                  JobFire.now_at)))
    return {"rows": rows, "sends": sends, "fires": fires}


def real(url: str, home: Path, holder: str, ttl: float, every: float) -> None:
    """The real scheduler (`start_scheduler`: wall clock, lease loop, ClaimingExecutor) with a
    job body that only records its call; prints {"leading": bool} at each change and
    {"fired": [job, fire_at]} for each run, until killed."""
    from flows.scheduler import start_scheduler, utc_now

    def call(job: str, now: dt.datetime) -> None:
        print(json.dumps({"fired": [job, now.isoformat()]}), flush=True)

    settings = sim_settings(home, url)
    runner = FireRunner(factory_for(url), holder, call, utc_now)
    start_scheduler(settings, runner=runner, ttl=dt.timedelta(seconds=ttl),
                    every=dt.timedelta(seconds=every),
                    on_change=lambda leading: print(json.dumps({"leading": leading}), flush=True))
    threading.Event().wait()


def main() -> None:
    if sys.argv[1] == "real":
        real(sys.argv[2], Path(sys.argv[3]), sys.argv[4], float(sys.argv[5]), float(sys.argv[6]))
        return
    url, home, holder = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    d = driver(sim_settings(home, url), holder, START)
    print(json.dumps({"ready": holder}), flush=True)
    for line in sys.stdin:
        cmd, _, arg = line.strip().partition(" ")
        if cmd == "quit":
            break
        if cmd == "hang":
            HANG.add(arg)
            print(json.dumps({"ok": True}), flush=True)
        if cmd == "tick":
            ran = next(run_ticks(d, [dt.datetime.fromisoformat(arg)]))
            print(json.dumps({"ran": ran}), flush=True)
    d.close()


if __name__ == "__main__":
    main()
