"""Headline indicators on their trajectory (issue 11, item 3; DESIGN.md "Default rules").

The rule, in one place:

- The base year is the year before the plan's first (`plan.first_year - 1`: 2015 for the
  Tianjin plan of 2016-2020). An indicator's baseline is its base-year value, from the
  catalog when the plan prints it, else recorded by the office (`record_baseline`, audited).
- A rate indicator (`IndicatorKind.RATE`) is expected to move linearly from its baseline to
  its target in the plan's last year:
  expected(y) = baseline + (target - baseline) x (y - base) / (last - base).
  Base 50, target 80 over 2015-2020: 2017 expects 50 + 30 x 2/5 = 62.0.
- A growth indicator (`IndicatorKind.GROWTH`, I1 "残疾人家庭人均可支配收入年均增速 >9%") is
  the compound average annual growth of the reported level from the base year, in %:
  CAGR(y) = ((level_y / level_base) ^ (1 / (y - base)) - 1) x 100, and is expected to meet
  the target itself every year (the plan's "年均增长"). Base 20000 元, 2017 level 23762.0 元:
  (23762 / 20000) ^ (1/2) - 1 = 9.0 %, which is not > 9: off trajectory.
- Every figure is rounded half up to 2 decimal places (`round2`) before it is compared or
  shown; a value is on trajectory when it meets the expected value under the indicator's
  comparator (">" strictly above, ">=" at least).
- Statuses: "符合" (on trajectory), "偏离" (off), "未报送" (no value for the year), "无基期值"
  (a value but no baseline: nothing to compare with).
- Off trajectory, once per indicator and year (`follow_up_off_trajectory`, run by the daily
  duties job): a binding (约束性) indicator is escalated to the plan's supervision office
  (督查室: a notice to its liaisons, `IndicatorValue.escalated_at`); an expected (预期性) one
  asks its owner's liaisons for a written explanation (`explanation_asked_at`), which they
  write on their link (`write_explanation`) and the scorecard shows (`trajectory_table`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Collection
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Select, and_, select, update
from sqlalchemy.orm import Session

from tracker.dates.chinese import cn_date
from tracker.dates.workdays import local_date
from tracker.directory.agencies import office_id
from tracker.enums import (
    ChannelKind,
    ContactRole,
    IndicatorAttribute,
    IndicatorKind,
    MessageKind,
    OutboxStatus,
)
from tracker.errors import DomainError
from tracker.models import (
    Agency,
    AuditEvent,
    Contact,
    ContactAddress,
    Indicator,
    IndicatorValue,
    OutboxMessage,
    Plan,
    ProgressReport,
    ProgressRequest,
    ReportingPeriod,
)
from tracker.outbox import extra_address_join
from tracker.sql import insert_ignore_values
from tracker.text import PlainText

ON_TRACK, OFF_TRACK, NOT_REPORTED, NO_BASELINE = "符合", "偏离", "未报送", "无基期值"
PENDING_EXPLANATION = "待说明"
MAX_EXPLANATION = 2000  # characters of an owner's written explanation (说明)
MAX_BASELINE_SOURCE = 500

TABLE_COLUMNS = ["编号", "指标", "属性", "报送单位", "单位", "基期值", "目标值", "目标值数值",
                 "本年应达值", "本年实际值", "分子", "分母", "数据来源", "是否符合进度", "处理情况"]
SERIES_COLUMNS = ["编号", "指标", "年度", "实际值", "应达值", "目标值数值"]


class IndicatorError(DomainError):
    """A refused baseline or explanation; `field` names the form field it is about."""

    def __init__(self, message: str, *, field: str = "", status: int | None = None,
                 code: str | None = None):
        super().__init__(message, status=status, code=code)
        self.field = field


# --- the rule ---------------------------------------------------------------------------


def round2(x: float) -> float:
    """`x` rounded half up to 2 decimal places (the one rounding rule of this module); a
    value too large to carry decimals (or not finite) is returned as it is."""
    x = float(x)
    if not math.isfinite(x) or abs(x) >= 1e15:
        return x
    return float(Decimal(repr(x)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def base_year(plan: Plan) -> int:
    """The year whose value is the baseline: the year before the plan's first (2015)."""
    return plan.first_year - 1


