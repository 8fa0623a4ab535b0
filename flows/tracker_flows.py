"""Prefect flows: thin, batch-level wrappers over tracker services (DESIGN.md).

A daily job that works plan by plan runs each plan in its own transaction, in batches of
plans (flows/plans.py: one task run per batch here, or one flow run of `plan_batch_flow`
per batch handed to the pool's workers when a deployment runs it); no task per item.
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

import datetime as dt
import logging
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import ObjectNotFound

from flows.plans import (
    BATCH_DEPLOYMENT,
    BATCH_FLOW,
    JOB_STEPS,
    PlanRunsFailed,
    add_results,
    batches,
    hand_out,
    in_deployment,
    plan_ids,
    reason,
    run_plans,
)
from flows.runtime import channels_for, factory_for, link_maker, policy_for, resolve
from notifications.dispatch import SendWindow, dispatch
from notifications.render import NoticeConfig
from tracker.annual.checkpoint import due_year, run_checkpoint
from tracker.annual.scorecard import years_with_data
from tracker.db import transaction
from tracker.directory.staff import purge_sessions
from tracker.models import Plan
from tracker.outbox import archive_settled
from tracker.settings import Settings

TASK_OPTS: dict[str, Any] = {"cache_policy": NO_CACHE, "persist_result": False}
log = logging.getLogger("tracker.flows")


def _plan_job(job: str, now: str | None, settings: Settings | None) -> dict[str, Any]:
    """Run `job`'s per-plan steps (flows.plans.JOB_STEPS) for every plan: handed out as flow
    runs of the batch deployment when this is a deployment's run with several batches, else
    batch by batch here, one task run each. Raises PlanRunsFailed (after every plan ran)
    when a plan's step failed; the other plans' results are committed."""
    resolved, at = resolve(now, settings)
    factory = factory_for(resolved.database_url)
    groups = batches(plan_ids(factory), resolved.plans_per_run)
    if len(groups) > 1 and in_deployment():
        try:
            return {"handed_out": hand_out(job, groups, at.isoformat()),
                    "plans": sum(len(g) for g in groups)}
        except ObjectNotFound:
            log.warning("没有部署 %s（请重新运行 tracker deploy）：本次在本进程内逐批运行",
                        BATCH_DEPLOYMENT)
    total: dict[str, Any] = {"plans": 0, "failed": []}
    for group in groups:
        add_results(total, plans_task(JOB_STEPS[job], group, at.isoformat(), settings))
    if total["failed"]:
        raise PlanRunsFailed(job, total)
    return total


def _all_plans(steps: tuple[str, ...], now: str | None, settings: Settings | None
               ) -> dict[str, Any]:
    """`steps` for every plan in this process, each plan's in its own transaction, without
    Prefect (the demo and the scheduler simulations call the tasks' bodies). Raises
    PlanRunsFailed after every plan ran when one failed."""
    resolved, at = resolve(now, settings)
    factory = factory_for(resolved.database_url)
    out = run_plans(steps, plan_ids(factory), at, factory, policy_for(resolved)).as_dict()
    if out["failed"]:
        raise PlanRunsFailed("/".join(steps), out)
    return out


@task(**TASK_OPTS)
def plans_task(steps: tuple[str, ...], ids: list[int], now: str | None, settings: Settings | None
               ) -> dict[str, Any]:
    """One batch of plans, each plan's step in its own transaction (flows.plans.run_plans);
    failures are listed, not raised."""
    resolved, at = resolve(now, settings)
    return run_plans(tuple(steps), ids, at, factory_for(resolved.database_url),
                     policy_for(resolved)).as_dict()


@task(**TASK_OPTS)
def open_requests_task(now: str | None, settings: Settings | None) -> dict[str, Any]:
    """Every plan's due requests opened, each plan in its own transaction."""
    out = _all_plans(("open",), now, settings)
    return out["open"] or {"opened": 0, "queued": 0, "periods": []}


@task(**TASK_OPTS)
def sweep_ladder_task(now: str | None, settings: Settings | None) -> dict[str, Any]:
    """Every plan's ladder and pre-due reminders, each plan in its own transaction."""
    return _ladder_shape(_all_plans(("ladder",), now, settings)["ladder"])


@task(**TASK_OPTS)
def meeting_duty_task(now: str | None, settings: Settings | None) -> dict[str, Any]:
    """Dead staff sessions purged; every plan's meeting and indicator duties, each plan in
    its own transaction."""
    return _meetings_shape(_all_plans(("meetings",), now, settings)["meetings"],
                           purge_sessions_task.fn(now, settings))


@task(**TASK_OPTS)
def purge_sessions_task(now: str | None, settings: Settings | None) -> int:
    settings, at = resolve(now, settings)
    with transaction(factory_for(settings.database_url)) as session:
        return purge_sessions(session, at, settings.rules)


def _ladder_shape(ladder: dict[str, Any]) -> dict[str, Any]:
    return {"fired": {1: 0, 2: 0, 3: 0}, "queued": 0, "pre_due": 0, **ladder}


def _meetings_shape(meetings: dict[str, Any], purged: int) -> dict[str, Any]:
    return {"reminders": 0, "warnings": 0, "findings": 0, "indicators_escalated": 0,
            "explanations_asked": 0, **meetings, "sessions_purged": purged}


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
def archive_outbox_task(now: str | None, settings: Settings | None) -> dict[str, Any]:
    settings, at = resolve(now, settings)
    r = archive_settled(factory_for(settings.database_url), at,
                        retention=dt.timedelta(days=settings.outbox_retention_days))
    return {"archived": r.messages, "receipts": r.receipts, "batches": r.batches}


@task(**TASK_OPTS)
def scorecard_task(now: str | None, settings: Settings | None, year: int | None,
                   regenerate: bool = False, stored_rules: bool = False,
                   actor: str = "system:annual_checkpoint") -> list[dict[str, Any]]:
    """Each plan's checkpoint in its own transaction: one plan's failure keeps the others'
    cards (PlanRunsFailed after all ran)."""
    settings, at = resolve(now, settings)
    policy = policy_for(settings)
    factory = factory_for(settings.database_url)
    out: list[dict[str, Any]] = []
    failed: list[dict[str, str]] = []
    for plan_id in plan_ids(factory):
        key = str(plan_id)
        try:
            with transaction(factory) as session:
                plan = session.get_one(Plan, plan_id)
                key = plan.key
                row = _checkpoint(session, plan, at, policy.with_session(session), settings,
                                  year, regenerate, stored_rules, actor)
        except Exception as exc:  # noqa: BLE001 - one plan's failure stops no other plan
            log.exception("plan %s: annual checkpoint failed", key)
            failed.append({"plan": key, "step": "checkpoint", "error": reason(exc)})
            continue
        if row is not None:
            out.append(row)
    if failed:
        raise PlanRunsFailed("annual_checkpoint", {"cards": out, "plans": len(out),
                                                   "failed": failed})
    return out


def _checkpoint(session: Any, plan: Plan, at: Any, policy: Any, settings: Settings,
                year: int | None, regenerate: bool, stored_rules: bool,
                actor: str) -> dict[str, Any] | None:
    y = year if year is not None else due_year(plan, at, policy)
    if y is None or not plan.first_year <= y <= plan.last_year:
        return None  # a year outside this plan's period is another plan's
    if (plan.id, y) not in years_with_data(session, plan.id):
        return None  # nothing was asked that year: no card to issue
    r = run_checkpoint(session, plan, y, at, policy, settings.home, regenerate=regenerate,
                       stored_rules=stored_rules, actor=actor, soffice=settings.soffice,
                       render_timeout=max(settings.convert_timeout, 120.0))
    return {"plan": plan.key, "year": y, "path": str(r.path), "written": r.written,
            "detail": str(r.detail_path), "regenerated": regenerate and r.written,
            "pictures": [str(x) for x in r.pictures], "pictures_error": r.pictures_error,
            "five_year": str(r.five_year) if r.five_year else None}


@flow(name="progress_request_flow")
def progress_request_flow(now: str | None = None, settings: Settings | None = None) -> dict[str, Any]:
    """Open the progress requests whose issue day has come; queue their notifications.
    Each plan in its own transaction (flows/plans.py)."""
    out = _plan_job("progress_requests", now, settings)
    return {"opened": 0, "queued": 0, "periods": [], **out.pop("open", {}), **out}


@flow(name="overdue_sweep_flow")
def overdue_sweep_flow(now: str | None = None, settings: Settings | None = None) -> dict[str, Any]:
    """Fire due ladder rungs, queue pre-due reminders (临期提醒), and the daily duties
    (meetings, dead staff sessions, indicators off their trajectory). Each plan's ladder
    and its duties in transactions of their own (flows/plans.py)."""
    purged = purge_sessions_task(now, settings)
    out = _plan_job("overdue_sweep", now, settings)
    return {"ladder": _ladder_shape(out.pop("ladder", {})),
            "meetings": _meetings_shape(out.pop("meetings", {}), purged), **out}


@flow(name=BATCH_FLOW)
def plan_batch_flow(job: str, plan_ids: list[int], now: str | None = None,
                    settings: Settings | None = None) -> dict[str, Any]:
    """One batch of plans of a daily job (`flows.plans.STEPS`: progress_requests or
    overdue_sweep), handed out by the job's flow run to any worker of the pool. Raises
    PlanRunsFailed when a plan's step failed (the others' results are committed)."""
    if job not in JOB_STEPS:
        raise ValueError(f"没有按规划分批运行的任务 {job!r}；可用：{'、'.join(JOB_STEPS)}")
    out = plans_task(JOB_STEPS[job], plan_ids, now, settings)
    if out["failed"]:
        raise PlanRunsFailed(job, out)
    return out


@flow(name="dispatch_flow")
def dispatch_flow(now: str | None = None, settings: Settings | None = None) -> dict[str, Any]:
    """Deliver the outbox: one digest per recipient, retries with backoff."""
    return deliver_outbox_task(now, settings)


@flow(name="outbox_archive_flow")
def outbox_archive_flow(now: str | None = None, settings: Settings | None = None) -> dict[str, Any]:
    """Archive the notices sent (or dropped) more than TRACKER_OUTBOX_RETENTION_DAYS ago
    into compact delivery receipts, in bounded batches."""
    return archive_outbox_task(now, settings)


@flow(name="annual_checkpoint_flow")
def annual_checkpoint_flow(now: str | None = None, settings: Settings | None = None,
                           year: int | None = None, regenerate: bool = False,
                           stored_rules: bool = False,
                           actor: str = "system:annual_checkpoint") -> list[dict[str, Any]]:
    """Issue the scorecard of the year whose checkpoint is due (or of `year`); an issued
    one stands unless `regenerate` (on purpose; by the stored rules if `stored_rules`)."""
    return scorecard_task(now, settings, year, regenerate, stored_rules, actor)
