"""The public report's tables for download: one workbook (.xlsx, a sheet per table and a
说明 sheet) and one CSV per table (UTF-8 with BOM, so Excel and WPS read the Chinese).

Numbers are written as numbers, exactly as read from the issued card (a CSV float in its
shortest exact form: 87.5, 40.0); a missing number is an empty cell. Text never becomes a
formula: the workbook refuses formula, URL and number guessing and writes every text with
`write_string`; in a CSV a text starting with = + - @ (or a tab or CR) gets a leading
apostrophe.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

import pandas as pd
import xlsxwriter

from tracker.annual.publish.tables import TABLE_TITLES, PublicReport
from tracker.annual.scorecard.book import WRITER_OPTIONS
from tracker.dates.chinese import cn_date


def workbook_name(report: PublicReport) -> str:
    """The workbook's file name: public-<year>-<plan key>.xlsx."""
    return f"public-{report.year}-{report.plan_key}.xlsx"


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def csv_bytes(df: pd.DataFrame) -> bytes:
    """`df` as CSV bytes (UTF-8 with BOM, CRLF), formula-safe text, exact numbers."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([str(c) for c in df.columns])
    for record in df.itertuples(index=False, name=None):
        writer.writerow([_csv_cell(v) for v in record])
    return buffer.getvalue().encode("utf-8-sig")


def _csv_cell(value: Any) -> str:
    if _missing(value):
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def notes(report: PublicReport) -> list[tuple[str, str]]:
    """The 说明 rows shared by the workbook and the site: source, data date, rules."""
    return [
        ("规划", f"《{report.plan_title}》（{report.first_year}—{report.last_year}年）"),
        ("年度", f"{report.year}年度"),
        ("数据来源", f"{report.year}年度考核记分卡（{cn_date(report.issued_on)}正式印发，"
                     f"考核规则版本 {report.rules_version}）"),
        ("数据截至", cn_date(report.data_as_of)),
        ("发布单位", report.office),
        ("数值规则", report.percent_rule + "“—”表示无数据或不适用。"),
        ("本年应达进度", f"规划期已过去的比例：{report.year}年末为"
                        f"{report.expected_share:.{report.percent_digits}f}%。"),
    ]


def write_workbook(report: PublicReport, path: Path) -> Path:
    """Write the workbook of `report`'s tables to `path` (a sheet per table, headers bold
    and frozen, then 说明) and return `path`."""
    book = xlsxwriter.Workbook(str(path), {**WRITER_OPTIONS, "nan_inf_to_errors": True})
    try:
        head = book.add_format({"bold": True, "text_wrap": True, "valign": "top",
                                "bg_color": "#DDEBF7", "border": 1})
        text = book.add_format({"text_wrap": True, "valign": "top", "border": 1})
        number = book.add_format({"valign": "top", "border": 1})
        for stem, df in report.tables().items():
            ws = book.add_worksheet(TABLE_TITLES[stem][:31])
            for c, name in enumerate(df.columns):
                ws.write_string(0, c, str(name), head)
                widest = max([len(str(name))] + [len(str(v)) for v in df[name]])
                ws.set_column(c, c, min(max(widest * 1.8, 8), 50))
            for r, record in enumerate(df.itertuples(index=False, name=None), start=1):
                for c, value in enumerate(record):
                    if _missing(value):
                        ws.write_blank(r, c, None, number)
                    elif isinstance(value, int | float) and not isinstance(value, bool):
                        ws.write_number(r, c, float(value), number)
                    else:
                        ws.write_string(r, c, str(value), text)
            ws.freeze_panes(1, 0)
        ws = book.add_worksheet("说明")
        ws.set_column(0, 0, 14)
        ws.set_column(1, 1, 80)
        ws.write_string(0, 0, "项目", head)
        ws.write_string(0, 1, "说明", head)
        for r, (name, value) in enumerate(notes(report), start=1):
            ws.write_string(r, 0, name, text)
            ws.write_string(r, 1, value, text)
        book.set_properties({"title": f"《{report.plan_title}》{report.year}年度实施情况公开数据",
                             "author": report.office, "company": report.office})
    finally:
        book.close()
    return path