def expected_rate(baseline: float, target: float, year: int, base: int, last: int) -> float:
    """A rate indicator's expected value in `year` (rounded, `round2`): linear from
    `baseline` in year `base` to `target` in year `last`; the baseline before, the target
    after. Raises ValueError when `last <= base`."""
    if last <= base:
        raise ValueError("the plan's last year must come after the base year")
    step = min(max(year - base, 0), last - base)
    return round2(baseline + (target - baseline) * step / (last - base))


def compound_growth(level_base: float, level: float, years: int) -> float:
    """The compound average annual growth, in % (rounded, `round2`), of a level going from
    `level_base` to `level` over `years` calendar years:
    ((level / level_base) ^ (1 / years) - 1) x 100.
    Raises ValueError unless both levels are above 0 and `years` >= 1."""
    if years < 1 or level_base <= 0 or level <= 0:
        raise ValueError("growth needs two levels above 0, at least one year apart")
    return round2(((level / level_base) ** (1 / years) - 1) * 100)


def meets(value: float, expected: float, comparator: str) -> bool:
    """Whether `value` meets `expected` under the comparator (">" or ">="), both rounded."""
    v, e = round2(value), round2(expected)
    return v > e if comparator == ">" else v >= e


@dataclass(frozen=True)
class Assessment:
    """One indicator in one year: `expected` (本年应达值), `actual` (本年实际值: the rate, or
    the computed growth of a growth indicator; None when unreported or no baseline for a
    growth one), `status` ("符合", "偏离", "未报送", "无基期值")."""

    expected: float | None
    actual: float | None
    status: str


def assess(*, kind: IndicatorKind | str, comparator: str, target: float,
           baseline: float | None, value: float | None, year: int, base: int,
           last: int) -> Assessment:
    """The trajectory rule (module docstring) for one indicator and year. `value` is what
    the owner reported (a rate in %, or a growth indicator's level); `baseline` the
    base-year value (the base level for growth). No value: "未报送"; a value without a
    baseline: "无基期值"."""
    growth = IndicatorKind(kind) == IndicatorKind.GROWTH
    if baseline is None:
        expected = round2(target) if growth else None
        return Assessment(expected, None if growth or value is None else round2(value),
                          NOT_REPORTED if value is None else NO_BASELINE)
    expected = (round2(target) if growth
                else expected_rate(baseline, target, year, base, last))
    if value is None:
        return Assessment(expected, None, NOT_REPORTED)
    if growth:
        if year <= base or baseline <= 0 or value <= 0:
            return Assessment(expected, None, NO_BASELINE)
        actual = compound_growth(baseline, value, year - base)
    else:
        actual = round2(value)
    return Assessment(expected, actual,
                      ON_TRACK if meets(actual, expected, comparator) else OFF_TRACK)


def target_text(comparator: str, target: float, unit: str) -> str:
    """The target as the plan prints it: ">9%" for a strict target, "80%" for "at least"."""
    return f"{'>' if comparator == '>' else ''}{target:g}{unit}"


# --- the tables the scorecard and the five-year summary read ----------------------------


def _handling(ind: Indicator, iv: IndicatorValue | None, status: str) -> str:
    """What was done about a value off its trajectory. A value corrected since onto its
    trajectory needs nothing more: no "待说明" then, though an explanation written stays."""
    if iv is None:
        return ""
    if ind.attribute == IndicatorAttribute.BINDING and iv.escalated_at is not None:
        done = f"已报督查室（{cn_date(local_date(iv.escalated_at))}）"
        return done if status == OFF_TRACK else f"{done}；数值更正后已符合进度"
    if ind.attribute == IndicatorAttribute.EXPECTED and iv.explanation_asked_at is not None:
        if iv.explanation:
            return iv.explanation
        return PENDING_EXPLANATION if status == OFF_TRACK else ""
    return ""


