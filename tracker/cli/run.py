"""Running the product: jobs, the scorecard, `serve` and the demo."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Annotated, Any

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
def jobs_run(name: str, now: Annotated[str | None, typer.Option(help="ISO time")] = None,
             as_json: Annotated[bool, typer.Option("--json", help="print the raw result as JSON")]
             = False) -> None:
    """Run one job once through its Prefect flow, at `--now` (default: the wall clock).

    Uses the local Prefect API (started or reused, stopped on exit, SIGTERM or Ctrl-C by
    the last command using it) unless PREFECT_API_URL is set.
    """
    from flows.local_api import LocalApiError
    from flows.registry import JOBS
    from flows.runtime import prefect_context, run_flow

    job = JOBS.get(name)
    if job is None:
        raise fail(f"没有名为 {name!r} 的任务；可用的任务：{'、'.join(JOBS)}")
    settings = current_settings()
    at = parse_now(now)
    from flows.plans import PlanRunsFailed

    failed: PlanRunsFailed | None = None
    try:
        with prefect_context(settings):
            result = run_flow(job.flow, now=at.isoformat(), settings=settings)
    except LocalApiError as exc:
        raise fail(str(exc)) from None
    except PlanRunsFailed as exc:  # the other plans' results are committed: show them
        failed, result = exc, partial_result(name, exc.result)
    if as_json:
        console.print_json(data=result)
    else:
        console.print(f"{job.description.split(' ', 1)[-1]}（{name}，按 {at:%Y-%m-%d %H:%M} 北京时间运行）",
                      highlight=False)
        for line in job_summary(name, result):
            console.print(f"  {line}", highlight=False, soft_wrap=True)
    if failed is not None:
        raise fail(str(failed), code=1)
    if name == "dispatch" and result.get("errors"):
        raise fail(f"{result['failed']} 条通知投递失败，{result['retrying']} 条等待重试: "
                    f"{result['errors'][0]}", code=1)


def partial_result(name: str, raw: dict[str, Any]) -> Any:
    """The result `job_summary` reads, from the steps' sums of a run where some plans
    failed (flows.plans.PlanRunsFailed.result)."""
    if name == "progress_requests":
        return {"opened": 0, "queued": 0, "periods": [], **raw.get("open", {})}
    if name == "overdue_sweep":
        return {"ladder": {"fired": {}, "queued": 0, "pre_due": 0, **raw.get("ladder", {})},
                "meetings": {"reminders": 0, "warnings": 0, "findings": 0,
                             **raw.get("meetings", {})}}
    if name == "annual_checkpoint":
        return raw.get("cards", [])
    return raw


def job_summary(name: str, result: Any) -> list[str]:
    """The lines `tracker jobs run NAME` prints for the flow's `result` (Chinese)."""
    if name == "progress_requests":
        periods = "、".join(dict.fromkeys(result["periods"])) or "无"
        return [f"新发出进展调度 {result['opened']} 项（报送期：{periods}）",
                f"待发通知 {result['queued']} 条"]
    if name == "overdue_sweep":
        fired, meet = result["ladder"]["fired"], result["meetings"]

        def rung(level: int) -> int:
            return int(fired.get(level, fired.get(str(level), 0)))

        return [f"逾期督办：催办 {rung(1)} 项、督办 {rung(2)} 项、通报 {rung(3)} 项，"
                f"待发通知 {result['ladder']['queued']} 条",
                f"临期提醒：{result['ladder']['pre_due']} 条",
                f"常务会议：提醒 {meet['reminders']} 条、预警 {meet['warnings']} 条、"
                f"未召开记录 {meet['findings']} 项",
                f"清理过期登录会话 {meet.get('sessions_purged', 0)} 个"]
    if name == "dispatch":
        if result.get("quiet"):
            return ["当前不在发送时段（工作日 08:30–18:00 等，见 TRACKER_SEND_HOURS），本次未发送，"
                    "通知留待下一个发送时段"]
        lines = [f"已发送通知 {result['sent']} 条，合并为 {result['digests']} 封",
                 f"等待重试 {result['retrying']} 条，投递失败 {result['failed']} 条，"
                 f"无需再发 {result['dropped']} 条，推迟 {result['deferred']} 条"]
        return lines + [f"错误：{e}" for e in result.get("errors", [])]
    if name == "outbox_archive":
        return [f"归档超过保留期的通知 {result['archived']} 条，保留投递凭据 {result['receipts']} 条"
                f"（分 {result['batches']} 批）"]
    if name == "annual_checkpoint":
        if not result:
            return ["今日没有到期的年度检查"]
        return [f"{r['year']}年度记分卡（{r['plan']}）：{r['path']}"
                f"（{'已印发' if r['written'] else '此前已印发，未改变'}）" for r in result]
    return [str(result)]


