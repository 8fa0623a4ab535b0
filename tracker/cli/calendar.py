"""`tracker calendar show` / `tracker calendar load`: the working-day calendar's coverage and
the State Council's holiday notices (issue 9, item 4)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tracker.cli.common import calendar_app, console, current_settings, factory, fail, parse_now


@calendar_app.command("show")
def calendar_show(year: Annotated[int | None, typer.Argument(help="one year; default: "
                                                             "this year and the next two")] = None,
                  now: Annotated[str | None, typer.Option()] = None) -> None:
    """Which years the calendar knows, from where, and the override days of each."""
    from tracker.dates.stored import coverage, next_year_warning, with_stored
    from tracker.dates.workdays import WorkCalendar, local_date

    at = parse_now(now)
    today = local_date(at)
    years = range(year, year + 1) if year else range(today.year, today.year + 3)
    base = WorkCalendar.from_file(current_settings().calendar_overrides)
    with factory()() as session:
        rows = coverage(session, base, years)
        warning = next_year_warning(with_stored(base, session), today)
    table = Table(title="工作日历覆盖情况")
    for col in ("年份", "来源", "调整为工作日", "调整为休息日"):
        table.add_column(col)
    for r in rows:
        table.add_row(str(r.year), r.source, "、".join(d.isoformat() for d in r.workdays) or "—",
                      "、".join(d.isoformat() for d in r.holidays) or "—")
    console.print(table)
    if warning:
        console.print(f"[yellow]提示[/]：{warning}", highlight=False)


@calendar_app.command("load")
def calendar_load(file: Annotated[Path, typer.Argument(help="the notice as JSON: workdays, "
                                                        "holidays, years")],
                  reason: Annotated[str, typer.Option(help="the notice's title, named in "
                                                      "the notices to liaisons (default: "
                                                      "国务院办公厅公布的节假日安排)")] = "",
                  now: Annotated[str | None, typer.Option()] = None,
                  yes: Annotated[bool, typer.Option(
                      "--yes", help="change years chinese-calendar already covers")] = False) -> None:
    """Store a holiday notice in the database, recompute the open due days and ladder days
    it moves, and queue one 截止时间调整 notice per moved item to its liaisons. Loading the
    same file again changes nothing."""
    from tracker.cli.common import policy
    from tracker.dates.stored import store_overrides
    from tracker.dates.workdays import read_overrides
    from tracker.db import transaction
    from tracker.requests.recompute import recompute_due_dates
    from tracker.settings import SettingsError

    at = parse_now(now)
    try:
        workdays, holidays, years = read_overrides(file)
    except SettingsError as exc:
        raise fail(str(exc)) from None
    from tracker.dates.workdays import PACKAGE_YEARS

    covered = sorted({d.year for d in workdays | holidays if d.year in PACKAGE_YEARS})
    if covered and not yes:
        raise fail(f"{file} 改动日历库已覆盖年份（{'、'.join(map(str, covered))} 年）的安排，"
                   "这通常只在国务院临时调整放假（如 2020 年春节延长）时需要；请核对文件，"
                   "确认无误后加 --yes 载入")
    with transaction(factory()) as session:
        stored = store_overrides(session, workdays=workdays, holidays=holidays, years=years,
                                 source=file.name, now=at)
        if not stored.changed:
            console.print(f"{file} 中的日期均已载入，无变化；未重新计算，未发送通知。")
            return
        result = recompute_due_dates(session, at, policy(session),
                                     reason=reason,
                                     actor="cli:calendar load")
    console.print(f"已载入 {len(stored.days)} 个日期"
                  + (f"，{'、'.join(map(str, stored.years))} 年已完整" if stored.years else "")
                  + f"；调整截止日期的报送期 {len(result.periods)} 个、事项 {result.requests_moved} 项，"
                  f"调整督办日期 {result.ladders_moved} 项，暂定标记变更 {result.marks_changed} 项，"
                  f"待发送截止时间调整通知 {result.messages_queued} 条。")
    for line in result.periods:
        console.print(f"  {line}", highlight=False)
