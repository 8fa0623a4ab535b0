"""The agency directory over time (`tracker agency alias …`, `tracker agency merge …`)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from tracker.cli.common import app, console, factory, fail, parse_now, policy

agency_app = typer.Typer(help="The agency directory (单位名录): aliases, renames, merges.",
                         no_args_is_help=True)
app.add_typer(agency_app, name="agency")

Government = Annotated[str | None, typer.Option(
    help="the agencies' government, when the name exists under several")]


def _day(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise fail(f"{option} 的值“{value}”不是有效的日期（应为 YYYY-MM-DD，如 2018-07-20）") from None


@agency_app.command("alias")
def agency_alias(
    agency: Annotated[str, typer.Argument(help="the agency, by its name or a known alias")],
    alias: Annotated[str, typer.Argument(help="its other name, e.g. 市人力社保局")],
    valid_from: Annotated[str | None, typer.Option(
        "--from", help="first day the name means this agency (YYYY-MM-DD)")] = None,
    valid_to: Annotated[str | None, typer.Option(
        "--to", help="first day it no longer does, e.g. the day of a renaming")] = None,
    government: Government = None,
    now: Annotated[str | None, typer.Option(help="ISO time")] = None,
) -> None:
    """Record another name of an agency (a short name, a former name); audited."""
    from tracker.db import transaction
    from tracker.directory.agencies import find_by_name
    from tracker.directory.renames import add_alias
    from tracker.errors import DomainError
    from tracker.models import Agency

    start, end = _day(valid_from, "--from"), _day(valid_to, "--to")
    with transaction(factory()) as session:
        try:
            row = session.get_one(Agency, find_by_name(session, agency, government))
            changed = add_alias(session, row.government, agency, alias, valid_from=start,
                                valid_to=end, actor="cli", now=parse_now(now))
        except DomainError as exc:
            raise fail(str(exc)) from None
        name = row.name
    console.print(f"已记录：“{alias}”即“{name}”" if changed else "已记录过，未作改动", soft_wrap=True)


@agency_app.command("merge")
def agency_merge(
    old: Annotated[list[str], typer.Argument(help="the merged agencies' names")],
    into: Annotated[str, typer.Option("--into", help="the agency they became")],
    on: Annotated[str, typer.Option("--on", help="the merging day (YYYY-MM-DD)")],
    government: Government = None,
    now: Annotated[str | None, typer.Option(help="ISO time")] = None,
) -> None:
    """Record a merge: from --on the old names mean the new agency, their active tasks
    move to it now; requests already opened stay with the old agencies. Audited."""
    from tracker.db import transaction
    from tracker.directory.agencies import find_by_name
    from tracker.directory.renames import merge_agencies
    from tracker.errors import DomainError
    from tracker.models import Agency

    day = _day(on, "--on")
    assert day is not None
    with transaction(factory()) as session:
        try:
            gov = government or session.get_one(
                Agency, find_by_name(session, old[0], None)).government
            moved = merge_agencies(session, gov, old, into, on=day, actor="cli",
                                   now=parse_now(now), policy=policy(session))
        except DomainError as exc:
            raise fail(str(exc)) from None
    console.print(f"已记录：{'、'.join(old)} 自 {day} 起并入“{into}”，移交任务分解 {moved} 项",
                  soft_wrap=True)
