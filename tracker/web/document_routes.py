"""The office's official documents on the desk (issue 12): a circular's and a 督办通知单's
preview page, where the office edits the 文号 serial, wording, 主送, 抄送 and items before
sign-off; their Word files; the list of 督办通知单 and their issue.

The page and the Word file state the same counts: both come from one `DocumentView`
(`tracker.documents.editing.build_view`). A refused edit comes back with what was typed.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tracker.dates.chinese import cn_date
from tracker.dates.workdays import SHANGHAI
from tracker.documents.editing import DocumentView
from tracker.errors import DomainError
from tracker.escalation.circulars import (
    circular_by_id,
    circular_docx,
    circular_view,
    edit_circular,
)
from tracker.escalation.notices import (
    edit_notice,
    issue_notice,
    notice_docx,
    notice_heading,
    notice_list,
    notice_total,
    notice_view,
)
from tracker.web.deps import (
    Context,
    DbSession,
    Id,
    Now,
    StaffActor,
    StaffViewer,
    WebContext,
    desk_again,
)
from tracker.web.forms import ConfirmForm, DocumentEditForm
from tracker.web.notices import notice
from tracker.web.pages import templates
from tracker.web.staff import flash, read_flash

router = APIRouter()
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
KINDS = {"circular": ("通报", "/desk/circulars"), "supervision_notice": ("督办通知单", "/desk/notices")}


def _attachment(data: bytes, filename: str) -> Response:
    return Response(data, media_type=DOCX, headers={
        "Content-Disposition": "attachment; filename*=UTF-8''" + quote(filename)})


def _filename(view: DocumentView) -> str:
    label = KINDS[view.kind][0]
    return f"{label}-{view.number or view.id}{'（稿）' if view.editable else ''}.docx"


def _page(request: Request, viewer: Any, view: DocumentView, *, plan_title: str,
          heading: str, context: WebContext, typed: DocumentEditForm | None = None,
          problems: str | None = None, status: int = 200) -> HTMLResponse:
    label, base = KINDS[view.kind]
    return templates.TemplateResponse(request, "desk/document.html", {
        "desk": viewer, "view": view, "doc": view.document, "label": label, "base": base,
        "plan_title": plan_title, "heading": heading, "typed": typed, "problems": problems,
        "cn_date": cn_date, "notice": notice(context, request.query_params.get("m")),
        "error": read_flash(context.secret, request.query_params.get("error")),
        "can_act": viewer.can_act}, status_code=status)


# Circulars ---------------------------------------------------------------------------


@router.get("/desk/circulars/{circular_id}.docx")
def circular_download(circular_id: Id, _desk: StaffViewer, session: DbSession,
                      context: Context, now: Now) -> Response:
    """The circular's Word file: as signed, or the draft as it stands."""
    policy = context.policy_in(session)
    view = circular_view(session, circular_id, policy=policy, now=now)
    data = circular_docx(session, circular_id, policy=policy, now=now,
                         templates_dir=context.settings.templates_dir)
    session.commit()
    return _attachment(data, _filename(view))


@router.get("/desk/circulars/{circular_id}", response_class=HTMLResponse)
def circular_page(request: Request, circular_id: Id, viewer: StaffViewer, session: DbSession,
                  context: Context, now: Now) -> HTMLResponse:
    """The circular's preview, and for a draft the office's edits before sign-off."""
    view = circular_view(session, circular_id, policy=context.policy_in(session), now=now)
    circular, plan_title = circular_by_id(session, circular_id)
    session.commit()
    return _page(request, viewer, view, plan_title=plan_title, context=context,
                 heading=circular.title)


@router.post("/desk/circulars/{circular_id}/edit", response_class=HTMLResponse)
def circular_edit(request: Request, circular_id: Id, form: Annotated[DocumentEditForm, Form()],
                  who: StaffActor, session: DbSession, context: Context, now: Now) -> Response:
    policy = context.policy_in(session)
    try:  # a refusal rolls back to here; the used form token stays used
        with session.begin_nested():
            edit_circular(session, circular_id, form.edits(), actor=who.user.display_name,
                          now=now, policy=policy)
    except DomainError as exc:
        viewer = desk_again(session, who, now, context.secret)  # a fresh form token for the page again
        view = circular_view(session, circular_id, policy=policy, now=now)
        circular, plan_title = circular_by_id(session, circular_id)
        session.commit()  # the used token stays used, the new one is kept
        return _page(request, viewer, view, plan_title=plan_title, context=context,
                     heading=circular.title, typed=form, problems=exc.message,
                     status=exc.status)
    session.commit()
    return RedirectResponse(f"/desk/circulars/{circular_id}?m=doc_saved", status_code=303)


