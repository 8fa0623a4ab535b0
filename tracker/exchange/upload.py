"""Read an agency's sheet back: record every row, or refuse the whole file.

Each problem is named by sheet, row and column (unknown request, a row for another
agency, a status not in the list, a percent out of range or stored as text, a formula).
Nothing is recorded unless every row is good.

Two steps, so that parsing never holds a database transaction (issue 10, item 8: on
SQLite a transaction holds the write lock, and a slow parse made every other page wait):
`read_sheet` reads the file with no database at all (converting a legacy or Strict
workbook with LibreOffice first, `tracker.exchange.convert`); `record_sheet` then checks
the rows against the requests and records them. `import_sheet` does both.
"""

from __future__ import annotations

import datetime as dt
import io
import math
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from openpyxl import load_workbook
from pydantic import ValidationError
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from tracker.dates.chinese import cn_period
from tracker.enums import PeriodKind, ProgressStatus, RequestState
from tracker.errors import DomainError
from tracker.exchange.convert import NO_CONVERTER, ConversionRefused, Converter
from tracker.exchange.layout import (
    COLUMN_OF,
    COLUMNS,
    HEADERS,
    META_SHEET,
    SHEET,
    STATUS_BY_LABEL,
    column_letter,
)
from tracker.exchange.package import (
    Merge,
    NeedsConversion,
    PackageRefused,
    check_package,
    merged_ranges,
)
from tracker.models import (
    Assignment,
    AuditEvent,
    Indicator,
    Measure,
    ProgressReport,
    ProgressRequest,
    ReportingPeriod,
)
from tracker.requests.reports import (
    MILESTONE_EXPLANATION,
    RecordResult,
    ReportInput,
    cross_field_problems,
    input_problems,
    record_reports,
)
from tracker.sql import id_set

FIELD_COLUMN = {"status": "status", "percent": "percent", "narrative": "narrative",
                "problems": "problems", "next_steps": "next_steps", "value": "value"}


@dataclass(frozen=True)
class Problem:
    sheet: str
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = self.sheet + (f" 第{self.row}行" if self.row else "") + (
            f" {self.column}" if self.column else "")
        return f"{where}：{self.message}"