def trajectory_table(session: Session, plan: Plan, year: int) -> pd.DataFrame:
    """The plan's active indicators in `year`, one row each in catalog order, one query.

    Columns (TABLE_COLUMNS): 编号, 指标, 属性 (约束性/预期性), 报送单位, 单位 (a growth
    indicator's: "%", its level's unit in 基期值's header is the level unit), 基期值 (a growth
    indicator's: the base level), 目标值 (text as printed, ">9%"), 目标值数值, 本年应达值,
    本年实际值 (a growth indicator's: the computed growth, %), 分子, 分母, 数据来源,
    是否符合进度 ("符合" | "偏离" | "未报送" | "无基期值"), 处理情况 ("已报督查室（2018年2月1日）"
    for an escalated binding one; the explanation, or "待说明", for an expected one asked for
    it; "" otherwise). Missing numbers are None (object columns, never NaN).
    """
    owner = Agency
    rows = session.execute(
        select(Indicator, owner.name, IndicatorValue)
        .join(owner, owner.id == Indicator.owner_agency_id)
        .outerjoin(IndicatorValue, and_(IndicatorValue.indicator_id == Indicator.id,
                                        IndicatorValue.year == year))
        .where(Indicator.plan_id == plan.id, Indicator.active.is_(True))
        .order_by(Indicator.id)).all()
    base = base_year(plan)
    out = []
    for ind, owner_name, iv in rows:
        a = assess(kind=ind.kind, comparator=ind.comparator, target=ind.target,
                   baseline=ind.baseline, value=iv.value if iv else None, year=year, base=base,
                   last=plan.last_year)
        out.append({
            "编号": ind.code, "指标": ind.name, "属性": IndicatorAttribute(ind.attribute).label,
            "报送单位": owner_name, "单位": ind.unit,
            "基期值": ind.baseline, "目标值": target_text(ind.comparator, ind.target, ind.unit),
            "目标值数值": ind.target, "本年应达值": a.expected, "本年实际值": a.actual,
            "分子": iv.numerator if iv else None, "分母": iv.denominator if iv else None,
            "数据来源": (iv.source or "") if iv else "", "是否符合进度": a.status,
            "处理情况": _handling(ind, iv, a.status),
        })
    return pd.DataFrame(out, columns=TABLE_COLUMNS, dtype=object)  # missing numbers stay None


def indicator_series(session: Session, plan: Plan) -> pd.DataFrame:
    """Every (indicator, year) with a recorded value, in catalog then year order, for the
    five-year workbook: 编号, 指标, 年度, 实际值 (the rate, or a growth indicator's computed
    growth, %), 应达值 (`assess`'s expected value; None without a baseline for a rate),
    目标值数值. One query."""
    rows = session.execute(
        select(Indicator, IndicatorValue.year, IndicatorValue.value)
        .join(IndicatorValue, IndicatorValue.indicator_id == Indicator.id)
        .where(Indicator.plan_id == plan.id, Indicator.active.is_(True))
        .order_by(Indicator.id, IndicatorValue.year)).all()
    base = base_year(plan)
    out = []
    for ind, year, value in rows:
        a = assess(kind=ind.kind, comparator=ind.comparator, target=ind.target,
                   baseline=ind.baseline, value=value, year=year, base=base, last=plan.last_year)
        out.append({"编号": ind.code, "指标": ind.name, "年度": year, "实际值": a.actual,
                    "应达值": a.expected, "目标值数值": ind.target})
    return pd.DataFrame(out, columns=SERIES_COLUMNS, dtype=object)  # missing numbers: None


# --- the office's baseline ---------------------------------------------------------------


