"""Review (审核) by the supervision office of a submitted report.

Accepting marks a report version accepted. Returning it (with a comment) reopens the
request: the liaison is notified and answers again; the first answer still decides
whether the request was on time, and the due day moves to at least
`Rules.return_working_days` working days after the return so the ladder does not fire
at once. A measure is closed out only when its lead's latest report says completed,
has evidence attached, and the office signs it off.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from sqlalchemy import exists, insert, select, update
from sqlalchemy.orm import Session, aliased

from tracker.dates.workdays import local_date
from tracker.enums import MessageKind, RequestState, ReviewState
from tracker.errors import DomainError, NotFound
from tracker.models import (
    AuditEvent,
    ProgressReport,
    ProgressRequest,
)
from tracker.outbox import enqueue_to_agency
from tracker.policy import Policy
from tracker.requests.rules import next_action_day
from tracker.requests.subjects import plan_of_request


class ReviewError(DomainError):
    """A refusal with its reason in Chinese (tracker.errors)."""


def report_request_id(session: Session, report_id: int) -> int:
    """The id of the request a report version answers. Raises NotFound (404) if unknown."""
    request_id = session.scalar(select(ProgressReport.request_id)
                                .where(ProgressReport.id == report_id))
    if request_id is None:
        raise NotFound(f"没有编号为 {report_id} 的报告")
    return request_id


def _latest_version(session: Session, request_id: int) -> int:
    return session.scalar(select(ProgressReport.version).where(
        ProgressReport.request_id == request_id).order_by(ProgressReport.version.desc()).limit(1)) or 0


def _reviewable(session: Session, report_id: int) -> ProgressReport:
    """The report, if it is its request's latest version and not reviewed yet."""
    # locked (PostgreSQL): of two reviews at once, the second sees the first's outcome
    report = session.get(ProgressReport, report_id, with_for_update=True, populate_existing=True)
    if report is None:
        raise ReviewError(f"没有编号为 {report_id} 的报告")
    if report.version != _latest_version(session, report.request_id):
        raise ReviewError("已有更新的版本，请审核最新版本")
    if report.review_state != ReviewState.PENDING:
        raise ReviewError("该报告已审核过（可能在另一窗口已处理），请刷新页面")
    return report


def accept_report(session: Session, report_id: int, *, reviewer: str, comment: str,
                  now: dt.datetime) -> ProgressReport:
    """Accept a report version. Raises ReviewError if unknown, superseded or reviewed."""
    report = _reviewable(session, report_id)
    report.review_state, report.review_comment = ReviewState.ACCEPTED, comment or None
    report.reviewed_by, report.reviewed_at = reviewer, now
    session.add(AuditEvent(at=now, actor=reviewer, action="report.accept",
                           object_type="progress_request", object_id=str(report.request_id),
                           detail={"report": report_id, "comment": comment}))
    return report


MAX_CHECKED = 100  # reports accepted at once: a queue page holds 50


def accept_reports(session: Session, report_ids: Collection[int], *, reviewer: str,
                   now: dt.datetime) -> list[int]:
    """Accept the review queue's checked reports at once (审核通过, no comment): one UPDATE
    of those that are still their request's latest version and pending, one audit row
    each. Others (reviewed meanwhile, or superseded by a newer version) are left as they
    are. Returns the ids accepted, in ascending order. Does not commit.

    `report_ids`: at most MAX_CHECKED ids (a queue page's checkboxes); raises ReviewError
    for more, or for none.
    """
    ids = sorted(set(report_ids))
    if not ids:
        raise ReviewError("请先勾选要审核通过的报送")
    if len(ids) > MAX_CHECKED:
        raise ReviewError(f"一次最多审核通过 {MAX_CHECKED} 项")
    later = aliased(ProgressReport)
    accepted = session.execute(
        update(ProgressReport)
        .where(ProgressReport.id.in_(ids),
               ProgressReport.review_state == ReviewState.PENDING,
               ~exists().where(later.request_id == ProgressReport.request_id,
                               later.version > ProgressReport.version))
        .values(review_state=ReviewState.ACCEPTED, review_comment=None,
                reviewed_by=reviewer, reviewed_at=now)
        .returning(ProgressReport.id, ProgressReport.request_id)
        .execution_options(synchronize_session=False)).all()
    if accepted:
        session.execute(insert(AuditEvent), [
            {"at": now, "actor": reviewer, "action": "report.accept",
             "object_type": "progress_request", "object_id": str(request_id),
             "detail": {"report": report_id, "comment": "", "checked": True}}
            for report_id, request_id in accepted])
    return sorted(report_id for report_id, _ in accepted)


def return_comment_problem(comment: str) -> str | None:
    """What is wrong with a return's comment (in Chinese, for beside the field), or None.
    A return must say what to change, in at most 5000 characters."""
    if not comment.strip():
        return "退回须填写意见，说明需要修改什么"
    if len(comment) > 5000:
        return "退回意见过长（最多 5000 字）"
    return None


def return_report(session: Session, report_id: int, *, reviewer: str, comment: str,
                  now: dt.datetime, policy: Policy) -> ProgressReport:
    """Return a report with a comment: reopen its request and notify the liaison.

    Raises ReviewError if unknown, superseded, or returned without a comment.
    """
    if (problem := return_comment_problem(comment)) is not None:
        raise ReviewError(problem)
    report = _reviewable(session, report_id)
    report.review_state, report.review_comment = ReviewState.RETURNED, comment.strip()
    report.reviewed_by, report.reviewed_at = reviewer, now
    req = session.get_one(ProgressRequest, report.request_id, with_for_update=True, populate_existing=True)
    earliest = policy.calendar.add(local_date(now), policy.rules.return_working_days)
    req.state = RequestState.OPEN
    req.due_on = max(req.due_on, earliest)
    req.level, req.ladder_round = 0, req.ladder_round + 1  # the ladder starts over
    req.next_action_on = next_action_day(req.due_on, 0, policy)
    session.add(AuditEvent(at=now, actor=reviewer, action="report.return",
                           object_type="progress_request", object_id=str(req.id),
                           detail={"report": report_id, "comment": comment,
                                   "due_on": req.due_on.isoformat()}))
    enqueue_to_agency(session, agency_id=req.agency_id,
                      key_prefix=f"ret:{report_id}", kind=MessageKind.REPORT_RETURNED,
                      payload={"version": report.version, "comment": comment.strip(),
                               "due_on": req.due_on.isoformat(), "request_id": req.id},
                      now=now, channel=policy.channel, request_id=req.id,
                      plan_id=plan_of_request(session, req.id))
    return report
