"""Running the product: jobs, the scorecard, `serve` and the demo."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tracker.catalog import default_catalog_path
from tracker.catalog.schema import CatalogError
from tracker.cli.common import (
    app,
    console,
    current_settings,
    factory,
    fail,
    jobs_app,
    parse_now,
)


@jobs_app.command("list")
def jobs_list() -> None:
    """The periodic jobs and their schedules (Asia/Shanghai)."""
    from flows.registry import JOBS

    table = Table()
    for name in ("任务", "Prefect 流程", "计划（北京时间 cron）", "说明"):
        table.add_column(name, overflow="fold")
    for job in JOBS.values():
        table.add_row(job.name, job.flow.name, job.cron, job.description)  # type: ignore[attr-defined]
    console.print(table)


@jobs_app.command("run")
def jobs_run(name: str, now: Annotated[str | None, typer.Option(help="ISO time")] = None) -> None:
    """Run one job once through its Prefect flow, at `--now` (default: the wall clock)."""
    from flows.registry import JOBS
    from flows.runtime import prefect_context

    job = JOBS.get(name)
    if job is None:
        raise fail(f"unknown job {name!r}; known: {', '.join(JOBS)}")
    settings = current_settings()
    with prefect_context(settings):
        result = job.flow(now=parse_now(now).isoformat(), settings=settings)
    console.print_json(data=result)
    if name == "dispatch" and result.get("errors"):
        raise fail(f"{result['failed']} 条通知投递失败，{result['retrying']} 条等待重试: "
                    f"{result['errors'][0]}", code=1)


@app.command("scorecard")
def scorecard(year: int, now: Annotated[str | None, typer.Option()] = None) -> None:
    """Write scorecard-YEAR.xlsx now (the annual checkpoint, on demand)."""
    from sqlalchemy import select

    from flows.runtime import prefect_context
    from flows.tracker_flows import annual_checkpoint_flow
    from tracker.models import Plan

    with factory()() as session:
        periods = [(p.key, p.first_year, p.last_year) for p in session.scalars(select(Plan))]
    if not periods:
        raise fail("no plan loaded: run `tracker catalog load` first")
    if not any(first <= year <= last for _, first, last in periods):
        spans = ", ".join(f"{key} {first}–{last}" for key, first, last in periods)
        raise fail(f"{year} is outside every plan's period ({spans})")
    settings = current_settings()
    with prefect_context(settings):
        rows = annual_checkpoint_flow(now=parse_now(now).isoformat(), settings=settings, year=year)
    for row in rows:
        console.print(f"{row['path']} ({'written' if row['written'] else 'unchanged'})")


@app.command("serve")
def serve(host: str = "127.0.0.1", port: int = 8000,
          web: Annotated[bool, typer.Option(help="serve the web pages too")] = True,
          scheduler: Annotated[bool, typer.Option(
              help="run the periodic jobs here (--no-scheduler: Prefect workers run them)")] = True,
          ) -> None:
    """Run the web pages and the periodic jobs (embedded APScheduler) in one process."""
    if not web and not scheduler:
        raise fail("--no-web 与 --no-scheduler 不能同时使用：本进程将无事可做")
    from flows.runtime import prefect_context
    from flows.scheduler import run_forever, serve_settings

    settings = serve_settings(current_settings(), host, port)
    with prefect_context(settings):
        run_forever(console, settings, host=host, port=port, web=web, jobs=scheduler)


@app.command("demo")
def demo(
    out: Annotated[Path, typer.Option(help="folder for the demo's files")] = Path("var/demo"),
    catalog_path: Annotated[Path | None, typer.Option(
        "--catalog", help="default: ./tasks_catalog.json, else the checked-in catalog")] = None,
    year: int = 2017,
    seed: int = 2017,
) -> None:
    """Run reporting year 2017 of the plan through the real flows on a fresh SQLite file."""
    from tracker.catalog.schema import load_catalog
    from tracker.enums import Level
    from tracker.policy import Policy

    try:
        catalog = load_catalog(catalog_path or default_catalog_path())
    except (CatalogError, OSError) as exc:
        raise fail(str(exc)) from exc
    from flows.demo import demo_settings, run_demo
    from flows.runtime import prefect_context

    settings = demo_settings(out)
    policy = Policy.from_settings(settings)
    started = time.monotonic()
    with prefect_context(settings), Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                  TextColumn("{task.completed}/{task.total} 天"), TimeElapsedColumn(),
                  console=console) as progress:
        bar = progress.add_task("启动 Prefect…", total=None)

        def on_day(day: dt.date, index: int, total: int) -> None:
            progress.update(bar, description=f"模拟 {day.isoformat()}", completed=index,
                            total=total)

        result = run_demo(catalog, settings, year=year, seed=seed, policy=policy,
                          on_day=on_day)
        progress.update(bar, description="完成", completed=result.days)
    table = Table(title=f"{year}年度 报送情况", show_lines=False)
    for col in ("报送期", "应报", "按时", "逾期", "未报"):
        table.add_column(col, justify="right" if col != "报送期" else "left")
    totals = [0, 0, 0, 0]
    for row in result.per_period:
        vals = [row["requests"], row["on_time"], row["late"], row["missing"]]
        totals = [a + b for a, b in zip(totals, vals, strict=True)]
        table.add_row(row["period"], *map(str, vals))
    table.add_row("合计", *map(str, totals), style="bold")
    console.print(table)
    esc = Table(title="逾期督办")
    esc.add_column("级别")
    esc.add_column("次数", justify="right")
    for lvl in Level:
        esc.add_row(lvl.label, str(result.escalations.get(lvl.value, 0)))
    console.print(esc)
    console.print(f"临期提醒 已发送 {result.pre_due_sent} 条（截止日前"
                  f"{policy.rules.pre_due_working_days}个工作日，发给尚未报送的联络员；另有 "
                  f"{result.pre_due_dropped} 条在发送前已报送，不再发送）", soft_wrap=True,
                  highlight=False)
    console.print("[bold]输出文件[/]")
    console.print(f"  数据库    {result.db_path}", soft_wrap=True, highlight=False)
    console.print(f"  通知邮件  {result.outbox_dir}/ （{result.files_written} 封 .eml，合并 "
                  f"{result.messages_sent} 条通知）", soft_wrap=True, highlight=False)
    console.print(f"  记分卡    {result.scorecard or '未生成'}", soft_wrap=True, highlight=False)
    console.print(f"  其他      {result.db_path.parent}/prefect/（Prefect 本地数据）、"
                  f"{result.db_path.parent}/secret.key（链接签名密钥）", soft_wrap=True,
                  highlight=False)
    console.print(f"模拟 {result.days} 个事件日，用时 {time.monotonic() - started:.0f} 秒")
    if result.scorecard is None:
        raise typer.Exit(1)
