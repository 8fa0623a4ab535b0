"""Tracking state: periods, progress requests and reports, escalations, meetings, values."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from tracker.enums import (
    ExtensionState,
    MeetingState,
    PeriodKind,
    ProgressStatus,
    RequestState,
    ReviewState,
)
from tracker.models.base import Base
from tracker.models.plan import enum_column


class ReportingPeriod(Base):
    """A reporting period (quarter, or a year for indicator values) with its rule dates."""

    __tablename__ = "reporting_period"
    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id"))
    kind: Mapped[PeriodKind] = mapped_column(enum_column(PeriodKind))
    label: Mapped[str] = mapped_column(String(20))  # 2017Q1, 2017
    year: Mapped[int]
    starts_on: Mapped[dt.date]
    ends_on: Mapped[dt.date]
    issue_on: Mapped[dt.date]  # requests open on this day (Asia/Shanghai)
    due_on: Mapped[dt.date]  # reports due by the end of this day
    # due_on was counted over a day of a year the calendar does not cover (provisional)
    due_provisional: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    opened_at: Mapped[dt.datetime | None]
    __table_args__ = (UniqueConstraint("plan_id", "label"),)


class ProgressRequest(Base):
    """One request for progress (进展调度) per assignment (or indicator) per period.

    `next_action_on` is the day the request next needs attention (the next ladder rung).
    The daily runs (sweep, pre-due) read one plan at a time through
    `ix_progress_request_plan_sweep` (period, state, due day, next action day): a plan's
    periods, its open requests, one due day, the rows due by a day (STYLE.md #5), so a
    plan's sweep never reads another plan's rows.
    """

    __tablename__ = "progress_request"
    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("reporting_period.id"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    assignment_id: Mapped[int | None] = mapped_column(ForeignKey("assignment.id"))
    indicator_id: Mapped[int | None] = mapped_column(ForeignKey("indicator.id"))
    issued_on: Mapped[dt.date]
    original_due_on: Mapped[dt.date]
    due_on: Mapped[dt.date]  # moves with a granted extension
    # due_on is its period's, counted over an uncovered year: shown as 暂定 until the year's
    # notice is loaded (tracker.dates.stored recomputes it)
    due_provisional: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    state: Mapped[RequestState] = mapped_column(enum_column(RequestState), default=RequestState.OPEN)
    level: Mapped[int] = mapped_column(default=0)  # highest ladder rung reached, 0 = none
    ladder_round: Mapped[int] = mapped_column(default=0)  # +1 each time a return reopens it
    next_action_on: Mapped[dt.date | None]
    answered_at: Mapped[dt.datetime | None]
    answered_late: Mapped[bool | None] = mapped_column(Boolean)
    waive_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime]
    __table_args__ = (
        UniqueConstraint("period_id", "assignment_id"),
        UniqueConstraint("period_id", "indicator_id"),
        CheckConstraint(
            "(assignment_id IS NULL) != (indicator_id IS NULL)", name="one_subject"
        ),
        Index("ix_progress_request_plan_sweep", "period_id", "state", "due_on", "next_action_on"),
        # the board's counts per light, read from the index alone (migration 0019)
        Index("ix_progress_request_board", "state", "due_on", "answered_late", "period_id",
              "agency_id", "level"),
        # the board's page of one light in its order (due day, agency, …; migration 0020)
        Index("ix_progress_request_board_order", "state", "due_on", "agency_id", "id"),
    )


class BoardTally(Base):
    """The overdue board's running counts of requests (issue 14, item 4): how many requests
    of a period and agency, in a section (`section` "" and `indicator` true: an indicator's
    request) and role ("" for an indicator), at a ladder level, in a state, answered late or
    not (`late`: 1 true, 0 false, -1 not answered), due on a day. Every column the board's
    filters and figures read, none that changes with the day: the light is computed from
    state, due day and `late` on reading (`tracker.desk.tally`).

    Kept by database triggers on progress_request, assignment and measure (migration 0020,
    SQL in `tracker.desk.tally`), never written by the program; a row whose `n` fell to 0
    stays (it counts nothing).
    """

    __tablename__ = "board_tally"
    period_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    agency_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    indicator: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    section: Mapped[str] = mapped_column(String(100), primary_key=True)
    role: Mapped[str] = mapped_column(String(32), primary_key=True)
    level: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    state: Mapped[str] = mapped_column(String(32), primary_key=True)
    late: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    due_on: Mapped[dt.date] = mapped_column(primary_key=True)
    n: Mapped[int]
    __table_args__ = (Index("ix_board_tally_agency", "agency_id"),)


class ProgressReport(Base):
    """A liaison's answer (进展情况反馈). Every submission is a new version, never overwritten."""

    __tablename__ = "progress_report"
    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("progress_request.id"))
    version: Mapped[int]
    status: Mapped[ProgressStatus] = mapped_column(enum_column(ProgressStatus))
    percent: Mapped[int]
    narrative: Mapped[str] = mapped_column(Text, default="")
    problems: Mapped[str] = mapped_column(Text, default="")
    next_steps: Mapped[str] = mapped_column(Text, default="")
    value: Mapped[float | None]  # indicator value, for indicator requests
    numerator: Mapped[float | None]  # a rate indicator's 分子 and 分母, when given
    denominator: Mapped[float | None]
    value_source: Mapped[str | None] = mapped_column(Text)  # 数据来源 of an indicator value
    submitted_at: Mapped[dt.datetime]
    submitted_by: Mapped[str] = mapped_column(String(200))
    late: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(20), default="web")  # web, excel, cli, demo
    review_state: Mapped[ReviewState] = mapped_column(
        enum_column(ReviewState), default=ReviewState.PENDING)
    review_comment: Mapped[str | None] = mapped_column(Text)
    reviewed_by: Mapped[str | None] = mapped_column(String(200))
    reviewed_at: Mapped[dt.datetime | None]
    __table_args__ = (
        UniqueConstraint("request_id", "version"),
        CheckConstraint("percent BETWEEN 0 AND 100", name="percent_range"),
    )