def record_baseline(session: Session, plan: Plan, code: str, value: float, *, source: str,
                    actor: str, now: dt.datetime) -> Indicator:
    """Record indicator `code`'s base-year value (a rate in %, or a growth indicator's base
    level in its level unit) and where it comes from; audited with the previous value.
    Raises IndicatorError naming the field: unknown code ("code"), a value that is not a
    finite number (or not above 0 for a growth indicator's level) ("value"), an empty or
    over-long source ("source"). Does not commit."""
    ind = session.scalar(select(Indicator).where(Indicator.plan_id == plan.id,
                                                 Indicator.code == code.strip()))
    if ind is None:
        known = "、".join(session.scalars(select(Indicator.code).where(
            Indicator.plan_id == plan.id).order_by(Indicator.id)))
        raise IndicatorError(f"指标编号：《{plan.title}》没有指标“{code}”（现有：{known}）",
                             field="code", status=404, code="unknown-indicator")
    if not (isinstance(value, (int, float)) and abs(value) < 1e12 and value == value):
        raise IndicatorError("基期值：须为有效数字", field="value")
    if ind.kind == IndicatorKind.GROWTH and value <= 0:
        raise IndicatorError(f"基期值：{ind.level_name}须大于 0（单位：{ind.level_unit}）",
                             field="value")
    if ind.kind == IndicatorKind.RATE and value < 0:
        raise IndicatorError("基期值：比率不能小于 0", field="value")
    text = " ".join(source.split())
    if not text:
        raise IndicatorError("数据来源：须填写基期值的出处（如统计公报、部门统计年报）",
                             field="source")
    if len(text) > MAX_BASELINE_SOURCE:
        raise IndicatorError(f"数据来源：过长（最多 {MAX_BASELINE_SOURCE} 字）", field="source")
    before = {"baseline": ind.baseline, "source": ind.baseline_source}
    ind.baseline, ind.baseline_source = float(value), text
    ind.baseline_recorded_at, ind.baseline_recorded_by = now, actor
    session.add(AuditEvent(at=now, actor=actor, action="indicator.baseline",
                           object_type="indicator", object_id=str(ind.id),
                           detail={"code": ind.code, "year": base_year(plan), "before": before,
                                   "after": {"baseline": ind.baseline, "source": text}}))
    session.flush()
    return ind


# --- off trajectory: escalation and explanation -----------------------------------------


@dataclass
class FollowUpResult:
    """What one pass did: (code, year) escalated to the supervision office, asked for an
    explanation, and the outbox rows written."""

    escalated: list[tuple[str, int]] = field(default_factory=list)
    asked: list[tuple[str, int]] = field(default_factory=list)
    messages: int = 0


