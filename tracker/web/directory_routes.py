"""The office's review list of the agency directory (issue 13, item 4): `/desk/directory`.

What a catalog load left for the office (`tracker.directory.review`): names new to the
directory (map each to an existing agency, or accept it as a new one; their requests are
held until then, `tracker.directory.holds`) and the phrases the catalog flagged (pick the
agencies or districts a phrase means, set an unreadable 完成时限, or dismiss it with a
reason). Office staff only; each action takes the page's single-use form token
(`StaffActor`) and is audited. A refusal shows the page again (422) with the words next to
the row it concerns and what was typed.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from tracker.dates.workdays import SHANGHAI
from tracker.directory.review import (
    ReviewError,
    accept_name,
    assign_flag,
    dismiss,
    map_name,
    review_page,
    set_deadline,
)
from tracker.web.deps import (
    Context,
    DbSession,
    Id,
    Now,
    OfficeViewer,
    StaffActor,
    desk_again,
    staff_actor_name,
)
from tracker.web.forms import DirectoryReviewForm
from tracker.web.pages import templates
from tracker.web.staff import Desk

router = APIRouter()
DONE = {"mapped": "已对应到已有单位，并记为该单位的简称；其任务分解和暂缓的进展调度已移交该单位"
                  "（自今日起计算报送期限）。",
        "accepted": "已确认为新单位；其暂缓的进展调度自今日起计算报送期限。",
        "assigned": "已按所选单位增列任务分解。",
        "dated": "已设定完成时限；到期前按里程碑向牵头单位调度。",
        "dismissed": "已记录不予处理的理由。"}


def _page(request: Request, session: Session, viewer: Desk, *, done: str | None = None,
          error: tuple[int, str, str] | None = None, typed: DirectoryReviewForm | None = None,
          status: int = 200) -> HTMLResponse:
    """The page; `error` (row id, action, message) marks the form the refusal concerns
    and keeps what was typed (`typed`: a dismissal's reason, a deadline's day)."""
    page = review_page(session)
    session.commit()
    return templates.TemplateResponse(request, "desk/directory.html", {
        "desk": viewer, "page": page, "tz": SHANGHAI, "done": DONE.get(done or ""),
        "error": error, "typed": typed or DirectoryReviewForm()}, status_code=status)


@router.get("/desk/directory", response_class=HTMLResponse)
def directory(request: Request, viewer: OfficeViewer, session: DbSession) -> HTMLResponse:
    """The open rows of the review list, with their actions, and the latest resolved."""
    return _page(request, session, viewer, done=request.query_params.get("m"))


@router.post("/desk/directory/{review_id}")
def resolve_review(request: Request, review_id: Id,
                   form: Annotated[DirectoryReviewForm, Form()], who: StaffActor,
                   session: DbSession, context: Context, now: Now) -> Response:
    """map (`agency`), accept, assign (`agency`, several), set a deadline (`kind`, `due`
    or `month`/`day`) or dismiss (`note`) one row."""
    by = staff_actor_name(who)
    policy = context.policy_in(session)
    try:
        if form.action == "map":
            picked = form.agency_ids
            if len(picked) != 1:
                raise ReviewError("请选择一个对应的单位")
            map_name(session, review_id, picked[0], by=by, now=now, policy=policy)
            state = "mapped"
        elif form.action == "accept":
            accept_name(session, review_id, by=by, now=now, policy=policy)
            state = "accepted"
        elif form.action == "deadline":
            set_deadline(session, review_id, form.kind, due=form.due_date, month=form.month_no,
                         day=form.day_no, by=by, now=now)
            state = "dated"
        elif form.action == "assign":
            assign_flag(session, review_id, form.agency_ids, by=by, now=now)
            state = "assigned"
        elif form.action == "dismiss":
            dismiss(session, review_id, form.note, by=by, now=now)
            state = "dismissed"
        else:
            raise ReviewError("请选择一种处理方式")
    except ReviewError as exc:
        session.rollback()
        return _page(request, session, desk_again(session, who, now, context.secret),
                     error=(review_id, form.action, exc.message), typed=form, status=422)
    session.commit()
    return RedirectResponse(f"/desk/directory?m={state}", 303)
