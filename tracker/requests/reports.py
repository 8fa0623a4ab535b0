"""Recording progress reports (进展情况反馈): validated, versioned, set-based.

A report answers its request and stops the ladder; a report after the due day (end of
day, Asia/Shanghai) counts as late (DESIGN.md). Every submission is a new version; the
first submission decides whether the request was answered on time.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import Select, delete, func, insert, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tracker.enums import IndicatorKind, PeriodKind, ProgressStatus, RequestState, ReviewState
from tracker.errors import DomainError
from tracker.models import (
    AuditEvent,
    Evidence,
    Indicator,
    IndicatorValue,
    ProgressReport,
    ProgressRequest,
    ReportDraft,
    ReportingPeriod,
)
from tracker.requests.rules import is_late, late_sql
from tracker.sql import id_set, insert_ignore_values
from tracker.text import PlainText


class ReportError(DomainError):
    """A batch cannot be recorded; `problems` maps each request id to the reason (Chinese).

    `code` is "waived" (status 409) when a request was waived, else "invalid".
    """

    def __init__(self, problems: dict[int, str], *, waived: bool = False):
        self.problems = problems
        super().__init__("；".join(f"请求 {k}：{v}" for k, v in problems.items()),
                         status=409 if waived else 422, code="waived" if waived else "invalid")


FIELD_LABELS = {"status": "状态", "percent": "完成进度", "value": "指标数值",
                "numerator": "分子", "denominator": "分母", "source": "数据来源",
                "narrative": "工作进展", "problems": "需协调解决的问题", "next_steps": "下步计划"}
MAX_TEXT = 20000
MAX_SOURCE = 500  # 数据来源: a document or statistic's name
# A task's own 完成时限 (a milestone, tracker.requests.milestones) is answered by a
# 完成情况报告: 已完成, or why not and by when (issue 13, build item 5).
MILESTONE_EXPLANATION = "该任务已到完成时限：未完成的，须在工作进展中说明未完成的原因和完成时间安排"
# A rate's value agrees with numerator / denominator x 100 when they differ by at most
# this many percentage points: the value rounded to one decimal place (issue 11, item 3).
RATE_TOLERANCE = 0.05


class ReportInput(BaseModel):
    """One liaison answer. A narrative is required when the status is delayed or blocked.

    Cross-field rules raise errors whose `ctx["field"]` names the field they are about and
    whose message is already Chinese; `input_problems` turns any ValidationError of this
    model into (field, Chinese message) pairs for the form and the Excel import.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    request_id: int
    status: ProgressStatus
    percent: int = Field(ge=0, le=100)
    narrative: PlainText = Field("", max_length=MAX_TEXT)
    problems: PlainText = Field("", max_length=MAX_TEXT)
    next_steps: PlainText = Field("", max_length=MAX_TEXT)
    value: float | None = None  # indicator requests only
    # a rate indicator's numerator and denominator (both or neither) and the data's source
    numerator: float | None = None
    denominator: float | None = None
    source: PlainText = Field("", max_length=MAX_SOURCE)

    @model_validator(mode="after")
    def _narrative_when_off_track(self) -> ReportInput:
        for kind, field, text in cross_field_problems(
                self.status, self.percent, self.narrative, self.value,
                self.numerator, self.denominator):
            raise PydanticCustomError(kind, text, {"field": field})
        if self.value is None and self.numerator is not None and self.denominator:
            # a rate left empty is computed from its numerator and denominator (2 decimals)
            self.value = rate_of(self.numerator, self.denominator)
        return self


def rate_of(numerator: float, denominator: float) -> float:
    """numerator / denominator x 100, in %, rounded half up to 2 decimal places."""
    from tracker.annual.indicators import round2

    return round2(numerator / denominator * 100)


