"""The 图表 sheet of the scorecard: three native Excel charts and the figures they plot.

1. 市级部门按时报送率 — horizontal bars, one per city department, highest first;
2. 区人民政府总分 — columns, one per district government, in rank order;
3. 主要指标本年实际值与本年应达值、目标值 — clustered columns per indicator (the indicators
   sharing the most common unit, normally "%").

The charts read a data block right of them on the same sheet (so the sheet renders
alone); the sheet's print area is the charts: the bars on one portrait page, the others
on the next.
"""

from __future__ import annotations

from typing import Any

from tracker.annual.scorecard.book import Book, FiguresLike, is_missing

FONT: dict[str, Any] = {"name": "宋体", "size": 10}
TITLE_FONT: dict[str, Any] = {"name": "黑体", "size": 13, "bold": True}
AXIS_TITLE_FONT: dict[str, Any] = {"name": "宋体", "size": 11, "bold": False}
WIDTH_PX = 500  # columns A:F (71 units) of a portrait A4 page
DATA_COL = 7  # the charts' data stand right of the printed area
ROW_PX = 20  # the sheet's rows are 15 pt


def _axis(name: str, **more: Any) -> dict[str, Any]:
    return {"name": name, "name_font": AXIS_TITLE_FONT, "num_font": FONT,
            "major_gridlines": {"visible": False}, **more}


def add_charts_sheet(book: Book, figures: FiguresLike) -> None:
    """Add the 图表 sheet to `book`: the three charts, then their data (not printed)."""
    ws = book.sheet("图表", f"{figures.year}年度考核记分卡　图表")
    for col, width in enumerate((21, 10, 10, 10, 10, 10)):  # the charts' 500 px
        book.set_width(ws, col, width)
    summary = figures.summary
    departments = summary[summary["组别"] == "市级部门"][["单位", "按时报送率(%)"]]
    departments = departments.sort_values(["按时报送率(%)", "单位"], ascending=[True, False],
                                          kind="stable")  # bars draw bottom-up: best on top
    districts = summary[summary["组别"] == "区人民政府"].sort_values("排名", kind="stable")
    districts = districts[["单位", "总分"]].assign(
        单位=lambda d: d["单位"].str.removesuffix("人民政府"))
    indicators = figures.indicators
    unit = indicators["单位"].mode().iloc[0] if len(indicators) else "%"
    plotted = indicators[indicators["单位"] == unit][["编号", "指标", "本年实际值", "本年应达值",
                                                    "目标值数值"]]

    # chart heights in rows; a page break after each chart
    heights = (max(16, len(departments)) * 20 + 110, 380, 380)
    tops = [2]
    for h in heights[:-1]:
        tops.append(tops[-1] + -(-h // ROW_PX) + 1)
    end = tops[-1] + -(-heights[-1] // ROW_PX) + 1
    ws.set_h_pagebreaks([tops[1]])  # page 1: the bars; page 2: the others
    ws.print_area(0, 0, end, 5)

    ws.write_string(2, DATA_COL, "图表数据（不打印）", book.heading_fmt)
    t1 = book.table(ws, 3, departments.reset_index(drop=True), col=DATA_COL)
    t2 = book.table(ws, t1.last_row + 2, districts.reset_index(drop=True), col=DATA_COL)
    t3 = book.table(ws, t2.last_row + 2, plotted.reset_index(drop=True), col=DATA_COL,
                    na_text=None)
    name = ws.name

    bar = book.wb.add_chart({"type": "bar"})
    if t1.last_row >= t1.first_row:
        bar.add_series({"name": "按时报送率(%)",
                        "categories": [name, t1.first_row, DATA_COL, t1.last_row, DATA_COL],
                        "values": [name, t1.first_row, DATA_COL + 1, t1.last_row, DATA_COL + 1],
                        "fill": {"color": "#2E75B6"}, "gap": 40,
                        "data_labels": {"value": True, "font": FONT, "num_format": book.percent_fmt}})
    bar.set_title({"name": "市级部门按时报送率", "name_font": TITLE_FONT})
    bar.set_x_axis(_axis("按时报送率(%)", min=0, max=100))
    bar.set_y_axis(_axis("市级部门", num_font={**FONT, "size": 9}, interval_unit=1))
    bar.set_legend({"none": True})
    bar.set_size({"width": WIDTH_PX, "height": heights[0]})
    ws.insert_chart(tops[0], 0, bar, {"x_offset": 4, "y_offset": 4})

    column = book.wb.add_chart({"type": "column"})
    if t2.last_row >= t2.first_row:
        column.add_series({"name": "总分(分)",
                           "categories": [name, t2.first_row, DATA_COL, t2.last_row, DATA_COL],
                           "values": [name, t2.first_row, DATA_COL + 1, t2.last_row, DATA_COL + 1],
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
    ws.insert_chart(tops[1], 0, column, {"x_offset": 4, "y_offset": 4})

    clustered = book.wb.add_chart({"type": "column"})
    if t3.last_row >= t3.first_row:
        for col, label, color in ((2, "本年实际值", "#2E75B6"), (3, "本年应达值", "#FFC000"),
                                  (4, "目标值", "#A5A5A5")):
            clustered.add_series({"name": label,
                                  "categories": [name, t3.first_row, DATA_COL, t3.last_row, DATA_COL],
                                  "values": [name, t3.first_row, DATA_COL + col, t3.last_row, DATA_COL + col],
                                  "fill": {"color": color}, "gap": 80})
    clustered.set_title({"name": f"主要指标：本年实际值与本年应达值、目标值（{unit}）",
                         "name_font": TITLE_FONT})
    clustered.set_x_axis(_axis("指标编号", interval_unit=1))
    clustered.set_y_axis(_axis(f"数值({unit})", min=0))
    clustered.set_legend({"position": "bottom", "font": FONT})
    clustered.set_size({"width": WIDTH_PX, "height": heights[2]})
    ws.insert_chart(tops[2], 0, clustered, {"x_offset": 4, "y_offset": 4})
    if plotted["本年实际值"].map(is_missing).any():
        book.note(ws, end, "注：未报送本年实际值的指标不显示实际值柱。")
    book.print_setup(ws, header_row=None, last_col=5)
    ws.set_portrait()
