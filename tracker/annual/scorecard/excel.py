"""The scorecard workbook the performance office reads, prints and signs (issue 11, item 2).

`write_scorecard(figures, path)` writes, in order: 封面 (title, status, key figures, the top
and bottom five of each group), 图表 (three native charts and the figures they plot),
市级部门排名, 区人民政府排名, 汇总（合并）, 任务进展, 指标, 逾期督办 (three aggregates),
扣分明细, 常务会议, one sheet per district government, 说明 (the rules), 图表数据 (what
the charts plot). The per-escalation
detail goes to a CSV beside it (`write_escalation_detail`), never into the workbook, so a
province-sized year never meets Excel's row limit (issue 11, item 6).

Text typed by users never becomes a formula: the workbook refuses formula, URL and number
guessing (`WRITER_OPTIONS`) and every text cell is written with `write_string`, so "=1+1"
stays text; in the CSV a text starting with = + - @ is prefixed with an apostrophe.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from xlsxwriter.worksheet import Worksheet

from tracker.annual.scorecard.book import (
    CONSTANT_MEMORY_ROWS,
    SHEET_ROWS,
    WRITER_OPTIONS,
    Book,
    FiguresLike,
    Table,
    beijing_time,
    cn_date,
    continuation_name,
    display_width,
    is_missing,
    parts,
)
from tracker.annual.scorecard.charts import (
    CHART_BARS,
    DATA_SHEET,
    add_chart_data_sheet,
    add_charts_sheet,
)
from tracker.annual.scorecard.figures import detail_records, round_half_up
from tracker.numbers import percent
from tracker.settings import TIE_RULE

__all__ = ["WRITER_OPTIONS", "display_width", "write_scorecard", "write_escalation_detail",
           "sheet_names", "TIE_RULE", "office_of"]

GROUPS = ("市级部门", "区人民政府")
INVALID_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
COUNT_UNITS = {"应报": "项", "按时": "项", "逾期报送": "项", "未报": "项", "完整": "项",
               "牵头任务数": "项", "获批延期": "次", "会议次数": "次", "事项数": "项",
               "涉及单位数": "个"}
SCORE_UNITS = ("适用满分", "百分制得分", "扣分", "总分")


def short_name(government: str) -> str:
    """A district government's short name for its sheet: "和平区人民政府" -> "和平区"."""
    name = government.removesuffix("人民政府") or government
    return INVALID_SHEET_CHARS.sub("_", name).strip("'")[:31] or "区"


def sheet_names(figures: FiguresLike, rows_per_sheet: int = SHEET_ROWS) -> list[str]:
    """The workbook's sheet names in order (the district sheets are unique and <= 31
    chars); a table longer than `rows_per_sheet` rows continues on "（续1）"… sheets."""
    def long(name: str, n: int) -> list[str]:
        return [continuation_name(name, i) for i in range(len(parts(n, rows_per_sheet)))]

    summary = figures.summary
    fixed = ["封面", "图表",
             *[name for g in GROUPS for name in long(f"{g}排名", int((summary["组别"] == g).sum()))],
             *long("汇总（合并）", len(summary)), *long("任务进展", len(figures.measures)), "指标",
             *[continuation_name("逾期督办", i) for i in range(len(_escalation_sheets(
                 figures, rows_per_sheet)))],
             *long("扣分明细", len(figures.deductions)), "常务会议"]
    return fixed + district_sheet_names(figures) + ["说明", DATA_SHEET]


def district_sheet_names(figures: FiguresLike) -> list[str]:
    """The district governments' sheet names, in `figures.districts` order: each
    government's short name, made unique ("和平区(2)")."""
    taken = {"封面", "图表", "指标", "常务会议", "说明", DATA_SHEET}
    taken |= {f"{g}排名" for g in GROUPS} | {"汇总（合并）", "任务进展", "逾期督办", "扣分明细"}
    districts = []
    for government in figures.districts:
        base = short_name(government)
        name, n = base, 2
        while name in taken:
            suffix = f"({n})"
            name, n = base[:31 - len(suffix)] + suffix, n + 1
        taken.add(name)
        districts.append(name)
    return districts