def cross_field_problems(status: Any, percent: Any, narrative: str, value: Any,
                         numerator: Any = None, denominator: Any = None
                         ) -> list[tuple[str, str, str]]:
    """The rules between an answer's fields, as (error type, field, Chinese text), each
    checked on whatever of them is valid by itself (a percent of 150 does not hide a
    missing narrative): a narrative when the status is delayed or blocked; 100 when it is
    completed; a finite indicator value; a numerator and a denominator both or neither,
    finite, not negative, the denominator above 0; a value given with them equal to
    numerator / denominator x 100 within `RATE_TOLERANCE` percentage points. Rule source:
    DESIGN.md (进展情况反馈) and issue 11, item 3 (the owner's numerator and denominator).
    """
    out: list[tuple[str, str, str]] = []
    if isinstance(value, float) and not (math.isfinite(value) and abs(value) < 1e9):
        out.append(("value_not_finite", "value", "指标数值须为有效数字。"))
        value = None
    elif isinstance(value, float) and value < 0:
        out.append(("value_negative", "value", "指标数值不能为负数。"))
        value = None
    n_ok = _sane(numerator)
    d_ok = _sane(denominator)
    if numerator is not None and not n_ok:
        out.append(("numerator_invalid", "numerator", "分子须为不小于 0 的有效数字。"))
    if denominator is not None and not (d_ok and denominator > 0):
        out.append(("denominator_invalid", "denominator", "分母须为大于 0 的有效数字。"))
        d_ok = False
    if (numerator is None) != (denominator is None):
        missing = "denominator" if denominator is None else "numerator"
        out.append((f"{missing}_required", missing,
                    f"填写了{'分子' if missing == 'denominator' else '分母'}时，须同时填写"
                    f"{FIELD_LABELS[missing]}。"))
    if n_ok and d_ok and not numerator / denominator * 100 < 1e9:
        out.append(("ratio_out_of_range", "denominator",
                    "分子÷分母×100 超出有效范围，请核对分子和分母的单位。"))
        d_ok = False
    if n_ok and d_ok and isinstance(value, float):
        rate = numerator / denominator * 100
        if abs(value - rate) > RATE_TOLERANCE + 1e-9:
            out.append(("value_not_ratio", "value",
                        f"指标数值（{value:g}%）与分子÷分母×100（{rate:.2f}%）不一致，请核对；"
                        "也可不填指标数值，由系统按分子、分母计算。"))
    if status in (ProgressStatus.DELAYED, ProgressStatus.BLOCKED) and not narrative.strip():
        out.append(("narrative_required", "narrative", "状态为滞后或受阻时，须填写工作进展。"))
    if status == ProgressStatus.COMPLETED and isinstance(percent, int) and percent != 100:
        out.append(("completed_not_100", "percent", "状态为已完成时，完成进度须为 100。"))
    return out


def _sane(x: Any) -> bool:
    return isinstance(x, float) and math.isfinite(x) and 0 <= x < 1e12


def input_problems(exc: ValidationError) -> list[tuple[str, str]]:
    """(field, Chinese message) for each error of a ReportInput validation, by error type.

    Our own rules carry their field in `ctx`; pydantic's field errors are named by their
    location and type code, never by their (English) message.
    """
    out: list[tuple[str, str]] = []
    for err in exc.errors():
        ctx = err.get("ctx") or {}
        field = str(ctx.get("field") or (err["loc"][0] if err["loc"] else ""))
        kind = err["type"]
        if "field" in ctx:
            text = err["msg"]
        elif kind == "string_too_long":
            limit = MAX_SOURCE if field == "source" else MAX_TEXT
            text = f"{FIELD_LABELS.get(field, '内容')}过长（最多 {limit} 字）。"
        elif field == "status":
            text = "请选择状态。"
        elif field == "percent":
            text = "完成进度须为 0 到 100 的整数。"
        elif field == "value":
            text = "指标数值须为有效数字。"
        elif field in ("numerator", "denominator"):
            text = f"{FIELD_LABELS[field]}须为有效数字。"
        else:
            text = f"{FIELD_LABELS.get(field, '内容')}：填写有误。"
        out.append((field, text))
    return out


class AnswerError(DomainError):
    """A form's answer that is not a valid ReportInput: `problems` are the Chinese texts
    of `input_problems`, one per fault, for the form shown again with what was typed;
    `fields` the same as (field name, text) pairs, so a page can put each beside its field."""

    def __init__(self, problems: list[str], fields: list[tuple[str, str]] | None = None):
        self.problems = problems
        self.fields = fields if fields is not None else [("", p) for p in problems]
        super().__init__("；".join(problems))


