"""`tracker deploy` and `tracker worker`: the jobs on a Prefect server (flows/deploy.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tracker.cli.common import app, console, current_settings, fail
from tracker.settings import Settings


@app.command("deploy")
def deploy(pool: Annotated[str | None, typer.Option(
        help="work pool (default: TRACKER_WORK_POOL, else tracker)")] = None) -> None:
    """Register every periodic job as a Prefect deployment (cron, Asia/Shanghai) on the
    server at PREFECT_API_URL, in a process work pool (created if missing). Run it again
    after an upgrade: it updates the deployments, never duplicates them."""
    from flows.deploy import DeployError, deploy_jobs

    pool = pool or current_settings().work_pool
    try:
        done = deploy_jobs(pool)
    except DeployError as exc:
        raise fail(str(exc)) from None
    table = Table(title=f"已部署到工作池 {pool}")
    for col in ("任务", "Prefect 部署", "计划（北京时间 cron）", "状态"):
        table.add_column(col, overflow="fold")
    for d in done:
        state = ("新建" if d.created else "已更新") + ("" if d.active else "（计划已停用，保持停用）")
        table.add_row(d.job, d.deployment, d.cron or "（无：由每日任务按规划分批调用）", state)
    console.print(table)
    console.print(f"请在执行机上启动 worker：tracker worker --pool {pool}"
                  f"（或 prefect worker start --pool {pool}）", soft_wrap=True, highlight=False)


@app.command("worker")
def worker(
    pool: Annotated[str | None, typer.Option(
        help="work pool (default: TRACKER_WORK_POOL, else tracker)")] = None,
    name: Annotated[str | None, typer.Option(help="worker name (default: HOST-PID)")] = None,
    limit: Annotated[int | None, typer.Option(help="at most this many runs at once")] = None,
) -> None:
    """Start a Prefect process worker on the pool: it runs the deployed jobs with this
    machine's TRACKER_* environment. Several workers may share one pool."""
    from flows.deploy import DeployError, check_worker_ready, default_worker_name, worker_command

    pool = pool or current_settings().work_pool
    try:
        url = check_worker_ready(pool)
    except DeployError as exc:
        raise fail(str(exc)) from None
    cmd = worker_command(pool, name or default_worker_name(), limit)
    console.print(f"worker 启动：工作池 {pool}，Prefect 服务器 {url}", soft_wrap=True,
                  highlight=False)
    env = worker_environment(current_settings())
    env["PREFECT_API_URL"] = url  # as resolved here, also from a Prefect profile
    # Prefect's worker CLI in place of this process: it handles SIGTERM/SIGINT itself.
    os.execve(cmd[0], cmd, env)


def worker_environment(settings: Settings) -> dict[str, str]:
    """The environment the worker hands to each flow run: this process's, plus every
    TRACKER_* line of the .env file here (a flow run starts in a temporary folder, where
    no .env is found), with the data folder, database and outbox resolved to absolute
    paths (a relative `var` would land in that temporary folder and be deleted with it)."""
    from dotenv import dotenv_values

    from tracker.settings import ENV_FILE

    env = dict(os.environ)
    if Path(ENV_FILE).is_file():
        for key, value in dotenv_values(ENV_FILE, encoding="utf-8-sig").items():
            if key.upper().startswith("TRACKER_") and value is not None:
                env.setdefault(key.upper(), value)
    env["TRACKER_HOME"] = str(settings.home)
    env["TRACKER_DATABASE_URL"] = settings.database_url
    env["TRACKER_OUTBOX_DIR"] = str(settings.outbox_dir)
    return env
