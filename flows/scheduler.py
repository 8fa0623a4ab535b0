"""The embedded scheduler of `tracker serve`: APScheduler runs the registry's flows."""

from __future__ import annotations

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


def run_forever(console: Console) -> None:
    scheduler = build_scheduler()
    for job in scheduler.get_jobs():
        console.print(f"{job.id}: next run {job.next_run_time}")
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        scheduler.shutdown(wait=False)