def answer_input(request_id: int, fields: Mapping[str, str]) -> ReportInput:
    """A ReportInput from an answer form's fields as typed (text; an empty status, percent
    or value is "not given"). Raises AnswerError naming every fault in Chinese."""
    try:
        return ReportInput.model_validate({
            "request_id": request_id, "status": fields.get("status") or None,
            "percent": fields.get("percent") or None, "narrative": fields.get("narrative", ""),
            "problems": fields.get("problems", ""), "next_steps": fields.get("next_steps", ""),
            "value": fields.get("value") or None, "numerator": fields.get("numerator") or None,
            "denominator": fields.get("denominator") or None,
            "source": fields.get("source", "")})
    except ValidationError as exc:
        found = input_problems(exc)
        # pydantic stops before the cross-field rules when a field is invalid: check them
        # on the fields that are valid, so every fault is reported at once (issue 10)
        bad = {field for field, _ in found}
        status = _parsed(ProgressStatus, fields.get("status")) if "status" not in bad else None
        percent = _parsed(int, fields.get("percent")) if "percent" not in bad else None
        value, numerator, denominator = (
            _parsed(float, fields.get(k)) if k not in bad else None
            for k in ("value", "numerator", "denominator"))
        for _kind, field, text in cross_field_problems(
                status, percent, str(fields.get("narrative") or ""), value, numerator,
                denominator):
            if (field, text) not in found:
                found.append((field, text))
        order = list(FIELD_LABELS)
        found.sort(key=lambda p: order.index(p[0]) if p[0] in order else len(order))
        raise AnswerError([text for _field, text in found], found) from exc


def _parsed(kind: Any, text: str | None) -> Any:
    try:
        return kind(str(text).strip()) if text not in (None, "") else None
    except ValueError:
        return None


@dataclass
class RecordResult:
    recorded: int
    on_time: int
    late: int
    report_ids: list[int]


def record_reports(
    session: Session, items: list[ReportInput], *, submitted_by: str, now: dt.datetime,
    source: str = "web", max_attempts: int = 5,
) -> RecordResult:
    """Record a batch of reports in a few statements; all or nothing.

    Raises ReportError if a request is unknown, waived, an indicator request lacks its
    value, or a milestone's (a task's 完成时限) is neither 已完成 nor explained in its
    narrative (`MILESTONE_EXPLANATION`). Concurrent submissions to the same request both
    land as versions: a clash on (request, version) retries inside a savepoint. Does not
    commit.
    """
    if not items:
        return RecordResult(0, 0, 0, [])
    for attempt in range(max_attempts):
        try:
            with session.begin_nested():
                return _record(session, items, submitted_by, now, source)
        except IntegrityError:
            if attempt == max_attempts - 1:
                raise
    raise AssertionError("unreachable")


def submit_answer(session: Session, *, request_id: int, fields: Mapping[str, str],
                  submitted_by: str, now: dt.datetime, source: str = "web") -> RecordResult:
    """Check one answer typed in a form (`answer_input`) and record it as a new version.

    Raises AnswerError (the answer's faults), or ReportError (unknown request, a waived
    one: code "waived", 409; an indicator without its value). Does not commit.
    """
    item = answer_input(request_id, fields)
    return record_reports(session, [item], submitted_by=submitted_by, now=now, source=source)


def _record(session: Session, items: list[ReportInput], by: str, now: dt.datetime,
            source: str) -> RecordResult:
    # the batch's request ids sit in a temporary table for its statements (tracker.sql.
    # id_set): a sheet of thousands of rows binds no parameter per row
    ids = [i.request_id for i in items]
    with id_set(session, ids) as batch:
        return _record_batch(session, items, ids, batch, by, now, source)


