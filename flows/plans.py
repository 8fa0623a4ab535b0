"""The per-plan work of the daily jobs: one transaction per plan, batches of plans, fan-out.

Each daily job that works plan by plan (opening the requests, the ladder with its pre-due
reminders, the meeting and indicator duties) is a list of STEPS (JOB_STEPS), each a service
call for one plan. `run_plans` runs every step of every plan given in a transaction of its own: one
plan's failure (a bad row, a calendar that cannot count its days) rolls back that plan's
step only, the other plans' results are committed, and the failures are reported by plan
at the end (`PlanRunsFailed`, in Chinese). Every step is idempotent (unique keys decide),
so a batch run again after a crash, or run twice at once, sends each notice once.

The plans are cut into batches of `Settings.plans_per_run` (TRACKER_PLANS_PER_RUN, plan id
order). A flow run started from a Prefect deployment with more than one batch hands each
batch to the deployment `plan_batch_flow/plan_batch` (`tracker deploy` registers it in the
same work pool), so the workers sharing the pool share the plans; elsewhere (`tracker
serve`'s embedded scheduler, `tracker jobs run`) the batches run one after the other in the
calling process, one Prefect task run each.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.annual.indicators import follow_up_off_trajectory
from tracker.annual.meetings import meeting_duty
from tracker.db import transaction
from tracker.errors import DomainError
from tracker.escalation.sweep import sweep_overdue
from tracker.models import Plan
from tracker.policy import Policy
from tracker.requests.opening import open_due_requests
from tracker.requests.pre_due import queue_pre_due_reminders

log = logging.getLogger("tracker.flows")

# the deployment of `plan_batch_flow`, "<flow name>/<deployment name>" (flows/deploy.py)
BATCH_FLOW = "plan_batch_flow"
BATCH_DEPLOYMENT = f"{BATCH_FLOW}/plan_batch"


def _open(session: Session, plan: Plan, at: dt.datetime, policy: Policy) -> dict[str, Any]:
    r = open_due_requests(session, plan, at, policy)
    return {"opened": r.requests_opened, "queued": r.messages_queued, "periods": r.periods}


def _ladder(session: Session, plan: Plan, at: dt.datetime, policy: Policy) -> dict[str, Any]:
    r = sweep_overdue(session, plan, at, policy)
    return {"fired": dict(r.fired), "queued": r.messages_queued,
            "pre_due": queue_pre_due_reminders(session, plan, at, policy)}


def _duties(session: Session, plan: Plan, at: dt.datetime, policy: Policy) -> dict[str, Any]:
    r = meeting_duty(session, plan, at, policy)
    # indicators off their trajectory: escalated or explained, once each (issue 11)
    f = follow_up_off_trajectory(session, plan, at, channel=policy.channel)
    return {"reminders": r.reminders, "warnings": r.warnings, "findings": r.findings,
            "indicators_escalated": len(f.escalated), "explanations_asked": len(f.asked)}


Step = Callable[[Session, Plan, dt.datetime, Policy], dict[str, Any]]

# each step: one service call for one plan, in its own transaction
STEPS: dict[str, Step] = {"open": _open, "ladder": _ladder, "meetings": _duties}
# the daily jobs that work plan by plan, and their steps in order
JOB_STEPS: dict[str, tuple[str, ...]] = {
    "progress_requests": ("open",),
    "overdue_sweep": ("ladder", "meetings"),
}


@dataclass
class PlanRuns:
    """What `run_plans` did: per step, its results summed over the plans that succeeded
    (counts added, lists joined, dicts of counts added key by key); the plans run; and
    each failure as {"plan": key, "step": name, "error": Chinese or the exception's line}."""

    steps: dict[str, dict[str, Any]]
    plans: int
    failed: list[dict[str, str]]

    def as_dict(self) -> dict[str, Any]:
        return {**self.steps, "plans": self.plans, "failed": self.failed}


class PlanRunsFailed(RuntimeError):
    """Some plans' steps failed and were rolled back; the others' were committed.
    `result` is the `PlanRuns.as_dict()` of the whole run; the message is Chinese."""

    def __init__(self, job: str, result: dict[str, Any]) -> None:
        self.job, self.result = job, result
        failed = result["failed"]
        shown = "；".join(f"规划 {f['plan']}（{f['step']}）：{f['error']}" for f in failed[:5])
        more = f"等 {len(failed)} 项" if len(failed) > 5 else ""
        super().__init__(f"任务 {job} 有 {len(failed)} 个规划步骤运行失败，已回滚（其余规划的结果已保存）："
                         f"{shown}{more}")


def add_results(total: dict[str, Any], part: dict[str, Any]) -> None:
    """Add the results `part` into `total`, key by key: numbers summed, lists joined,
    dicts added the same way (the ladder's counts per rung)."""
    for key, value in part.items():
        if isinstance(value, dict):
            add_results(total.setdefault(key, {}), value)
        elif isinstance(value, list):
            total.setdefault(key, []).extend(value)
        else:
            total[key] = total.get(key, 0) + value


def reason(exc: BaseException) -> str:
    """One line saying why a plan's step failed: a DomainError's Chinese message, else the
    exception's type and first line (the log has the traceback)."""
    if isinstance(exc, DomainError):
        return exc.message
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"[:300]


def run_plans(steps: tuple[str, ...], plan_ids: list[int], at: dt.datetime,
              factory: Any, policy: Policy, job: str = "") -> PlanRuns:
    """Run the STEPS named `steps` for each plan of `plan_ids` (ids; unknown ones are
    skipped) as of `at` (aware; the services read its Asia/Shanghai date), each step of each
    plan in a transaction of its own (`factory`: a sessionmaker). Never raises for a plan's
    failure: it is logged with its traceback and listed in `PlanRuns.failed`. Raises
    KeyError for an unknown step."""
    calls = [(name, STEPS[name]) for name in steps]
    out = PlanRuns(steps={name: {} for name in steps}, plans=0, failed=[])
    for plan_id in plan_ids:
        key = str(plan_id)
        ran = False
        for name, call in calls:
            try:
                with transaction(factory) as session:
                    plan = session.get(Plan, plan_id)
                    if plan is None:
                        break  # deleted since it was listed
                    key, ran = plan.key, True
                    result = call(session, plan, at, policy.with_session(session))
            except Exception as exc:  # noqa: BLE001 - one plan's failure stops no other plan
                log.exception("plan %s: step %s of job %s failed", key, name, job)
                out.failed.append({"plan": key, "step": name, "error": reason(exc)})
                continue
            add_results(out.steps[name], result)
        out.plans += int(ran)
    return out


def plan_ids(factory: Any) -> list[int]:
    """Every plan's id, in id order (one query)."""
    with factory() as session:
        return list(session.scalars(select(Plan.id).order_by(Plan.id)))


def batches(ids: list[int], size: int) -> list[list[int]]:
    """`ids` cut into consecutive batches of at most `size` (>= 1)."""
    return [ids[i:i + size] for i in range(0, len(ids), size)]


def in_deployment() -> bool:
    """True inside a flow run created from a Prefect deployment (a worker runs it)."""
    from prefect.runtime import deployment

    return deployment.id is not None


def hand_out(job: str, groups: list[list[int]], now: str) -> list[dict[str, Any]]:
    """Create one flow run of BATCH_DEPLOYMENT per batch (not waited for: any worker of
    the pool takes each); [{"run": name, "id": id, "plans": n}]. The idempotency key (this
    flow run, job, batch) makes a retried parent create no second run of a batch.
    Raises prefect.exceptions.ObjectNotFound when the deployment is missing."""
    from prefect.deployments import run_deployment
    from prefect.runtime import flow_run

    parent = flow_run.id or "local"
    out = []
    for i, group in enumerate(groups):
        run: Any = run_deployment(BATCH_DEPLOYMENT, parameters={"job": job, "plan_ids": group,
                                                           "now": now},
                             timeout=0, as_subflow=True,
                             idempotency_key=f"{parent}:{job}:{i}:{group[0]}-{group[-1]}")
        out.append({"run": run.name, "id": str(run.id), "plans": len(group)})
    return out