@app.command("scorecard")
def scorecard(
    year: int,
    now: Annotated[str | None, typer.Option(help="as of this time (ISO), default now")] = None,
    regenerate: Annotated[bool, typer.Option(
        "--regenerate", help="replace an issued scorecard on purpose (says so in it)")] = False,
    stored_rules: Annotated[bool, typer.Option(
        "--stored-rules", help="with --regenerate: score by the rules the issued card used")] = False,
) -> None:
    """Issue the YEAR scorecard now (the annual checkpoint, on demand); an issued one stands
    unless --regenerate."""
    from sqlalchemy import select

    from flows.runtime import policy_for, prefect_context
    from flows.tracker_flows import annual_checkpoint_flow
    from tracker.annual.checkpoint import checkpoint_day
    from tracker.annual.scorecard import years_with_data
    from tracker.dates.chinese import cn_date
    from tracker.dates.workdays import local_date
    from tracker.models import Plan

    if stored_rules and not regenerate:
        raise fail("--stored-rules 只能与 --regenerate 一起使用")
    settings = current_settings()
    at = parse_now(now)
    with factory()() as session:
        plans = list(session.scalars(select(Plan)))
        if not plans:
            raise fail("尚未载入规划：请先运行 tracker catalog load")
        if not any(p.first_year <= year <= p.last_year for p in plans):
            spans = "、".join(f"《{p.title}》{p.first_year}—{p.last_year}年" for p in plans)
            raise fail(f"{year}年不在任何规划的规划期内（{spans}）")
        if not any((p.id, year) in years_with_data(session, p.id) for p in plans):
            raise fail(f"{year}年度尚无任务进展调度，没有可印发的考核记分卡")
        day = checkpoint_day(year, policy_for(settings).with_session(session))
    if local_date(at) < day:
        raise fail(f"{year}年度考核记分卡须在年度检查点（{cn_date(day)}）及以后印发；"
                   "此前可在“考核记分卡”页面下载试算版")
    from flows.local_api import LocalApiError
    from flows.plans import PlanRunsFailed

    failed: PlanRunsFailed | None = None
    try:
        with prefect_context(settings):
            rows = annual_checkpoint_flow(now=at.isoformat(), settings=settings,
                                          year=year, regenerate=regenerate,
                                          stored_rules=stored_rules, actor="cli:scorecard")
    except LocalApiError as exc:
        raise fail(str(exc)) from None
    except PlanRunsFailed as exc:  # the other plans' cards are issued: list them
        failed, rows = exc, exc.result.get("cards", [])
    _print_cards(rows)
    if failed is not None:
        raise fail(str(failed), code=1)


