"""The public report's tables (向社会公开), read from the year's ISSUED scorecard.

Public numbers equal the issued card: every figure of the year is read back from the
workbook the annual checkpoint issued and stored (`checkpoint.issued_run`), never
recomputed from data that may have changed since. Earlier years of an indicator's
trajectory come from their own issued cards when there are any, else from the values on
record (`indicators.indicator_series`).

Nothing personal goes public: of the card's tables only counts, rates, statuses, plan
texts and the names of agencies and governments are kept. Dropped on purpose: the lead's
latest narrative (最新进展), an indicator's data source (数据来源) and handling notes
(处理情况: owners' explanations, internal escalations), meeting names typed by liaisons
(会议名称及届次), the office's workflow states of meetings, scores, deductions and rankings.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
from dataclasses import dataclass
from typing import Any

import pandas as pd
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.annual.indicators import base_year, indicator_series
from tracker.annual.scorecard import years_with_data
from tracker.annual.scorecard.figures import expected_share
from tracker.dates.workdays import local_date
from tracker.enums import ProgressStatus
from tracker.errors import DomainError
from tracker.models import Indicator, Plan, ScorecardRun
from tracker.numbers import PERCENT_DIGITS, PERCENT_RULE, percent, round_half_up

NOT_REPORTED = "未报送"
STATUSES = [s.label for s in ProgressStatus] + [NOT_REPORTED]

PART_COLUMNS = ["部分", "任务数", *STATUSES, "达到本年应达进度", "达到本年应达进度比例(%)"]
MEASURE_COLUMNS = ["编号", "任务", "部分", "牵头单位", "最新状态", "完成进度(%)",
                   "本年应达进度(%)", "达成率(%)"]
INDICATOR_COLUMNS = ["编号", "指标", "属性", "报送单位", "单位", "基期值", "基期值单位", "目标值",
                     "本年应达值", "本年实际值", "是否符合进度"]
SERIES_COLUMNS = ["编号", "指标", "年度", "实际值", "应达值", "目标值"]
MEETING_COLUMNS = ["政府", "会议次数", "会议日期", "是否履职"]
REPORTING_COLUMNS = ["单位", "组别", "应报", "按时", "逾期报送", "未报", "按时报送率(%)",
                     "完整率(%)"]
TOTAL = "合计"

# the card's display headers carry units: "应报(项)", "总分(分)", "按时报送得分(满分40分)"
_UNIT = re.compile(r"\((项|次|个|分|满分[0-9.]+分)\)$")
NOT_APPLICABLE = "不适用"


class NotIssued(DomainError):
    """The year has no issued scorecard, so nothing may be published (code "not-issued")."""


@dataclass
class PublicReport:
    """What the public site and its downloads show for one plan year (tables as DataFrames
    with the module's *_COLUMNS; a missing number is None)."""

    plan_key: str
    plan_title: str
    issuer: str  # the plan's issuer (天津市人民政府办公厅)
    office: str  # who publishes: the plan's supervision office
    year: int
    first_year: int
    last_year: int
    data_as_of: dt.date  # 数据截至 (the issued card's)
    issued_on: dt.date  # the card's issue (or deliberate regeneration) day, Beijing
    rules_version: str
    percent_digits: int
    expected_share: float  # of the plan period elapsed by year end, in % (card's 本年应达进度)
    parts: pd.DataFrame
    measures: pd.DataFrame
    indicators: pd.DataFrame
    series: pd.DataFrame
    meetings: pd.DataFrame
    reporting: pd.DataFrame

    @property
    def percent_rule(self) -> str:
        """The rounding rule of the site's percentages, as printed."""
        if self.percent_digits == PERCENT_DIGITS:
            return PERCENT_RULE
        return f"百分比按四舍五入保留{self.percent_digits}位小数。"

    def tables(self) -> dict[str, pd.DataFrame]:
        """The downloadable tables by file stem, in the site's order."""
        return {"progress-parts": self.parts, "progress-measures": self.measures,
                "indicators": self.indicators, "indicator-trajectory": self.series,
                "meetings": self.meetings, "reporting": self.reporting}


TABLE_TITLES = {"progress-parts": "任务进展（分部分）", "progress-measures": "任务进展（分任务）",
                "indicators": "主要指标", "indicator-trajectory": "主要指标进度轨迹",
                "meetings": "政府常务会议", "reporting": "按时报送"}


def public_report(session: Session, plan: Plan, year: int) -> PublicReport:
    """The public tables of `plan`'s `year`, from its issued scorecard.

    Raises DomainError for a year outside the plan's period, and NotIssued (code
    "not-issued", naming `tracker scorecard YEAR`) when the year's card has not been
    issued. Reads the issued workbook's 任务进展, 指标, 常务会议 and 汇总（合并） sheets
    (`card_sheet`), and one query each for the plan's issued runs and indicator values.
    """
    if not plan.first_year <= year <= plan.last_year:
        raise DomainError(f"{year}年不在《{plan.title}》的规划期（{plan.first_year}—"
                          f"{plan.last_year}年）内，无可公开的年度", code="no-year")
    runs = {r.year: r for r in session.scalars(
        select(ScorecardRun).where(ScorecardRun.plan_id == plan.id,
                                   ScorecardRun.workbook.is_not(None)))}
    run = runs.get(year)
    if run is None and (plan.id, year) not in years_with_data(session, plan.id):
        raise NotIssued(f"《{plan.title}》{year}年度尚无任务进展调度，没有考核记分卡，无可公开的内容",
                        code="no-data")
    if run is None or run.workbook is None:
        raise NotIssued(f"《{plan.title}》{year}年度考核记分卡尚未正式印发，不能向社会公开。"
                        f"请先在年度检查点及以后运行 tracker scorecard {year} 印发该年度记分卡，"
                        "再运行本命令", code="not-issued")
    digits = int((run.rules or {}).get("percent_digits", PERCENT_DIGITS))
    measures_card, indicators_card, meetings_card, summary_card = card_sheets(
        run.workbook, [("任务进展", "编号"), ("指标", "编号"), ("常务会议", "政府"),
                       ("汇总（合并）", "单位")])
    at = run.regenerated_at or run.written_at
    share = (float(measures_card["本年应达进度(%)"].iloc[0]) if len(measures_card)
             else round_half_up(100 * expected_share(plan, year), digits))
    measures = _measures(measures_card)
    return PublicReport(
        plan_key=plan.key, plan_title=plan.title, issuer=plan.issuer,
        office=plan.supervision_office, year=year, first_year=plan.first_year,
        last_year=plan.last_year,
        data_as_of=run.data_as_of or local_date(at), issued_on=local_date(at),
        rules_version=run.rules_version, percent_digits=digits, expected_share=share,
        parts=_parts(measures, digits), measures=measures,
        indicators=_indicators(indicators_card, _indicator_kinds(session, plan)),
        series=_series(session, plan, year, runs, indicators_card),
        meetings=_meetings(meetings_card), reporting=_reporting(summary_card))


def card_sheet(workbook: bytes, sheet: str, first_header: str) -> pd.DataFrame:
    """One table of an issued scorecard workbook as written (`card_sheets`)."""
    return card_sheets(workbook, [(sheet, first_header)])[0]


def card_sheets(workbook: bytes, wanted: list[tuple[str, str]]) -> list[pd.DataFrame]:
    """Tables of an issued scorecard workbook as written, one per (sheet, first header),
    from one read of the file: in each sheet, the first row whose column A holds the first
    header is the header (units dropped: "应报(项)" → "应报"), the rows below it up to the
    first empty A cell are the records. "不适用" in a number column and empty cells are
    None. Raises DomainError naming the sheet when it or its table is missing."""
    book = load_workbook(io.BytesIO(workbook), read_only=True, data_only=True)
    try:
        found = []
        for sheet, _first in wanted:
            if sheet not in book.sheetnames:
                raise DomainError(f"已印发的考核记分卡缺少“{sheet}”表，无法据以公开",
                                  code="bad-card")
            found.append(list(book[sheet].iter_rows(values_only=True)))
    finally:
        book.close()
    return [_table(rows, sheet, first) for rows, (sheet, first) in zip(found, wanted, strict=True)]


def _table(rows: list[tuple[Any, ...]], sheet: str, first_header: str) -> pd.DataFrame:
    start = next((i for i, row in enumerate(rows) if row and row[0] == first_header), None)
    if start is None:
        raise DomainError(f"已印发的考核记分卡“{sheet}”表中没有以“{first_header}”开头的表格",
                          code="bad-card")
    header = [_UNIT.sub("", str(h)) if h is not None else "" for h in rows[start]]
    while header and header[-1] == "":
        header.pop()
    records = []
    for row in rows[start + 1:]:
        if not row or row[0] is None or row[0] == "":
            break
        cells = [_cell(v) for v in row[:len(header)]]
        records.append(cells + [None] * (len(header) - len(cells)))
    return pd.DataFrame(records, columns=header, dtype=object)


def _cell(value: Any) -> Any:
    return None if value is None or value == NOT_APPLICABLE else value


def _number(value: Any) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def _part_of(code: str, section: str) -> str:
    """A measure's part as the site names it: its subsection code and field, "2.1 基本民生保障"
    (the field alone when it already carries its number, "一、促进按比例就业")."""
    head = code.rsplit(".", 1)[0] if code.count(".") >= 2 else code
    if re.match(r"^[一二三四五六七八九十]+、", section) or head == code and "." not in code:
        return section
    return f"{head} {section}"


def _measures(card: pd.DataFrame) -> pd.DataFrame:
    rows = [{
        "编号": str(r["编号"]), "任务": str(r["任务"]),
        "部分": _part_of(str(r["编号"]), str(r["领域"] or "")),
        "牵头单位": str(r["牵头单位"]), "最新状态": str(r["牵头单位最新状态"]),
        "完成进度(%)": _number(r["完成进度(%)"]), "本年应达进度(%)": _number(r["本年应达进度(%)"]),
        "达成率(%)": _number(r["达成率(%)"]),
    } for _, r in card.iterrows()]
    return pd.DataFrame(rows, columns=MEASURE_COLUMNS, dtype=object)


def _parts(measures: pd.DataFrame, digits: int) -> pd.DataFrame:
    """Per part, in the plan's order, and a 合计 row: measures by the lead's latest status,
    and how many reached the year's expected progress (达成率 100 %)."""
    order = list(dict.fromkeys(measures["部分"]))
    rows = []
    for name in [*order, TOTAL]:
        mine = measures if name == TOTAL else measures[measures["部分"] == name]
        reached = int(sum(1 for v in mine["达成率(%)"] if v is not None and v >= 100))
        counts = {s: int((mine["最新状态"] == s).sum()) for s in STATUSES}
        rows.append({"部分": name, "任务数": len(mine), **counts, "达到本年应达进度": reached,
                     "达到本年应达进度比例(%)": percent(reached, len(mine), digits)})
    return pd.DataFrame(rows, columns=PART_COLUMNS, dtype=object)


def _indicator_kinds(session: Session, plan: Plan) -> dict[str, tuple[str, str]]:
    """{code: (kind, the unit of its base-year value)}: a growth indicator's baseline is a
    level (元), a rate's is in its own unit. One query."""
    return {code: (str(kind), str(level_unit or "") if str(kind) == "growth" else str(unit or ""))
            for code, kind, unit, level_unit in session.execute(
                select(Indicator.code, Indicator.kind, Indicator.unit, Indicator.level_unit)
                .where(Indicator.plan_id == plan.id))}


def _indicators(card: pd.DataFrame, kinds: dict[str, tuple[str, str]]) -> pd.DataFrame:
    rows = [{
        "编号": str(r["编号"]), "指标": str(r["指标"]), "属性": str(r["属性"]),
        "报送单位": str(r["报送单位"]), "单位": str(r["单位"] or ""),
        "基期值": _number(r["基期值"]),
        "基期值单位": kinds.get(str(r["编号"]), ("rate", str(r["单位"] or "")))[1],
        "目标值": str(r["目标值"] or ""),
        "本年应达值": _number(r["本年应达值"]), "本年实际值": _number(r["本年实际值"]),
        "是否符合进度": str(r["是否符合进度"]),
    } for _, r in card.iterrows()]
    return pd.DataFrame(rows, columns=INDICATOR_COLUMNS, dtype=object)


def _series(session: Session, plan: Plan, year: int, runs: dict[int, ScorecardRun],
            card: pd.DataFrame) -> pd.DataFrame:
    """Each indicator's trajectory up to `year`: the base year (a rate's baseline, both
    actual and expected), then each plan year's actual and expected values: from that
    year's issued card when there is one (this year's always), else from the values on
    record (`indicator_series`). One row per indicator and year with something to show."""
    recorded = indicator_series(session, plan)
    by_year: dict[int, dict[str, tuple[float | None, float | None]]] = {}
    for _, r in recorded.iterrows():
        by_year.setdefault(int(r["年度"]), {})[str(r["编号"])] = (
            _number(r["实际值"]), _number(r["应达值"]))
    for y, run in runs.items():
        if y <= year and run.workbook is not None:
            sheet = card if y == year else card_sheet(run.workbook, "指标", "编号")
            by_year[y] = {str(r["编号"]): (_number(r["本年实际值"]), _number(r["本年应达值"]))
                          for _, r in sheet.iterrows()}
    kinds = dict(session.execute(select(Indicator.code, Indicator.kind).where(
        Indicator.plan_id == plan.id, Indicator.active.is_(True))).all())
    base = base_year(plan)
    rows = []
    for _, ind in card.iterrows():
        code, target = str(ind["编号"]), str(ind["目标值"] or "")
        baseline = _number(ind["基期值"])
        if baseline is not None and str(kinds.get(code, "rate")) != "growth":
            rows.append({"编号": code, "指标": str(ind["指标"]), "年度": base, "实际值": baseline,
                         "应达值": baseline, "目标值": target})
        for y in range(plan.first_year, year + 1):
            actual, expected = by_year.get(y, {}).get(code, (None, None))
            if actual is None and expected is None:
                continue
            rows.append({"编号": code, "指标": str(ind["指标"]), "年度": y, "实际值": actual,
                         "应达值": expected, "目标值": target})
    return pd.DataFrame(rows, columns=SERIES_COLUMNS, dtype=object)


def _meetings(card: pd.DataFrame) -> pd.DataFrame:
    rows = [{"政府": str(r["政府"]), "会议次数": int(r["会议次数"] or 0),
             "会议日期": str(r["会议日期"] or ""), "是否履职": str(r["是否履职"])}
            for _, r in card.iterrows()]
    return pd.DataFrame(rows, columns=MEETING_COLUMNS, dtype=object)


def _reporting(card: pd.DataFrame) -> pd.DataFrame:
    """Per agency: its requests and rates as issued, city departments first, each group by
    on-time rate (highest first), then name."""
    rows: list[dict[str, Any]] = [{"单位": str(r["单位"]), "组别": str(r["组别"]),
             **{c: int(r[c] or 0) for c in ("应报", "按时", "逾期报送", "未报")},
             "按时报送率(%)": _number(r["按时报送率(%)"]), "完整率(%)": _number(r["完整率(%)"])}
            for _, r in card.iterrows()]
    groups = {"市级部门": 0, "区人民政府": 1}
    rows.sort(key=lambda r: (groups.get(r["组别"], 2), -(r["按时报送率(%)"] or 0.0), r["单位"]))
    return pd.DataFrame(rows, columns=REPORTING_COLUMNS, dtype=object)
