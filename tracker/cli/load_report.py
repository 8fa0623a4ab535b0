"""What `tracker catalog load` and `tracker catalog import --load` say, in Chinese: the
changes as a table, the tasks withdrawn (or that would be), what waits on the desk."""

from __future__ import annotations

from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from tracker.cli.common import console, err

# LoadResult.changes keys, in the order shown
CHANGES = {
    "plan_created": "新增规划", "plan_updated": "更新规划设置",
    "agencies_created": "新增单位（单位名录）",
    "measures_created": "新增任务", "measures_updated": "更新任务",
    "measures_deactivated": "撤销任务", "deadlines_updated": "更新完成时限",
    "assignments_created": "新增任务分解", "assignments_updated": "更新任务分解",
    "assignments_deactivated": "停用任务分解",
    "indicators_created": "新增主要指标", "indicators_updated": "更新主要指标",
    "indicators_deactivated": "撤销主要指标",
    "requests_closed": "关闭的待报送进展调度（免报）",
    "reviews_created": "新增单位名录待核事项",
}


def withdrawn_table(withdrawn: list[Any]) -> Table:
    """The tasks and indicators (catalog.withdraw.Withdrawn) with their open requests."""
    table = Table(highlight=False)
    for column in ("类别", "编号", "名称", "待报送进展调度"):
        table.add_column(column, justify="right" if column == "待报送进展调度" else "left")
    for w in withdrawn:
        table.add_row(w.kind, escape(w.code), escape(w.title), str(w.open_requests))
    return table


def show_load(result: Any, plan_key: str) -> None:
    """The load's changes (`LoadResult`) as a table, then what was withdrawn and what waits
    for the office on /desk/directory."""
    if not result.changed:
        console.print(f"规划“{escape(plan_key)}”已载入，与已载入的目录相同，无变化", highlight=False)
        return
    console.print(f"规划“{escape(plan_key)}”已载入：", highlight=False, soft_wrap=True)
    table = Table(highlight=False)
    table.add_column("变动")
    table.add_column("数量", justify="right")
    for key, label in CHANGES.items():
        if result.changes.get(key):
            table.add_row(label, str(result.changes[key]))
    for key in sorted(set(result.changes) - set(CHANGES)):  # a kind this table does not know
        if result.changes[key]:
            table.add_row(escape(key), str(result.changes[key]))
    console.print(table)
    if result.withdrawn:
        console.print("已撤销的任务和指标（其待报送的进展调度已关闭，已报送的情况保留）：",
                      highlight=False, soft_wrap=True)
        console.print(withdrawn_table(result.withdrawn))
    if result.changes.get("reviews_created"):
        console.print(f"有 {result.changes['reviews_created']} 项（新单位名称、相近名称、泛指表述、"
                      "无法识别的完成时限）待督查室在“单位名录待核”页面（/desk/directory）核定；"
                      "新单位名称核定前，其进展调度暂不发送、不催办", soft_wrap=True, highlight=False)


def refuse_withdrawal(exc: Any) -> typer.Exit:
    """The withdrawal the load would make (`WithdrawalError`), listed; exit code 2."""
    err.print("本次目录不再包含、载入将撤销的任务和指标：", highlight=False, soft_wrap=True)
    err.print(withdrawn_table(exc.withdrawn))
    err.print(f"[bold red]错误[/]: {escape(exc.summary)}", highlight=False, soft_wrap=True)
    return typer.Exit(2)