class UploadError(DomainError):
    """The whole file is refused; `problems` names each by sheet, row and column."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def _col(key: str) -> str:
    i = COLUMN_OF[key]
    return f"{column_letter(i)}列（{HEADERS[i]}）"


MAX_BYTES = 5 * 1024 * 1024  # an agency's sheet is tens of KB
MAX_ROWS = 2000  # an agency has at most a few hundred requests open


@dataclass(frozen=True)
class Sheet:
    """A parsed agency sheet: what its 说明 sheet says (`meta_id`: 单位编号 as text, ""
    when absent; `meta_name`: 单位), its non-blank rows as (row number, values), and the
    cell-level problems found without the database."""

    meta_id: str
    meta_name: str
    rows: list[tuple[int, dict[str, Any]]]
    problems: list[Problem]

    @property
    def agency_id(self) -> int | None:
        """The agency id the sheet names, or None."""
        return int(self.meta_id) if self.meta_id.isdigit() and len(self.meta_id) < 10 else None


def read_sheet(data: bytes, converter: Converter = NO_CONVERTER) -> Sheet:
    """Parse an uploaded workbook; touches no database (call it outside any transaction).

    A legacy .xls/.et or a Strict Open XML workbook is converted by `converter` first
    (refused with a message to save as .xlsx when it cannot be); the converted file meets
    the same bounds. Raises UploadError at once when the file is too large, inflates too
    far, holds too many cells, is not a workbook, or is not the template (no sheet, other
    headers, too many rows, merged answer cells). The workbook is read in openpyxl's
    streaming mode, so a stray cell at row 1,048,576 costs nothing.
    """
    if len(data) > MAX_BYTES:
        raise UploadError([Problem("文件", None, None, "文件过大（超过 5 MB），请使用系统下载的模板")])
    try:
        try:
            package = check_package(data)
        except NeedsConversion as exc:
            data = converter.to_xlsx(data, exc.suffix, exc.what)
            package = check_package(data)  # the converted file meets the same bounds
    except (PackageRefused, ConversionRefused) as exc:
        raise UploadError([Problem("文件", None, None, str(exc))]) from None
    merged = _merge_problems(merged_ranges(package, SHEET))
    if merged:
        raise UploadError(merged)
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
        return _read(book)
    except UploadError:
        raise
    except Exception as exc:  # openpyxl raises many kinds for a damaged or foreign file
        raise UploadError([Problem("文件", None, None, "不是有效的 Excel（.xlsx）文件，"
                                   "或文件已损坏；请使用系统下载的模板")]) from exc


def _read(book: Any) -> Sheet:
    if SHEET not in book.sheetnames:
        raise UploadError([Problem(SHEET, None, None, "找不到该工作表；请使用系统下载的模板")])
    sheet = book[SHEET]
    if (sheet.max_row or 0) > MAX_ROWS + 1:
        raise UploadError([Problem(SHEET, None, None, f"行数过多（{sheet.max_row} 行）；"
                                   "请只填写模板中的行，勿在远处单元格留下内容")])
    # WPS (and other writers) may store the sheet's extent as "A1": read the cells
    # themselves, never the stored dimension
    sheet.reset_dimensions()
    header = [c.value for c in next(sheet.iter_rows(min_row=1, max_row=1, max_col=len(HEADERS)))]
    if header != HEADERS:
        raise UploadError([Problem(SHEET, 1, None, "表头与模板不一致；请勿增删或移动列")])
    problems: list[Problem] = []
    meta: dict[Any, Any] = {}
    if META_SHEET in book.sheetnames:
        meta_sheet = book[META_SHEET]
        meta_sheet.reset_dimensions()
        meta = {r[0]: r[1] for r in meta_sheet.iter_rows(max_row=50, max_col=2, values_only=True)
                if r and r[0]}
    rows: list[tuple[int, dict[str, Any]]] = []
    for number, cells in enumerate(sheet.iter_rows(min_row=2, max_row=MAX_ROWS + 2,
                                                   max_col=len(HEADERS)), start=2):
        if number > MAX_ROWS + 1:
            if any(getattr(c, "value", None) not in (None, "") for c in cells):
                raise UploadError([Problem(SHEET, number, None, "行数过多；请只填写模板中的行，"
                                           "勿在远处单元格留下内容")])
            break
        values: dict[str, Any] = {}
        for key, idx in COLUMN_OF.items():
            cell = cells[idx] if idx < len(cells) else None
            if cell is None or getattr(cell, "value", None) is None:
                values[key] = None
                continue
            if cell.data_type == "f":
                problems.append(Problem(SHEET, number, _col(key), "不接受公式，请填写数值或文字"))
                values["__formula"] = True
            values[key] = _shown_value(cell)
            values[f"{key}__type"] = cell.data_type
        if all(values.get(k) in (None, "") for k in COLUMN_OF):
            continue  # blank line
        rows.append((number, values))
    meta_id = meta.get("单位编号")
    if isinstance(meta_id, float) and meta_id.is_integer():
        meta_id = int(meta_id)  # a converted sheet may store the id as a float
    return Sheet("" if meta_id is None else str(meta_id).strip(), str(meta.get("单位") or ""),
                 rows, problems)


def import_sheet(session: Session, data: bytes, *, agency_id: int, submitted_by: str,
                 now: dt.datetime, converter: Converter = NO_CONVERTER) -> RecordResult:
    """`read_sheet`, then `record_sheet`. Does not commit. Raises UploadError listing
    every problem; nothing is recorded then."""
    return record_sheet(session, read_sheet(data, converter), agency_id=agency_id,
                        submitted_by=submitted_by, now=now)


def record_sheet(session: Session, sheet: Sheet, *, agency_id: int, submitted_by: str,
                 now: dt.datetime) -> RecordResult:
    """Validate every row of a parsed sheet against agency `agency_id`'s requests, then
    record all answered rows as one batch. Does not commit.

    Rows whose 状态 is empty are left unanswered. Raises UploadError listing every
    problem; nothing is recorded then.
    """
    rows, problems = sheet.rows, list(sheet.problems)
    if sheet.meta_id not in ("", str(agency_id)):
        problems.insert(0, Problem(META_SHEET, 2, "B", f"此文件属于其他单位（{sheet.meta_name}）"))
    ids = [v["request_id"] for _, v in rows
           if isinstance(v["request_id"], int) and 0 < v["request_id"] < 2**31]
    with id_set(session, ids) as listed:  # the sheet's ids in a temporary table
        known = {rid: (agency, state, indicator, kind)
                 for rid, agency, state, indicator, kind in session.execute(
            select(ProgressRequest.id, ProgressRequest.agency_id, ProgressRequest.state,
                   ProgressRequest.indicator_id, ReportingPeriod.kind)
            .join(ReportingPeriod, ReportingPeriod.id == ProgressRequest.period_id)
            .where(ProgressRequest.id.in_(listed)))}
    items: list[ReportInput] = []
    seen: dict[int, int] = {}
    for number, v in rows:
        if v.get("__formula"):
            continue  # already named
        rid = v["request_id"]
        if v.get("request_id__type") == "s":
            problems.append(Problem(SHEET, number, _col("request_id"), "数字以文本形式存储"))
            continue
        if isinstance(rid, float) and rid.is_integer():
            rid = int(rid)
        if not isinstance(rid, int) or rid not in known:
            problems.append(Problem(SHEET, number, _col("request_id"),
                                    f"未知的请求编号 {_shown(v['request_id'])}"))
            continue
        if known[rid][0] != agency_id:
            problems.append(Problem(SHEET, number, _col("request_id"), "该行属于其他单位"))
            continue
        if rid in seen:
            problems.append(Problem(SHEET, number, _col("request_id"),
                                    f"同一请求编号在第{seen[rid]}行已出现"))
            continue
        seen[rid] = number
        if v["status"] in (None, ""):
            # the texts come pre-filled (template.py), so only the numbers, which the
            # template leaves empty, show that the liaison meant to answer this row
            if any(v.get(k) not in (None, "") for k in ("percent", "value")):
                problems.append(Problem(SHEET, number, _col("status"),
                                        "填写了完成进度或指标数值但未选择状态"))
            continue  # not answered in this upload
        if known[rid][1] == RequestState.WAIVED:
            problems.append(Problem(SHEET, number, _col("request_id"), "该事项已免报，无需报送"))
            continue
        # every fault of the row at once (a bad percent does not hide a missing narrative)
        row: list[Problem] = []
        status = STATUS_BY_LABEL.get(str(v["status"]).strip())
        if status is None:
            row.append(Problem(SHEET, number, _col("status"),
                               f"状态“{v['status']}”不在下拉列表中"))
        percent = v["percent"]
        if v.get("percent__type") == "s":
            # "50" stored as text is a number Excel marks with a green corner; "五十" is not
            # a number at all, and the liaison must be told what to type instead
            row.append(Problem(SHEET, number, _col("percent"),
                               "数字以文本形式存储" if _numeric_text(percent) else
                               "完成进度须为0到100的整数（请填写阿拉伯数字，如 50）"))
            percent = None
        elif not isinstance(percent, (int, float)) or isinstance(percent, bool) \
                or not math.isfinite(percent) or percent != int(percent) \
                or not 0 <= percent <= 100:
            row.append(Problem(SHEET, number, _col("percent"),
                               f"完成进度须为0到100的整数，现为 {_shown(percent)}"))
            percent = None
        value = v["value"]
        if value not in (None, "") and (v.get("value__type") == "s"
                                        or not isinstance(value, (int, float))
                                        or isinstance(value, bool) or not math.isfinite(value)
                                        or abs(value) >= 1e9):
            row.append(Problem(SHEET, number, _col("value"), "指标数值须为有效数字"))
        elif known[rid][2] is not None and value in (None, ""):
            row.append(Problem(SHEET, number, _col("value"), "指标类请求须填写指标数值"))
        elif known[rid][2] is None and value not in (None, ""):
            row.append(Problem(SHEET, number, _col("value"), "该行不是指标，请勿填写指标数值"))
        if (known[rid][3] == PeriodKind.MILESTONE and status is not None
                and status != ProgressStatus.COMPLETED and not str(v["narrative"] or "").strip()):
            # a task's own 完成时限: 已完成, or why not and by when (requests.milestones)
            row.append(Problem(SHEET, number, _col("narrative"), MILESTONE_EXPLANATION))
        if row:
            # the rules between fields, on those that are valid by themselves
            for _kind, field, text in cross_field_problems(
                    status, None if percent is None else int(percent),
                    str(v["narrative"] or ""), None):
                row.append(Problem(SHEET, number, _col(FIELD_COLUMN.get(field, field)),
                                   text.rstrip("。")))
            problems.extend(row)
            continue
        try:
            items.append(ReportInput(
                request_id=rid, status=status, percent=int(percent),
                narrative=str(v["narrative"] or ""), problems=str(v["problems"] or ""),
                next_steps=str(v["next_steps"] or ""),
                value=float(value) if value not in (None, "") else None))
        except ValidationError as exc:
            for field, text in input_problems(exc):
                key = FIELD_COLUMN.get(field, "narrative")
                problems.append(Problem(SHEET, number, _col(key), text.rstrip("。")))
    if problems:
        raise UploadError(problems)
    result = record_reports(session, items, submitted_by=submitted_by, now=now, source="excel")
    session.add(AuditEvent(at=now, actor=submitted_by, action="excel.upload",
                           object_type="agency", object_id=str(agency_id),
                           detail={"rows": len(items), "reports": result.report_ids}))
    return result


def recorded_summary(session: Session, agency_ids: Collection[int],
                     report_ids: Collection[int]) -> str | None:
    """What an upload recorded, for the message after it: "已导入 3 项：2.2.4、2.4.2、
    2.8.2（其中逾期 1 项）" (measure or indicator codes in plan order, each followed by its
    period's name when several periods were answered; 逾期: the report came after its due
    day). Only reports of `agency_ids`' requests count; None when none does
    (ids from the address bar are not trusted). One query.
    """
    if not report_ids:
        return None
    with id_set(session, report_ids) as listed:
        return _summary(session, agency_ids, listed)


def _summary(session: Session, agency_ids: Collection[int], report_ids: Select[int]
             ) -> str | None:
    rows = session.execute(
        select(func.coalesce(Measure.code, Indicator.code), ProgressReport.late,
               ReportingPeriod.label)
        .join(ProgressRequest, ProgressRequest.id == ProgressReport.request_id)
        .join(ReportingPeriod, ReportingPeriod.id == ProgressRequest.period_id)
        .outerjoin(Assignment, Assignment.id == ProgressRequest.assignment_id)
        .outerjoin(Measure, Measure.id == Assignment.measure_id)
        .outerjoin(Indicator, Indicator.id == ProgressRequest.indicator_id)
        .where(ProgressReport.id.in_(report_ids),
               ProgressRequest.agency_id.in_(list(agency_ids)))  # a person's few agencies
        .order_by(ReportingPeriod.starts_on, Measure.position, Indicator.id, ProgressReport.id)
    ).all()
    if not rows:
        return None
    late = sum(1 for _, is_late, _ in rows if is_late)
    periods = {period for _, _, period in rows}
    # the period beside each code when the sheet answered several (2.2.2 exists in each)
    codes = "、".join((code or "") + (f"（{cn_period(period)}）" if len(periods) > 1 else "")
                     for code, _, period in rows)
    return f"已导入 {len(rows)} 项：{codes}" + (f"（其中逾期 {late} 项）" if late else "") + "。"


def _shown_value(cell: Any) -> Any:
    """A cell's value as the liaison sees it: 100% typed in a percent-formatted cell is
    stored as 1 and means 100."""
    value = cell.value
    if (isinstance(value, (int, float)) and not isinstance(value, bool)
            and "%" in str(getattr(cell, "number_format", "") or "")):
        return round(value * 100, 9)
    return value


EDITABLE = {i for i, (_, _, edit) in enumerate(COLUMNS) if edit}


def _merge_problems(merges: list[Merge]) -> list[Problem]:
    """A merged range over answer columns covering several rows would give one row the
    text and the others nothing: refused, naming the rows and the column."""
    out = []
    for m in merges:
        if m.last_row <= m.first_row or m.last_row < 2:
            continue
        cols = [c for c in range(m.first_col, m.last_col + 1) if c in EDITABLE]
        if cols:
            out.append(Problem(SHEET, max(m.first_row, 2), _col(COLUMNS[cols[0]][1]),
                               f"第{max(m.first_row, 2)}至{m.last_row}行为合并单元格；"
                               "请取消合并，为每一行分别填写"))
    return out


def _numeric_text(value: Any) -> bool:
    """Whether a text cell holds an Arabic number (" 50 ", "50.0"), as opposed to words."""
    try:
        return math.isfinite(float(str(value).strip().rstrip("%")))
    except ValueError:
        return False


def _shown(value: Any) -> str:
    """A cell value as a liaison would recognise it (no Python reprs)."""
    if isinstance(value, dt.datetime):
        return f"日期 {value:%Y-%m-%d}"
    if isinstance(value, str):
        return f"“{value[:30]}”"
    return str(value)