# 督办通知单 ---------------------------------------------------------------------------


@router.get("/desk/notices", response_class=HTMLResponse)
def notices(request: Request, viewer: StaffViewer, session: DbSession, context: Context,
            state: Annotated[str, Query(pattern="^(|draft|signed|empty)$")] = "") -> HTMLResponse:
    """The 督办通知单, newest first (drafts or issued ones on request)."""
    rows = notice_list(session, state=state or None)
    total = notice_total(session)
    session.commit()
    return templates.TemplateResponse(request, "desk/notices.html", {
        "desk": viewer, "rows": rows, "total": total, "state": state, "tz": SHANGHAI,
        "cn_date": cn_date, "notice": notice(context, request.query_params.get("m")),
        "error": read_flash(context.secret, request.query_params.get("error"))})


@router.get("/desk/notices/{notice_id}.docx")
def notice_download(notice_id: Id, _desk: StaffViewer, session: DbSession, context: Context,
                    now: Now) -> Response:
    policy = context.policy_in(session)
    view = notice_view(session, notice_id, policy=policy, now=now)
    data = notice_docx(session, notice_id, policy=policy, now=now,
                       templates_dir=context.settings.templates_dir)
    session.commit()
    return _attachment(data, _filename(view))


def _notice_page(request: Request, viewer: Any, session: Any, notice_id: int,
                 context: WebContext, now: Any, **extra: Any) -> HTMLResponse:
    view = notice_view(session, notice_id, policy=context.policy_in(session), now=now)
    heading, plan_title = notice_heading(session, notice_id)
    session.commit()
    return _page(request, viewer, view, plan_title=plan_title, context=context,
                 heading=heading, **extra)


@router.get("/desk/notices/{notice_id}", response_class=HTMLResponse)
def notice_page(request: Request, notice_id: Id, viewer: StaffViewer, session: DbSession,
                context: Context, now: Now) -> HTMLResponse:
    """The 督办通知单's preview, and for a draft the office's edits before it is issued."""
    return _notice_page(request, viewer, session, notice_id, context, now)


@router.post("/desk/notices/{notice_id}/edit", response_class=HTMLResponse)
def notice_edit(request: Request, notice_id: Id, form: Annotated[DocumentEditForm, Form()],
                who: StaffActor, session: DbSession, context: Context, now: Now) -> Response:
    try:
        with session.begin_nested():
            edit_notice(session, notice_id, form.edits(), actor=who.user.display_name,
                        now=now, policy=context.policy_in(session))
    except DomainError as exc:
        return _notice_page(request, desk_again(session, who, now, context.secret), session, notice_id,
                            context, now, typed=form,
                            problems=exc.message, status=exc.status)
    session.commit()
    return RedirectResponse(f"/desk/notices/{notice_id}?m=doc_saved", status_code=303)


@router.post("/desk/notices/{notice_id}/issue")
def notice_issue(notice_id: Id, form: Annotated[ConfirmForm, Form()], who: StaffActor,
                 session: DbSession, context: Context, now: Now) -> Response:
    """印发: the 督办通知单 gets its 文号 and is kept as issued (nothing more is sent)."""
    try:
        with session.begin_nested():
            issue_notice(session, notice_id, issued_by=who.user.display_name, now=now,
                         policy=context.policy_in(session),
                         templates_dir=context.settings.templates_dir,
                         confirmed=form.digest)  # "" never matches: the page's is required
    except DomainError as exc:
        session.commit()
        return RedirectResponse(f"/desk/notices/{notice_id}?" + urlencode(
            {"error": flash(context.secret, exc.message)}), status_code=303)
    session.commit()
    return RedirectResponse(f"/desk/notices/{notice_id}?m=notice_issued", status_code=303)
