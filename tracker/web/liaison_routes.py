"""Pages a liaison reaches from the signed link in a notification (no password).

`LiaisonLink` (tracker.web.deps) checks the link in the path for every page. A link opens
the items of every agency its person is an active liaison of (issue 8, item 4), each
labelled with its agency; a request of any other agency is refused by `owned_request`
(403), and each action is recorded under the request's own agency. A form that a
service refuses (`tracker.errors.DomainError`) is shown again with what was typed and the
refusal's Chinese words (422).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from tracker.dates.workdays import SHANGHAI, local_date
from tracker.directory.agencies import agencies_named, get_agency
from tracker.errors import DomainError, Forbidden
from tracker.exchange.template import agency_template, template_filename
from tracker.exchange.upload import MAX_BYTES as SHEET_MAX_BYTES
from tracker.exchange.upload import UploadError, read_sheet, record_sheet
from tracker.requests.answer_form import agency_items, request_history
from tracker.requests.drafts import save_draft
from tracker.requests.evidence import MAX_BYTES, evidence_for_agency, evidence_path, store_evidence
from tracker.requests.extensions import ask_extension
from tracker.requests.opening import owned_request
from tracker.requests.reports import AnswerError, ReportError, submit_answer
from tracker.web.deps import Context, DbSession, LiaisonLink, Link, Now
from tracker.web.forms import AnswerForm, ExtensionAskForm, UploadForm
from tracker.web.pages import templates

router = APIRouter(prefix="/l/{token}")
RequestId = Annotated[int, Path(ge=1, le=2**31 - 1)]
MESSAGES = {
    "saved": "草稿已保存。", "submitted": "已提交，感谢您的报送。",
    "evidence": "佐证材料已上传。", "extension": "延期申请已提交，待督查室审批。",
    "uploaded": "Excel 文件已导入。",
    "uploaded-none": "文件无误，但没有填写状态的行，未导入任何事项。",
}


def _page(request: Request, link: Link, session: Session, now: dt.datetime, *,
          errors: dict[int, list[str]] | None = None, posted: dict[int, dict[str, Any]] | None = None,
          upload_errors: list[str] | None = None, status: int = 200) -> HTMLResponse:
    """The agency's answer page; after a refusal, with the errors and what was typed."""
    items = agency_items(session, link.agencies, local_date(now))
    for item in items:
        if posted and item.request_id in posted:
            item.prefill, item.prefill_source = posted[item.request_id], "posted"
    return templates.TemplateResponse(request, "liaison/index.html", {
        "token": link.token, "liaison": link.contact, "agency": get_agency(session, link.agency_id),
        "agencies": agencies_named(session, link.agencies), "items": items,
        "today": local_date(now),
        "message": MESSAGES.get(request.query_params.get("m", "")),
        "errors": errors or {}, "upload_errors": upload_errors or [],
        "several_plans": len({i.plan for i in items}) > 1,
    }, status_code=status)


def _redirect(link: Link, message: str, anchor: str = "") -> RedirectResponse:
    return RedirectResponse(f"/l/{quote(link.token)}?m={message}{anchor}", status_code=303)


@router.get("", response_class=HTMLResponse)
def index(request: Request, link: LiaisonLink, session: DbSession, now: Now) -> HTMLResponse:
    return _page(request, link, session, now)


def _problems(exc: DomainError) -> list[str]:
    if isinstance(exc, AnswerError):
        return exc.problems
    if isinstance(exc, ReportError):
        return list(exc.problems.values())
    return [exc.message]


@router.post("/requests/{request_id}")
def answer(request: Request, request_id: RequestId, form: Annotated[AnswerForm, Form()],
           link: LiaisonLink, session: DbSession, now: Now) -> Response:
    req = owned_request(session, link.agencies, request_id)
    if form.saving:  # a draft may be incomplete: kept as typed (waived: 409)
        save_draft(session, agency_id=req.agency_id, request_id=request_id,
                   fields=form.fields(), saved_by=link.actor, now=now)
        session.commit()
        return _redirect(link, "saved", f"#r{request_id}")
    try:
        submit_answer(session, request_id=request_id, fields=form.fields(),
                      submitted_by=link.actor, now=now, source="web")
    except DomainError as exc:
        session.rollback()
        if exc.code == "waived":
            raise  # its own page (409)
        return _page(request, link, session, now, errors={request_id: _problems(exc)},
                     posted={request_id: form.fields()}, status=422)
    session.commit()
    return _redirect(link, "submitted", f"#r{request_id}")