class Escalation(Base):
    """A ladder rung fired for a request; `effective_on` is the rule's date, not the run's."""

    __tablename__ = "escalation"
    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("progress_request.id"))
    round: Mapped[int] = mapped_column(default=0)  # the request's ladder_round when fired
    level: Mapped[int]  # a Level value
    effective_on: Mapped[dt.date]
    created_at: Mapped[dt.datetime]
    # when the rung's notice to its primary recipient was delivered (set by the dispatcher):
    # a 督办 counts against the agency in the scorecard only once delivered (issue 11)
    notified_at: Mapped[dt.datetime | None]
    __table_args__ = (UniqueConstraint("request_id", "round", "level"),)


class ExecutiveMeeting(Base):
    """A government executive meeting (政府常务会议) that studied the plan.

    `government` is the district government's name, or the plan's city government. A
    liaison's record waits for the office (`state` pending) and counts for the year's duty
    only once confirmed; one the office records itself is confirmed at once. The minutes
    (会议纪要) are a file stored like evidence (HOME/evidence/<sha256[:2]>/<sha256>).
    """

    __tablename__ = "executive_meeting"
    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id"))
    government: Mapped[str] = mapped_column(String(200))
    held_on: Mapped[dt.date]
    topic: Mapped[str] = mapped_column(Text, default="")
    recorded_at: Mapped[dt.datetime]
    recorded_by: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200), default="")  # 会议名称及届次
    decisions: Mapped[str] = mapped_column(Text, default="")  # 研究决定事项
    state: Mapped[MeetingState] = mapped_column(
        enum_column(MeetingState), default=MeetingState.CONFIRMED, index=True)
    minutes_filename: Mapped[str | None] = mapped_column(String(255))
    minutes_media_type: Mapped[str | None] = mapped_column(String(100))
    minutes_size: Mapped[int | None]
    minutes_sha256: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime | None]
    decided_at: Mapped[dt.datetime | None]  # confirmed or returned by the office
    decided_by: Mapped[str | None] = mapped_column(String(200))
    return_reason: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (UniqueConstraint("plan_id", "government", "held_on"),)