def headers(figures: FiguresLike) -> dict[str, str]:
    """Display headers with their units (项, 次, 分; parts with their printed maximum)."""
    s = figures.scoring
    out = {name: f"{name}({unit})" for name, unit in COUNT_UNITS.items()}
    out.update({name: f"{name}(分)" for name in SCORE_UNITS})
    out.update({"按时报送得分": f"按时报送得分(满分{s.on_time:g}分)",
                "完整性得分": f"完整性得分(满分{s.completeness:g}分)",
                "牵头任务进展得分": f"牵头任务进展得分(满分{s.progress:g}分)",
                "常务会议得分": f"常务会议得分(满分{s.meetings:g}分)"})
    return out


def subtitle(figures: FiguresLike) -> str:
    """The line under every title: plan, year, issue time (Beijing), data date, rules, status."""
    s = figures.scoring
    status = "正式印发" if figures.issued else "试算（未印发）"
    return (f"《{figures.plan_title}》{figures.year}年度　生成时间 {beijing_time(figures.generated)}"
            f"（北京时间）　数据截至{cn_date(figures.data_as_of)}　"
            f"考核规则版本 {s.version}（校验码 {s.digest()}）　{status}")


def write_scorecard(figures: FiguresLike, path: Path, *, rows_per_sheet: int = SHEET_ROWS,
                    constant_memory_rows: int = CONSTANT_MEMORY_ROWS,
                    chart_bars: int = CHART_BARS) -> Path:
    """Write the scorecard workbook of `figures` (FIGURES_SPEC.md) to `path` and return it.

    Atomic: written to a temporary file beside `path`, then `os.replace`d; on any error the
    temporary file is removed and `path` is untouched. Dates are Excel dates, NaN points
    print "不适用", percentages and points use the rules' digits. A table longer than
    `rows_per_sheet` rows continues on "<sheet>（续1）"… sheets, each headed as the first;
    a sheet of more than `constant_memory_rows` rows is written in constant-memory mode;
    a chart draws at most `chart_bars` bars (the worst, with a note).
    The author and company are the plan's supervision office (`figures.issuer`), empty
    when the plan names none. Raises ValueError when `figures.generated` is naive."""
    s = figures.scoring
    book = Book(path, subtitle=subtitle(figures), percent_digits=s.percent_digits,
                score_digits=s.score_digits, rows_per_sheet=rows_per_sheet,
                constant_memory_rows=constant_memory_rows)
    try:
        names = district_sheet_names(figures)
        heads = headers(figures)
        _cover(book, figures)
        add_charts_sheet(book, figures, chart_bars)
        for group in GROUPS:
            _ranking(book, figures, group, heads)
        _combined(book, figures, heads)
        _measures(book, figures, heads)
        _indicators(book, figures, heads)
        _escalations(book, figures, heads)
        _deductions(book, figures, heads)
        _meetings(book, figures, heads)
        for government, name in zip(figures.districts, names, strict=True):
            _district(book, figures, government, name)
        _rules(book, figures)
        add_chart_data_sheet(book, figures, chart_bars)
        title = f"《{figures.plan_title}》{figures.year}年度考核记分卡"
        author = office_of(figures)
        created = figures.generated.astimezone(dt.UTC).replace(tzinfo=None)
        book.properties(title=title, subject=f"{figures.year}年度考核记分卡", author=author,
                        manager=author, company=author,
                        category="考核记分卡", created=created,
                        keywords=f"考核记分卡, {figures.year}, {figures.plan_key}",
                        comments=f"考核规则版本 {s.version}（{s.digest()}）；"
                                 f"{'正式印发' if figures.issued else '试算（未印发）'}；"
                                 f"数据截至{cn_date(figures.data_as_of)}")
        return book.close()
    except BaseException:
        book.discard()
        raise


def office_of(figures: object) -> str:
    """The supervision office that issues the card (the workbook's author and company):
    the plan's (`Figures.issuer`), or "" when the plan names none; never a guess."""
    return str(getattr(figures, "issuer", "") or "")


