"""The five-year summary workbook written at the end of the plan (issue 11, item 2).

`write_five_year(by_year, path)` takes each year's scorecard figures (FIGURES_SPEC.md) and
writes, in the scorecard's style (titles, A4 print setup, document properties):
封面 (per year: the groups' average 总分, the on-time rate, notices, circulars, indicators
off trajectory, the rules' version), 单位趋势 (per agency: 总分 and 按时报送率(%) per year),
指标趋势 (per indicator: 本年实际值 and 本年应达值 per year, baseline and target), 图表 (line
charts: the groups' averages, and one per indicator: actual, trajectory, target), 说明, and
图表数据 (what the charts plot). Agencies are matched across years by `agency_id` and shown
under their latest name; a year in which an agency was not scored prints "不适用".
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd

from tracker.annual.scorecard.book import Book, FiguresLike, beijing_time, cn_date
from tracker.annual.scorecard.excel import GROUPS, office_of, round_half_up
from tracker.numbers import percent

DATA_SHEET = "图表数据"
CHART_FONT: dict[str, Any] = {"name": "宋体", "size": 10}
CHART_TITLE: dict[str, Any] = {"name": "黑体", "size": 12, "bold": True}
CHART_ROWS = 15  # rows of 20 px per chart (280 px high and a gap); three charts a page
COLOURS = ("#2E75B6", "#548235", "#FFC000", "#A5A5A5", "#C00000")


def write_five_year(by_year: dict[int, FiguresLike], path: Path) -> Path:
    """Write the plan's multi-year summary of `by_year` (year -> that year's Figures, the
    plan's years present, e.g. 2016–2020) to `path` atomically and return it.

    Raises ValueError (Chinese) when `by_year` is empty or mixes plans, or when a
    Figures' `generated` is naive."""
    if not by_year:
        raise ValueError("没有可汇总的年度考核记分卡")
    years = sorted(by_year)
    latest = by_year[years[-1]]
    if len({f.plan_key for f in by_year.values()}) > 1:
        raise ValueError("各年度考核记分卡不属于同一规划纲要，不能汇总")
    s = latest.scoring
    span = f"{years[0]}—{years[-1]}" if len(years) > 1 else str(years[0])
    generated = max(f.generated for f in by_year.values())
    as_of = max(f.data_as_of for f in by_year.values())
    subtitle = (f"《{latest.plan_title}》{span}年度　生成时间 {beijing_time(generated)}（北京时间）"
                f"　数据截至{cn_date(as_of)}　共{len(years)}个年度")
    book = Book(path, subtitle=subtitle, percent_digits=s.percent_digits,
                score_digits=s.score_digits)
    try:
        overview = _overview(by_year, years)
        agencies = _agencies(by_year, years)
        indicators = _indicators(by_year, years)
        title = f"《{latest.plan_title}》{span}年度考核情况汇总"
        _cover(book, title, overview)
        _table_sheet(book, "单位趋势", f"{span}年度各单位总分及按时报送率", agencies,
                     note="各年度总分及按时报送率按当年考核规则计算；当年未参加考核的显示“不适用”。",
                     widths={"单位": 17, "组别": 11}, rag=(s.green_at, s.amber_at))
        _table_sheet(book, "指标趋势", f"{span}年度主要指标实际值与规划进度", indicators,
                     note="本年应达值：按基期值至规划目标值的进度推算的当年应达到的数值。",
                     widths={"编号": 5, "指标": 18, "属性": 7, "单位": 5, "目标值": 7})
        _charts(book, span, overview, by_year, years)
        _rules(book, by_year, years)
        _chart_data(book, overview, by_year, years)
        author = office_of(latest)
        book.properties(title=title, subject=f"{span}年度考核情况汇总", author=author,
                        manager=author, company=author,
                        category="考核记分卡", keywords=f"考核记分卡, 五年汇总, {latest.plan_key}",
                        created=generated.astimezone(dt.UTC).replace(tzinfo=None),
                        comments="；".join(f"{y}年度规则版本 {by_year[y].scoring.version}"
                                          f"（{by_year[y].scoring.digest()}）" for y in years))
        return book.close()
    except BaseException:
        book.discard()
        raise


def _overview(by_year: dict[int, FiguresLike], years: list[int]) -> pd.DataFrame:
    rows = []
    for year in years:
        f = by_year[year]
        s, summary = f.scoring, f.summary
        row: dict[str, Any] = {"年度": year}
        for group in GROUPS:
            part = summary[summary["组别"] == group]
            totals = pd.to_numeric(part["总分"], errors="coerce").dropna()
            row[f"{group}平均总分(分)"] = (round_half_up(float(totals.mean()), s.score_digits)
                                      if len(totals) else float("nan"))
        for label in (*GROUPS, "全部单位"):
            part = summary[summary["组别"] == label] if label in GROUPS else summary
            asked = float(part["应报"].sum())
            rate = (percent(float(part["按时"].sum()), asked, s.percent_digits)
                    if asked else float("nan"))
            row[f"{label}按时报送率(%)"] = rate
        row["督办通知(份)"] = int(summary["督办通知(份)"].sum())
        row["通报(份)"] = int(summary["通报(份)"].sum())
        row["偏离进度的指标(个)"] = int((f.indicators["是否符合进度"] == "偏离").sum())
        row["考核规则版本"] = f"{s.version}（{s.digest()}）"
        row["状态"] = "正式印发" if f.issued else "试算（未印发）"
        rows.append(row)
    return pd.DataFrame(rows)


