"""Extension requests (延期申请): asked before the due day, decided by the supervision office.

While a request is pending, the ladder (催办/督办/通报) and the 临期提醒 are held when
`Rules.extension_holds_ladder` is on (the default, DESIGN.md): the sweep and the pre-due
run select only requests that `ladder_live` admits, with the rules in force when they run
(turning the setting off releases every held request at the next sweep). The decision
re-plans the ladder:

- granted: the due day becomes the day asked for; the rungs count from it (+1/+5/+10
  working days); a rung fired before (only possible when the ladder was not held, or the
  office escalated by hand) starts a new round, so 催办 can follow the new due day;
- refused: the due day stays the original one (an answer after it is late) and the rungs
  keep their days counted from it, but a rung whose day passed while the request was held
  is not fired afterwards: the ladder resumes with the first rung falling after the
  decision day (`rules.next_action_day(..., after=decision day)`; the sweep fires a rung
  only for requests whose next action day has reached it). The refusal notice itself tells
  the liaison that the report is due at once; no burst of 催办 and 督办 follows it.

`original_due_on` keeps the first deadline, and the scorecard counts granted extensions.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, exists, select
from sqlalchemy.orm import Session

from tracker.dates.workdays import local_date
from tracker.directory.holds import not_held
from tracker.enums import ExtensionState, MessageKind, RequestState
from tracker.errors import DomainError, NotFound
from tracker.models import AuditEvent, ExtensionRequest, ProgressRequest
from tracker.outbox import enqueue_to_agency
from tracker.policy import Policy
from tracker.requests.rules import next_action_day
from tracker.requests.subjects import plan_of_request

MAX_EXTENSION_DAYS = 90  # calendar days after the current due day


class ExtensionError(DomainError):
    """A refusal with its reasons in Chinese (tracker.errors). `fields` pairs each reason
    with the form field it is about ("new_due_on", "reason", or "" for the request)."""

    def __init__(self, message: str, fields: list[tuple[str, str]] | None = None):
        self.fields = fields if fields is not None else [("", message)]
        super().__init__(message)


def ask_extension(session: Session, *, agency_id: int, request_id: int,
                  new_due_on: dt.date | None, reason: str, asked_by: str,
                  now: dt.datetime) -> ExtensionRequest:
    """Record a liaison's request. Raises ExtensionError naming every fault at once.

    Allowed only for the agency's own open request, on or before its due day (Asia/Shanghai),
    with no other request pending and none granted before (one extension per request:
    the office's decision stands; a refused one may be asked again with new reasons), for
    a later day (`new_due_on`; None: not a valid date) at most MAX_EXTENSION_DAYS calendar
    days on, with a reason of at most 2000 characters. While it is pending, the ladder is
    held if the rules say so (`ladder_live`).
    """
    req = session.get(ProgressRequest, request_id, with_for_update=True, populate_existing=True)
    if req is None or req.agency_id != agency_id:
        raise ExtensionError("该任务不属于本单位")
    if req.state != RequestState.OPEN:
        raise ExtensionError("该任务已报送或已免报，无需延期")
    if local_date(now) > req.due_on:
        raise ExtensionError("已过截止日期，不能再申请延期")
    states = set(session.scalars(select(ExtensionRequest.state)
                                 .where(ExtensionRequest.request_id == request_id)))
    if ExtensionState.PENDING in states:
        raise ExtensionError("已有待审批的延期申请")
    if ExtensionState.GRANTED in states:
        raise ExtensionError("本事项已批准过一次延期，不能再申请")
    problems: list[tuple[str, str]] = []
    if new_due_on is None:
        problems.append(("new_due_on", "请填写有效的新截止日期"))
    elif new_due_on <= req.due_on:
        problems.append(("new_due_on", "申请的新截止日期须晚于现截止日期"))
    elif new_due_on > req.due_on + dt.timedelta(days=MAX_EXTENSION_DAYS):
        problems.append(("new_due_on", f"延期不能超过现截止日期后 {MAX_EXTENSION_DAYS} 天"))
    if not reason.strip():
        problems.append(("reason", "请填写延期理由"))
    elif len(reason) > 2000:
        problems.append(("reason", "延期理由过长（最多 2000 字）"))
    if problems:
        raise ExtensionError("；".join(text for _, text in problems), problems)
    assert new_due_on is not None
    ext = ExtensionRequest(request_id=request_id, requested_due_on=new_due_on,
                           reason=reason.strip()[:5000], state=ExtensionState.PENDING,
                           asked_at=now, asked_by=asked_by)
    session.add(ext)
    # The pending request holds the ladder through `ladder_live` (read by the sweep and the
    # pre-due run with the rules in force then); the decision re-plans it.
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


def ladder_live(policy: Policy) -> Any:
    """The SQL condition of requests whose ladder runs: a next action day is set (None: the
    top rung is reached, or held by a request asked under an older version), the agency's
    name does not wait on the office's review list (`directory.holds`: nobody answers for
    it yet) and, when `Rules.extension_holds_ladder` is on, no extension request is
    pending."""
    live = and_(ProgressRequest.next_action_on.is_not(None), not_held())
    if not policy.rules.extension_holds_ladder:
        return live
    return and_(live, ~exists().where(ExtensionRequest.request_id == ProgressRequest.id,
                                      ExtensionRequest.state == ExtensionState.PENDING.value))


def extension_pending(session: Session, request_id: int) -> bool:
    """Whether the request has an extension request waiting for the office's decision."""
    return session.scalar(select(ExtensionRequest.id).where(
        ExtensionRequest.request_id == request_id,
        ExtensionRequest.state == ExtensionState.PENDING).limit(1)) is not None


def decide_extension(session: Session, extension_id: int, *, grant: bool, note: str,
                     decided_by: str, now: dt.datetime, policy: Policy) -> ExtensionRequest:
    """Grant or refuse, and re-plan the ladder (module docstring). Notifies the liaison.

    Raises ExtensionError if the extension is unknown or already decided, or its request is
    answered or waived.
    """
    # locked (PostgreSQL): two people deciding at once are served one after the other, and
    # the second is told it was decided already
    ext = session.get(ExtensionRequest, extension_id, with_for_update=True,
                      populate_existing=True)
    if ext is None:
        raise ExtensionError(f"没有编号为 {extension_id} 的延期申请")
    if ext.state != ExtensionState.PENDING:
        done = "已批准" if ext.state == ExtensionState.GRANTED else "未批准"
        raise ExtensionError(f"延期申请 {extension_id} 已处理过（{done}）")
    req = session.get_one(ProgressRequest, ext.request_id, with_for_update=True,
                          populate_existing=True)
    if req.state != RequestState.OPEN:
        raise ExtensionError("该事项已报送或已免报，无需延期")
    ext.state = ExtensionState.GRANTED if grant else ExtensionState.REFUSED
    ext.decided_at, ext.decided_by, ext.decision_note = now, decided_by, note
    before = req.due_on
    if grant:
        req.due_on = ext.requested_due_on
        if req.level:  # rungs fired on the old due day: the new one gets a ladder of its own
            req.level, req.ladder_round = 0, req.ladder_round + 1
        req.next_action_on = next_action_day(req.due_on, 0, policy)
    else:
        # the original due day's rungs, but none that passed while the request was held
        req.next_action_on = next_action_day(req.due_on, req.level, policy,
                                             after=max(local_date(now), req.due_on))
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