def _print_cards(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        state = ("重新生成" if row.get("regenerated") else "已印发" if row["written"]
                 else "此前已印发，未改变（如需重新生成请加 --regenerate）")
        console.print(f"{row['path']}（{state}）", soft_wrap=True, highlight=False)
        console.print(f"  逾期督办明细：{row['detail']}", soft_wrap=True, highlight=False)
        for picture in row.get("pictures") or []:
            console.print(f"  图片：{picture}", soft_wrap=True, highlight=False)
        if row.get("pictures_error"):
            console.print(f"  未生成图片：{row['pictures_error']}", soft_wrap=True, highlight=False)
        if row.get("five_year"):
            console.print(f"  规划期汇总：{row['five_year']}", soft_wrap=True, highlight=False)


@app.command("serve")
def serve(host: str = "127.0.0.1", port: int = 8000,
          web: Annotated[bool, typer.Option(help="serve the web pages too")] = True,
          scheduler: Annotated[bool, typer.Option(
              help="run the periodic jobs here (--no-scheduler: Prefect workers run them)")] = True,
          as_of: Annotated[str | None, typer.Option(
              "--as-of", help="explore a database as it stood on a day (YYYY-MM-DD[THH:MM]): "
                              "the pages' clock stands still, no jobs run; not in production")] = None,
          ) -> None:
    """Run the web pages and the periodic jobs (embedded APScheduler) in one process."""
    if not web and not scheduler:
        raise fail("--no-web 与 --no-scheduler 不能同时使用：本进程将无事可做")
    if web:
        _port_free_or_fail(host, port)
    if as_of is not None:
        _serve_as_of(as_of, host, port)
        return
    from flows.local_api import LocalApiError
    from flows.runtime import api_line, prefect_context
    from flows.scheduler import run_forever, serve_settings

    settings = serve_settings(current_settings(), host, port)
    if not scheduler:  # the pages only: no flow runs here, so no Prefect API to start
        run_forever(console, settings, host=host, port=port, web=web, jobs=False)
        return
    try:
        with prefect_context(settings):
            console.print(api_line(), highlight=False, soft_wrap=True)
            run_forever(console, settings, host=host, port=port, web=web, jobs=True)
    except LocalApiError as exc:
        raise fail(str(exc)) from None


def _port_free_or_fail(host: str, port: int) -> None:
    """Refuse at once, in Chinese, when the address is taken (uvicorn would say so in
    English only after the scheduler and the local Prefect API had started)."""
    import socket

    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        import errno

        reason = {errno.EADDRINUSE: "端口已被其他程序占用，请用 --port 换一个端口",
                  errno.EACCES: "没有使用该端口的权限（1024 以下的端口需要管理员权限）",
                  errno.EADDRNOTAVAIL: "本机没有这个地址，请检查 --host"}.get(
            exc.errno or 0, exc.strerror or str(exc))
        raise fail(f"无法在 {host}:{port} 上提供网页：{reason}") from None


def as_of_instant(as_of: str) -> dt.datetime:
    """The fixed clock of `tracker serve --as-of VALUE`: `YYYY-MM-DD` means that day at
    `flows.demo.EXPLORE_HOUR` (18:00 Asia/Shanghai, after the demo's 17:00 dispatch, so the
    day's deliveries are not later than "now"); `YYYY-MM-DDTHH:MM` that minute, in
    Asia/Shanghai unless an offset is given. Raises ValueError for anything else."""
    from flows.demo import EXPLORE_HOUR
    from tracker.dates.workdays import SHANGHAI

    fixed = dt.datetime.fromisoformat(as_of if "T" in as_of else f"{as_of}T{EXPLORE_HOUR:02d}:00")
    return fixed if fixed.tzinfo is not None else fixed.replace(tzinfo=SHANGHAI)


def _serve_as_of(as_of: str, host: str, port: int) -> None:
    """`tracker serve --as-of DAY`: the pages with their clock fixed at DAY (`as_of_instant`),
    no scheduler (the jobs would run on today's date), nothing sent (the pages say a notice is
    queued, not sent), refused in production (issue 10, item 7: exploring the demo's year)."""
    from flows.scheduler import run_forever, serve_settings

    settings = serve_settings(current_settings(), host, port)
    if settings.env == "production":
        raise fail("--as-of 仅用于浏览演示或备份数据；TRACKER_ENV=production 时不可使用")
    try:
        fixed = as_of_instant(as_of)
    except ValueError:
        raise fail(f"--as-of 的值“{as_of}”不是有效的日期（应为 YYYY-MM-DD，如 2017-10-20）") from None
    console.print(f"浏览模式：页面时间固定为 {fixed:%Y年%-m月%-d日 %H:%M}（北京时间），不运行定时任务，"
                  "不发送任何通知", highlight=False)
    run_forever(console, settings, host=host, port=port, web=True, jobs=False, clock=lambda: fixed,
                browsing=True)


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
    from tracker.policy import Policy

    try:
        catalog = load_catalog(catalog_path or default_catalog_path())
    except (CatalogError, OSError) as exc:
        raise fail(str(exc)) from exc
    from flows.demo import demo_settings
    from flows.local_api import LocalApiError
    from flows.runtime import api_line, prefect_context

    settings = demo_settings(out)
    policy = Policy.from_settings(settings)
    started = time.monotonic()
    console.print("正在连接 Prefect 服务（首次启动本地服务约需 10–60 秒）…", highlight=False)
    try:
        with prefect_context(settings):
            console.print(api_line(), highlight=False, soft_wrap=True)
            result = _run_demo_with_progress(catalog, settings, year, seed, policy)
    except LocalApiError as exc:
        raise fail(str(exc)) from None
    _print_demo(result, year, policy, started, settings, out)


def _run_demo_with_progress(catalog, settings, year, seed, policy):  # type: ignore[no-untyped-def]
    from flows.demo import run_demo

    with Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                  TextColumn("{task.completed}/{task.total} 天"), TimeElapsedColumn(),
                  console=console) as progress:
        bar = progress.add_task("准备…", total=None)

        def on_day(day: dt.date, index: int, total: int) -> None:
            progress.update(bar, description=f"模拟 {day.isoformat()}", completed=index,
                            total=total)

        result = run_demo(catalog, settings, year=year, seed=seed, policy=policy,
                          on_day=on_day)
        progress.update(bar, description="完成", completed=result.days)
    return result


