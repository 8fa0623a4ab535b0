"""Pages a liaison reaches from the signed link in a notification (no password)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from tracker.dates.workdays import SHANGHAI, local_date
from tracker.directory.links import LinkError, link_id, verify_link
from tracker.exchange.template import agency_template
from tracker.exchange.upload import MAX_BYTES as SHEET_MAX_BYTES
from tracker.exchange.upload import UploadError, import_sheet
from tracker.models import Agency, Contact, Evidence, ProgressRequest
from tracker.requests.answer_form import agency_items, request_history
from tracker.requests.drafts import DraftError, save_draft
from tracker.requests.evidence import MAX_BYTES, EvidenceError, evidence_path, store_evidence
from tracker.requests.extensions import ExtensionError, ask_extension
from tracker.requests.reports import ReportError, ReportInput, input_problems, record_reports
from tracker.web.pages import templates

router = APIRouter(prefix="/l/{token}")
RequestId = Annotated[int, Path(ge=1, le=2**31 - 1)]
MESSAGES = {
    "saved": "草稿已保存。", "submitted": "已提交，感谢您的报送。",
    "evidence": "佐证材料已上传。", "extension": "延期申请已提交，待督查室审批。",
    "uploaded": "Excel 文件已导入。",
    "uploaded-none": "文件无误，但没有填写状态的行，未导入任何事项。",
}


def _liaison(request: Request, session: Session, token: str) -> Contact:
    try:
        liaison, claims = verify_link(
            session, request.app.state.secret, token, request.app.state.clock(),
            dt.timedelta(days=request.app.state.settings.rules.link_max_age_days))
    except LinkError as exc:
        raise HTTPException(exc.status, exc.code) from exc
    request.state.link = claims
    return liaison


def _own_request(session: Session, liaison: Contact, request_id: int) -> ProgressRequest:
    req = session.get(ProgressRequest, request_id)
    if req is None or req.agency_id != liaison.agency_id:
        raise HTTPException(403, "other-agency")
    return req


def _actor(request: Request, liaison: Contact) -> str:
    # who, and through which link: named by what was signed (liaison, version, issue time),
    # not by the token's bytes, which have equivalent spellings
    return f"liaison:{liaison.id}:link:{link_id(request.state.link)}"


def _page(request: Request, token: str, liaison: Contact, session: Session, *,
          errors: dict[int, list[str]] | None = None, posted: dict[int, dict[str, Any]] | None = None,
          upload_errors: list[str] | None = None, status: int = 200) -> HTMLResponse:
    now = request.app.state.clock()
    items = agency_items(session, liaison.agency_id, local_date(now))
    for item in items:
        if posted and item.request_id in posted:
            item.prefill, item.prefill_source = posted[item.request_id], "posted"
    agency = session.get_one(Agency, liaison.agency_id)
    return templates.TemplateResponse(request, "liaison/index.html", {
        "token": token, "liaison": liaison, "agency": agency, "items": items,
        "today": local_date(now), "message": MESSAGES.get(request.query_params.get("m", "")),
        "errors": errors or {}, "upload_errors": upload_errors or [],
        "several_plans": len({i.plan for i in items}) > 1,
    }, status_code=status)


@router.get("", response_class=HTMLResponse)
def index(request: Request, token: str) -> HTMLResponse:
    with request.app.state.factory() as session:
        liaison = _liaison(request, session, token)
        return _page(request, token, liaison, session)


def _redirect(token: str, message: str, anchor: str = "") -> RedirectResponse:
    return RedirectResponse(f"/l/{quote(token)}?m={message}{anchor}", status_code=303)


@router.post("/requests/{request_id}")
async def answer(request: Request, token: str, request_id: RequestId) -> Response:
    form = await request.form()
    fields = {k: str(form.get(k) or "") for k in
              ("status", "percent", "narrative", "problems", "next_steps", "value")}
    now = request.app.state.clock()
    with request.app.state.factory() as session:
        liaison = _liaison(request, session, token)
        _own_request(session, liaison, request_id)
        actor = _actor(request, liaison)
        if form.get("action") == "save":
            try:
                save_draft(session, agency_id=liaison.agency_id, request_id=request_id,
                           fields=fields, saved_by=actor, now=now)
            except DraftError as exc:
                raise HTTPException(exc.status, exc.code) from exc
            session.commit()
            return _redirect(token, "saved", f"#r{request_id}")
        try:
            item = ReportInput(
                request_id=request_id, status=fields["status"] or None,  # type: ignore[arg-type]
                percent=fields["percent"] or None,  # type: ignore[arg-type]
                narrative=fields["narrative"], problems=fields["problems"],
                next_steps=fields["next_steps"], value=fields["value"] or None)  # type: ignore[arg-type]
            record_reports(session, [item], submitted_by=actor, now=now, source="web")
        except (ValidationError, ReportError) as exc:
            session.rollback()
            if isinstance(exc, ReportError) and exc.code == "waived":
                raise HTTPException(exc.status, exc.code) from exc
            return _page(request, token, liaison, session, errors={request_id: _errors(exc)},
                         posted={request_id: fields}, status=422)
        session.commit()
    return _redirect(token, "submitted", f"#r{request_id}")


def _errors(exc: Exception) -> list[str]:
    if isinstance(exc, ReportError):
        return list(exc.problems.values())
    return [text for _field, text in input_problems(exc)]  # type: ignore[arg-type]


@router.get("/requests/{request_id}/history", response_class=HTMLResponse)
def history(request: Request, token: str, request_id: RequestId) -> HTMLResponse:
    with request.app.state.factory() as session:
        liaison = _liaison(request, session, token)
        req = _own_request(session, liaison, request_id)
        items = {i.request_id: i for i in agency_items(session, liaison.agency_id,
                                                       local_date(request.app.state.clock()))}
        versions = request_history(session, liaison.agency_id, request_id)
        return templates.TemplateResponse(request, "liaison/history.html", {
            "token": token, "req": req, "item": items.get(request_id), "versions": versions,
            "tz": SHANGHAI})


@router.post("/requests/{request_id}/evidence")
async def upload_evidence(request: Request, token: str, request_id: RequestId) -> Response:
    form = await request.form()
    upload = form.get("file")
    now = request.app.state.clock()
    with request.app.state.factory() as session:
        liaison = _liaison(request, session, token)
        _own_request(session, liaison, request_id)
        if not isinstance(upload, UploadFile) or not upload.filename:
            return _page(request, token, liaison, session,
                         errors={request_id: ["请选择要上传的文件。"]}, status=422)
        data = await upload.read(MAX_BYTES + 1)  # never more than the limit into memory
        try:
            store_evidence(session, request.app.state.settings.home, agency_id=liaison.agency_id,
                           request_id=request_id, filename=upload.filename, data=data,
                           uploaded_by=_actor(request, liaison), now=now)
        except EvidenceError as exc:
            session.rollback()
            return _page(request, token, liaison, session, errors={request_id: [str(exc)]},
                         status=422)
        session.commit()
    return _redirect(token, "evidence", f"#r{request_id}")


@router.get("/evidence/{evidence_id}")
def download_evidence(request: Request, token: str, evidence_id: RequestId) -> Response:
    with request.app.state.factory() as session:
        liaison = _liaison(request, session, token)
        ev = session.get(Evidence, evidence_id)
        if ev is None:
            raise HTTPException(404, "not-found")
        _own_request(session, liaison, ev.request_id)
        data = evidence_path(request.app.state.settings.home, ev.sha256).read_bytes()
    # Always a download with a neutral type: nothing uploaded ever runs in the browser.
    return Response(data, media_type="application/octet-stream", headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(ev.filename)}",
        "Content-Security-Policy": "sandbox", "X-Content-Type-Options": "nosniff"})


@router.post("/requests/{request_id}/extension")
async def extension(request: Request, token: str, request_id: RequestId) -> Response:
    form = await request.form()
    now = request.app.state.clock()
    with request.app.state.factory() as session:
        liaison = _liaison(request, session, token)
        _own_request(session, liaison, request_id)
        try:
            new_due = dt.date.fromisoformat(str(form.get("new_due_on") or ""))
            ask_extension(session, agency_id=liaison.agency_id, request_id=request_id,
                          new_due_on=new_due, reason=str(form.get("reason") or ""),
                          asked_by=_actor(request, liaison), now=now)
        except ValueError as exc:
            session.rollback()
            text = str(exc) if isinstance(exc, ExtensionError) else "请填写有效的新截止日期。"
            return _page(request, token, liaison, session, errors={request_id: [text]},
                         status=422)
        session.commit()
    return _redirect(token, "extension", f"#r{request_id}")


@router.get("/template.xlsx")
def template(request: Request, token: str) -> Response:
    now = request.app.state.clock()
    with request.app.state.factory() as session:
        liaison = _liaison(request, session, token)
        data = agency_template(session, liaison.agency_id, local_date(now), now)
    return Response(data, media_type="application/vnd.openxmlformats-officedocument."
                                     "spreadsheetml.sheet", headers={
        "Content-Disposition": "attachment; filename*=UTF-8''" + quote("进展填报.xlsx")})


@router.post("/upload")
async def upload(request: Request, token: str) -> Response:
    form = await request.form()
    file = form.get("file")
    now = request.app.state.clock()
    with request.app.state.factory() as session:
        liaison = _liaison(request, session, token)
        if not isinstance(file, UploadFile) or not file.filename:
            return _page(request, token, liaison, session, upload_errors=["请选择要上传的 Excel 文件。"],
                         status=422)
        data = await file.read(SHEET_MAX_BYTES + 1)
        try:
            # parsing is CPU work: keep it off the event loop so other users are served
            result = await run_in_threadpool(
                import_sheet, session, data, agency_id=liaison.agency_id,
                submitted_by=_actor(request, liaison), now=now)
        except (UploadError, ReportError) as exc:
            session.rollback()
            problems = ([str(p) for p in exc.problems] if isinstance(exc, UploadError)
                        else [str(exc)])
            return _page(request, token, liaison, session, upload_errors=problems, status=422)
        session.commit()
    return _redirect(token, "uploaded" if result.recorded else "uploaded-none", "#upload")
