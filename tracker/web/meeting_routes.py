"""The office's executive-meeting pages (issue 11, item 4).

- `/desk/meetings?plan=&year=`: for a plan and year, every government with its confirmed,
  pending and returned meetings and its year-end finding; above it, every meeting waiting
  for the office (the navigation's 待确认会议 count), each with 确认 and 退回 (a reason).
- `/desk/meetings/{id}`: one record with its decisions and minutes, the same actions, and
  the office's correction form (audited).
- `/desk/meetings/{id}/minutes`: the minutes as a download with safe headers.

Actions take the signed-in office staff member and the page's single-use form token
(`StaffActor`), as the review of a report does; a refusal comes back to the page it was
made from with its words (a return without a reason: the form again, 422, the reason field
marked).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from tracker.annual.meeting_records import (
    MeetingFormError,
    MeetingInput,
    Minutes,
    confirm_meeting,
    correct_meeting,
    meeting_by_id,
    meeting_plan,
    meetings_year,
    minutes_file,
    return_meeting,
)
from tracker.dates.workdays import SHANGHAI, local_date
from tracker.errors import DomainError
from tracker.requests.evidence import MAX_BYTES
from tracker.web.deps import (
    Context,
    DbSession,
    Id,
    Now,
    StaffActor,
    StaffViewer,
    WebContext,
    desk_again,
    staff_actor_name,
)
from tracker.web.forms import MeetingDecisionForm, MeetingRecordForm
from tracker.web.notices import notice
from tracker.web.pages import templates
from tracker.web.staff import Desk, flash, read_flash

router = APIRouter()
Year = Annotated[int | None, Query(ge=1900, le=2999)]
PlanId = Annotated[int | None, Query(ge=1, le=2**31 - 1)]


@router.get("/desk/meetings", response_class=HTMLResponse)
def meetings(request: Request, viewer: StaffViewer, session: DbSession, context: Context,
             now: Now, year: Year = None, plan: PlanId = None) -> HTMLResponse:
    """A plan's governments and their meetings in a year (default: the first plan with a
    meeting duty; this year, clamped to the plan period), and every meeting waiting for
    the office."""
    chosen = meeting_plan(session, plan)  # 404 for an unknown plan
    today = local_date(now)
    shown = year or min(max(today.year, chosen.first_year), chosen.last_year)
    page = meetings_year(session, chosen, shown)  # 404 for a year outside the period
    session.commit()
    return templates.TemplateResponse(request, "desk/meetings.html", {
        "desk": viewer, "page": page, "tz": SHANGHAI, "today": today,
        "notice": notice(context, request.query_params.get("m")),
        "error": read_flash(context.secret, request.query_params.get("error")),
        "reason_errors": {}, "reasons": {}})


@router.get("/desk/meetings/{meeting_id}", response_class=HTMLResponse)
def meeting(request: Request, meeting_id: Id, viewer: StaffViewer, session: DbSession,
            context: Context) -> HTMLResponse:
    return _meeting_page(request, session, context, viewer, meeting_id)


def _meeting_page(request: Request, session: Session, context: WebContext, viewer: Desk,
                  meeting_id: int, *, typed: MeetingInput | None = None, reason: str = "",
                  reason_error: str | None = None, status: int = 200) -> HTMLResponse:
    found = meeting_by_id(session, meeting_id)  # 404 if unknown
    m = found.meeting
    if typed is None:
        typed = MeetingInput(held_on=m.held_on.isoformat(), name=m.name or m.topic,
                             decisions=m.decisions)
    by_field: dict[str, list[str]] = {}
    for name, text in typed.problems:
        by_field.setdefault(name, []).append(text)
    session.commit()
    return templates.TemplateResponse(request, "desk/meeting.html", {
        "desk": viewer, "row": found, "m": m, "typed": typed, "field_errors": by_field,
        "problems": typed.problems, "reason": reason, "reason_error": reason_error,
        "tz": SHANGHAI, "notice": notice(context, request.query_params.get("m")),
        "error": read_flash(context.secret, request.query_params.get("error"))},
        status_code=status)


def _back(form: MeetingDecisionForm, meeting_id: int, *, message: str | None = None,
          error: str | None = None, secret: str = "") -> Response:
    """To the meetings page of the year the action was taken on, or to the record."""
    params = [("m", message)] if message else []
    params += [("error", flash(secret, error))] if error else []
    if form.back_year is not None:
        params = [("year", str(form.back_year))] + (
            [("plan", str(form.plan_id))] if form.plan_id else []) + params
        return RedirectResponse(f"/desk/meetings?{urlencode(params)}#pending-h", 303)
    return RedirectResponse(f"/desk/meetings/{meeting_id}?{urlencode(params)}", 303)


@router.post("/desk/meetings/{meeting_id}/decide")
def decide(request: Request, meeting_id: Id, form: Annotated[MeetingDecisionForm, Form()],
           who: StaffActor, session: DbSession, context: Context, now: Now) -> Response:
    """确认 (`decision=confirm`) or 退回 (`decision=return` with `reason`)."""
    by = staff_actor_name(who)
    try:
        if form.decision == "confirm":
            confirm_meeting(session, meeting_id, by=by, now=now)
        elif form.decision == "return":
            return_meeting(session, meeting_id, reason=form.reason, by=by, now=now,
                           policy=context.policy_in(session))
        else:
            session.commit()
            return _back(form, meeting_id, error="请选择确认或退回。", secret=context.secret)
    except MeetingFormError as exc:  # no reason: the record's page, the reason marked
        session.rollback()
        return _meeting_page(request, session, context, desk_again(session, who, now, context.secret),
                             meeting_id, reason=form.reason, reason_error=exc.message,
                             status=422)
    except DomainError as exc:
        session.commit()  # the form token stays used
        if exc.status == 404:
            raise
        return _back(form, meeting_id, error=exc.message, secret=context.secret)
    session.commit()
    return _back(form, meeting_id,
                 message="meeting-confirmed" if form.decision == "confirm" else "meeting-returned")


@router.post("/desk/meetings/{meeting_id}/correct")
def correct(request: Request, meeting_id: Id, form: Annotated[MeetingRecordForm, Form()],
            who: StaffActor, session: DbSession, context: Context, now: Now) -> Response:
    """The office corrects a record (audited); a refusal shows the form again (422)."""
    typed = MeetingInput(held_on=form.held_on, name=form.name, decisions=form.decisions)
    upload = form.chosen
    minutes = (Minutes(upload.filename or "", upload.file.read(MAX_BYTES + 1))
               if upload is not None else None)
    try:
        correct_meeting(session, context.settings.home, meeting_id, typed=typed,
                        minutes=minutes, by=staff_actor_name(who), now=now)
    except MeetingFormError as exc:
        session.rollback()
        typed.problems = exc.fields
        return _meeting_page(request, session, context, desk_again(session, who, now, context.secret),
                             meeting_id, typed=typed, status=422)
    session.commit()
    return RedirectResponse(f"/desk/meetings/{meeting_id}?m=meeting-corrected", 303)


@router.get("/desk/meetings/{meeting_id}/minutes")
def minutes(meeting_id: Id, _viewer: StaffViewer, session: DbSession, context: Context
            ) -> Response:
    """The minutes for staff: always a download with a neutral type, sandboxed."""
    found = meeting_by_id(session, meeting_id)
    data = minutes_file(context.settings.home, found.meeting)
    session.commit()
    name = found.meeting.minutes_filename or "minutes"
    return Response(data, media_type="application/octet-stream", headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
        "Content-Security-Policy": "sandbox", "X-Content-Type-Options": "nosniff"})
