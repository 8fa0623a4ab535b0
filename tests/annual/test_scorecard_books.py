"""The scorecard at any size (issue 14, build item 3) proved at small size: with the rows
per sheet lowered to 20, every long table continues on "（续N）" sheets headed as the first
(the 逾期督办 tables flowing over theirs), sheets past a lowered threshold are written in
constant-memory mode, charts keep the 10 worst bars with a note, a large detail streams
from the database into the CSV byte for byte as the small one, and the author is the
plan's supervision office or nothing."""

from __future__ import annotations

import dataclasses
import datetime as dt
import zipfile

import openpyxl
import pytest

from tests.annual.scorecard_sample import sample_figures
from tests.conftest import at
from tracker.annual.checkpoint import figures_hash
from tracker.annual.scorecard import figures as figures_module
from tracker.annual.scorecard.excel import (
    sheet_names,
    write_escalation_detail,
    write_scorecard,
)
from tracker.annual.scorecard.figures import DETAIL_COLUMNS, compute
from tracker.db import transaction
from tracker.escalation.sweep import sweep_overdue
from tracker.models import Plan
from tracker.settings import ScoringRules

SHEETS = [
    "封面", "图表", "市级部门排名", "市级部门排名（续1）", "区人民政府排名",
    "汇总（合并）", "汇总（合并）（续1）", "汇总（合并）（续2）", "任务进展", "任务进展（续1）", "指标",
    "逾期督办", "逾期督办（续1）", "逾期督办（续2）",
    "扣分明细", "扣分明细（续1）", "扣分明细（续2）", "常务会议",
]
DISTRICTS = ["和平区", "河东区", "河西区", "南开区", "河北区", "红桥区", "东丽区", "西青区", "津南区",
             "北辰区", "武清区", "宝坻区", "滨海新区", "宁河区", "静海区", "蓟州区"]


@pytest.fixture(scope="module")
def small_sheets(tmp_path_factory):  # type: ignore[no-untyped-def]
    figures = sample_figures(2017)
    path = write_scorecard(figures, tmp_path_factory.mktemp("card") / "card.xlsx",
                           rows_per_sheet=20, constant_memory_rows=10, chart_bars=10)
    return figures, path, openpyxl.load_workbook(path)


def _column(ws, col: int, first: int, last: int | None = None) -> list[object]:  # type: ignore[no-untyped-def]
    return [ws.cell(r, col).value for r in range(first, (last or ws.max_row) + 1)]


def test_long_tables_continue_on_headed_sheets(small_sheets) -> None:  # type: ignore[no-untyped-def]
    figures, _, book = small_sheets
    assert book.sheetnames == SHEETS + DISTRICTS + ["说明", "图表数据"]
    assert sheet_names(figures, 20) == book.sheetnames
    assert sheet_names(figures)[:5] == ["封面", "图表", "市级部门排名", "区人民政府排名", "汇总（合并）"]
    first, second = book["市级部门排名"], book["市级部门排名（续1）"]
    assert second["A1"].value == "2017年度考核记分卡　市级部门排名（续1）"
    assert second["A2"].value.endswith("正式印发　本表为第21至36条，共36条")
    assert first["A2"].value.endswith("本表为第1至20条，共36条")
    assert second["A3"].value.startswith("共36个单位；名次为市级部门组内排名。")
    assert [c.value for c in second[4]] == [c.value for c in first[4]]
    assert second["A4"].value == "排名" and second.freeze_panes == "C5"
    assert second.print_title_rows == "$1:$4"
    departments = figures.summary[figures.summary["组别"] == "市级部门"] \
        .sort_values(["排名", "单位"], kind="stable")["单位"].tolist()
    assert _column(first, 2, 5) + _column(second, 2, 5) == departments
    assert (first.max_row, second.max_row) == (4 + 20, 4 + 16)
    combined = [book[n] for n in ("汇总（合并）", "汇总（合并）（续1）", "汇总（合并）（续2）")]
    assert [ws.max_row - 4 for ws in combined] == [20, 20, 12]
    assert sorted(sum((_column(ws, 1, 5) for ws in combined), [])) == sorted(figures.summary["单位"])
    deductions = [book[n] for n in ("扣分明细", "扣分明细（续1）", "扣分明细（续2）")]
    assert [ws.max_row - 3 for ws in deductions] == [20, 20, 9]
    assert sum((_column(ws, 4, 4) for ws in deductions), []) == figures.deductions["标题"].tolist()


def test_the_escalation_tables_flow_over_their_sheets(small_sheets) -> None:  # type: ignore[no-untyped-def]
    figures, _, book = small_sheets
    one, two, three = (book[n] for n in ("逾期督办", "逾期督办（续1）", "逾期督办（续2）"))
    assert one["A5"].value == "一、按单位汇总" and one["A6"].value == "单位"
    assert _column(one, 1, 7, 22) == figures.escalations_by_agency["单位"].tolist()
    assert one["A25"].value == "二、按任务汇总" and one["A26"].value == "编号"
    measures = figures.escalations_by_measure["编号"].tolist()
    assert _column(one, 1, 27) == measures[:4]
    assert two["A1"].value == "2017年度考核记分卡　逾期督办情况（汇总）（续1）"
    assert two["A5"].value == "二、按任务汇总（续）" and two["A6"].value == "编号"
    assert _column(two, 1, 7) == measures[4:24]
    assert three["A5"].value == "二、按任务汇总（续）"
    assert _column(three, 1, 7, 20) == measures[24:]
    assert three["A23"].value == "三、按督办级别汇总" and three["A24"].value == "级别"
    assert _column(three, 1, 25) == figures.escalations_by_rung["级别"].tolist() == [
        "催办", "督办", "通报"]


