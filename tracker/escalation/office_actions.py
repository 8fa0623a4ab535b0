"""The supervision office's actions on a request: escalate now, waive, add a note.

Each action is an audit event and, where it changes what people must do, a notification.
Escalating to the top rung does not send anything by itself: a circular (通报) is an
administrative act, drafted here and sent only after sign-off (tracker.escalation.circulars).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update
from sqlalchemy.orm import Session

from tracker.dates.workdays import local_date
from tracker.directory.agencies import office_id
from tracker.enums import ExtensionState, Level, MessageKind, RequestState, level_label
from tracker.errors import DomainError
from tracker.escalation.circulars import add_to_draft
from tracker.escalation.notices import draft_notices
from tracker.models import AuditEvent, Escalation, ExtensionRequest, Note, Plan, ProgressRequest
from tracker.outbox import enqueue_for_requests, enqueue_to_agency
from tracker.policy import Policy
from tracker.requests.extensions import extension_pending
from tracker.requests.rules import next_action_day
from tracker.requests.subjects import plan_of_request
from tracker.sql import insert_ignore_values


class ActionError(DomainError):
    """A refusal with its reason in Chinese (tracker.errors)."""


def escalate_now(session: Session, request_id: int, *, actor: str, now: dt.datetime,
                 policy: Policy, to_level: int | None = None) -> tuple[int, int]:
    """Fire the request's next rung today; returns (level reached, messages queued).

    `to_level` (a Level value) is the rung the office confirmed: when given and the next
    rung is another one (someone escalated meanwhile), nothing is done. Raises ActionError
    if the request is not open, is at the top rung already, or `to_level` is not its next.
    """
    # locked (PostgreSQL): two people acting at once are served one after the other
    req = session.get(ProgressRequest, request_id, with_for_update=True, populate_existing=True)
    if req is None or req.state != RequestState.OPEN:
        raise ActionError("只有待报送的事项可以督办")
    if to_level is not None and req.level + 1 != to_level:
        raise ActionError(f"该事项的督办等级已变为“{level_label(req.level)}”（可能已在另一窗口"
                          "处理），本次未升级；请刷新页面后核对")
    if req.level >= Level.CIRCULAR:
        raise ActionError("已到最高一级（通报）")
    if local_date(now) <= req.due_on:
        raise ActionError("尚未逾期，不能督办（截止日期 " + req.due_on.isoformat() + "）")
    level = Level(req.level + 1)
    today = local_date(now)
    insert_ignore_values(session, Escalation.__table__, [dict(  # type: ignore[arg-type]
        request_id=req.id, round=req.ladder_round, level=level.value, effective_on=today,
        created_at=now)])
    req.level = level.value
    req.next_action_on = next_action_day(req.due_on, level.value, policy, after=today,
                                         held=policy.rules.extension_holds_ladder
                                         and extension_pending(session, req.id))
    plan = session.get_one(Plan, plan_of_request(session, req.id))
    office = office_id(session, plan, plan.supervision_office)
    queued = enqueue_for_requests(session, ProgressRequest.id == req.id,
                                  kind=MessageKind.ESCALATION, level=level.value, now=now,
                                  channel=policy.channel, supervision_office_id=office)
    if level == Level.CIRCULAR:
        add_to_draft(session, plan_id=plan.id, request_ids=[req.id], effective_on=today, now=now)
    elif level == Level.SUPERVISION_NOTICE:  # its 督办通知单 (escalation.notices)
        draft_notices(session, plan_id=plan.id, effective_on=today, requests=[req.id], now=now)
    session.add(AuditEvent(at=now, actor=actor, action="ladder.escalate_now",
                           object_type="progress_request", object_id=str(req.id),
                           detail={"level": level.value, "queued": queued}))
    return level.value, queued


def waive(session: Session, request_id: int, *, reason: str, actor: str, now: dt.datetime,
          policy: Policy) -> None:
    """免报: the request needs no answer; the ladder stops; the agency is told."""
    if not reason.strip():
        raise ActionError("免报须填写理由")
    if len(reason) > 2000:
        raise ActionError("免报理由过长（最多 2000 字）")
    # locked (PostgreSQL): two people acting at once are served one after the other
    req = session.get(ProgressRequest, request_id, with_for_update=True, populate_existing=True)
    if req is None or req.state != RequestState.OPEN:
        raise ActionError("只有待报送的事项可以免报")
    req.state, req.waive_reason, req.next_action_on = RequestState.WAIVED, reason.strip(), None
    # a pending extension has nothing left to decide
    session.execute(update(ExtensionRequest).where(
        ExtensionRequest.request_id == req.id, ExtensionRequest.state == ExtensionState.PENDING
    ).values(state=ExtensionState.REFUSED, decided_at=now, decided_by=actor,
             decision_note="事项已免报"))
    session.add(AuditEvent(at=now, actor=actor, action="request.waive",
                           object_type="progress_request", object_id=str(req.id),
                           detail={"reason": reason.strip()}))
    enqueue_to_agency(session, agency_id=req.agency_id, key_prefix=f"waive:{req.id}",
                      kind=MessageKind.WAIVED, now=now, channel=policy.channel,
                      payload={"reason": reason.strip()}, request_id=req.id,
                      plan_id=plan_of_request(session, req.id))


def add_note(session: Session, *, request_id: int | None, measure_id: int | None, text: str,
             author: str, now: dt.datetime) -> Note:
    if not text.strip():
        raise ActionError("备注不能为空")
    if len(text) > 5000:
        raise ActionError("备注过长（最多 5000 字）")
    if request_id is not None and session.get(ProgressRequest, request_id) is None:
        raise ActionError("没有该事项")
    note = Note(request_id=request_id, measure_id=measure_id, text=text.strip()[:5000],
                author=author, at=now)
    session.add(note)
    session.add(AuditEvent(at=now, actor=author, action="note.add",
                           object_type="progress_request" if request_id else "measure",
                           object_id=str(request_id or measure_id), detail={}))
    return note
