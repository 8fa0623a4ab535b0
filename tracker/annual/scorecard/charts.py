"""The 图表 sheet of the scorecard: three native Excel charts and the figures they plot.

1. 市级部门按时报送率 — horizontal bars, one per city department, highest first;
2. 区人民政府总分 — columns, one per district government, in rank order;
3. 主要指标本年实际值与本年应达值、目标值 — clustered columns per indicator (the indicators
   sharing the most common unit, normally "%").

The charts read the 图表数据 sheet (the last one); the 图表 sheet holds only the charts, so
it renders alone as one picture: the bars on one portrait page, the others on the next.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from xlsxwriter.chart import Chart
from xlsxwriter.worksheet import Worksheet

from tracker.annual.scorecard.book import Book, FiguresLike, is_missing

FONT: dict[str, Any] = {"name": "宋体", "size": 10}
TITLE_FONT: dict[str, Any] = {"name": "黑体", "size": 13, "bold": True}
AXIS_TITLE_FONT: dict[str, Any] = {"name": "宋体", "size": 11, "bold": False}
WIDTH_PX = 500  # columns A:F (71 units) of a portrait A4 page
DATA_SHEET = "图表数据"
ROW_PX = 20  # the sheet's rows are 15 pt
# a chart draws at most this many bars (the worst: lowest on-time rates, lowest ranks);
# the full lists are on the ranking sheets
CHART_BARS = 100


def _axis(name: str, **more: Any) -> dict[str, Any]:
    return {"name": name, "name_font": AXIS_TITLE_FONT, "num_font": FONT,
            "major_gridlines": {"visible": False}, **more}


def chart_frames(figures: FiguresLike, cap: int = CHART_BARS
                 ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, str]:
    """The charts' data: departments by on-time rate (ascending, as bars draw bottom-up),
    districts by rank (short names), the indicators of the most common unit, and that unit.
    Each holds at most `cap` rows: the `cap` departments of the lowest rates, the `cap`
    districts ranked last, the first `cap` indicators (`capped_notes` says so)."""
    summary = figures.summary
    departments = summary[summary["组别"] == "市级部门"][["单位", "按时报送率(%)"]]
    departments = departments.sort_values(["按时报送率(%)", "单位"], ascending=[True, False],
                                          kind="stable").head(cap).reset_index(drop=True)
    districts = summary[summary["组别"] == "区人民政府"].sort_values("排名", kind="stable")
    districts = districts[["单位", "总分"]].tail(cap).assign(
        单位=lambda d: d["单位"].str.removesuffix("人民政府")).reset_index(drop=True)
    indicators = figures.indicators
    unit = str(indicators["单位"].mode().iloc[0]) if len(indicators) else "%"
    plotted = indicators[indicators["单位"] == unit][["编号", "指标", "本年实际值", "本年应达值",
                                                    "目标值数值"]].head(cap).reset_index(drop=True)
    return departments, districts, plotted, unit


def capped_notes(figures: FiguresLike, cap: int = CHART_BARS) -> list[str]:
    """The notes under the charts for each chart that shows only `cap` of its bars."""
    summary = figures.summary
    out = []
    n = int((summary["组别"] == "市级部门").sum())
    if n > cap:
        out.append(f"注：市级部门共{n}个，图一仅列按时报送率最低的{cap}个，全部名次见“市级部门排名”表。")
    n = int((summary["组别"] == "区人民政府").sum())
    if n > cap:
        out.append(f"注：区人民政府共{n}个，图二仅列总分排名最后的{cap}个，全部名次见“区人民政府排名”表。")
    indicators = figures.indicators
    if len(indicators):
        unit = str(indicators["单位"].mode().iloc[0])
        n = int((indicators["单位"] == unit).sum())
        if n > cap:
            out.append(f"注：以“{unit}”计量的主要指标共{n}个，图三仅列前{cap}个，全部见“指标”表。")
    return out


HEADINGS = ("一、市级部门按时报送率", "二、区人民政府总分", "三、主要指标本年实际值与本年应达值、目标值")


def _data_rows(lengths: tuple[int, int, int]) -> list[tuple[int, int, int, int]]:
    """(heading row, header row, first row, last row) of each table on the 图表数据 sheet."""
    out, row = [], 2
    for n in lengths:
        out.append((row, row + 1, row + 2, row + 1 + n))
        row += n + 4
    return out


def add_chart_data_sheet(book: Book, figures: FiguresLike, cap: int = CHART_BARS) -> None:
    """Add the 图表数据 sheet: the three tables the 图表 sheet's charts plot (at most
    `cap` rows each)."""
    ws = book.sheet(DATA_SHEET, f"{figures.year}年度考核记分卡　图表数据")
    departments, districts, plotted, _ = chart_frames(figures, cap)
    frames = (departments, districts, plotted)
    for (heading, header, first, last), frame, text in zip(
            _data_rows((len(departments), len(districts), len(plotted))), frames, HEADINGS,
            strict=True):
        book.heading(ws, heading, text)
        table = book.table(ws, header, frame, na_text=None,
                           widths={"单位": 30, "指标": 30, "编号": 10})
        if (table.first_row, table.last_row) != (first, last):  # the charts point there
            raise RuntimeError(f"图表数据位置不符：{text}")
    book.print_setup(ws, header_row=None)


def _place(book: Book, ws: Worksheet, row: int, chart: Chart, rows: tuple[int, int],
           empty: str) -> None:
    """Insert `chart` at `row`, or say `empty` there when it has no data (Excel refuses a
    chart without a series)."""
    if rows[1] >= rows[0]:
        ws.insert_chart(row, 0, chart, {"x_offset": 4, "y_offset": 4})
    else:
        ws.write_string(row, 0, empty, book.fmt(border=0))


def add_charts_sheet(book: Book, figures: FiguresLike, cap: int = CHART_BARS) -> None:
    """Add the 图表 sheet to `book`: the three charts (data on 图表数据, added last), each
    of at most `cap` bars, with a note under the charts for each one capped."""
    ws = book.sheet("图表", f"{figures.year}年度考核记分卡　图表")
    for col, width in enumerate((21, 10, 10, 10, 10, 10)):  # the charts' 500 px
        book.set_width(ws, col, width)
    departments, districts, plotted, unit = chart_frames(figures, cap)
    rows = _data_rows((len(departments), len(districts), len(plotted)))
    t1, t2, t3 = ((first, last) for _, _, first, last in rows)

    # chart heights in pixels over 15 pt (20 px) rows; a page break before the second chart
    heights = (max(16, len(departments)) * 20 + 110, 380, 380)
    tops = [2]
    for h in heights[:-1]:
        tops.append(tops[-1] + -(-h // ROW_PX) + 1)
    end = tops[-1] + -(-heights[-1] // ROW_PX) + 1
    ws.set_h_pagebreaks([tops[1]])  # page 1: the bars; page 2: the others
    name = DATA_SHEET

    bar = book.wb.add_chart({"type": "bar"})
    if t1[1] >= t1[0]:
        bar.add_series({"name": "按时报送率(%)",
                        "categories": [name, t1[0], 0, t1[1], 0],
                        "values": [name, t1[0], 0 + 1, t1[1], 1],
                        "fill": {"color": "#2E75B6"}, "gap": 40,
                        "data_labels": {"value": True, "font": FONT, "num_format": book.percent_fmt}})
    bar.set_title({"name": "市级部门按时报送率", "name_font": TITLE_FONT})
    bar.set_x_axis(_axis("按时报送率(%)", min=0, max=100))
    bar.set_y_axis(_axis("市级部门", num_font={**FONT, "size": 9}, interval_unit=1))
    bar.set_legend({"none": True})
    bar.set_size({"width": WIDTH_PX, "height": heights[0]})
    _place(book, ws, tops[0], bar, t1, "本年度无市级部门参加考核。")

    column = book.wb.add_chart({"type": "column"})
    if t2[1] >= t2[0]:
        column.add_series({"name": "总分(分)",
                           "categories": [name, t2[0], 0, t2[1], 0],
                           "values": [name, t2[0], 0 + 1, t2[1], 1],
                           "fill": {"color": "#548235"}, "gap": 60,
                           "data_labels": {"value": True, "position": "inside_end",
                                           "num_format": book.score_fmt,
                                           "font": {**FONT, "size": 9, "rotation": -90,
                                                    "color": "#FFFFFF"}}})
    column.set_title({"name": "区人民政府总分（按组内排名）", "name_font": TITLE_FONT})
    column.set_x_axis(_axis("区人民政府", num_font={**FONT, "rotation": -45}, interval_unit=1))
    column.set_y_axis(_axis("总分(分)", min=0, max=100))
    column.set_legend({"none": True})
    column.set_size({"width": WIDTH_PX, "height": heights[1]})
    _place(book, ws, tops[1], column, t2, "本年度无区人民政府参加考核。")

    clustered = book.wb.add_chart({"type": "column"})
    if t3[1] >= t3[0]:
        for col, label, color in ((2, "本年实际值", "#2E75B6"), (3, "本年应达值", "#FFC000"),
                                  (4, "目标值", "#A5A5A5")):
            clustered.add_series({"name": label,
                                  "categories": [name, t3[0], 0, t3[1], 0],
                                  "values": [name, t3[0], col, t3[1], col],
                                  "fill": {"color": color}, "gap": 80})
    clustered.set_title({"name": f"主要指标：本年实际值与本年应达值、目标值（{unit}）",
                         "name_font": TITLE_FONT})
    clustered.set_x_axis(_axis("指标编号", interval_unit=1))
    clustered.set_y_axis(_axis(f"数值({unit})", min=0))
    clustered.set_legend({"position": "bottom", "font": FONT})
    clustered.set_size({"width": WIDTH_PX, "height": heights[2]})
    _place(book, ws, tops[2], clustered, t3, "本年度无主要指标数据。")
    notes = capped_notes(figures, cap)
    if plotted["本年实际值"].map(is_missing).any():
        notes.append("注：未报送本年实际值的指标不显示实际值柱。")
    for i, text in enumerate(notes):
        book.note(ws, end + i, text)
    book.print_setup(ws, header_row=None, last_col=5)
    ws.set_portrait()