def test_long_sheets_are_written_in_constant_memory_mode(small_sheets) -> None:  # type: ignore[no-untyped-def]
    _, path, book = small_sheets
    with zipfile.ZipFile(path) as z:
        def xml(name: str) -> str:
            return z.read(f"xl/worksheets/sheet{book.sheetnames.index(name) + 1}.xml").decode()

        # constant-memory sheets (more than 10 rows) write their strings inline, the
        # others share them
        for name in ("市级部门排名", "汇总（合并）（续2）", "扣分明细", "逾期督办（续1）"):
            assert 't="inlineStr"' in xml(name), name
        for name in ("扣分明细（续2）", "指标", "封面"):  # 9 rows, 9 rows, no table
            assert 't="inlineStr"' not in xml(name), name


def test_charts_keep_the_worst_bars_with_a_note(small_sheets) -> None:  # type: ignore[no-untyped-def]
    figures, _, book = small_sheets
    data = book["图表数据"]
    assert data["A3"].value == "一、市级部门按时报送率"
    worst = figures.summary[figures.summary["组别"] == "市级部门"].sort_values(
        ["按时报送率(%)", "单位"], ascending=[True, False], kind="stable").head(10)
    assert _column(data, 1, 5, 14) == worst["单位"].tolist()
    assert data["A17"].value == "二、区人民政府总分"
    last = figures.summary[figures.summary["组别"] == "区人民政府"].sort_values(
        "排名", kind="stable").tail(10)
    assert _column(data, 1, 19, 28) == [n.removesuffix("人民政府") for n in last["单位"]]
    notes = [c.value for row in book["图表"].iter_rows() for c in row
             if isinstance(c.value, str) and c.value.startswith("注：")]
    assert notes == ["注：市级部门共36个，图一仅列按时报送率最低的10个，全部名次见“市级部门排名”表。",
                     "注：区人民政府共16个，图二仅列总分排名最后的10个，全部名次见“区人民政府排名”表。",
                     "注：未报送本年实际值的指标不显示实际值柱。"]


def test_the_author_is_the_plans_office_or_nothing(tmp_path) -> None:
    figures = sample_figures(2017)
    book = openpyxl.load_workbook(write_scorecard(figures, tmp_path / "a.xlsx"))
    assert (book.properties.creator, book.properties.lastModifiedBy) == ("市政府督查室", "市政府督查室")
    none = dataclasses.replace(figures, issuer="")
    book = openpyxl.load_workbook(write_scorecard(none, tmp_path / "b.xlsx"))
    assert book.properties.creator in (None, "")


def test_a_large_detail_streams_from_the_database(db, plan, policy, overdue, tmp_path,
                                                  monkeypatch) -> None:
    day = dt.date(2017, 4, 13)
    while day <= dt.date(2017, 4, 28):
        with transaction(db) as s:
            sweep_overdue(s, s.get_one(Plan, plan.id), at(day.isoformat()), policy)
        day += dt.timedelta(days=1)
    with db() as s:
        small = compute(s, s.get_one(Plan, plan.id), 2017, ScoringRules(), now=at("2017-05-10"))
        small_csv = write_escalation_detail(small, tmp_path / "small.csv").read_bytes()
        monkeypatch.setattr(figures_module, "DETAIL_IN_MEMORY", 0)
        large = compute(s, s.get_one(Plan, plan.id), 2017, ScoringRules(), now=at("2017-05-10"))
        assert large.detail_source is not None and large.escalation_detail.empty
        assert list(large.escalation_detail.columns) == DETAIL_COLUMNS
        large_csv = write_escalation_detail(large, tmp_path / "large.csv").read_bytes()
        n = len(small.escalation_detail)
        assert n == 15
        assert large.detail_frame().iat[0, 0] == n
        assert figures_hash(large) == figures_hash(large)  # the stream reads the same rows
    assert large_csv == small_csv
    assert large_csv.startswith("\ufeff报送期,编号,任务,责任单位,级别,截止日期,发出日期,报送日期\r\n"
                                .encode())
    assert large_csv.count(b"\r\n") == 1 + n


def test_a_streamed_sheet_reads_as_the_same_sheet_kept_in_memory(small_sheets, tmp_path) -> None:  # type: ignore[no-untyped-def]
    figures, _, streamed = small_sheets
    kept = openpyxl.load_workbook(write_scorecard(figures, tmp_path / "kept.xlsx",
                                                  rows_per_sheet=20, chart_bars=10))
    for name in ("市级部门排名", "汇总（合并）", "任务进展", "扣分明细", "逾期督办（续1）"):
        a, b = streamed[name], kept[name]
        assert [[c.value for c in row] for row in a.iter_rows()] == \
            [[c.value for c in row] for row in b.iter_rows()], name
        heights = [a.row_dimensions[r].height for r in range(3, a.max_row + 1)]
        assert heights == [b.row_dimensions[r].height for r in range(3, b.max_row + 1)], name