def _agencies(by_year: dict[int, FiguresLike], years: list[int]) -> pd.DataFrame:
    names: dict[Any, tuple[str, str]] = {}
    total: dict[Any, dict[int, float]] = {}
    rate: dict[Any, dict[int, float]] = {}
    for year in years:  # later years overwrite the name: the latest name is shown
        for rec in by_year[year].summary.to_dict("records"):
            key = rec["agency_id"]
            names[key] = (str(rec["单位"]), str(rec["组别"]))
            total.setdefault(key, {})[year] = float(rec["总分"])
            rate.setdefault(key, {})[year] = float(rec["按时报送率(%)"])
    rows = []
    for key, (name, group) in names.items():
        row: dict[str, Any] = {"单位": name, "组别": group}
        row.update({f"{y}年总分(分)": total[key].get(y, float("nan")) for y in years})
        row.update({f"{y}年按时报送率(%)": rate[key].get(y, float("nan")) for y in years})
        rows.append(row)
    df = pd.DataFrame(rows)
    order = {g: i for i, g in enumerate(GROUPS)}
    return df.sort_values(["组别", "单位"], key=lambda c: c.map(order) if c.name == "组别" else c,
                          kind="stable").reset_index(drop=True)


def _indicators(by_year: dict[int, FiguresLike], years: list[int]) -> pd.DataFrame:
    latest = by_year[years[-1]].indicators
    rows = []
    for rec in latest.to_dict("records"):
        row: dict[str, Any] = {k: rec[k] for k in ("编号", "指标", "属性", "单位", "基期值", "目标值")}
        for label, column in (("实际值", "本年实际值"), ("应达值", "本年应达值")):
            for y in years:
                ind = by_year[y].indicators
                hit = ind.loc[ind["编号"] == rec["编号"], column]
                row[f"{y}年{label}"] = _number(hit)
        row[f"{years[-1]}年是否符合进度"] = rec["是否符合进度"]
        rows.append(row)
    return pd.DataFrame(rows)


def _cover(book: Book, title: str, overview: pd.DataFrame) -> None:
    ws = book.sheet("封面", title)
    table = book.table(ws, 3, overview, widths={"年度": 6, "考核规则版本": 18, "状态": 10,
                                                **{c: 9 for c in overview.columns
                                                   if c not in ("年度", "考核规则版本", "状态")}},
                       number_formats={"年度": "0"})
    book.heading(ws, 2, "各年度主要数据")
    book.note(ws, table.last_row + 2, "各年度按当年考核规则计算；折线图见“图表”表。")
    book.print_setup(ws, header_row=3)


def _table_sheet(book: Book, name: str, title: str, df: pd.DataFrame, *, note: str,
                 widths: dict[str, float], rag: tuple[float, float] | None = None) -> None:
    """A sheet holding `df` under its title and `note`; with `rag` = (green_at, amber_at)
    every 总分 and rate column is coloured red/amber/green."""
    ws = book.sheet(name, title)
    book.note(ws, 2, note)
    widths = {**{str(c): 7.5 for c in df.columns}, **widths}
    table = book.table(ws, 3, df, widths=widths,
                       number_formats={c: "0.00" for c in df.columns
                                       if "实际值" in c or "应达值" in c or c == "基期值"})
    if rag is not None:
        for column in df.columns:
            if "总分" in column or "率" in column:
                book.rag(ws, table, str(column), *rag)
    book.print_setup(ws, header_row=3, freeze_col=2)


def _data_layout(years: list[int], indicator_codes: list[str]) -> dict[str, int]:
    """Rows on 图表数据: the overview block's header row, then one block per indicator."""
    rows = {"overview": 2}
    row = 2 + len(years) + 3
    for code in indicator_codes:
        rows[code] = row
        row += len(years) + 3
    return rows


def _codes(by_year: dict[int, FiguresLike], years: list[int]) -> list[str]:
    return [str(c) for c in by_year[years[-1]].indicators["编号"]]


def _chart_data(book: Book, overview: pd.DataFrame, by_year: dict[int, FiguresLike],
                years: list[int]) -> None:
    ws = book.sheet(DATA_SHEET, "图表数据")
    layout = _data_layout(years, _codes(by_year, years))
    columns = ["年度", *[c for c in overview.columns if "平均总分" in c or "按时报送率" in c]]
    book.table(ws, layout["overview"], overview[columns], na_text=None,
               number_formats={"年度": "0"})
    latest = by_year[years[-1]].indicators
    for rec in latest.to_dict("records"):
        row = layout[str(rec["编号"])]
        book.heading(ws, row - 1, f"{rec['编号']} {rec['指标']}（{rec['单位']}）")
        block = []
        for y in years:
            ind = by_year[y].indicators
            hit = ind[ind["编号"] == rec["编号"]]
            block.append({"年度": y,
                          "实际值": _number(hit["本年实际值"]),
                          "应达值": _number(hit["本年应达值"]),
                          "目标值": float(rec["目标值数值"])})
        book.table(ws, row, pd.DataFrame(block), na_text=None,
                   number_formats={"年度": "0", "实际值": "0.00", "应达值": "0.00",
                                   "目标值": "0.00"})
    book.print_setup(ws, header_row=None)


