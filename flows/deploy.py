"""The jobs as Prefect deployments on a Prefect server: deploy, worker, doctor checks.

`tracker deploy` registers every job of `flows.registry.JOBS` as a deployment named
"<flow name>/<job name>" (e.g. "dispatch_flow/dispatch") with the job's cron schedule in
Asia/Shanghai, in a process work pool (no image: a worker runs the flow from the installed
package; the entrypoint is a module path such as "flows.tracker_flows:dispatch_flow").
Running it again updates the deployments in place (the schedule has the job's name as its
slug) and keeps a schedule an office has switched off switched off. One more deployment,
"plan_batch_flow/plan_batch", has no schedule: the daily jobs hand it their batches of
plans (flows/plans.py), so the workers of the pool share a deployment of many plans.

The deployments carry no parameters: `settings` is None and `now` is None, so each flow run
reads the worker's own environment (TRACKER_DATABASE_URL, TRACKER_SMTP_*, the secret key …;
see flows/tracker_flows.py on why secrets never go into Prefect's parameters) and the wall
clock. A worker (`tracker worker`, or `prefect worker start --pool NAME`) polls the pool
and starts each flow run as a subprocess; several workers on several machines may share
one pool, every job is idempotent and the dispatcher claims its rows (notifications/
dispatch.py), so a run picked up twice or re-run after a crash sends nothing twice.

The server is the one at PREFECT_API_URL (Prefect's own setting); without it Prefect would
start a temporary local API, where deployments mean nothing, so these commands refuse.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flows.registry import JOBS, Job
from tracker.settings import Settings

TIMEZONE = "Asia/Shanghai"
TAGS = ["plan-tracker"]
# A server that does not answer within this many seconds is reported unreachable.
CONNECT_TIMEOUT = 10.0


class DeployError(Exception):
    """A deployment or worker command cannot proceed; the message is Chinese, one line."""


@dataclass(frozen=True)
class Deployed:
    """One job's deployment after `deploy_jobs`: created or updated, and its schedule."""

    job: str
    deployment: str  # "<flow name>/<job name>"
    deployment_id: str
    created: bool
    cron: str
    active: bool  # its schedule is switched on


def deployment_name(job: Job) -> str:
    """The deployment's full name, "<flow name>/<job name>"."""
    return f"{job.flow.name}/{job.name}"  # type: ignore[attr-defined]


def api_url() -> str | None:
    """PREFECT_API_URL as Prefect reads it (environment, Prefect profile), or None."""
    from prefect.settings import PREFECT_API_URL

    value = PREFECT_API_URL.value()
    return str(value) if value else None


@contextmanager
def quick_client() -> Iterator[Any]:
    """A synchronous Prefect client that gives up on an unreachable server in seconds,
    not after Prefect's default retries."""
    from prefect import get_client
    from prefect.settings import (
        PREFECT_API_REQUEST_TIMEOUT,
        PREFECT_CLIENT_MAX_RETRIES,
        PREFECT_SERVER_ANALYTICS_ENABLED,
        temporary_settings,
    )

    with temporary_settings(set_defaults={PREFECT_API_REQUEST_TIMEOUT: CONNECT_TIMEOUT,
                                          PREFECT_CLIENT_MAX_RETRIES: 1,
                                          PREFECT_SERVER_ANALYTICS_ENABLED: False}), \
            get_client(sync_client=True) as client:
        yield client


def require_url() -> str:
    """PREFECT_API_URL; raises DeployError (Chinese) if it is unset (checked before any
    client is made: without it Prefect would start a temporary local API)."""
    url = api_url()
    if url is None:
        raise DeployError("未设置 PREFECT_API_URL：请先启动 Prefect 服务器（prefect server start），"
                          "并设置 PREFECT_API_URL=http://<服务器地址>:4200/api")
    return url


@contextmanager
def connect() -> Iterator[tuple[Any, str]]:
    """(client, API URL) of the Prefect server at PREFECT_API_URL, once it answered;
    raises DeployError (Chinese) if the URL is unset or the server does not answer."""
    url = require_url()
    with quick_client() as client:
        problem = client.api_healthcheck()
        if problem is not None:
            raise DeployError(f"无法连接 Prefect 服务器 {url}：{_reason(problem)}。"
                              "请确认服务器已启动（prefect server start）、地址与端口正确、"
                              "防火墙已放行")
        yield client, url


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def ensure_pool(client: Any, pool: str) -> bool:
    """Create the process work pool `pool` if it is missing; True if it was created.
    Raises DeployError if a pool of that name exists with another type."""
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
    from prefect.workers.process import ProcessWorker

    try:
        existing = client.read_work_pool(pool)
    except ObjectNotFound:
        template = ProcessWorker.get_default_base_job_template()
        try:
            client.create_work_pool(WorkPoolCreate(name=pool, type=ProcessWorker.type,
                                                   base_job_template=template))
        except ObjectAlreadyExists:  # another `tracker deploy` created it meanwhile
            return False
        return True
    if existing.type != ProcessWorker.type:
        raise DeployError(f"工作池 {pool} 已存在，但类型为 {existing.type}（应为 process）："
                          "请换用其他名称（TRACKER_WORK_POOL）或在 Prefect 中删除该工作池")
    return False