def _program() -> str:
    """How to type this command again: .venv/bin/tracker after `make demo`, else tracker."""
    import os
    import shutil
    import sys

    me = Path(sys.argv[0])
    if me.name == "tracker" and me.is_file() and shutil.which("tracker") != str(me.resolve()):
        rel = os.path.relpath(me)
        return rel if not rel.startswith("..") else str(me)
    return "tracker"


def _print_demo(result, year, policy, started, settings, out) -> None:  # type: ignore[no-untyped-def]
    from tracker.enums import Level

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
    if result.scorecard is not None:  # beside it: the escalation detail and the pictures
        for extra in sorted(result.scorecard.parent.glob(f"{result.scorecard.stem}-*")):
            label = "逾期督办明细" if extra.suffix == ".csv" else "记分卡图片"
            console.print(f"  {label}  {extra}", soft_wrap=True, highlight=False)
    console.print(f"  其他      {result.db_path.parent}/prefect/（Prefect 本地数据）、"
                  f"{result.db_path.parent}/secret.key（链接签名密钥）", soft_wrap=True,
                  highlight=False)
    console.print(f"模拟 {result.days} 个事件日，用时 {time.monotonic() - started:.0f} 秒")
    from flows.demo import (
        DEMO_PASSWORD,
        DEMO_PERF_PASSWORD,
        DEMO_PERF_USER,
        DEMO_USER,
        EXPLORE_DAY,
        EXPLORE_HOUR,
        explore_link,
        snapshot_path,
    )

    snap = snapshot_path(settings, dt.date.fromisoformat(EXPLORE_DAY))
    console.print(f"[bold]在浏览器中查看[/] {EXPLORE_DAY} 当天傍晚的情况（当天的数据库副本，页面时间固定在"
                  f"该日 {EXPLORE_HOUR}:00，不运行定时任务，不发送通知）：", highlight=False)
    console.print(f"  TRACKER_HOME={out} TRACKER_DATABASE_URL=sqlite:///{out / snap.name} "
                  f"{_program()} serve --as-of {EXPLORE_DAY}", soft_wrap=True,
                  highlight=False, markup=False)
    console.print(f"  督查室：http://127.0.0.1:8000/login ，账号 {DEMO_USER}，密码 {DEMO_PASSWORD}",
                  soft_wrap=True, highlight=False)
    console.print(f"  绩效办：http://127.0.0.1:8000/login ，账号 {DEMO_PERF_USER}，密码 "
                  f"{DEMO_PERF_PASSWORD}", soft_wrap=True, highlight=False)
    console.print(f"  市残联联络员（{EXPLORE_DAY} 有效）：http://127.0.0.1:8000"
                  f"{explore_link(settings, '市残联', EXPLORE_DAY)}", soft_wrap=True, highlight=False)
    if result.scorecard is None:
        raise typer.Exit(1)
