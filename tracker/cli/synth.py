"""`tracker synth`: a synthetic deployment of any shape, for benchmarks (issue 14, item 5)."""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table

from tracker.cli.common import app, console, current_settings, fail, parse_now, policy


class Shape(StrEnum):
    NATIONAL = "national"
    COUNTIES = "counties"


@app.command("synth")
def synth(
    shape: Annotated[Shape, typer.Option(help="national: one plan; counties: many plans")],
    assignments: Annotated[int | None, typer.Option(
        help="national: the plan's assignments")] = None,
    plans: Annotated[int | None, typer.Option(help="counties: how many plans")] = None,
    assignments_per_plan: Annotated[int | None, typer.Option(
        help="counties: assignments of each plan")] = None,
    agencies: Annotated[int | None, typer.Option(
        help="counties: the shared directory's size (default: the fewest that fit)")] = None,
    measures: Annotated[int, typer.Option(help="measures per plan")] = 40,
    key: Annotated[str, typer.Option(help="plan keys are KEY-0001, KEY-0002 …")] = "synth",
    open_at: Annotated[str | None, typer.Option(
        "--open", help="then open the requests due at this time (ISO), as the scheduler would")] = None,
) -> None:
    """Build a synthetic deployment in the configured database with set-based inserts:
    plans with their supervision office, agencies, contacts, measures and assignments."""
    from tracker.db import make_engine, migrate, session_factory, transaction
    from tracker.ops.synth import SynthError, build, counties, national, open_all

    if shape is Shape.NATIONAL:
        if assignments is None or plans is not None or assignments_per_plan is not None:
            raise fail("national 形态须给出 --assignments（不用 --plans、--assignments-per-plan）")
        spec = national(assignments, measures=measures, key=key)
    else:
        if plans is None or assignments_per_plan is None or assignments is not None:
            raise fail("counties 形态须给出 --plans 与 --assignments-per-plan（不用 --assignments）")
        spec = counties(plans, assignments_per_plan, agencies=agencies, measures=measures, key=key)
    now = parse_now(open_at) if open_at is not None else None
    engine = make_engine(current_settings().database_url)
    migrate(engine)
    factory = session_factory(engine)
    started = time.perf_counter()
    try:
        with transaction(factory) as session:
            built = build(session, spec)
    except SynthError as exc:
        raise fail(str(exc)) from exc
    built_in = time.perf_counter() - started
    console.print(f"已生成合成数据（{'全国单一规划' if shape is Shape.NATIONAL else '多县规划'}，"
                  f"{engine.dialect.name}）：", highlight=False)
    table = Table()
    table.add_column("项目")
    table.add_column("数量", justify="right")
    for label, value in (("规划", built.plans), ("措施", built.measures),
                         ("任务分解", built.assignments), ("单位（含督查室）", built.agencies),
                         ("联系人", built.contacts)):
        table.add_row(label, f"{value:,}")
    console.print(table)
    console.print(f"用时 {built_in:.2f} 秒", highlight=False)
    if now is not None:
        started = time.perf_counter()
        with transaction(factory) as session:
            totals = open_all(session, built.plan_ids, now, policy(session))
        console.print(f"已于 {now:%Y-%m-%d %H:%M} 开启进展征询 {totals.requests_opened:,} 件，"
                      f"排队通知 {totals.messages_queued:,} 条，用时 {time.perf_counter() - started:.2f} 秒",
                      highlight=False)