def follow_up_off_trajectory(session: Session, plan: Plan, now: dt.datetime, *,
                             channel: ChannelKind) -> FollowUpResult:
    """One bounded, set-based pass over the plan's indicator values not yet followed up:
    each value off its trajectory (`assess`) is escalated (binding: `escalated_at` = now, a
    notice to the supervision office's liaisons, kind INDICATOR_ESCALATED) or its owner is
    asked to explain (expected: `explanation_asked_at` = now, a notice to the owner's
    liaisons, kind INDICATOR_EXPLANATION). Once per indicator and year: the mark is set by
    an UPDATE … WHERE it is still empty, so a second or concurrent pass finds nothing and
    writes nothing, and the outbox keys are unique ("ind:{value id}:esc:{contact}").
    A few queries whatever the number of values; `now` (aware) is the time recorded.
    Does not commit."""
    rows = session.execute(
        select(Indicator, IndicatorValue, ProgressReport.request_id, Agency.name)
        .join(IndicatorValue, IndicatorValue.indicator_id == Indicator.id)
        .join(ProgressReport, ProgressReport.id == IndicatorValue.report_id)
        .join(Agency, Agency.id == Indicator.owner_agency_id)
        .where(Indicator.plan_id == plan.id, Indicator.active.is_(True),
               Indicator.baseline.is_not(None), IndicatorValue.escalated_at.is_(None),
               IndicatorValue.explanation_asked_at.is_(None))).all()
    base = base_year(plan)
    off: dict[int, tuple[Indicator, IndicatorValue, int, str, Assessment]] = {}
    for ind, iv, request_id, owner_name in rows:
        a = assess(kind=ind.kind, comparator=ind.comparator, target=ind.target,
                   baseline=ind.baseline, value=iv.value, year=iv.year, base=base,
                   last=plan.last_year)
        if a.status == OFF_TRACK:
            off[iv.id] = (ind, iv, request_id, owner_name, a)
    result = FollowUpResult()
    if not off:
        return result
    binding = [i for i, o in off.items() if o[0].attribute == IndicatorAttribute.BINDING]
    expected = [i for i, o in off.items() if o[0].attribute == IndicatorAttribute.EXPECTED]
    escalated = _mark(session, binding, IndicatorValue.escalated_at, now)
    asked = _mark(session, expected, IndicatorValue.explanation_asked_at, now)
    if not escalated and not asked:
        return result
    office = office_id(session, plan, plan.supervision_office)
    recipients: list[tuple[int, int | None, MessageKind, str]] = []  # value, agency, kind, tag
    recipients += [(v, office, MessageKind.INDICATOR_ESCALATED, "esc") for v in escalated]
    recipients += [(v, off[v][0].owner_agency_id, MessageKind.INDICATOR_EXPLANATION, "why")
                   for v in asked]
    contacts = _liaisons(session, {a for _, a, _, _ in recipients if a is not None})
    out_rows = []
    for value_id, agency, kind, tag in recipients:
        ind, iv, request_id, owner_name, a = off[value_id]
        payload = _payload(plan, ind, iv, owner_name, a, base)
        for contact_id, name, address, extra in contacts.get(agency, []) if agency else []:
            out_rows.append(dict(
                key=f"ind:{value_id}:{tag}:{contact_id}" + (f":x{extra}" if extra else ""),
                kind=kind.value, channel=channel.value, address=address, recipient_name=name,
                agency_id=ind.owner_agency_id, request_id=request_id, contact_id=contact_id,
                plan_id=plan.id, level=0, is_copy=kind == MessageKind.INDICATOR_ESCALATED,
                payload=payload, status=OutboxStatus.PENDING.value, attempts=0,
                next_attempt_at=now, created_at=now))
    result.messages = insert_ignore_values(session, OutboxMessage.__table__, out_rows)  # type: ignore[arg-type]
    result.escalated = sorted((off[v][0].code, off[v][1].year) for v in escalated)
    result.asked = sorted((off[v][0].code, off[v][1].year) for v in asked)
    session.add(AuditEvent(at=now, actor="system:indicator_trajectory",
                           action="indicator.off_trajectory", object_type="plan",
                           object_id=str(plan.id),
                           detail={"escalated": [f"{c}:{y}" for c, y in result.escalated],
                                   "asked": [f"{c}:{y}" for c, y in result.asked]}))
    session.flush()
    return result


def _mark(session: Session, ids: list[int], column: Any, now: dt.datetime) -> list[int]:
    """Set `column` to now on the values `ids` where it is still empty; the ids it set."""
    if not ids:
        return []
    return list(session.scalars(
        update(IndicatorValue).where(IndicatorValue.id.in_(ids), column.is_(None))
        .values({column.key: now}).returning(IndicatorValue.id)
        .execution_options(synchronize_session=False)))


def _liaisons(session: Session, agencies: set[int]
              ) -> dict[int, list[tuple[int, str, str, int | None]]]:
    """agency -> its active liaisons' (contact id, name, address, further address id or
    None): each primary address and each further one. Two queries."""
    out: dict[int, list[tuple[int, str, str, int | None]]] = {}
    if not agencies:
        return out
    people = session.execute(
        select(Contact.id, Contact.name, Contact.email, Contact.agency_id)
        .where(Contact.agency_id.in_(agencies), Contact.role == ContactRole.LIAISON.value,
               Contact.active.is_(True)).order_by(Contact.id)).all()
    by_id = {p.id: p for p in people}
    for p in people:
        out.setdefault(p.agency_id, []).append((p.id, p.name, p.email, None))
    if by_id:
        for aid, cid, address in session.execute(
                select(ContactAddress.id, ContactAddress.contact_id, ContactAddress.address)
                .where(ContactAddress.contact_id.in_(list(by_id)),
                       extra_address_join(ContactAddress.contact_id))):
            p = by_id[cid]
            out[p.agency_id].append((cid, p.name, address, aid))
    return out