def _record_batch(session: Session, items: list[ReportInput], ids: list[int],
                  batch: Select[int], by: str, now: dt.datetime, source: str) -> RecordResult:
    rows = session.execute(
        select(ProgressRequest.id, ProgressRequest.state, ProgressRequest.due_on,
               ProgressRequest.indicator_id, ReportingPeriod.year,
               func.coalesce(func.max(ProgressReport.version), 0), Indicator.kind,
               Indicator.level_name, Indicator.level_unit, ReportingPeriod.kind)
        .join(ReportingPeriod, ReportingPeriod.id == ProgressRequest.period_id)
        .outerjoin(ProgressReport, ProgressReport.request_id == ProgressRequest.id)
        .outerjoin(Indicator, Indicator.id == ProgressRequest.indicator_id)
        .where(ProgressRequest.id.in_(batch))
        .group_by(ProgressRequest.id, ProgressRequest.state, ProgressRequest.due_on,
                  ProgressRequest.indicator_id, ReportingPeriod.year, Indicator.kind,
                  Indicator.level_name, Indicator.level_unit, ReportingPeriod.kind)
    ).all()
    info = {r[0]: r for r in rows}
    problems: dict[int, str] = {}
    waived = False
    for item in items:
        r = info.get(item.request_id)
        if r is None:
            problems[item.request_id] = "没有该报送事项"
        elif r[1] == RequestState.WAIVED:
            problems[item.request_id] = "该事项已免报，无需报送"
            waived = True
        elif r[3] is not None and item.value is None:
            problems[item.request_id] = "该指标须填写指标数值"
        elif r[3] is not None and r[6] == IndicatorKind.GROWTH and item.numerator is not None:
            problems[item.request_id] = (f"该指标报送{r[7] or '水平值'}（{r[8] or ''}），"
                                         "无需填写分子、分母")
        elif (r[9] == PeriodKind.MILESTONE and item.status != ProgressStatus.COMPLETED
              and not item.narrative.strip()):
            problems[item.request_id] = MILESTONE_EXPLANATION
    if problems:
        raise ReportError(problems, waived=waived)

    versions: dict[int, int] = {rid: info[rid][5] for rid in info}
    report_rows = []
    for item in items:
        versions[item.request_id] += 1
        late = is_late(info[item.request_id][2], now)
        report_rows.append(dict(
            request_id=item.request_id, version=versions[item.request_id], status=item.status,
            percent=item.percent, narrative=item.narrative, problems=item.problems,
            next_steps=item.next_steps, submitted_at=now, submitted_by=by,
            # a value means something only for an indicator request
            value=item.value if info[item.request_id][3] is not None else None,
            numerator=item.numerator if info[item.request_id][3] is not None else None,
            denominator=item.denominator if info[item.request_id][3] is not None else None,
            value_source=(item.source or None) if info[item.request_id][3] is not None else None,
            late=late, source=source, review_state=ReviewState.PENDING,
        ))
    report_ids = list(session.scalars(
        insert(ProgressReport).returning(ProgressReport.id, sort_by_parameter_order=True),
        report_rows,
    ))
    # An answer closes the request and stops the ladder. The first answer decides whether
    # it was on time: a request reopened by a returned report keeps that first verdict.
    # Inside coalesce() `now` takes no type from the column: bind it as the column's type so
    # UTCDateTime converts it to UTC (SQLite would otherwise store the Beijing wall time).
    answered_at = literal(now, ProgressRequest.answered_at.type)
    session.execute(
        update(ProgressRequest)
        .where(ProgressRequest.id.in_(batch), ProgressRequest.state == RequestState.OPEN.value)
        .values(state=RequestState.ANSWERED.value,
                answered_at=func.coalesce(ProgressRequest.answered_at, answered_at),
                answered_late=func.coalesce(ProgressRequest.answered_late, late_sql(now)),
                next_action_on=None)
    )
    # Evidence uploaded before submitting belongs to the version it was submitted with:
    # the newest report of its request (this batch's, just inserted)
    newest = (select(func.max(ProgressReport.id))
              .where(ProgressReport.request_id == Evidence.request_id)
              .scalar_subquery())
    session.execute(update(Evidence).where(Evidence.request_id.in_(batch),
                                           Evidence.report_id.is_(None))
                    .values(report_id=newest))
    session.execute(delete(ReportDraft).where(ReportDraft.request_id.in_(batch)))
    _record_indicator_values(session, items, info, report_ids, now)
    session.add(AuditEvent(
        at=now, actor=by, action=f"report.submit.{source}", object_type="progress_request",
        object_id=",".join(str(i) for i in sorted(set(ids)))[:100],
        detail={"reports": report_ids, "versions": {str(k): v for k, v in versions.items()}},
    ))
    session.flush()
    n_late = sum(1 for r in report_rows if r["late"])
    return RecordResult(len(report_rows), len(report_rows) - n_late, n_late, report_ids)


def _record_indicator_values(session, items, info, report_ids, now) -> None:  # type: ignore[no-untyped-def]
    latest: dict[int, dict[str, object]] = {}
    for item, rid in zip(items, report_ids, strict=True):
        ind = info[item.request_id][3]
        if ind is not None:
            latest[ind] = dict(indicator_id=ind, year=info[item.request_id][4], value=item.value,
                               numerator=item.numerator, denominator=item.denominator,
                               source=item.source or None, report_id=rid, recorded_at=now)
    if not latest:
        return
    insert_ignore_values(session, IndicatorValue.__table__, list(latest.values()))  # type: ignore[arg-type]
    for row in latest.values():  # a corrected value replaces the earlier one
        session.execute(update(IndicatorValue).where(
            IndicatorValue.indicator_id == row["indicator_id"], IndicatorValue.year == row["year"]
        ).values(value=row["value"], numerator=row["numerator"],
                 denominator=row["denominator"], source=row["source"],
                 report_id=row["report_id"], recorded_at=now))
    # off its trajectory, the value is followed up by the daily job indicator_trajectory
    # (tracker.annual.indicators.follow_up_off_trajectory)
