"""The embedded scheduler of `tracker serve`: APScheduler runs the registry's flows."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from rich.console import Console

from flows.registry import JOBS
from flows.runtime import prefect_context
from tracker.dates.workdays import SHANGHAI
from tracker.settings import Settings

log = logging.getLogger(__name__)


def run_job(flow: Any, settings: Settings | None) -> Any:
    """One scheduled run, in APScheduler's worker thread.

    Prefect's settings context is a context variable, which a new thread does not
    inherit: each run enters `prefect_context` again, so it uses the same Prefect home
    and temporary local API as the rest of the process.
    """
    if settings is None:
        return flow()
    with prefect_context(settings):
        return flow(settings=settings)


def build_scheduler(background: bool = False, settings: Settings | None = None) -> BaseScheduler:
    """One job per registry entry; a run never overlaps itself (max_instances=1).

    Each job runs its flow with `settings` (None: the flow reads the environment).
    """
    scheduler = (BackgroundScheduler if background else BlockingScheduler)(timezone=SHANGHAI)
    for job in JOBS.values():
        scheduler.add_job(run_job, CronTrigger.from_crontab(job.cron, timezone=SHANGHAI),
                          args=(job.flow, settings), id=job.name, name=job.name,
                          max_instances=1, coalesce=True, misfire_grace_time=3600)
    return scheduler


def next_runs(scheduler: BaseScheduler, now: dt.datetime) -> list[tuple[str, dt.datetime]]:
    """(job, next fire time) for each job, before the scheduler starts."""
    return [(job.id, job.trigger.get_next_fire_time(None, now)) for job in scheduler.get_jobs()]


def serve_settings(settings: Settings, host: str, port: int) -> Settings:
    """`settings` for `tracker serve`: links point at this server unless TRACKER_BASE_URL is set."""
    if "base_url" in settings.model_fields_set:
        return settings
    return settings.model_copy(update={"base_url": f"http://{host}:{port}"})


def run_forever(console: Console, settings: Settings, host: str = "127.0.0.1", port: int = 8000,
                web: bool = True) -> None:
    """The embedded deployment: the web app (uvicorn) with the scheduler in the background.

    Call it inside `prefect_context(settings)`; links point at `settings.base_url` (see
    `serve_settings`).
    """
    scheduler = build_scheduler(background=web, settings=settings)
    for name, when in next_runs(scheduler, dt.datetime.now(SHANGHAI)):
        console.print(f"{name}: 下次运行 {when:%Y-%m-%d %H:%M %Z}")
    if not web:
        try:
            scheduler.start()
        except (KeyboardInterrupt, SystemExit):
            scheduler.shutdown(wait=False)
        return
    import uvicorn

    from flows.runtime import factory_for
    from tracker.web.app import create_app

    app = create_app(factory_for(settings.database_url), settings)
    scheduler.start()
    console.print(f"网页：http://{host}:{port}/（联络员通过通知邮件中的专用链接进入）")
    console.print(f"通知中的链接地址：{settings.base_url}")
    if settings.env != "production":
        from flows.runtime import redirect_notice

        console.print(redirect_notice(settings))
    elif settings.channel.value == "email":
        console.print(f"通知渠道：邮件，经 SMTP {settings.smtp_host}:{settings.smtp_port}"
                      "（无邮件服务器时可设 TRACKER_CHANNEL=file 写入 .eml 文件）")
    else:
        console.print(f"通知渠道：文件，写入 {settings.outbox_dir}")
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        scheduler.shutdown(wait=False)