def deploy_jobs(pool: str, jobs: Mapping[str, Job] = JOBS) -> list[Deployed]:
    """Register every job as a deployment in work pool `pool` (created if missing).

    Idempotent: an existing deployment is updated in place, its schedule replaced by the
    job's cron in Asia/Shanghai (slug = job name), except that a schedule switched off
    (inactive) stays off. Raises DeployError (Chinese) if the server is not reachable.
    """
    from prefect.deployments.runner import EntrypointType, RunnerDeployment
    from prefect.exceptions import ObjectNotFound
    from prefect.schedules import Cron

    out: list[Deployed] = []
    with connect() as (client, _url):
        ensure_pool(client, pool)
        for job in jobs.values():
            full = deployment_name(job)
            try:
                existing = client.read_deployment_by_name(full)
            except ObjectNotFound:
                existing = None
            active = True
            if existing is not None:
                for schedule in existing.schedules:
                    if schedule.slug == job.name and not schedule.active:
                        active = False
            deployment = RunnerDeployment.from_flow(
                job.flow,  # type: ignore[arg-type]
                name=job.name,
                schedule=Cron(job.cron, timezone=TIMEZONE, slug=job.name, active=active),
                description=job.description,
                tags=TAGS,
                work_pool_name=pool,
                entrypoint_type=EntrypointType.MODULE_PATH,
            )
            deployment_id = deployment.apply()
            out.append(Deployed(job.name, full, str(deployment_id), existing is None,
                                job.cron, active))
        out.append(_deploy_batches(client, pool))
    return out


def _deploy_batches(client: Any, pool: str) -> Deployed:
    """The deployment of `plan_batch_flow` (no schedule): a daily job's flow run hands it
    its batches of plans (flows/plans.py), so every worker of the pool shares the plans."""
    from prefect.deployments.runner import EntrypointType, RunnerDeployment
    from prefect.exceptions import ObjectNotFound

    from flows.plans import BATCH_DEPLOYMENT
    from flows.tracker_flows import plan_batch_flow

    try:
        client.read_deployment_by_name(BATCH_DEPLOYMENT)
        created = False
    except ObjectNotFound:
        created = True
    deployment = RunnerDeployment.from_flow(
        plan_batch_flow,  # type: ignore[arg-type]
        name=BATCH_DEPLOYMENT.split("/", 1)[1],
        description="每日任务按规划分批运行的一批（由每日任务的运行分派，不单独排程）",
        tags=TAGS, work_pool_name=pool, entrypoint_type=EntrypointType.MODULE_PATH)
    return Deployed("plan_batch", BATCH_DEPLOYMENT, str(deployment.apply()), created, "", True)


def worker_command(pool: str, name: str | None = None, limit: int | None = None) -> list[str]:
    """The command line of a process worker for `pool` (Prefect's own CLI)."""
    cmd = [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool,
           "--type", "process"]
    if name:
        cmd += ["--name", name]
    if limit:
        cmd += ["--limit", str(limit)]
    return cmd


def check_worker_ready(pool: str) -> str:
    """The API URL, after checking that the server answers and `pool` exists (as a process
    pool); raises DeployError (Chinese) otherwise."""
    from prefect.exceptions import ObjectNotFound

    with connect() as (client, url):
        try:
            existing = client.read_work_pool(pool)
        except ObjectNotFound:
            raise DeployError(f"工作池 {pool} 不存在：请先在任一机器上运行 tracker deploy") from None
        if existing.type != "process":
            raise DeployError(f"工作池 {pool} 的类型为 {existing.type}，不是 process")
    return url


def default_worker_name() -> str:
    """"<host>-<pid>": unique among the workers sharing a pool, readable in Prefect's UI."""
    return f"{socket.gethostname()}-{os.getpid()}"