class MeetingCompliance(Base):
    """The year-end finding per government: met the ≥ 1 meeting a year duty or not."""

    __tablename__ = "meeting_compliance"
    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id"))
    year: Mapped[int]
    government: Mapped[str] = mapped_column(String(200))
    meetings: Mapped[int]
    compliant: Mapped[bool] = mapped_column(Boolean)
    recorded_at: Mapped[dt.datetime]
    __table_args__ = (UniqueConstraint("plan_id", "year", "government"),)


class IndicatorValue(Base):
    """The value of a headline indicator for a year, from the owner's latest report.

    `value` is what the owner reports: the rate (%) of a rate indicator, the level (e.g.
    元) of a growth indicator, whose growth is computed (tracker.annual.indicators). Off
    its trajectory, once per indicator and year: a binding one is escalated to the
    supervision office (`escalated_at`), an expected one asks its owner for a written
    explanation (`explanation_asked_at`, then `explanation`, `explained_at`, `explained_by`).
    """

    __tablename__ = "indicator_value"
    id: Mapped[int] = mapped_column(primary_key=True)
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicator.id"))
    year: Mapped[int]
    value: Mapped[float]
    numerator: Mapped[float | None]
    denominator: Mapped[float | None]
    source: Mapped[str | None] = mapped_column(Text)  # 数据来源
    report_id: Mapped[int] = mapped_column(ForeignKey("progress_report.id"))
    recorded_at: Mapped[dt.datetime]
    escalated_at: Mapped[dt.datetime | None]
    explanation_asked_at: Mapped[dt.datetime | None]
    explanation: Mapped[str | None] = mapped_column(Text)
    explained_at: Mapped[dt.datetime | None]
    explained_by: Mapped[str | None] = mapped_column(String(200))
    __table_args__ = (UniqueConstraint("indicator_id", "year"),)


class ScorecardRun(Base):
    """The issued scorecard of a plan year (考核记分卡, issue 11): the workbook and the detail
    CSV exactly as issued, the scoring rules they used (a copy, so the card can be
    reproduced after the rules change), and when it was issued or regenerated on purpose."""

    __tablename__ = "scorecard_run"
    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id"))
    year: Mapped[int]
    path: Mapped[str] = mapped_column(Text)
    figures_hash: Mapped[str] = mapped_column(String(64))
    written_at: Mapped[dt.datetime]  # when first issued
    rules_version: Mapped[str] = mapped_column(String(40), default="")
    rules: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # ScoringRules.model_dump()
    workbook: Mapped[bytes | None] = mapped_column(LargeBinary)
    # the escalation detail CSV, gzip-packed (annual.checkpoint.pack_csv; plain before 2026-12);
    # deferred: loaded only when the detail is asked for
    detail_csv: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    data_as_of: Mapped[dt.date | None]
    # the issued card's own tables (summary, indicators), as pandas "split" JSON: the
    # plan's multi-year summary reprints them as issued, never recomputed from later data
    tables: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    regenerated_at: Mapped[dt.datetime | None]  # the latest deliberate regeneration
    regenerated_by: Mapped[str | None] = mapped_column(String(200))
    __table_args__ = (UniqueConstraint("plan_id", "year"),)


class ReportDraft(Base):
    """A liaison's unsent answer, one per request, overwritten on each save."""

    __tablename__ = "report_draft"
    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("progress_request.id"), unique=True)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON)
    saved_at: Mapped[dt.datetime]
    saved_by: Mapped[str] = mapped_column(String(200))


class Evidence(Base):
    """An evidence file (佐证材料) attached to a request, stored on disk by content hash."""

    __tablename__ = "evidence"
    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("progress_request.id"), index=True)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("progress_report.id"))
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[dt.datetime]
    uploaded_by: Mapped[str] = mapped_column(String(200))


class ExtensionRequest(Base):
    """延期申请: a liaison asks for a later due day; the supervision office decides."""

    __tablename__ = "extension_request"
    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("progress_request.id"), index=True)
    requested_due_on: Mapped[dt.date]
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[ExtensionState] = mapped_column(
        enum_column(ExtensionState), default=ExtensionState.PENDING)
    asked_at: Mapped[dt.datetime]
    asked_by: Mapped[str] = mapped_column(String(200))
    decided_at: Mapped[dt.datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decision_note: Mapped[str | None] = mapped_column(Text)