@router.get("/requests/{request_id}/history", response_class=HTMLResponse)
def history(request: Request, request_id: RequestId, link: LiaisonLink, session: DbSession,
            now: Now) -> HTMLResponse:
    req = owned_request(session, link.agencies, request_id)
    items = {i.request_id: i for i in agency_items(session, req.agency_id, local_date(now))}
    versions = request_history(session, req.agency_id, request_id)
    return templates.TemplateResponse(request, "liaison/history.html", {
        "token": link.token, "req": req, "item": items.get(request_id), "versions": versions,
        "tz": SHANGHAI})


@router.post("/requests/{request_id}/evidence")
def upload_evidence(request: Request, request_id: RequestId, form: Annotated[UploadForm, Form()],
                    link: LiaisonLink, session: DbSession, context: Context, now: Now
                    ) -> Response:
    req = owned_request(session, link.agencies, request_id)
    upload = form.chosen
    if upload is None:
        return _page(request, link, session, now, errors={request_id: ["请选择要上传的文件。"]},
                     status=422)
    data = upload.file.read(MAX_BYTES + 1)  # never more than the limit into memory
    try:
        store_evidence(session, context.settings.home, agency_id=req.agency_id,
                       request_id=request_id, filename=upload.filename or "", data=data,
                       uploaded_by=link.actor, now=now)
    except DomainError as exc:
        session.rollback()
        return _page(request, link, session, now, errors={request_id: [exc.message]}, status=422)
    session.commit()
    return _redirect(link, "evidence", f"#r{request_id}")


@router.get("/evidence/{evidence_id}")
def download_evidence(evidence_id: RequestId, link: LiaisonLink, session: DbSession,
                      context: Context) -> Response:
    ev = evidence_for_agency(session, link.agencies, evidence_id)  # 404, or 403 if not ours
    data = evidence_path(context.settings.home, ev.sha256).read_bytes()
    # Always a download with a neutral type: nothing uploaded ever runs in the browser.
    return Response(data, media_type="application/octet-stream", headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(ev.filename)}",
        "Content-Security-Policy": "sandbox", "X-Content-Type-Options": "nosniff"})


@router.post("/requests/{request_id}/extension")
def extension(request: Request, request_id: RequestId, form: Annotated[ExtensionAskForm, Form()],
              link: LiaisonLink, session: DbSession, now: Now) -> Response:
    req = owned_request(session, link.agencies, request_id)
    new_due_on = form.new_due_date
    if new_due_on is None:
        return _page(request, link, session, now, errors={request_id: ["请填写有效的新截止日期。"]},
                     status=422)
    try:
        ask_extension(session, agency_id=req.agency_id, request_id=request_id,
                      new_due_on=new_due_on, reason=form.reason, asked_by=link.actor, now=now)
    except DomainError as exc:
        session.rollback()
        return _page(request, link, session, now, errors={request_id: [exc.message]}, status=422)
    session.commit()
    return _redirect(link, "extension", f"#r{request_id}")


@router.get("/template.xlsx")
def template(link: LiaisonLink, session: DbSession, now: Now,
             agency: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None) -> Response:
    """The sheet of one agency the link opens (`?agency=`; default the link's own)."""
    chosen = agency or link.agency_id
    if chosen not in link.agencies:
        raise Forbidden("该单位不在本链接的范围内", code="other-agency")
    data = agency_template(session, chosen, local_date(now), now)
    name = template_filename(session, chosen, local_date(now))
    return Response(data, media_type="application/vnd.openxmlformats-officedocument."
                                     "spreadsheetml.sheet", headers={
        "Content-Disposition": "attachment; filename*=UTF-8''" + quote(name)})


@router.post("/upload")
def upload(request: Request, form: Annotated[UploadForm, Form()], link: LiaisonLink,
           session: DbSession, context: Context, now: Now) -> Response:
    # a sync handler runs in a worker thread: parsing the sheet does not hold up the event loop
    file = form.chosen
    if file is None:
        return _page(request, link, session, now, upload_errors=["请选择要上传的 Excel 文件。"],
                     status=422)
    data = file.file.read(SHEET_MAX_BYTES + 1)
    # parse holding no transaction: on SQLite the link check's transaction holds the write
    # lock, and every other page would wait for the parse (issue 10, item 8)
    session.rollback()
    try:
        sheet = read_sheet(data, context.converter)
        # a person serving several agencies uploads any of their sheets: the sheet names
        # its agency; one outside the link's agencies is refused as another agency's
        named = sheet.agency_id
        result = record_sheet(session, sheet, submitted_by=link.actor, now=now,
                              agency_id=named if named in link.agencies else link.agency_id)
    except DomainError as exc:
        session.rollback()
        problems = ([str(p) for p in exc.problems] if isinstance(exc, UploadError)
                    else [exc.message])
        return _page(request, link, session, now, upload_errors=problems, status=422)
    session.commit()
    return _redirect(link, "uploaded" if result.recorded else "uploaded-none", "#upload")