def _long(book: Book, name: str, title: str, df: pd.DataFrame,
          write: Callable[[Worksheet, pd.DataFrame, bool, bool], None]) -> None:
    """A one-table sheet continued over "（续N）" sheets of `book.rows_per_sheet` rows:
    each part gets the title (with （续N）), a subtitle naming its rows, and `write(ws,
    part, first, last)` writes its notes, table and print setup as on the first sheet."""
    spans = parts(len(df), book.rows_per_sheet)
    for i, (start, stop) in enumerate(spans):
        sub = None if len(spans) == 1 else \
            f"{book.subtitle}　本表为第{start + 1}至{stop}条，共{len(df)}条"
        ws = book.sheet(continuation_name(name, i), title if i == 0 else f"{title}（续{i}）",
                        rows=stop - start, subtitle=sub)
        write(ws, df.iloc[start:stop], i == 0, i == len(spans) - 1)


RANKING_COLUMNS = ["排名", "单位", "按时报送率(%)", "完整率(%)", "牵头任务达成率(%)", "按时报送得分",
                   "完整性得分", "牵头任务进展得分", "常务会议得分", "适用满分", "百分制得分",
                   "督办通知(份)", "通报(份)", "扣分", "总分"]
COMBINED_COLUMNS = ["单位", "组别", "组内排名", "应报", "按时", "逾期报送", "未报", "完整",
                    "牵头任务数", "获批延期", "按时报送率(%)", "完整率(%)", "牵头任务达成率(%)",
                    "百分制得分", "扣分", "总分"]


def _ranking_frame(figures: FiguresLike, group: str) -> pd.DataFrame:
    summary = figures.summary
    df = summary[summary["组别"] == group].sort_values(["排名", "单位"], kind="stable")
    return df.reset_index(drop=True)


def _ranking(book: Book, figures: FiguresLike, group: str, heads: dict[str, str]) -> None:
    """A group's ranking: the rates and every part's points (the counts behind the rates
    are on 汇总（合并）), so the sheet prints one page wide at a readable size."""
    df = _ranking_frame(figures, group)[RANKING_COLUMNS]

    def write(ws: Worksheet, part: pd.DataFrame, first: bool, last: bool) -> None:
        book.note(ws, 2, f"共{len(df)}个单位；名次为{group}组内排名。{TIE_RULE}。"
                         "应报、按时等事项数见“汇总（合并）”表。")
        table = book.table(ws, 3, part, headers=heads,
                           widths={**_number_widths(df), "排名": 5.5, "单位": 17})
        _colour_scores(book, ws, table, figures, ranking=True, top=first, bottom=last)
        book.print_setup(ws, header_row=3, freeze_col=2)

    _long(book, f"{group}排名", f"{figures.year}年度考核记分卡　{group}排名", df, write)


def _number_widths(df: pd.DataFrame) -> dict[str, float]:
    """Narrow numeric columns (their headers wrap) so a table prints one page wide."""
    return {str(name): 7.0 for name in df.columns if pd.api.types.is_numeric_dtype(df[name])}


def _colour_scores(book: Book, ws: Worksheet, table: Table, figures: FiguresLike, *,
                   ranking: bool, top: bool = True, bottom: bool = True) -> None:
    """RAG fills on the scores and rates; on a ranking the top three on its first sheet
    (`top`) and the bottom three on its last (`bottom`): the group's best and worst."""
    s = figures.scoring
    if ranking:
        book.top_bottom(ws, table, "总分", kinds=("top",) * top + ("bottom",) * bottom)
    for column in ("总分", "按时报送率(%)", "完整率(%)", "牵头任务达成率(%)"):
        if column in table.columns:
            book.rag(ws, table, column, s.green_at, s.amber_at)


