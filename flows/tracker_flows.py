"""Prefect flows: thin, batch-level wrappers over tracker services (DESIGN.md).

Each task is one transaction around one service call for every plan; no task per item.
Tasks have side effects, so they opt out of Prefect's result caching. Every flow takes
`now` (ISO 8601; naive means Asia/Shanghai) so a whole year can be simulated, and
`settings`: the `Settings` to run with, or None to read them from the environment (what a
Prefect deployment would do).

`settings` is a pydantic model, which Prefect validates as a flow parameter and keeps as
the same instance when the flow is called in-process. Prefect also stores the parameters
of each flow run in its API database, as JSON: the secret key is a `SecretStr`, stored as
"**********", so a deployment must pass None and let the worker read its own environment.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from sqlalchemy import select

from flows.runtime import channels_for, factory_for, link_maker, policy_for, resolve
from notifications.dispatch import SendWindow, dispatch
from notifications.render import NoticeConfig
from tracker.annual.checkpoint import due_year, run_checkpoint
from tracker.annual.indicators import follow_up_off_trajectory
from tracker.annual.meetings import meeting_duty
from tracker.annual.scorecard import years_with_data
from tracker.db import transaction
from tracker.directory.staff import purge_sessions
from tracker.escalation.sweep import sweep_overdue
from tracker.models import Plan
from tracker.requests.opening import open_due_requests
from tracker.requests.pre_due import queue_pre_due_reminders
from tracker.settings import Settings

TASK_OPTS: dict[str, Any] = {"cache_policy": NO_CACHE, "persist_result": False}


@task(**TASK_OPTS)
def open_requests_task(now: str | None, settings: Settings | None) -> dict[str, Any]:
    settings, at = resolve(now, settings)
    policy = policy_for(settings)
    out: dict[str, Any] = {"opened": 0, "queued": 0, "periods": []}
    with transaction(factory_for(settings.database_url)) as session:
        policy = policy.with_session(session)
        for plan in session.scalars(select(Plan)):
            r = open_due_requests(session, plan, at, policy)
            out["opened"] += r.requests_opened
            out["queued"] += r.messages_queued
            out["periods"] += r.periods
    return out


@task(**TASK_OPTS)
def sweep_ladder_task(now: str | None, settings: Settings | None) -> dict[str, Any]:
    settings, at = resolve(now, settings)
    policy = policy_for(settings)
    fired = {1: 0, 2: 0, 3: 0}
    queued = pre_due = 0
    with transaction(factory_for(settings.database_url)) as session:
        policy = policy.with_session(session)
        for plan in session.scalars(select(Plan)):
            r = sweep_overdue(session, plan, at, policy)
            for k, v in r.fired.items():
                fired[k] += v
            queued += r.messages_queued
            pre_due += queue_pre_due_reminders(session, plan, at, policy)
    return {"fired": fired, "queued": queued, "pre_due": pre_due}


@task(**TASK_OPTS)
def meeting_duty_task(now: str | None, settings: Settings | None) -> dict[str, int]:
    # One task for the daily duties: each extra Prefect task run costs the demo ~1 s a day.
    settings, at = resolve(now, settings)
    policy = policy_for(settings)
    out = {"reminders": 0, "warnings": 0, "findings": 0}
    with transaction(factory_for(settings.database_url)) as session:
        out["sessions_purged"] = purge_sessions(session, at, settings.rules)
        policy = policy.with_session(session)
        for plan in session.scalars(select(Plan)):
            r = meeting_duty(session, plan, at, policy)
            out["reminders"] += r.reminders
            out["warnings"] += r.warnings
            out["findings"] += r.findings
            # indicators off their trajectory: escalated or explained, once each (issue 11)
            f = follow_up_off_trajectory(session, plan, at, channel=policy.channel)
            out["indicators_escalated"] = out.get("indicators_escalated", 0) + len(f.escalated)
            out["explanations_asked"] = out.get("explanations_asked", 0) + len(f.asked)
    return out


@task(**TASK_OPTS)
def deliver_outbox_task(now: str | None, settings: Settings | None) -> dict[str, Any]:
    settings, at = resolve(now, settings)
    with factory_for(settings.database_url)() as session:  # the stored calendar overrides
        calendar = policy_for(settings).with_session(session).calendar
    r = dispatch(factory_for(settings.database_url), channels_for(settings), now=at,
                 calendar=calendar, link_for=link_maker(settings, at),
                 notices=NoticeConfig.from_settings(settings),
                 run_timeout=settings.dispatch_run_timeout,
                 recipients=settings.dispatch_recipients,
                 window=SendWindow.parse(settings.send_hours, settings.send_on_rest_days))
    return {"sent": r.sent, "digests": r.digests, "retrying": r.retrying, "failed": r.failed,
            "dropped": r.dropped, "deferred": r.deferred, "quiet": r.quiet,
            "errors": r.errors[:5]}


@task(**TASK_OPTS)
def scorecard_task(now: str | None, settings: Settings | None, year: int | None,
                   regenerate: bool = False, stored_rules: bool = False,
                   actor: str = "system:annual_checkpoint") -> list[dict[str, Any]]:
    settings, at = resolve(now, settings)
    policy = policy_for(settings)
    out = []
    with transaction(factory_for(settings.database_url)) as session:
        policy = policy.with_session(session)
        for plan in session.scalars(select(Plan)):
            y = year if year is not None else due_year(plan, at, policy)
            if y is None or not plan.first_year <= y <= plan.last_year:
                continue  # a year outside this plan's period is another plan's
            if (plan.id, y) not in years_with_data(session, plan.id):
                continue  # nothing was asked that year: no card to issue
            r = run_checkpoint(session, plan, y, at, policy, settings.home, regenerate=regenerate,
                               stored_rules=stored_rules, actor=actor, soffice=settings.soffice,
                               render_timeout=max(settings.convert_timeout, 120.0))
            out.append({"plan": plan.key, "year": y, "path": str(r.path), "written": r.written,
                        "detail": str(r.detail_path), "regenerated": regenerate and r.written,
                        "pictures": [str(x) for x in r.pictures],
                        "pictures_error": r.pictures_error,
                        "five_year": str(r.five_year) if r.five_year else None})
    return out


@flow(name="progress_request_flow")
def progress_request_flow(now: str | None = None, settings: Settings | None = None) -> dict[str, Any]:
    """Open the progress requests whose issue day has come; queue their notifications."""
    return open_requests_task(now, settings)


@flow(name="overdue_sweep_flow")
def overdue_sweep_flow(now: str | None = None, settings: Settings | None = None) -> dict[str, Any]:
    """Fire due ladder rungs, queue pre-due reminders (临期提醒), and the daily duties
    (meetings, dead staff sessions, indicators off their trajectory)."""
    return {"ladder": sweep_ladder_task(now, settings),
            "meetings": meeting_duty_task(now, settings)}


@flow(name="dispatch_flow")
def dispatch_flow(now: str | None = None, settings: Settings | None = None) -> dict[str, Any]:
    """Deliver the outbox: one digest per recipient, retries with backoff."""
    return deliver_outbox_task(now, settings)


@flow(name="annual_checkpoint_flow")
def annual_checkpoint_flow(now: str | None = None, settings: Settings | None = None,
                           year: int | None = None, regenerate: bool = False,
                           stored_rules: bool = False,
                           actor: str = "system:annual_checkpoint") -> list[dict[str, Any]]:
    """Issue the scorecard of the year whose checkpoint is due (or of `year`); an issued
    one stands unless `regenerate` (on purpose; by the stored rules if `stored_rules`)."""
    return scorecard_task(now, settings, year, regenerate, stored_rules, actor)
