"""Write the scorecard workbook (pandas + xlsxwriter), Chinese headers, six sheets.

Text typed by users never becomes a formula: the workbook is opened with
`strings_to_formulas=False` (and no URL or number guessing), so `=1+1` stays text.
"""

from __future__ import annotations

import datetime as dt
import os
import unicodedata
from pathlib import Path

import pandas as pd

from tracker.annual.scorecard.figures import Figures
from tracker.settings import Rules

SHEETS = ["汇总", "任务进展", "指标", "逾期督办", "常务会议", "说明"]
WRITER_OPTIONS = {"strings_to_formulas": False, "strings_to_urls": False,
                  "strings_to_numbers": False}


def display_width(value: object) -> int:
    """Column width in Excel units: CJK and full-width characters count double."""
    text = "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def method_table(rules: Rules, plan_title: str, year: int, generated: dt.datetime) -> pd.DataFrame:
    w = rules.weights
    rows = [
        ("规划纲要", plan_title),
        ("考核年度", str(year)),
        ("生成时间", generated.strftime("%Y-%m-%d %H:%M %Z")),
        ("报送周期", f"按季度调度；季末前第{rules.issue_before_quarter_end}个工作日发出，"
                     f"季末后第{rules.due_after_quarter_end}个工作日截止"),
        ("年度指标", f"次年1月第{rules.indicator_due_working_day_of_january}个工作日前报送"),
        ("逾期督办", "截止后第{}个工作日催办联络员；第{}个工作日督办分管领导并抄送督查室；"
                     "第{}个工作日报督查室通报".format(*rules.ladder)),
        ("工作日", "按国务院公布的法定节假日和调休安排计算（chinese-calendar），北京时间"),
        ("按时报送", f"{w.on_time:g}分：截止日前报送的比例"),
        ("完整性", f"{w.completeness:g}分：首次报送即包含进展情况及下步计划（已完成的除外）的比例"),
        ("牵头任务进展", f"{w.progress:g}分：牵头任务最新完成进度与规划期内按年度应达进度之比（封顶）"),
        ("常务会议", f"{w.meetings:g}分：仅区人民政府，年内政府常务会议至少研究一次"),
        ("权重调整", "不适用的项目不计分，其余项目按权重折算为百分制"),
        ("延期", "经督查室批准延期的，以批准后的截止日期判断是否按时；“获批延期”列出次数"),
        ("扣分", f"每份督办通知扣{w.per_supervision_notice:g}分，每份通报扣{w.per_circular:g}分，"
                 "最低0分；同一单位同一报送期同日升级的逾期事项合为一份"),
        ("指标", "实际值与目标值比较；约束性指标未达标的单独标注"),
    ]
    return pd.DataFrame(rows, columns=["项目", "说明"])


def write_scorecard(figures: Figures, path: Path, *, rules: Rules, plan_title: str,
                    generated: dt.datetime) -> Path:
    """Write the workbook atomically (temp file, then rename) and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    summary = figures.summary.drop(columns=["agency_id", "类别"], errors="ignore")
    if not summary.empty:
        summary = summary[["排名"] + [c for c in summary.columns if c != "排名"]]
    frames = {
        "汇总": summary, "任务进展": figures.measures, "指标": figures.indicators,
        "逾期督办": figures.escalations, "常务会议": figures.meetings,
        "说明": method_table(rules, plan_title, figures.year, generated),
    }
    with pd.ExcelWriter(tmp, engine="xlsxwriter", datetime_format="yyyy-mm-dd hh:mm",
                        date_format="yyyy-mm-dd",
                        engine_kwargs={"options": WRITER_OPTIONS}) as writer:
        book = writer.book
        header = book.add_format({"bold": True, "bg_color": "#1F4E79", "font_color": "#FFFFFF",
                                  "border": 1, "text_wrap": True, "valign": "vcenter"})
        wrap = book.add_format({"text_wrap": True, "valign": "top"})
        for name in SHEETS:
            df = frames[name]
            df.to_excel(writer, sheet_name=name, index=False)
            sheet = writer.sheets[name]
            for col, title in enumerate(df.columns):
                sheet.write(0, col, title, header)
                widest = max([display_width(title)] + [display_width(v) for v in df[title]])
                width = min(max(widest + 2, 8), 60)
                sheet.set_column(col, col, width, wrap if widest > 60 else None)
            sheet.freeze_panes(1, 1 if name != "说明" else 0)
            if len(df.columns):
                sheet.autofilter(0, 0, max(len(df), 1), len(df.columns) - 1)
            sheet.set_landscape()
            sheet.set_paper(9)  # A4
            sheet.repeat_rows(0)
            sheet.fit_to_pages(1, 0)
    os.replace(tmp, path)
    return path
