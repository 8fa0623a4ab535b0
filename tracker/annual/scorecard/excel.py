"""Write the scorecard workbook (pandas + xlsxwriter), Chinese headers, six sheets.

Text typed by users never becomes a formula: the workbook is opened with
`strings_to_formulas=False` (and no URL or number guessing), so `=1+1` stays text.
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

import pandas as pd

from tracker.annual.scorecard.figures import Figures
from tracker.dates.workdays import SHANGHAI

SHEETS = ["汇总", "任务进展", "指标", "逾期督办", "常务会议", "说明"]
WRITER_OPTIONS = {"strings_to_formulas": False, "strings_to_urls": False,
                  "strings_to_numbers": False}


def display_width(value: object) -> int:
    """Column width in Excel units: CJK and full-width characters count double."""
    text = "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def method_table(figures: Figures) -> pd.DataFrame:
    rows = [("规划纲要", figures.plan_title), ("考核年度", str(figures.year)),
            ("生成时间", figures.generated.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M 北京时间")),
            *figures.scoring.describe()]
    return pd.DataFrame(rows, columns=["项目", "说明"])


def write_escalation_detail(figures: Figures, path: Path) -> Path:
    """The per-escalation detail as CSV (UTF-8 with BOM, so Excel and WPS read it), atomically."""
    tmp = path.with_name(path.name + ".tmp")
    figures.escalation_detail.to_csv(tmp, index=False, encoding="utf-8-sig")
    os.replace(tmp, path)
    return path


def write_scorecard(figures: Figures, path: Path) -> Path:
    """Write the workbook atomically (temp file, then rename) and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    summary = figures.summary.drop(columns=["agency_id"], errors="ignore")
    frames = {
        "汇总": summary, "任务进展": figures.measures, "指标": figures.indicators,
        "逾期督办": figures.escalations_by_agency, "常务会议": figures.meetings,
        "说明": method_table(figures),
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
