"""Extension requests (延期申请): asked before the due day, decided by the supervision office.

A granted extension moves the request's due day and its whole ladder with it (the next
rung is recomputed from the new due day); `original_due_on` keeps the first deadline,
and the scorecard counts granted extensions.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.dates.workdays import local_date
from tracker.enums import ExtensionState, MessageKind, RequestState
from tracker.errors import DomainError, NotFound
from tracker.models import AuditEvent, ExtensionRequest, ProgressRequest
from tracker.outbox import enqueue_to_agency
from tracker.policy import Policy
from tracker.requests.rules import next_action_day
from tracker.requests.subjects import plan_of_request

MAX_EXTENSION_DAYS = 90  # calendar days after the current due day


class ExtensionError(DomainError):
    """A refusal with its reason in Chinese (tracker.errors)."""


def ask_extension(session: Session, *, agency_id: int, request_id: int, new_due_on: dt.date,
                  reason: str, asked_by: str, now: dt.datetime) -> ExtensionRequest:
    """Record a liaison's request. Raises ExtensionError (Chinese) if not allowed.

    Allowed only for the agency's own open request, on or before its due day, for a later
    day, with a reason, and with no other request pending.
    """
    req = session.get(ProgressRequest, request_id)
    if req is None or req.agency_id != agency_id:
        raise ExtensionError("该任务不属于本单位")
    if req.state != RequestState.OPEN:
        raise ExtensionError("该任务已报送或已免报，无需延期")
    if local_date(now) > req.due_on:
        raise ExtensionError("已过截止日期，不能再申请延期")
    if new_due_on <= req.due_on:
        raise ExtensionError("申请的新截止日期须晚于现截止日期")
    if new_due_on > req.due_on + dt.timedelta(days=MAX_EXTENSION_DAYS):
        raise ExtensionError(f"延期不能超过现截止日期后 {MAX_EXTENSION_DAYS} 天")
    if not reason.strip():
        raise ExtensionError("请填写延期理由")
    if len(reason) > 2000:
        raise ExtensionError("延期理由过长（最多 2000 字）")
    if extension_pending(session, request_id):
        raise ExtensionError("已有待审批的延期申请")
    ext = ExtensionRequest(request_id=request_id, requested_due_on=new_due_on,
                           reason=reason.strip()[:5000], state=ExtensionState.PENDING,
                           asked_at=now, asked_by=asked_by)
    session.add(ext)
    # A pending request holds the ladder (rules.next_action_day(..., held=True) is None);
    # the decision resumes it.
    req.next_action_on = None
    session.flush()
    session.add(AuditEvent(at=now, actor=asked_by, action="extension.ask",
                           object_type="progress_request", object_id=str(request_id),
                           detail={"extension": ext.id, "new_due_on": new_due_on.isoformat()}))
    return ext


def extension_request_id(session: Session, extension_id: int) -> int:
    """The id of the request an extension request is about. Raises NotFound (404) if unknown."""
    request_id = session.scalar(select(ExtensionRequest.request_id)
                                .where(ExtensionRequest.id == extension_id))
    if request_id is None:
        raise NotFound(f"没有编号为 {extension_id} 的延期申请")
    return request_id


def extension_pending(session: Session, request_id: int) -> bool:
    """Whether the request has an extension request waiting for the office's decision."""
    return session.scalar(select(ExtensionRequest.id).where(
        ExtensionRequest.request_id == request_id,
        ExtensionRequest.state == ExtensionState.PENDING).limit(1)) is not None


def decide_extension(session: Session, extension_id: int, *, grant: bool, note: str,
                     decided_by: str, now: dt.datetime, policy: Policy) -> ExtensionRequest:
    """Grant or refuse. A grant moves the due day and the ladder. Notifies the liaison.

    Raises ExtensionError if the extension is unknown or already decided.
    """
    ext = session.get(ExtensionRequest, extension_id)
    if ext is None:
        raise ExtensionError(f"没有编号为 {extension_id} 的延期申请")
    if ext.state != ExtensionState.PENDING:
        done = "已批准" if ext.state == ExtensionState.GRANTED else "未批准"
        raise ExtensionError(f"延期申请 {extension_id} 已处理过（{done}）")
    req = session.get_one(ProgressRequest, ext.request_id)
    if req.state != RequestState.OPEN:
        raise ExtensionError("该事项已报送或已免报，无需延期")
    ext.state = ExtensionState.GRANTED if grant else ExtensionState.REFUSED
    ext.decided_at, ext.decided_by, ext.decision_note = now, decided_by, note
    before = req.due_on
    if grant:
        req.due_on = ext.requested_due_on
    # deciding lifts the hold of the pending request: the ladder resumes from the due day
    req.next_action_on = next_action_day(req.due_on, req.level, policy)
    session.add(AuditEvent(at=now, actor=decided_by, action="extension.decide",
                           object_type="progress_request", object_id=str(req.id),
                           detail={"extension": ext.id, "granted": grant, "note": note,
                                   "due_on": [before.isoformat(), req.due_on.isoformat()]}))
    enqueue_to_agency(session, agency_id=req.agency_id, key_prefix=f"ext:{ext.id}",
                      kind=MessageKind.EXTENSION_DECIDED,
                      payload={"granted": grant, "due_on": req.due_on.isoformat(),
                               "previous_due_on": before.isoformat(),
                               "requested_due_on": ext.requested_due_on.isoformat(),
                               "note": note, "request_id": req.id},
                      now=now, channel=policy.channel, request_id=req.id,
                      plan_id=plan_of_request(session, req.id))
    return ext