def _line(book: Book, title: str, y_name: str) -> Any:
    chart = book.wb.add_chart({"type": "line"})
    chart.set_title({"name": title, "name_font": CHART_TITLE})
    chart.set_x_axis({"name": "年度", "name_font": CHART_FONT, "num_font": CHART_FONT,
                      "interval_unit": 1})
    chart.set_y_axis({"name": y_name, "name_font": CHART_FONT, "num_font": CHART_FONT,
                      "major_gridlines": {"visible": True, "line": {"color": "#D9D9D9"}}})
    chart.set_legend({"position": "bottom", "font": CHART_FONT})
    return chart


def _charts(book: Book, span: str, overview: pd.DataFrame, by_year: dict[int, FiguresLike],
            years: list[int]) -> None:
    ws = book.sheet("图表", f"{span}年度考核情况图表")
    for col, width in enumerate((21, 10, 10, 10, 10, 10)):  # the charts' 500 px
        book.set_width(ws, col, width)
    layout = _data_layout(years, _codes(by_year, years))
    first, last = layout["overview"] + 1, layout["overview"] + len(years)
    cats = [DATA_SHEET, first, 0, last, 0]
    columns = ["年度", *[c for c in overview.columns if "平均总分" in c or "按时报送率" in c]]
    scores = _line(book, "各组平均总分", "平均总分(分)")
    rates = _line(book, "按时报送率", "按时报送率(%)")
    for i, name in enumerate(columns[1:], start=1):
        chart = scores if "平均总分" in name else rates
        chart.add_series({"name": name, "categories": cats,
                          "values": [DATA_SHEET, first, i, last, i],
                          "line": {"color": COLOURS[i % len(COLOURS)], "width": 2},
                          "marker": {"type": "circle", "size": 6}})
    latest = by_year[years[-1]].indicators
    charts = [scores, rates]
    for rec in latest.to_dict("records"):
        head = layout[str(rec["编号"])]
        chart = _line(book, f"{rec['编号']} {rec['指标']}", f"数值({rec['单位']})")
        cats = [DATA_SHEET, head + 1, 0, head + len(years), 0]
        for i, (name, colour, dash) in enumerate((("实际值", COLOURS[0], "solid"),
                                                  ("本年应达值", COLOURS[2], "dash"),
                                                  ("目标值", COLOURS[4], "round_dot")), start=1):
            chart.add_series({"name": name, "categories": cats,
                              "values": [DATA_SHEET, head + 1, i, head + len(years), i],
                              "line": {"color": colour, "width": 2, "dash_type": dash},
                              "marker": {"type": "circle" if i == 1 else "none", "size": 5}})
        charts.append(chart)
    for n, chart in enumerate(charts):
        chart.set_size({"width": 500, "height": 280})
        ws.insert_chart(2 + n * CHART_ROWS, 0, chart, {"x_offset": 4, "y_offset": 4})
    ws.set_h_pagebreaks([2 + n * CHART_ROWS for n in range(3, len(charts), 3)])
    book.print_setup(ws, header_row=None)
    ws.set_portrait()


def _rules(book: Book, by_year: dict[int, FiguresLike], years: list[int]) -> None:
    ws = book.sheet("说明", "考核规则与数据来源")
    rows = [(f"{y}年度", f"考核规则版本 {by_year[y].scoring.version}（{by_year[y].scoring.digest()}），"
                         f"{'正式印发' if by_year[y].issued else '试算（未印发）'}，"
                         f"数据截至{cn_date(by_year[y].data_as_of)}") for y in years]
    s = by_year[years[-1]].scoring
    rows += [("数值修约", f"百分比保留{s.percent_digits}位小数，得分保留{s.score_digits}位小数，"
                          "均四舍五入（ROUND_HALF_UP）；平均总分为各组单位总分的算术平均"),
             ("按时报送率", "按时报送事项数 ÷ 应报事项数 × 100"),
             ("单位", "按单位编码跨年度对应，显示最近一年的名称"),
             ("不适用", "该年度未参加考核或无数据")]
    book.table(ws, 2, pd.DataFrame(rows, columns=["项目", "说明"]), widths={"项目": 12, "说明": 76})
    book.print_setup(ws, header_row=2)


def _number(column: pd.Series) -> float:
    """The first value of a column as a float; NaN when empty, missing or not a number."""
    value = pd.to_numeric(column, errors="coerce")
    return float(value.iloc[0]) if len(value) else float("nan")