def doctor_checks(settings: Settings, now: dt.datetime) -> list[tuple[str, str]]:
    """What `tracker doctor` reports about Prefect: (level, Chinese message) pairs, level
    in {"ok", "warn", "error"}.

    Without PREFECT_API_URL: one "ok" line (the embedded scheduler of `tracker serve` runs
    the jobs). With it: the server answers; the work pool `settings.work_pool` exists and
    has a worker online; every job of JOBS has its deployment, with the registry's cron in
    Asia/Shanghai; an enabled job (its deployment not paused, its schedule active) has at
    least one scheduled run expected after `now` (aware) -- else the server's scheduler is
    not producing runs and the job would silently never run; runs left "Late" mean no
    worker is taking them. Never raises.
    """
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterExpectedStartTime,
        FlowRunFilterState,
        FlowRunFilterStateName,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.exceptions import ObjectNotFound

    url = api_url()
    if url is None:
        return [("ok", "未设置 PREFECT_API_URL：周期任务由 tracker serve 的内置调度运行"
                       "（未使用 Prefect 服务器与工作池）")]
    out: list[tuple[str, str]] = []
    pool = settings.work_pool
    try:
        with connect() as (client, _url):
            out.append(("ok", f"Prefect 服务器 {url} 可以连接"))
            try:
                wp = client.read_work_pool(pool)
            except ObjectNotFound:
                out.append(("error", f"工作池 {pool} 不存在：请运行 tracker deploy"))
            else:
                online = [w for w in client.read_workers_for_work_pool(pool)
                          if str(getattr(w.status, "value", w.status)).upper() == "ONLINE"]
                if wp.is_paused:
                    out.append(("warn", f"工作池 {pool} 已暂停：已排定的任务不会执行"))
                elif not online:
                    out.append(("warn", f"工作池 {pool} 当前没有在线的 worker：已排定的任务"
                                        "不会执行；请在执行机上运行 tracker worker"))
                else:
                    out.append(("ok", f"工作池 {pool} 有 {len(online)} 个在线 worker"))
            deployments: dict[str, Any] = {}
            missing = []
            for job in JOBS.values():
                try:
                    deployments[job.name] = client.read_deployment_by_name(deployment_name(job))
                except ObjectNotFound:
                    missing.append(job.name)
            from flows.plans import BATCH_DEPLOYMENT

            try:
                client.read_deployment_by_name(BATCH_DEPLOYMENT)
            except ObjectNotFound:
                out.append(("warn", f"缺少部署 {BATCH_DEPLOYMENT}：规划多于一批时，每日任务只能在"
                                    "一个 worker 上逐批运行；请运行 tracker deploy"))
            if missing:
                out.append(("error", f"缺少任务的部署：{'、'.join(missing)}；请运行 tracker deploy"))
            elif deployments:
                out.append(("ok", f"{len(deployments)} 个任务均已部署到 Prefect"))
            after = now.astimezone(dt.UTC)
            for name, d in deployments.items():
                job = JOBS[name]
                ours = [s for s in d.schedules if s.slug == name] or list(d.schedules)
                enabled = not d.paused and any(s.active for s in ours)
                if not enabled:
                    out.append(("warn", f"任务 {name}（{job.description}）已停用：部署已暂停或"
                                        "计划未启用，不会自动运行"))
                    continue
                sched = ours[0].schedule
                if getattr(sched, "cron", None) != job.cron or \
                        getattr(sched, "timezone", None) != TIMEZONE:
                    out.append(("warn", f"任务 {name} 在 Prefect 中的计划与本系统定义"
                                        f"（{job.cron}，北京时间）不一致：请重新运行 tracker deploy"))
                upcoming = client.read_flow_runs(
                    deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[d.id])),
                    flow_run_filter=FlowRunFilter(
                        state=FlowRunFilterState(
                            type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]),
                            name=FlowRunFilterStateName(any_=["Scheduled"])),
                        expected_start_time=FlowRunFilterExpectedStartTime(after_=after)),
                    limit=1)
                if not upcoming:
                    out.append(("error", f"任务 {name}（{job.description}）已启用，但没有即将"
                                         "执行的排程：请检查 Prefect 服务器的调度服务"
                                         "（PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED）"))
            if deployments:
                late = client.read_flow_runs(
                    deployment_filter=DeploymentFilter(id=DeploymentFilterId(
                        any_=[d.id for d in deployments.values()])),
                    flow_run_filter=FlowRunFilter(state=FlowRunFilterState(
                        name=FlowRunFilterStateName(any_=["Late"]))),
                    limit=100)
                if late:
                    out.append(("warn", f"有 {len(late)}{'+' if len(late) == 100 else ''} 次任务"
                                        "运行已逾时未开始（Late）：请确认 worker 在运行"))
    except DeployError as exc:
        out.append(("error", str(exc)))
    except Exception as exc:  # doctor reports, never fails
        out.append(("error", f"检查 Prefect 时出错：{_reason(exc)}"))
    return out