def _num(x: float | None, unit: str = "") -> str:
    return "" if x is None else f"{x:g}{unit}"


def _payload(plan: Plan, ind: Indicator, iv: IndicatorValue, owner: str, a: Assessment,
             base: int) -> dict[str, Any]:
    """What the notice says about one value, as text (rendered by the notice templates)."""
    growth = ind.kind == IndicatorKind.GROWTH
    return {"indicator": {
        "code": ind.code, "name": ind.name, "attribute": IndicatorAttribute(ind.attribute).label,
        "owner": owner, "year": iv.year, "base_year": base, "last_year": plan.last_year,
        "target": target_text(ind.comparator, ind.target, ind.unit),
        "actual": _num(a.actual, ind.unit), "expected": _num(a.expected, ind.unit),
        "baseline": _num(ind.baseline, (ind.level_unit or "") if growth else ind.unit),
        "level": (f"{ind.level_name}{iv.value:g}{ind.level_unit}" if growth else ""),
        "growth": growth, "source": iv.source or "",
    }}


class ExplanationInput(BaseModel):
    """An owner's written explanation of a value off its trajectory (说明): required,
    at most MAX_EXPLANATION characters, plain text."""

    model_config = ConfigDict(str_strip_whitespace=True)
    text: PlainText = Field(min_length=1, max_length=MAX_EXPLANATION)


def write_explanation(session: Session, agencies: Collection[int], request_id: int,
                      text: str, *, by: str, now: dt.datetime) -> IndicatorValue:
    """Store the explanation of the indicator value that request `request_id` (an indicator
    request of one of `agencies`) reported, when the value was asked for one; a later one
    replaces it (audited with the previous text). Raises IndicatorError: field
    "explanation" (empty, too long), 403 "other-agency", 409 "not-asked". Does not commit."""
    try:
        clean = ExplanationInput(text=text).text
    except ValidationError as exc:
        kind = exc.errors()[0]["type"]
        raise IndicatorError(
            f"偏离进度说明过长（最多 {MAX_EXPLANATION} 字）。" if kind == "string_too_long"
            else "请填写偏离进度说明。", field="explanation") from None
    row = session.execute(
        select(IndicatorValue, ProgressRequest.agency_id)
        .join(ProgressRequest, ProgressRequest.indicator_id == IndicatorValue.indicator_id)
        .join(ReportingPeriod, and_(ReportingPeriod.id == ProgressRequest.period_id,
                                    ReportingPeriod.year == IndicatorValue.year))
        .where(ProgressRequest.id == request_id)).first()
    if row is None or row[1] not in set(agencies):
        owned = session.scalar(select(ProgressRequest.agency_id)
                               .where(ProgressRequest.id == request_id))
        if owned is None or owned not in set(agencies):
            raise IndicatorError("该事项不属于本单位", status=403, code="other-agency")
        raise IndicatorError("该指标无需填写偏离进度说明", status=409, code="not-asked")
    iv = row[0]
    if iv.explanation_asked_at is None:
        raise IndicatorError("该指标无需填写偏离进度说明", status=409, code="not-asked")
    before = iv.explanation
    iv.explanation, iv.explained_at, iv.explained_by = clean, now, by
    session.add(AuditEvent(at=now, actor=by, action="indicator.explanation",
                           object_type="indicator_value", object_id=str(iv.id),
                           detail={"request": request_id, "before": before}))
    session.flush()
    return iv