def _combined(book: Book, figures: FiguresLike, heads: dict[str, str]) -> None:
    df = figures.summary.copy()
    df["_progress"] = df["牵头任务进展得分"].fillna(-1)
    df = df.sort_values(["总分", "按时报送得分", "_progress", "完整性得分", "扣分", "单位"],
                        ascending=[False, False, False, False, True, True], kind="stable")
    df = df.rename(columns={"排名": "组内排名"})[COMBINED_COLUMNS].reset_index(drop=True)

    def write(ws: Worksheet, part: pd.DataFrame, _first: bool, _last: bool) -> None:
        book.note(ws, 2, "按总分从高到低排列；市级部门与区人民政府分别排名，名次见各组排名表；"
                         "各部分得分见排名表。")
        table = book.table(ws, 3, part, headers=heads,
                           widths={**_number_widths(df), "组内排名": 6, "单位": 17, "组别": 11})
        _colour_scores(book, ws, table, figures, ranking=False)
        book.print_setup(ws, header_row=3, freeze_col=1)

    _long(book, "汇总（合并）", f"{figures.year}年度考核记分卡　汇总（市级部门与区人民政府合并）",
          df, write)


def _cover(book: Book, figures: FiguresLike) -> None:
    s = figures.scoring
    ws = book.wb.add_worksheet("封面")
    ws.hide_gridlines(2)
    title = f"《{figures.plan_title}》{figures.year}年度考核记分卡"
    ws.set_row(0, 36)
    ws.merge_range(0, 0, 0, 6, title, book.fmt(bold=True, font_size=18, font_name="黑体",
                                               border=0, align="center", text_wrap=True))
    ws.set_row(1, 32)
    ws.merge_range(1, 0, 1, 6, book.subtitle, book.fmt(font_size=11, border=0, align="center",
                                                       text_wrap=True, font_color="#404040"))
    for col, width in enumerate((5, 30, 9, 2, 5, 30, 9)):
        book.set_width(ws, col, width)
    summary = figures.summary
    book.heading(ws, 3, "一、主要数据")
    asked = float(summary["应报"].sum())
    on_time = float(summary["按时"].sum())
    indicators = figures.indicators
    meetings = figures.meetings
    missing = meetings[pd.to_numeric(meetings["会议次数"], errors="coerce").fillna(0) == 0]
    label = book.fmt(align="left", text_wrap=True)
    value_fmt = {"int": book.fmt(num_format="0", align="center"),
                 "score": book.fmt(num_format=book.score_fmt, align="center"),
                 "percent": book.fmt(num_format=book.percent_fmt, align="center")}
    rows: list[tuple[str, float | str, str]] = [
        ("参加考核单位(个)", len(summary), "int"),
        *[(f"{g}(个)", int((summary["组别"] == g).sum()), "int") for g in GROUPS],
        *[(f"{g}平均总分(分)", _mean(summary.loc[summary["组别"] == g, "总分"],
                                 s.score_digits), "score") for g in GROUPS],
        ("按时报送率(%)", float(percent(on_time, asked, s.percent_digits) or 0.0)
         if asked else "不适用", "percent"),
        ("已送达的督办通知(份)", int(summary["督办通知(份)"].sum()), "int"),
        ("已签发的通报(份)", int(summary["通报(份)"].sum()), "int"),
        ("偏离进度的指标(个)", int((indicators["是否符合进度"] == "偏离").sum()), "int"),
        ("未报送的指标(个)", int((indicators["是否符合进度"] == "未报送").sum()), "int"),
        ("未召开常务会议的区人民政府(个)", len(missing), "int"),
    ]
    ws.write_string(4, 1, "项目", book.header_fmt)
    ws.write_string(4, 2, "数值", book.header_fmt)
    row = 5
    for name, value, kind in rows:
        ws.write_string(row, 1, name, label)
        if isinstance(value, str):
            ws.write_string(row, 2, value, book.fmt(align="center", font_color="#808080"))
        else:
            ws.write_number(row, 2, value, value_fmt[kind])
        row += 1
    if len(missing):
        names = "、".join(str(n) for n in missing["政府"])
        ws.set_row(row, 17 * max(1, -(-display_width(names) // 56)))
        ws.merge_range(row, 1, row, 5, f"未召开常务会议：{names}",
                       book.fmt(border=0, text_wrap=True, font_color="#9C0006"))
        row += 1
    row += 1
    book.heading(ws, row, "二、各组前五名与后五名（按总分）")
    row += 1
    for group in GROUPS:
        ranked = _ranking_frame(figures, group)
        top = ranked.head(5)
        bottom = ranked.tail(5).iloc[::-1] if len(ranked) > 5 else ranked.iloc[0:0]
        for col, (label_text, part) in zip((0, 4), ((f"{group}前五名", top),
                                                    (f"{group}后五名", bottom)), strict=True):
            ws.merge_range(row, col, row, col + 2, label_text,
                           book.fmt(bold=True, align="center", bg_color="#DDEBF7"))
            ws.write_string(row + 1, col, "排名", book.header_fmt)
            ws.write_string(row + 1, col + 1, "单位", book.header_fmt)
            ws.write_string(row + 1, col + 2, "总分(分)", book.header_fmt)
            for i, rec in enumerate(part.itertuples(index=False)):
                r = row + 2 + i
                if display_width(rec.单位) > 28:
                    ws.set_row(r, 35)
                ws.write_number(r, col, float(rec.排名), value_fmt["int"])
                ws.write_string(r, col + 1, str(rec.单位), label)
                ws.write_number(r, col + 2, float(rec.总分), value_fmt["score"])
            if part.empty:
                empty = (f"本年度无{group}参加考核" if ranked.empty
                         else f"共{len(ranked)}个单位，均列于前五名")
                ws.merge_range(row + 2, col, row + 2, col + 2, empty,
                               book.fmt(align="center", font_color="#808080"))
        row += 8
    ws.set_row(row, 40)
    note = ("说明：各部分得分按其满分计算，不适用的部分不计分并按适用满分折算为百分制，"
            "再减去已送达的督办通知和已签发的通报扣分；详见“说明”表。逾期督办逐项明细见同名CSV文件。")
    ws.merge_range(row, 0, row, 6, note, book.fmt(border=0, text_wrap=True, font_size=11))
    book.print_setup(ws, header_row=None)
    ws.fit_to_pages(1, 1)
    ws.set_row(2, 6)


def _mean(values: pd.Series, digits: int) -> float | str:
    numbers = pd.to_numeric(values, errors="coerce").dropna()
    return round_half_up(float(numbers.mean()), digits) if len(numbers) else "不适用"


def _measures(book: Book, figures: FiguresLike, heads: dict[str, str]) -> None:
    s = figures.scoring

    def write(ws: Worksheet, part: pd.DataFrame, _first: bool, _last: bool) -> None:
        table = book.table(ws, 2, part, headers=heads,
                           widths={"编号": 6, "任务": 22, "领域": 10, "牵头单位": 12,
                                   "牵头单位最新状态": 8, "最高督办级别": 8, "最新进展": 23,
                                   **{c: 7 for c in ("完成进度(%)", "本年应达进度(%)", "达成率(%)")},
                                   **{c: 6 for c in ("应报", "按时", "逾期报送", "未报")}})
        if "达成率(%)" in table.columns:
            book.rag(ws, table, "达成率(%)", s.green_at, s.amber_at)
        book.print_setup(ws, header_row=2, freeze_col=2)

    _long(book, "任务进展", f"{figures.year}年度考核记分卡　主要任务进展", figures.measures, write)


def _indicators(book: Book, figures: FiguresLike, heads: dict[str, str]) -> None:
    ws = book.sheet("指标", f"{figures.year}年度考核记分卡　主要指标（对照规划进度）")
    df = figures.indicators
    table = book.table(ws, 2, df, headers=heads,
                       widths={"编号": 5, "指标": 16, "属性": 7, "报送单位": 12, "单位": 5,
                               "目标值": 7, "数据来源": 14, "处理情况": 15, "是否符合进度": 7,
                               "基期值": 9,  # a growth indicator's base level: 20000.00 (元)
                               **{c: 7 for c in ("目标值数值", "本年应达值", "本年实际值")},
                               **{c: 8 for c in ("分子", "分母")}},
                       number_formats={c: "0.00" for c in ("基期值", "目标值数值", "本年应达值",
                                                           "本年实际值")})
    if table.last_row >= table.first_row:
        c = table.col("是否符合进度")
        for word, fill in (("符合", "#C6EFCE"), ("偏离", "#FFC7CE"), ("未报送", "#FFEB9C")):
            ws.conditional_format(table.first_row, c, table.last_row, c, {
                "type": "cell", "criteria": "==", "value": f'"{word}"',
                "format": book.wb.add_format({"bg_color": fill})})
    book.note(ws, table.last_row + 2,
              "本年应达值：按基期值（2015年）至规划目标值的进度推算的本年度应达到的数值；"
              "偏离进度的约束性指标报督查室，预期性指标由报送单位书面说明。")
    book.print_setup(ws, header_row=2, freeze_col=2)


ESCALATION_HEADINGS = ("一、按单位汇总", "二、按任务汇总", "三、按督办级别汇总")


def _escalation_frames(figures: FiguresLike) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    return (figures.escalations_by_agency, figures.escalations_by_measure,
            figures.escalations_by_rung)


def _escalation_sheets(figures: FiguresLike, per_sheet: int) -> list[list[tuple[int, int, int]]]:
    """The 逾期督办 sheets as lists of (table, first row, row after) pieces: the three
    tables one after another, a sheet holding at most `per_sheet` table rows, a table
    that does not fit continuing on the next sheet (an empty table is one empty piece)."""
    per_sheet = max(per_sheet, 1)
    sheets: list[list[tuple[int, int, int]]] = [[]]
    used = 0
    for t, df in enumerate(_escalation_frames(figures)):
        start, n = 0, len(df)
        while True:
            if used >= per_sheet and (start < n or not n):
                sheets.append([])
                used = 0
            stop = min(start + per_sheet - used, n)
            sheets[-1].append((t, start, stop))
            used, start = used + stop - start, stop
            if start >= n:
                break
    return sheets


def _escalations(book: Book, figures: FiguresLike, heads: dict[str, str]) -> None:
    frames = _escalation_frames(figures)
    title = f"{figures.year}年度考核记分卡　逾期督办情况（汇总）"
    for i, pieces in enumerate(_escalation_sheets(figures, book.rows_per_sheet)):
        ws = book.sheet(continuation_name("逾期督办", i), title if i == 0 else f"{title}（续{i}）",
                        rows=sum(stop - start for _, start, stop in pieces))
        row = 2
        book.note(ws, row, "逐项明细（报送期、任务、单位、级别、日期）见随附的CSV文件“逾期督办明细”。")
        row += 2
        for t, start, stop in pieces:
            df = frames[t]
            book.heading(ws, row, ESCALATION_HEADINGS[t] + ("（续）" if start else ""))
            if df.empty:
                ws.write_string(row + 1, 0, "无", book.fmt(border=0))
                row += 3
                continue
            table = book.table(ws, row + 1, df.iloc[start:stop], headers=heads,
                               widths={"编号": 10, "级别": 10, "任务": 40})
            row = table.last_row + 3
        book.print_setup(ws, header_row=1)


def _deductions(book: Book, figures: FiguresLike, heads: dict[str, str]) -> None:
    title = f"{figures.year}年度考核记分卡　扣分明细（已送达的督办通知、已签发的通报）"
    df = figures.deductions
    if df.empty:
        ws = book.sheet("扣分明细", title)
        book.set_width(ws, 0, 80)
        ws.write_string(2, 0, "本年度无已送达的督办通知或已签发的通报，无扣分。", book.fmt(border=0))
        book.print_setup(ws, header_row=1)
        return

    def write(ws: Worksheet, part: pd.DataFrame, _first: bool, _last: bool) -> None:
        book.table(ws, 2, part, headers=heads, widths={"标题": 44, "扣分": 8})
        book.print_setup(ws, header_row=2, freeze_col=1)

    _long(book, "扣分明细", title, df, write)


def _meetings(book: Book, figures: FiguresLike, heads: dict[str, str]) -> None:
    ws = book.sheet("常务会议", f"{figures.year}年度考核记分卡　政府常务会议研究情况")
    df = figures.meetings
    table = book.table(ws, 2, df, headers=heads, widths={"会议名称及届次": 34})
    if "是否履职" in table.columns and table.last_row >= table.first_row:
        c = table.col("是否履职")
        ws.conditional_format(table.first_row, c, table.last_row, c, {
            "type": "cell", "criteria": "==", "value": '"否"',
            "format": book.wb.add_format({"bg_color": "#FFC7CE"})})
    book.print_setup(ws, header_row=2, freeze_col=1)


def _district(book: Book, figures: FiguresLike, government: str, name: str) -> None:
    ws = book.sheet(name, f"{figures.year}年度考核记分卡　{government}任务报送情况")
    summary = figures.summary
    row = summary[summary["单位"] == government]
    if len(row):
        rec = row.iloc[0]
        total = int((summary["组别"] == rec["组别"]).sum())
        digits = figures.scoring.score_digits
        line = (f"组内排名第{int(rec['排名'])}名（共{total}个），总分 {rec['总分']:.{digits}f} 分；"
                f"按时报送 {int(rec['按时'])}/{int(rec['应报'])} 项，逾期报送 {int(rec['逾期报送'])} 项，"
                f"未报 {int(rec['未报'])} 项。")
        book.note(ws, 2, line)
    df = figures.districts[government]
    periods = [c for c in df.columns if c not in ("编号", "任务", "最高督办级别")]
    table = book.table(ws, 3, df, widths={"编号": 7, "任务": 40, **{c: 13 for c in periods}})
    if periods and table.last_row >= table.first_row:
        first, last = table.col(periods[0]), table.col(periods[-1])
        # 逾期未报 red before 逾期报送 amber: the first rule that matches a cell wins
        for word, fill in (("未报", "#FFC7CE"), ("逾期", "#FFEB9C")):
            ws.conditional_format(table.first_row, first, table.last_row, last, {
                "type": "text", "criteria": "containing", "value": word,
                "format": book.wb.add_format({"bg_color": fill})})
    book.print_setup(ws, header_row=3, freeze_col=2)


def _rules(book: Book, figures: FiguresLike) -> None:
    s = figures.scoring
    ws = book.sheet("说明", f"{figures.year}年度考核记分卡　考核规则说明")
    note = str(getattr(figures, "note", "") or "")
    rows = [("印发状态", "正式印发" if figures.issued else "试算（未印发），以正式印发的记分卡为准"),
            *([("重新生成", note)] if note else []),
            ("数据截至", cn_date(figures.data_as_of)),
            ("生成时间", f"{beijing_time(figures.generated)}（北京时间）"),
            *[(str(a), str(b)) for a, b in s.describe()],
            ("逾期督办明细", "逐项明细随记分卡另附CSV文件（UTF-8编码），可用Excel或WPS打开")]
    book.table(ws, 2, pd.DataFrame(rows, columns=["项目", "说明"]), widths={"项目": 14, "说明": 74})
    book.print_setup(ws, header_row=2)


def write_escalation_detail(figures: FiguresLike, path: Path) -> Path:
    """Write the per-escalation detail of `figures` (`figures.detail_records`: streamed
    from the database for a large year, one row at a time) as CSV (UTF-8 with BOM, so
    Excel and WPS read the Chinese; dates yyyy-mm-dd, an empty date empty) atomically,
    and return `path`. A text starting with = + - @ (or a tab/CR) gets a leading
    apostrophe so a spreadsheet never runs it as a formula."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", encoding="utf-8-sig", newline="") as out:
            writer = csv.writer(out, lineterminator="\r\n")
            writer.writerow([str(c) for c in figures.escalation_detail.columns])
            for record in detail_records(figures):
                writer.writerow([_csv_cell(v) for v in record])
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _csv_cell(value: object) -> str:
    if is_missing(value):
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
