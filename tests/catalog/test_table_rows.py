"""The 任务分工表 importer on the attacker's second round (issue 13, item 1): columns named
as offices compose them (具体工作措施), a task text column left unread said prominently,
time limits and leads the text parser flags rather than refuses, parts never made up,
notes, totals and the template's example row that are no tasks, and the CLI's report and
output. Every file is built here, a few tasks each."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from tests.catalog.test_table_import import CLI_OPTIONS, _plan, _xlsx
from tracker.catalog.table import import_table
from tracker.cli import app

run = CliRunner().invoke


# --------------------------------------------------------------- the task text column


def test_a_measures_column_is_the_task_text_beside_the_task_title():
    rows: list[list[object]] = [
        ["序号", "重点任务", "具体工作措施", "牵头单位"],
        [1, "扩大有效投资", "全年完成固定资产投资增长8%。\n重大项目开工率达到90%以上。", "市发展改革委"],
        [2, "促进消费升级", "培育夜间经济示范街区5个。", "市商务局"],
    ]
    result = import_table(_xlsx(rows), "t.xlsx", _plan())
    assert [(m.code, m.title, m.text) for m in result.catalog.measures] == [
        ("1", "扩大有效投资", "全年完成固定资产投资增长8%。\n重大项目开工率达到90%以上。"),
        ("2", "促进消费升级", "培育夜间经济示范街区5个。")]
    assert (result.notes, result.warnings) == ([], [])


def test_other_composed_headers_name_the_text_and_agency_headers_do_not():
    from tracker.catalog.table_layout import role_of

    assert [role_of(h) for h in ("具体工作措施", "主要举措", "工作内容及要求", "具体任务和目标",
                                 "主要内容", "具体任务牵头单位", "措施完成时限", "备注")] == [
        "text", "text", "text", "text", "text", None, None, None]


def test_an_unread_column_holding_text_while_every_task_text_is_empty_is_a_warning(
        tmp_path, monkeypatch):
    rows: list[list[object]] = [
        ["序号", "重点任务", "实施路径", "牵头单位", "备注"],
        [1, "扩大有效投资", "全年完成固定资产投资增长8%。", "市发展改革委", "已完成"],
        [2, "促进消费升级", "培育夜间经济示范街区5个。", "市商务局", ""],
    ]
    result = import_table(_xlsx(rows), "t.xlsx", _plan())
    assert [(m.title, m.text) for m in result.catalog.measures] == [
        ("扩大有效投资", ""), ("促进消费升级", "")]
    assert result.notes == ["未读取的列：实施路径、备注"]
    warning = ("全部 2 项任务的任务内容均为空，而“实施路径”列有内容但未读取；如该列是任务内容（具体措施），"
               "请将其表头改为“任务内容”后重新导入")
    assert result.warnings == [warning]
    monkeypatch.chdir(tmp_path)
    Path("t.xlsx").write_bytes(_xlsx(rows))
    r = run(app, ["catalog", "import", "t.xlsx", *CLI_OPTIONS])
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[:2] == [
        "t.xlsx（工作表“Sheet1”，表头在第1行）：2 项任务，5 个单位，0 处待督查室确定",
        f"注意：{warning}"]
    # a remark column alone never warns; nor does a table whose tasks have text
    rows = [[r[0], r[1], r[3], r[4]] for r in rows]
    assert import_table(_xlsx(rows), "t.xlsx", _plan()).warnings == []