def explanations_for(session: Session, request_ids: Select[int]) -> dict[int, dict[str, Any]]:
    """request id -> the explanation its indicator value was asked for (asked_at, text or
    None, year, expected and actual values as text), for the liaison's pages; `request_ids`
    is a SELECT of request ids (the page's set, as a subquery; requests about a measure
    drop out). One query."""
    rows = session.execute(
        select(ProgressRequest.id, IndicatorValue, Indicator, Plan)
        .join(ReportingPeriod, ReportingPeriod.id == ProgressRequest.period_id)
        .join(Plan, Plan.id == ReportingPeriod.plan_id)
        .join(Indicator, Indicator.id == ProgressRequest.indicator_id)
        .join(IndicatorValue, and_(IndicatorValue.indicator_id == ProgressRequest.indicator_id,
                                   IndicatorValue.year == ReportingPeriod.year))
        .where(ProgressRequest.id.in_(request_ids),
               IndicatorValue.explanation_asked_at.is_not(None))).all()
    out = {}
    for rid, iv, ind, plan in rows:
        a = assess(kind=ind.kind, comparator=ind.comparator, target=ind.target,
                   baseline=ind.baseline, value=iv.value, year=iv.year, base=base_year(plan),
                   last=plan.last_year)
        target = target_text(ind.comparator, ind.target, ind.unit)
        if ind.kind == IndicatorKind.GROWTH:
            summary = (f"{iv.year}年{ind.level_name}{iv.value:g}{ind.level_unit}，按{base_year(plan)}"
                       f"年基期值{_num(ind.baseline, ind.level_unit or '')}计算的年均增速为"
                       f"{_num(a.actual, ind.unit)}，未达到目标值{target}。")
        else:
            summary = (f"{iv.year}年实际值{_num(a.actual, ind.unit)}，未达到年度应达值"
                       f"{_num(a.expected, ind.unit)}（{base_year(plan)}年基期值"
                       f"{_num(ind.baseline, ind.unit)}，{plan.last_year}年目标值{target}）。")
        out[rid] = {"asked_at": iv.explanation_asked_at, "text": iv.explanation,
                    "explained_at": iv.explained_at, "year": iv.year,
                    "expected": _num(a.expected, ind.unit), "actual": _num(a.actual, ind.unit),
                    "target": target, "summary": summary}
    return out


def pending_explanation_requests() -> Any:
    """A SELECT of the indicator requests whose value awaits its owner's explanation (asked,
    not written): the liaison's list keeps them among the items to act on."""
    return (select(ProgressRequest.id)
            .join(ReportingPeriod, ReportingPeriod.id == ProgressRequest.period_id)
            .join(IndicatorValue, and_(IndicatorValue.indicator_id == ProgressRequest.indicator_id,
                                       IndicatorValue.year == ReportingPeriod.year))
            .where(IndicatorValue.explanation_asked_at.is_not(None),
                   IndicatorValue.explanation.is_(None)))


# --- the office's page ----------------------------------------------------------------------


@dataclass
class IndicatorPage:
    """What the desk's 主要指标 page shows for one plan and data year: the trajectory table
    as records, the years one can choose, the base year, and each indicator's code, name
    and the unit its baseline is recorded in (for the baseline form)."""

    plan: Plan
    year: int
    years: list[int]
    base_year: int
    rows: list[dict[str, Any]]
    indicators: list[tuple[str, str, str]]  # (code, name, baseline unit)


def indicator_page(session: Session, plan: Plan, year: int | None, today: dt.date) -> IndicatorPage:
    """The desk page's data: `year` (a data year of the plan; by default the last year
    before `today`'s, kept within the plan's period) and `trajectory_table` for it. Two
    queries."""
    years = list(range(plan.first_year, plan.last_year + 1))
    chosen = year if year in years else min(max(today.year - 1, plan.first_year), plan.last_year)
    table = trajectory_table(session, plan, chosen)
    indicators = [(code, name, (level_unit if kind == IndicatorKind.GROWTH else unit) or "")
                  for code, name, kind, unit, level_unit in session.execute(
                      select(Indicator.code, Indicator.name, Indicator.kind, Indicator.unit,
                             Indicator.level_unit)
                      .where(Indicator.plan_id == plan.id, Indicator.active.is_(True))
                      .order_by(Indicator.id))]
    units = {code: unit for code, _name, unit in indicators}
    rows = [{**r, "基期值单位": units.get(r["编号"], "")} for r in table.to_dict("records")]
    return IndicatorPage(plan, chosen, years, base_year(plan), rows, indicators)
