"""Shared pieces of the `tracker` command: the Typer apps, consoles and small helpers."""

from __future__ import annotations

import datetime as dt
from contextvars import ContextVar
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from tracker.settings import Settings, SettingsError

_settings: ContextVar[Settings] = ContextVar("tracker_cli_settings")


class TrackerGroup(TyperGroup):
    """The root command: loads the settings once, before any command runs.

    They come from the environment and .env, checked here (the calendar override file
    too), so a wrong value stops every command before it does anything. A configuration
    error, wherever raised, is one line in Chinese and exit code 2, never a traceback.
    """

    def invoke(self, ctx: Any) -> Any:
        from tracker.dates.workdays import WorkCalendar

        try:
            settings = Settings()
            WorkCalendar.from_file(settings.calendar_overrides)
            if settings.log_format == "json":
                from tracker.ops.logs import configure_logging

                configure_logging(settings)
            token = _settings.set(settings)
            try:
                return super().invoke(ctx)
            finally:
                _settings.reset(token)
        except SettingsError as exc:
            raise fail(str(exc)) from None


app = typer.Typer(help="规划纲要督查督办系统 Plan Tracker", no_args_is_help=True,
                  pretty_exceptions_enable=False, cls=TrackerGroup)
catalog_app = typer.Typer(help="The plan as data: parse, validate, load.", no_args_is_help=True)
jobs_app = typer.Typer(help="Periodic jobs (Prefect flows).", no_args_is_help=True)
liaison_app = typer.Typer(help="Agency contacts.", no_args_is_help=True)
meeting_app = typer.Typer(help="Executive meetings (政府常务会议).", no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")
app.add_typer(jobs_app, name="jobs")
app.add_typer(liaison_app, name="liaison")
app.add_typer(meeting_app, name="meeting")
indicator_app = typer.Typer(help="Headline indicators (主要指标): baselines, trajectory.",
                            no_args_is_help=True)
app.add_typer(indicator_app, name="indicator")
extension_app = typer.Typer(help="Extension requests (延期申请).", no_args_is_help=True)
review_app = typer.Typer(help="Review reports (审核) and close out measures (办结销号).",
                         no_args_is_help=True)
app.add_typer(extension_app, name="extension")
outbox_app = typer.Typer(help="The outbox: notices by state; retry failed ones.",
                         invoke_without_command=True)
app.add_typer(outbox_app, name="outbox")
user_app = typer.Typer(help="Staff accounts (督查室, 绩效办, administrators).", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(review_app, name="review")
calendar_app = typer.Typer(help="The working-day calendar: coverage, State Council notices.",
                           no_args_is_help=True)
app.add_typer(calendar_app, name="calendar")
console = Console()
err = Console(stderr=True)



def current_settings() -> Settings:
    """The settings the running command was started with (see `TrackerGroup`)."""
    settings = _settings.get(None)
    return settings if settings is not None else Settings()


def fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]错误[/]: {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def parse_now(value: str | None) -> dt.datetime:
    from tracker.dates.workdays import SHANGHAI

    if value is None:
        return dt.datetime.now(SHANGHAI)
    try:
        at = dt.datetime.fromisoformat(value)
    except ValueError:
        raise fail(f"--now 的值“{value}”不是有效的时间（应为 YYYY-MM-DD 或 YYYY-MM-DDTHH:MM，"
                   "如 2017-04-10T09:00）") from None
    return at if at.tzinfo else at.replace(tzinfo=SHANGHAI)


def factory():  # type: ignore[no-untyped-def]
    from tracker.db import make_engine, migrate, session_factory

    engine = make_engine(current_settings().database_url)
    migrate(engine)
    return session_factory(engine)


def plan_or_fail(session, plan: str | None = None):  # type: ignore[no-untyped-def]
    """The plan named by `--plan` (its id), or the only plan loaded; exits with a clear
    error when none is loaded or several are and none was named."""
    from sqlalchemy import select

    from tracker.models import Plan

    if plan is not None:
        found = session.scalar(select(Plan).where(Plan.key == plan))
        if found is None:
            raise fail(f"没有标识为 {plan} 的规划；已载入：{_plan_keys(session) or '无'}")
        return found
    plans = session.scalars(select(Plan).order_by(Plan.id).limit(2)).all()
    if not plans:
        raise fail("尚未载入规划：请先运行 tracker catalog load")
    if len(plans) > 1:
        raise fail(f"已载入多个规划，请用 --plan 指定其一：{_plan_keys(session)}")
    return plans[0]


def _plan_keys(session) -> str:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from tracker.models import Plan

    return "、".join(session.scalars(select(Plan.key).order_by(Plan.id)))


def policy(session=None):  # type: ignore[no-untyped-def]
    """The policy of the settings, with the calendar overrides stored in the database when
    a session is given (`tracker calendar load`)."""
    from tracker.policy import Policy

    base = Policy.from_settings(current_settings())
    return base if session is None else base.with_session(session)


def level_or_fail(value: str | None) -> int | None:
    """`--level` as typed: 催办/督办/通报 or 1/2/3 (None: any); exits with a Chinese error
    naming the option otherwise."""
    from tracker.enums import Level

    if value is None or not value.strip():
        return None
    try:
        return Level.from_text(value).value
    except ValueError:
        raise fail(f"--level 的值“{value}”无效：应为 催办、督办、通报（或 1、2、3）") from None


def board_filter(agency: str | None, period: str | None, level: str | None,
                 light: str | None, session, plan=None):  # type: ignore[no-untyped-def]
    """A board filter from CLI options (agency by directory name; the level as `level_or_fail`
    reads it; the plan if given)."""
    from tracker.desk.board import BoardFilter

    agency_id = agency_or_fail(session, agency) if agency else None
    return BoardFilter(plan_id=plan.id if plan is not None else None, agency_id=agency_id,
                       period=period_or_fail(session, period, plan) if period else None,
                       level=level_or_fail(level), light=light, per_page=1_000_000)


def period_or_fail(session, period: str, plan=None) -> str:  # type: ignore[no-untyped-def]
    """The stored label (`2017Q3`) of a reporting period given as stored or as the tables
    print it (`2017年第三季度`, tracker.dates.chinese.cn_period), among the periods of
    `plan` (default: every plan); exits with a clear error listing the periods there are
    when none matches, instead of an empty table that reads as "nothing overdue"."""
    from sqlalchemy import select

    from tracker.dates.chinese import cn_period
    from tracker.models import ReportingPeriod

    q = select(ReportingPeriod.label).distinct()
    if plan is not None:
        q = q.where(ReportingPeriod.plan_id == plan.id)
    labels = sorted(session.scalars(q))
    wanted = period.strip()
    for label in labels:
        if wanted in (label, cn_period(label)):
            return label
    shown = "、".join(f"{label}（{cn_period(label)}）" if cn_period(label) != label else label
                     for label in labels[:8])
    more = f" 等 {len(labels)} 个" if len(labels) > 8 else ""
    raise fail(f"报送期 {period} 不存在；现有报送期：{shown}{more}" if labels
               else f"报送期 {period} 不存在：尚未开启任何报送期")


def agency_or_fail(session, name: str, government: str | None = None) -> int:  # type: ignore[no-untyped-def]
    """The directory id of the agency with this name (or alias); exits with a clear error
    if there is none, or if several governments have one and `government` is not given."""
    from tracker.directory.agencies import AgencyError, find_by_name

    try:
        return find_by_name(session, name, government)
    except AgencyError as exc:
        raise fail(str(exc)) from exc
