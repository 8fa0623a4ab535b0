"""The `tracker` command (Typer + Rich). Each command commits once, at its end."""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tracker.catalog.schema import CatalogError

app = typer.Typer(help="规划纲要督查督办系统 Plan Tracker", no_args_is_help=True,
                  pretty_exceptions_enable=False)
catalog_app = typer.Typer(help="The plan as data: parse, validate, load.", no_args_is_help=True)
jobs_app = typer.Typer(help="Periodic jobs (Prefect flows).", no_args_is_help=True)
liaison_app = typer.Typer(help="Agency contacts.", no_args_is_help=True)
meeting_app = typer.Typer(help="Executive meetings (政府常务会议).", no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")
app.add_typer(jobs_app, name="jobs")
app.add_typer(liaison_app, name="liaison")
app.add_typer(meeting_app, name="meeting")
extension_app = typer.Typer(help="Extension requests (延期申请).", no_args_is_help=True)
review_app = typer.Typer(help="Review reports (审核) and close out measures (办结销号).",
                         no_args_is_help=True)
app.add_typer(extension_app, name="extension")
user_app = typer.Typer(help="Staff accounts (督查室, 绩效办, administrators).", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(review_app, name="review")
console = Console()
err = Console(stderr=True)

DEFAULT_CATALOG = Path("tasks_catalog.json")
STAFF_LABEL = {"office": "督查室", "performance": "绩效办", "admin": "系统管理员"}


def _quiet_prefect() -> None:
    """Keep Prefect's own logging and shutdown noise away from our users."""
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "ERROR")
    os.environ.setdefault("PREFECT_LOGGING_TO_API_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_UI_ENABLED", "false")
    home = Path(os.environ.get("TRACKER_HOME", "var")).resolve()
    os.environ.setdefault("PREFECT_HOME", str(home / "prefect"))
    # Prefect's ephemeral API keeps a SQLite file there; it cannot create missing parents.
    Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]错误[/]: {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _now(value: str | None) -> dt.datetime:
    from tracker.workdays import SHANGHAI

    if value is None:
        return dt.datetime.now(SHANGHAI)
    at = dt.datetime.fromisoformat(value)
    return at if at.tzinfo else at.replace(tzinfo=SHANGHAI)


def _factory():  # type: ignore[no-untyped-def]
    from tracker.config import load_settings
    from tracker.db import make_engine, migrate, session_factory

    engine = make_engine(load_settings().database_url)
    migrate(engine)
    return session_factory(engine)


@catalog_app.command("parse")
def catalog_parse(
    plan: Annotated[Path, typer.Argument(help="the plan's published text (UTF-8)")],
    output: Annotated[Path, typer.Option("-o", "--output")] = DEFAULT_CATALOG,
) -> None:
    """Turn the plan's text into the catalog JSON."""
    from tracker.catalog.parse import SeedFormatError, parse_plan_text
    from tracker.catalog.schema import dump_catalog

    try:
        catalog = parse_plan_text(plan.read_text(encoding="utf-8"))
    except (SeedFormatError, CatalogError, OSError) as exc:
        raise _fail(f"{plan}: {exc}") from exc
    output.write_text(dump_catalog(catalog), encoding="utf-8")
    console.print(f"{output}: {len(catalog.measures)} measures, {len(catalog.indicators)} "
                  f"indicators, {len(catalog.agencies)} agencies")


@catalog_app.command("validate")
def catalog_validate(path: Annotated[Path, typer.Argument()] = DEFAULT_CATALOG) -> None:
    """Check a catalog file; name each bad field with its JSON path and line."""
    from tracker.catalog.schema import load_catalog

    try:
        catalog = load_catalog(path)
    except (CatalogError, OSError) as exc:
        raise _fail(str(exc)) from exc
    console.print(f"{path}: OK ({len(catalog.measures)} measures, "
                  f"{len(catalog.indicators)} indicators)")


@catalog_app.command("load")
def catalog_load(path: Annotated[Path, typer.Argument()] = DEFAULT_CATALOG,
                 now: Annotated[str | None, typer.Option(help="ISO time")] = None) -> None:
    """Load the catalog into the database (idempotent; updates in place)."""
    from tracker.catalog.load import load_catalog as load_into
    from tracker.catalog.schema import load_catalog
    from tracker.db import transaction

    try:
        catalog = load_catalog(path)
    except (CatalogError, OSError) as exc:
        raise _fail(str(exc)) from exc
    with transaction(_factory()) as session:
        result = load_into(session, catalog, _now(now))
    console.print("no changes" if not result.changed else
                  ", ".join(f"{k}={v}" for k, v in sorted(result.changes.items())))


@liaison_app.command("add")
def liaison_add(agency: str, name: str, email: str,
                deputy: Annotated[bool, typer.Option(help="deputy head in charge")] = False,
                plan: Annotated[str | None, typer.Option(help="plan id")] = None) -> None:
    """Add a liaison (or, with --deputy, a deputy head) to an agency."""
    from sqlalchemy import select

    from tracker.db import transaction
    from tracker.enums import ContactRole
    from tracker.liaisons import LiaisonError, add_contact
    from tracker.models import Plan

    with transaction(_factory()) as session:
        query = select(Plan.id) if plan is None else select(Plan.id).where(Plan.key == plan)
        plan_id = session.scalars(query).first()
        if plan_id is None:
            raise _fail("no plan loaded: run `tracker catalog load` first")
        try:
            added = add_contact(session, plan_id, agency=agency, name=name, email=email,
                                role=ContactRole.DEPUTY_HEAD if deputy else ContactRole.LIAISON)
        except LiaisonError as exc:
            raise _fail(str(exc)) from exc
    console.print("已添加" if added else "已存在，未重复添加")


@meeting_app.command("add")
def meeting_add(government: str, held_on: str, topic: str = "研究推进残疾人小康进程工作",
                now: Annotated[str | None, typer.Option()] = None) -> None:
    """Record an executive meeting (城市 天津市人民政府 or a district government)."""
    from sqlalchemy import select

    from tracker.db import transaction
    from tracker.meetings import MeetingError, record_meeting
    from tracker.models import Plan

    with transaction(_factory()) as session:
        plan = session.scalars(select(Plan)).first()
        if plan is None:
            raise _fail("no plan loaded: run `tracker catalog load` first")
        try:
            added = record_meeting(session, plan, government=government,
                                   held_on=dt.date.fromisoformat(held_on), topic=topic,
                                   recorded_by="cli", now=_now(now))
        except (MeetingError, ValueError) as exc:
            raise _fail(str(exc)) from exc
    console.print("recorded" if added else "already recorded")


def _plan_or_fail(session, plan: str | None = None):  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from tracker.models import Plan

    query = select(Plan) if plan is None else select(Plan).where(Plan.key == plan)
    found = session.scalars(query).first()
    if found is None:
        raise _fail("no plan loaded: run `tracker catalog load` first")
    return found


def _policy():  # type: ignore[no-untyped-def]
    from tracker.config import load_settings
    from tracker.policy import Policy

    return Policy.from_settings(load_settings())


@liaison_app.command("link")
def liaison_link(agency: str, now: Annotated[str | None, typer.Option()] = None) -> None:
    """Print a signed answer link for each active liaison of an agency."""
    from sqlalchemy import select

    from tracker.config import load_settings
    from tracker.enums import ContactRole
    from tracker.links import load_secret, make_token
    from tracker.models import Agency, Liaison

    settings = load_settings()
    secret = load_secret(settings.home, settings.secret_key)
    with _factory()() as session:
        plan = _plan_or_fail(session)
        rows = session.scalars(select(Liaison).join(Agency, Agency.id == Liaison.agency_id).where(
            Agency.plan_id == plan.id, Agency.name == agency, Liaison.active.is_(True),
            Liaison.role == ContactRole.LIAISON)).all()
        if not rows:
            raise _fail(f"no active liaison for {agency}")
        for liaison in rows:
            token = make_token(secret, liaison, _now(now))
            console.print(f"{liaison.name} <{liaison.email}>: {settings.base_url}/l/{token}",
                          soft_wrap=True, highlight=False)


@liaison_app.command("revoke")
def liaison_revoke(email: str) -> None:
    """Invalidate every link issued so far to the liaison with this address."""
    from sqlalchemy import select

    from tracker.db import transaction
    from tracker.links import revoke
    from tracker.models import Liaison

    with transaction(_factory()) as session:
        ids = session.scalars(select(Liaison.id).where(Liaison.email == email.lower())).all()
        if not ids:
            raise _fail(f"no liaison with address {email}")
        for liaison_id in ids:
            revoke(session, liaison_id)
    console.print(f"revoked links of {len(ids)} contact(s)")


@app.command("template")
def template(agency: str,
             output: Annotated[Path | None, typer.Option("-o", "--output")] = None,
             now: Annotated[str | None, typer.Option()] = None) -> None:
    """Write an agency's open requests to a pre-filled Excel sheet."""
    from sqlalchemy import select

    from tracker.exchange.template import agency_template
    from tracker.models import Agency
    from tracker.workdays import local_date

    at = _now(now)
    with _factory()() as session:
        plan = _plan_or_fail(session)
        agency_id = session.scalar(select(Agency.id).where(Agency.plan_id == plan.id,
                                                           Agency.name == agency))
        if agency_id is None:
            raise _fail(f"unknown agency: {agency}")
        data = agency_template(session, agency_id, local_date(at), at)
    path = output or Path(f"进展填报-{agency}.xlsx")
    path.write_bytes(data)
    console.print(f"{path}", highlight=False)


@app.command("import")
def import_sheet_cmd(agency: str, path: Path,
                     now: Annotated[str | None, typer.Option()] = None) -> None:
    """Record a filled agency sheet (all rows, or nothing with each problem named)."""
    from sqlalchemy import select

    from tracker.db import transaction
    from tracker.exchange.upload import UploadError, import_sheet
    from tracker.models import Agency
    from tracker.reports import ReportError

    with transaction(_factory()) as session:
        plan = _plan_or_fail(session)
        agency_id = session.scalar(select(Agency.id).where(Agency.plan_id == plan.id,
                                                           Agency.name == agency))
        if agency_id is None:
            raise _fail(f"unknown agency: {agency}")
        try:
            result = import_sheet(session, path.read_bytes(), agency_id=agency_id,
                                  submitted_by="cli", now=_now(now))
        except (UploadError, ReportError, OSError) as exc:
            raise _fail(f"{path} 未导入:\n{exc}") from exc
    console.print(f"recorded {result.recorded} report(s): {result.on_time} on time, "
                  f"{result.late} late")


@extension_app.command("list")
def extension_list(all_: Annotated[bool, typer.Option("--all")] = False) -> None:
    """Pending extension requests (or all, with --all)."""
    from sqlalchemy import select

    from tracker.enums import ExtensionState
    from tracker.models import Agency, ExtensionRequest, ProgressRequest

    with _factory()() as session:
        query = (select(ExtensionRequest, Agency.name, ProgressRequest.due_on)
                 .join(ProgressRequest, ProgressRequest.id == ExtensionRequest.request_id)
                 .join(Agency, Agency.id == ProgressRequest.agency_id)
                 .order_by(ExtensionRequest.id))
        if not all_:
            query = query.where(ExtensionRequest.state == ExtensionState.PENDING)
        table = Table("编号", "单位", "请求", "现截止日期", "申请至", "理由", "状态")
        for ext, agency, due_on in session.execute(query):
            table.add_row(str(ext.id), agency, str(ext.request_id), str(due_on),
                          str(ext.requested_due_on), ext.reason, ext.state.value)
    console.print(table)


@extension_app.command("decide")
def extension_decide(extension_id: int, decision: Annotated[str, typer.Argument(help="grant|refuse")],
                     note: str = "", by: str = "督查室",
                     now: Annotated[str | None, typer.Option()] = None) -> None:
    """Grant or refuse an extension; a grant moves the due day and the ladder."""
    from tracker.db import transaction
    from tracker.extensions import ExtensionError, decide_extension

    if decision not in ("grant", "refuse"):
        raise _fail("decision must be grant or refuse")
    with transaction(_factory()) as session:
        try:
            ext = decide_extension(session, extension_id, grant=decision == "grant", note=note,
                                   decided_by=f"cli:{by}", now=_now(now), policy=_policy())
        except ExtensionError as exc:
            raise _fail(str(exc)) from exc
    console.print(f"extension {ext.id}: {ext.state.value}")


@review_app.command("accept")
def review_accept(report_id: int, comment: str = "", by: str = "督查室",
                  now: Annotated[str | None, typer.Option()] = None) -> None:
    """Accept a report version."""
    from tracker.db import transaction
    from tracker.review import ReviewError, accept_report

    with transaction(_factory()) as session:
        try:
            accept_report(session, report_id, reviewer=f"cli:{by}", comment=comment, now=_now(now))
        except ReviewError as exc:
            raise _fail(str(exc)) from exc
    console.print(f"report {report_id}: accepted")


@review_app.command("return")
def review_return(report_id: int, comment: str, by: str = "督查室",
                  now: Annotated[str | None, typer.Option()] = None) -> None:
    """Return a report with a comment; the request reopens and the liaison is told."""
    from tracker.db import transaction
    from tracker.review import ReviewError, return_report

    with transaction(_factory()) as session:
        try:
            return_report(session, report_id, reviewer=f"cli:{by}", comment=comment,
                          now=_now(now), policy=_policy())
        except ReviewError as exc:
            raise _fail(str(exc)) from exc
    console.print(f"report {report_id}: returned")


@review_app.command("close-out")
def review_close_out(measure: str, by: str = "督查室",
                     now: Annotated[str | None, typer.Option()] = None) -> None:
    """办结销号: close a measure whose lead reported it completed, with evidence."""
    from sqlalchemy import select

    from tracker.db import transaction
    from tracker.models import Measure
    from tracker.review import ReviewError, close_out

    with transaction(_factory()) as session:
        plan = _plan_or_fail(session)
        measure_id = session.scalar(select(Measure.id).where(Measure.plan_id == plan.id,
                                                             Measure.code == measure))
        if measure_id is None:
            raise _fail(f"unknown measure {measure}")
        try:
            close_out(session, measure_id, signed_by=f"cli:{by}", now=_now(now))
        except ReviewError as exc:
            raise _fail(str(exc)) from exc
    console.print(f"{measure}: closed out")


@user_app.command("add")
def user_add(username: str, display_name: str,
             role: Annotated[str, typer.Option(help="office | performance | admin")],
             password: Annotated[str | None, typer.Option(
                 help="default: asked for twice; or TRACKER_NEW_PASSWORD")] = None) -> None:
    """Add a staff account (the first administrator, then the offices' users)."""
    from tracker.accounts import create_user
    from tracker.db import transaction
    from tracker.enums import StaffRole

    try:
        staff_role = StaffRole(role)
    except ValueError as exc:
        raise _fail("role must be office, performance or admin") from exc
    secret = password or os.environ.get("TRACKER_NEW_PASSWORD") or typer.prompt(
        "密码（至少 10 位）", hide_input=True, confirmation_prompt="再次输入密码")
    with transaction(_factory()) as session:
        try:
            create_user(session, username=username, display_name=display_name, role=staff_role,
                        password=secret, now=_now(None))
        except ValueError as exc:
            raise _fail(str(exc)) from exc
    console.print(f"已添加账户 {username}（{STAFF_LABEL[staff_role.value]}）")


def _board_filter(agency: str | None, period: str | None, level: int | None,
                  light: str | None, session):  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from tracker.board import BoardFilter
    from tracker.models import Agency

    agency_id = None
    if agency:
        agency_id = session.scalar(select(Agency.id).where(Agency.name == agency))
        if agency_id is None:
            raise _fail(f"unknown agency: {agency}")
    return BoardFilter(agency_id=agency_id, period=period, level=level, light=light,
                       per_page=1_000_000)


@app.command("overdue")
def overdue(agency: str | None = None, period: str | None = None, level: int | None = None,
            light: Annotated[str, typer.Option(help="red | yellow | green | grey | all")] = "red",
            now: Annotated[str | None, typer.Option()] = None, limit: int = 100) -> None:
    """The overdue board in the terminal (default: red items, most overdue first)."""
    from tracker.board import LIGHT_LABELS, board
    from tracker.enums import LEVEL_LABELS, Level
    from tracker.workdays import local_date

    with _factory()() as session:
        plan = _plan_or_fail(session)
        f = _board_filter(agency, period, level, None if light == "all" else light, session)
        result = board(session, plan, f, local_date(_now(now)), _policy())
    table = Table(title=f"共 {result.total} 项")
    for name in ("灯", "报送期", "编号", "任务或指标", "责任单位", "截止日期", "逾期工作日", "级别"):
        table.add_column(name, overflow="fold")
    for r in result.rows[:limit]:
        table.add_row(LIGHT_LABELS[r["light"]], r["period"], r["code"] or "", r["title"] or "",
                      r["agency"], r["due_on"].isoformat(), str(r["days_overdue"] or ""),
                      LEVEL_LABELS[Level(r["level"])] if r["level"] else "—")
    console.print(table)
    if result.total > limit:
        console.print(f"（仅显示前 {limit} 项；导出全部请用 tracker ledger）")


@app.command("ledger")
def ledger_cmd(output: Annotated[Path, typer.Option("-o", "--output")] = Path("督查台账.xlsx"),
               agency: str | None = None, period: str | None = None, level: int | None = None,
               light: Annotated[str, typer.Option(help="red | yellow | green | grey | all")] = "all",
               now: Annotated[str | None, typer.Option()] = None) -> None:
    """Export the ledger (台账) as Excel: one row per request, as filtered."""
    from tracker.ledger import ledger_frame, ledger_xlsx
    from tracker.workdays import local_date

    at = _now(now)
    with _factory()() as session:
        plan = _plan_or_fail(session)
        f = _board_filter(agency, period, level, None if light == "all" else light, session)
        frame = ledger_frame(session, plan, f, local_date(at), _policy())
        title = f"{plan.title} 督查台账（{local_date(at).isoformat()}）"
    output.write_bytes(ledger_xlsx(frame, title))
    console.print(f"{output}: {len(frame)} 行", highlight=False)


@jobs_app.command("list")
def jobs_list() -> None:
    """The periodic jobs and their schedules (Asia/Shanghai)."""
    _quiet_prefect()
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
    _quiet_prefect()
    from flows.registry import JOBS

    job = JOBS.get(name)
    if job is None:
        raise _fail(f"unknown job {name!r}; known: {', '.join(JOBS)}")
    result = job.flow(now=_now(now).isoformat())
    console.print_json(data=result)
    if name == "dispatch" and result.get("errors"):
        raise _fail(f"{result['failed']} 条通知投递失败，{result['retrying']} 条等待重试: "
                    f"{result['errors'][0]}", code=1)


@app.command("scorecard")
def scorecard(year: int, now: Annotated[str | None, typer.Option()] = None) -> None:
    """Write scorecard-YEAR.xlsx now (the annual checkpoint, on demand)."""
    _quiet_prefect()
    from sqlalchemy import select

    from flows.tracker_flows import annual_checkpoint_flow
    from tracker.models import Plan

    with _factory()() as session:
        periods = [(p.key, p.first_year, p.last_year) for p in session.scalars(select(Plan))]
    if not periods:
        raise _fail("no plan loaded: run `tracker catalog load` first")
    if not any(first <= year <= last for _, first, last in periods):
        spans = ", ".join(f"{key} {first}–{last}" for key, first, last in periods)
        raise _fail(f"{year} is outside every plan's period ({spans})")
    for row in annual_checkpoint_flow(now=_now(now).isoformat(), year=year):
        console.print(f"{row['path']} ({'written' if row['written'] else 'unchanged'})")


@app.command("serve")
def serve(host: str = "127.0.0.1", port: int = 8000,
          web: Annotated[bool, typer.Option(help="serve the web pages too")] = True) -> None:
    """Run the web pages and the periodic jobs (embedded APScheduler) in one process."""
    _quiet_prefect()
    from flows.scheduler import run_forever

    run_forever(console, host=host, port=port, web=web)


@app.command("demo")
def demo(
    out: Annotated[Path, typer.Option(help="folder for the demo's files")] = Path("var/demo"),
    catalog_path: Annotated[Path, typer.Option("--catalog")] = DEFAULT_CATALOG,
    year: int = 2017,
    seed: int = 2017,
) -> None:
    """Run reporting year 2017 of the plan through the real flows on a fresh SQLite file."""
    os.environ["TRACKER_HOME"] = str(out.resolve())
    _quiet_prefect()
    from tracker.catalog.schema import load_catalog
    from tracker.config import load_settings
    from tracker.enums import LEVEL_LABELS, ChannelKind, Level
    from tracker.policy import Policy

    try:
        catalog = load_catalog(catalog_path)
    except (CatalogError, OSError) as exc:
        raise _fail(str(exc)) from exc
    from flows.demo import run_demo

    policy = Policy.from_settings(load_settings(), ChannelKind.FILE)
    started = time.monotonic()
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                  TextColumn("{task.completed}/{task.total} 天"), TimeElapsedColumn(),
                  console=console) as progress:
        bar = progress.add_task("启动 Prefect…", total=None)

        def on_day(day: dt.date, index: int, total: int) -> None:
            progress.update(bar, description=f"模拟 {day.isoformat()}", completed=index,
                            total=total)

        result = run_demo(catalog, out.resolve(), year=year, seed=seed, policy=policy,
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
        esc.add_row(LEVEL_LABELS[lvl], str(result.escalations.get(lvl.value, 0)))
    console.print(esc)
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


if __name__ == "__main__":  # pragma: no cover
    app()
