"""The 任务分工表 importer on the attacker's second round (issue 13, item 1): columns named
as offices compose them (具体工作措施), a task text column left unread said prominently,
time limits and leads the text parser flags rather than refuses, parts never made up,
notes, totals and the template's example row that are no tasks, and the CLI's report and
output. Every file is built here, a few tasks each."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from typer.testing import CliRunner

from tests.catalog.test_table_import import CLI_OPTIONS, _plan, _xlsx
from tracker.catalog.options import PlanOptions
from tracker.catalog.plan_text import parse_source
from tracker.catalog.schema import Flag
from tracker.catalog.sources import Source
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


# --------------------------------------------------------------- flagged, not refused


OFFICE_FLAG = "原文仅写“{0}”，未写明牵头单位；暂列市政府督查室汇总，请督查室确定牵头单位"


def test_time_limits_no_single_day_states_are_flagged_with_their_words():
    rows: list[list[object]] = [
        ["序号", "重点任务", "牵头单位", "完成时限"],
        [1, "任务一。", "市民政局", "每季度末"],
        [2, "任务二。", "市水务局", "2019年汛期前"],
        [3, "任务三。", "市财政局", "6月底前"],
        [4, "任务四。", "市教委", "2025年底前"],
        [5, "任务五。", "市统计局", "2018年底前启动，2020年底前完成"],
    ]
    c = import_table(_xlsx(rows), "t.xlsx", _plan()).catalog  # issued 2018-03-05, 2018-2020
    assert [(m.code, m.deadline and (m.deadline.kind, m.deadline.due), m.flags) for m in c.measures] == [
        ("1", None, [Flag(field="deadline", phrase="每季度末",
                          reason="周期性时限，不是单一日期；各期进展由定期调度跟踪，如需另设完成节点请督查室确定")]),
        ("2", None, [Flag(field="deadline", phrase="2019年汛期前",
                          reason="无法识别完成时限“2019年汛期前”（可写作 2018年6月30日、2018年底前、"
                                 "2018年第三季度、每年年底前、长期坚持）；请督查室确定跟踪的时限")]),
        ("3", ("date", dt.date(2018, 6, 30)), []),
        ("4", ("date", dt.date(2025, 12, 31)), [Flag(
            field="deadline", phrase="2025年底前",
            reason="完成时限 2025-12-31 不在规划期（2018—2020年）内，请督查室核对")]),
        ("5", None, [Flag(field="deadline", phrase="2018年底前启动，2020年底前完成",
                          reason="完成时限分阶段或有多处表述，系统未读成单一时限，请督查室确定跟踪的时限")]),
    ]


def test_a_lead_naming_no_agency_is_the_office_flagged_as_the_text_parser_does():
    text = ("序号,工作任务,责任单位,时间节点\r\n"
            "1,落实防汛责任,各区人民政府,2019年底前\r\n"
            "2,排查隐患,\"各区人民政府、市应急局\",2019年底前\r\n"
            "3,加强值守,有关部门,长期坚持\r\n"
            "4,开展演练,\"市应急局（牵头）、市水务局\",2019年底前\r\n")
    c = import_table(text.encode("gb18030"), "t.csv",
                     _plan(supervision_office="市政府督查室")).catalog
    assert [(m.code, m.lead, m.co, m.districts, m.flags) for m in c.measures] == [
        ("1", "市政府督查室", [], True,
         [Flag(field="lead", phrase="各区人民政府", reason=OFFICE_FLAG.format("各区人民政府"))]),
        ("2", "市应急局", [], True, []),
        ("3", "市政府督查室", [], False,
         [Flag(field="lead", phrase="有关部门", reason=OFFICE_FLAG.format("有关部门"))]),
        ("4", "市应急局", ["市水务局"], False, []),
    ]
    assert c.agencies[0].name == "市政府督查室"
    # the same clause in a text plan gives the same lead and flag (one rule, `leads`)
    source = Source("t.txt", ["某市人民政府关于做好防汛工作的通知", "一、落实防汛责任。（各区人民政府负责）"])
    parsed = parse_source(source, None, PlanOptions(
        plan_id="t", period=(2019, 2019), issuer="某市人民政府", issued=dt.date(2019, 5, 1),
        title="t", government="某市人民政府", districts=("甲区人民政府",),
        supervision_office="市政府督查室"))
    one = parsed.catalog.measures[0]
    assert (one.lead, one.flags) == ("市政府督查室", [
        Flag(field="lead", phrase="各区人民政府", reason=OFFICE_FLAG.format("各区人民政府"))])


# --------------------------------------------------------------- parts, notes, totals


def test_no_part_is_made_up_and_notes_and_totals_are_no_tasks_nor_parts():
    rows: list[list[object]] = [
        ["填报单位：（盖章）", None, None, "联系人：", None, "电话："],
        ["序号", "重点任务", "牵头单位", "配合单位", "完成时限", "备注"],
        ["1", "实施城市更新行动", "市住房城乡建设局", "市发展改革委", "2018年底前", ""],
        ["2", "推进海绵城市建设", "市住房城乡建设局", "市水务局", "2018年底前", "已完成"],
        ["注：1.各牵头单位请于每季度末5日前报送进展；2.配合单位向牵头单位报送。"],
        ["4", "推进地下综合管廊建设", "市住房城乡建设局", "", "2018年底前", ""],
        ["说明", "本表由市政府督查室汇总"],
        [],
        ["合  计", "=COUNTA(B3:B6)"],
    ]
    result = import_table(_xlsx(rows, merges=("A5:F5",), title="分工表"), "t.xlsx", _plan())
    assert [(m.code, m.section, m.title) for m in result.catalog.measures] == [
        ("1", "", "实施城市更新行动"), ("2", "", "推进海绵城市建设"), ("4", "", "推进地下综合管廊建设")]
    assert result.notes == [
        "工作表“分工表”第5行为表注，未作为任务或部分读取：“注：1.各牵头单位请于每季度末5日前报送进展；"
        "2.配合单位向牵头单位报送。”",
        "工作表“分工表”第7行为表注，未作为任务或部分读取：“说明”",
        "工作表“分工表”第9行为合计行，未作为任务读取",
        "未读取的列：备注"]



def test_a_sheet_named_continued_goes_on_in_the_part_of_the_sheet_before():
    import io

    import openpyxl

    book = openpyxl.Workbook()
    first = book.active
    first.title = "重点任务分工表"
    for row in (["序号", "重点任务", "牵头单位"], ["一、稳增长"], ["1", "任务一。", "市发展改革委"]):
        first.append(row)
    first.merge_cells("A2:C2")
    second = book.create_sheet("续表")
    for row in (["序号", "重点任务", "牵头单位"], ["2", "任务二。", "市财政局"]):
        second.append(row)
    buf = io.BytesIO()
    book.save(buf)
    c = import_table(buf.getvalue(), "t.xlsx", _plan()).catalog
    assert [(m.code, m.section) for m in c.measures] == [("1", "稳增长"), ("2", "稳增长")]
