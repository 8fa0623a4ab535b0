"""The embedded scheduler of `tracker serve`: APScheduler runs the registry's flows."""

from __future__ import annotations

import datetime as dt
import logging

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from rich.console import Console

from flows.registry import JOBS
from tracker.workdays import SHANGHAI

log = logging.getLogger(__name__)


def build_scheduler() -> BlockingScheduler:
    """One job per registry entry; a run never overlaps itself (max_instances=1)."""
    scheduler = BlockingScheduler(timezone=SHANGHAI)
    for job in JOBS.values():
        scheduler.add_job(job.flow, CronTrigger.from_crontab(job.cron, timezone=SHANGHAI),
                          id=job.name, name=job.name, max_instances=1, coalesce=True,
                          misfire_grace_time=3600)
    return scheduler


def next_runs(scheduler: BlockingScheduler, now: dt.datetime) -> list[tuple[str, dt.datetime]]:
    """(job, next fire time) for each job, before the scheduler starts."""
    return [(job.id, job.trigger.get_next_fire_time(None, now)) for job in scheduler.get_jobs()]


def run_forever(console: Console) -> None:
    scheduler = build_scheduler()
    for name, when in next_runs(scheduler, dt.datetime.now(SHANGHAI)):
        console.print(f"{name}: 下次运行 {when:%Y-%m-%d %H:%M %Z}")
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        scheduler.shutdown(wait=False)
