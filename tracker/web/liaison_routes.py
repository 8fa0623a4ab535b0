"""Pages a liaison reaches from the signed link in a notification (no password).

`LiaisonLink` (tracker.web.deps) checks the link in the path for every page. A link opens
the items of every agency its person is an active liaison of (issue 8, item 4), each
labelled with its agency; a request of any other agency is refused by `owned_request`
(403), and each action is recorded under the request's own agency.

The landing page (`/l/{token}`) lists the items compactly, grouped by plan and period,
with due day, light and state, and the Excel upload; each item has its own short page
(`/l/{token}/requests/{id}`: the answer form with its evidence file, extension, peers and,
for a lead, consolidation). A form that a service refuses (`tracker.errors.DomainError`)
comes back as the item's page (422) with an error summary at the top linking to each
field, each field's message beside it, and what was typed. An expired or revoked link's
page offers a new link by email to the address on file (`link_refused`, `new_link`).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from tracker.annual.indicators import IndicatorError, write_explanation
from tracker.annual.meeting_records import (
    MeetingFormError,
    MeetingInput,
    Minutes,
    link_meetings,
    meeting_for_link,
    minutes_file,
    recordable,
    submit_meeting,
)
from tracker.dates.workdays import SHANGHAI, local_date
from tracker.directory.agencies import agencies_named, get_agency
from tracker.directory.links import LinkError, renewable, send_new_link
from tracker.errors import DomainError, Forbidden
from tracker.exchange.template import agency_template, template_filename
from tracker.exchange.upload import MAX_BYTES as SHEET_MAX_BYTES
from tracker.exchange.upload import UploadError, read_sheet, record_sheet, recorded_summary
from tracker.requests.answer_form import (
    agency_items,
    item_groups,
    item_page,
    peer_cursor,
    request_history,
)
from tracker.requests.consolidate import consolidate
from tracker.requests.drafts import save_draft
from tracker.requests.evidence import MAX_BYTES, evidence_for_agency, evidence_path, store_evidence
from tracker.requests.extensions import ExtensionError, ask_extension
from tracker.requests.opening import owned_request
from tracker.requests.reports import (
    MILESTONE_EXPLANATION,
    AnswerError,
    ReportError,
    answer_input,
    submit_answer,
)
from tracker.web.deps import Context, DbSession, LiaisonLink, Link, Now, WebContext, app_context
from tracker.web.forms import (
    AnswerWithFileForm,
    ExplanationForm,
    ExtensionAskForm,
    MeetingRecordForm,
    UploadForm,
)
from tracker.web.pages import SECURITY_HEADERS, templates

router = APIRouter(prefix="/l/{token}")
RequestId = Annotated[int, Path(ge=1, le=2**31 - 1)]
MESSAGES = {
    "saved": "草稿已保存。", "submitted": "已提交，感谢您的报送。",
    "evidence": "佐证材料已上传。",
    "evidence-draft": "佐证材料已上传，页面上填写的内容已保存为草稿（尚未提交）。",
    "submitted-evidence": "已提交，佐证材料随本次报送一并上传。感谢您的报送。",
    "saved-evidence": "草稿已保存，佐证材料已上传。",
    "extension": "延期申请已提交，待督查室审批。",
    "consolidated": "已汇总配合单位和各区的报送，并保存为本单位的草稿（尚未提交）；请核改后提交。",
    "consolidated-none": "配合单位和各区尚无报送内容，没有可汇总的内容。",
    "uploaded-none": "文件无误，但没有填写状态的行，未导入任何事项。",
    "meeting": "常务会议记录已报送，待督查室确认。",
    "meeting-corrected": "会议记录已修改，待督查室确认。",
    "explained": "偏离进度说明已提交，感谢您的说明。",
}
# a form field's name -> the suffix of its element id on the item page (#r{id}-{suffix})
FIELD_IDS = {"status": "status", "percent": "percent", "value": "value",
             "numerator": "numerator", "denominator": "denominator", "source": "source",
             "explanation": "explanation",
             "narrative": "narrative", "problems": "problems", "next_steps": "next",
             "file": "file", "new_due_on": "due", "reason": "reason"}
Problems = list[tuple[str, str]]  # (element id suffix or "", Chinese text)


def _index(request: Request, link: Link, session: Session, context: WebContext,
           now: dt.datetime, *, upload_errors: list[str] | None = None,
           status: int = 200) -> HTMLResponse:
    """The landing page: every item of the link's agencies in a compact list, grouped by
    plan and period, and the Excel upload."""
    today = local_date(now)
    items = agency_items(session, link.agencies, today, context.policy_in(session), detail=False)
    message = MESSAGES.get(request.query_params.get("m", ""))
    if request.query_params.get("m") == "uploaded":
        message = recorded_summary(session, link.agencies, _ids(request.query_params.get("r")))
    return templates.TemplateResponse(request, "liaison/index.html", {
        "token": link.token, "liaison": link.contact, "agency": get_agency(session, link.agency_id),
        "agencies": agencies_named(session, link.agencies), "groups": item_groups(items),
        "open_count": sum(1 for i in items if i.state == "open"),
        "overdue_count": sum(1 for i in items if i.overdue),
        "returned_count": sum(1 for i in items if i.returned),
        "today": today, "message": message,
        "upload_errors": upload_errors or [],
        "meeting_governments": recordable(session, link.agencies),
    }, status_code=status)


def _ids(text: str | None) -> list[int]:
    """Report ids from the address bar ("12,13"); anything else is dropped."""
    parts = (text or "").split(",")[:500]
    return [int(p) for p in parts if p.isascii() and p.isdigit() and 0 < int(p) < 2**31]


def _item(request: Request, link: Link, session: Session, context: WebContext,
          now: dt.datetime, request_id: int, *, problems: Problems | None = None,
          posted: dict[str, Any] | None = None, note: str | None = None,
          asked: dict[str, str] | None = None, explained: str | None = None,
          status: int = 200) -> HTMLResponse:
    """One item's page; after a refusal, with the errors (summary and beside each field)
    and what was typed (`posted`: the answer, `asked`: the extension form)."""
    today = local_date(now)
    item = item_page(session, link.agencies, request_id, today, context.policy_in(session),
                     peer_cursor(request.query_params.get("peers_after")))
    if posted is not None:
        item.prefill, item.prefill_source = posted, "posted"
    problems = problems or []
    by_field: dict[str, list[str]] = {}
    for suffix, text in problems:
        by_field.setdefault(suffix, []).append(text)
    return templates.TemplateResponse(request, "liaison/item.html", {
        "token": link.token, "item": item, "today": today,
        "several_agencies": len(link.agencies) > 1,
        "message": note or MESSAGES.get(request.query_params.get("m", "")),
        "problems": problems, "field_errors": by_field, "asked": asked or {},
        "explained": explained, "tz": SHANGHAI,
    }, status_code=status)


def _to_item(link: Link, request_id: int, message: str) -> RedirectResponse:
    return RedirectResponse(f"/l/{quote(link.token)}/requests/{request_id}?m={message}",
                            status_code=303)


@router.get("", response_class=HTMLResponse)
def index(request: Request, link: LiaisonLink, session: DbSession, context: Context,
          now: Now) -> HTMLResponse:
    return _index(request, link, session, context, now)


@router.get("/requests/{request_id}", response_class=HTMLResponse)
def item(request: Request, request_id: RequestId, link: LiaisonLink, session: DbSession,
         context: Context, now: Now) -> HTMLResponse:
    return _item(request, link, session, context, now, request_id)


def _problems(exc: DomainError) -> Problems:
    """A refusal's faults, each with the id suffix of the field it is about ("" if none)."""
    if isinstance(exc, AnswerError):
        return [(FIELD_IDS.get(name, ""), text) for name, text in exc.fields]
    if isinstance(exc, ReportError):  # field-bound: an indicator's value, a milestone's
        return [("value" if "指标数值" in text else                # explanation
                 FIELD_IDS["narrative"] if text == MILESTONE_EXPLANATION else "", text)
                for text in exc.problems.values()]
    return [("", exc.message)]


def _answer_problems(request_id: int, fields: dict[str, str]) -> Problems:
    """The faults of a typed answer (checked without the database), for the page."""
    try:
        answer_input(request_id, fields)
    except AnswerError as exc:
        return _problems(exc)
    return []


@router.post("/requests/{request_id}")
def answer(request: Request, request_id: RequestId,
           form: Annotated[AnswerWithFileForm, Form()], link: LiaisonLink, session: DbSession,
           context: Context, now: Now) -> Response:
    """Submit, save a draft, or upload the evidence file only; the file chosen in the form
    goes with any of them. Uploading only a file saves what was typed as a draft first, so
    nothing typed is lost. A refused answer writes nothing, except that a good file chosen
    with it is kept (with the typed answer as a draft), so it need not be chosen again."""
    req = owned_request(session, link.agencies, request_id)
    fields, upload = form.fields(), form.chosen
    submitting = not (form.saving or form.uploading)
    if form.uploading and upload is None:
        return _item(request, link, session, context, now, request_id, posted=fields,
                     problems=[("file", "请选择要上传的文件。")], status=422)
    try:
        if not submitting:  # a draft may be incomplete: kept as typed (waived: 409)
            save_draft(session, agency_id=req.agency_id, request_id=request_id,
                       fields=fields, saved_by=link.actor, now=now)
        if upload is not None:
            store_evidence(session, context.settings.home, agency_id=req.agency_id,
                           request_id=request_id, filename=upload.filename or "",
                           data=upload.file.read(MAX_BYTES + 1),  # never more than the limit
                           uploaded_by=link.actor, now=now)
    except DomainError as exc:
        session.rollback()
        if exc.code == "waived":
            raise  # its own page (409)
        problems = [("file", exc.message)]
        if submitting:  # a refused file does not hide the answer's own faults
            problems += _answer_problems(request_id, fields)
        return _item(request, link, session, context, now, request_id, posted=fields,
                     problems=problems, status=422)
    if submitting:
        try:
            with session.begin_nested():
                submit_answer(session, request_id=request_id, fields=fields,
                              submitted_by=link.actor, now=now, source="web")
        except DomainError as exc:
            if exc.code == "waived":
                session.rollback()
                raise
            note = None
            if upload is not None:  # the file was good: keep it, with what was typed
                save_draft(session, agency_id=req.agency_id, request_id=request_id,
                           fields=fields, saved_by=link.actor, now=now)
                session.commit()
                note = (f"所选佐证材料“{upload.filename}”已上传，填写的内容已保存为草稿；"
                        "请修改以下问题后提交。")
            else:
                session.rollback()
            return _item(request, link, session, context, now, request_id, posted=fields,
                         problems=_problems(exc), note=note, status=422)
    session.commit()
    done = "submitted" if submitting else "saved" if form.saving else "evidence-draft"
    if upload is not None and done != "evidence-draft":
        done += "-evidence"
    return _to_item(link, request_id, done)


@router.post("/requests/{request_id}/consolidate")
def consolidate_peers(request: Request, request_id: RequestId, link: LiaisonLink,
                      session: DbSession, context: Context, now: Now) -> Response:
    """A lead's "汇总配合单位和各区报送": its answer filled from its peers' as a draft."""
    try:
        done = consolidate(session, agencies=link.agencies, request_id=request_id,
                           saved_by=link.actor, now=now)
    except DomainError as exc:
        session.rollback()
        if exc.status == 403:
            raise
        return _item(request, link, session, context, now, request_id,
                     problems=[("", exc.message)], status=422)
    session.commit()
    return _to_item(link, request_id, "consolidated" if done.reported else "consolidated-none")


@router.get("/requests/{request_id}/history", response_class=HTMLResponse)
def history(request: Request, request_id: RequestId, link: LiaisonLink, session: DbSession,
            context: Context, now: Now) -> HTMLResponse:
    req = owned_request(session, link.agencies, request_id)
    found = item_page(session, link.agencies, request_id, local_date(now),
                      context.policy_in(session))
    versions = request_history(session, req.agency_id, request_id)
    return templates.TemplateResponse(request, "liaison/history.html", {
        "token": link.token, "req": req, "item": found, "versions": versions,
        "tz": SHANGHAI})


@router.post("/requests/{request_id}/evidence")
def upload_evidence(request: Request, request_id: RequestId, form: Annotated[UploadForm, Form()],
                    link: LiaisonLink, session: DbSession, context: Context, now: Now
                    ) -> Response:
    """A file alone (pages before issue 10 posted here; the item page's answer form now
    carries the file, see `answer`)."""
    req = owned_request(session, link.agencies, request_id)
    upload = form.chosen
    if upload is None:
        return _item(request, link, session, context, now, request_id,
                     problems=[("file", "请选择要上传的文件。")], status=422)
    data = upload.file.read(MAX_BYTES + 1)  # never more than the limit into memory
    try:
        store_evidence(session, context.settings.home, agency_id=req.agency_id,
                       request_id=request_id, filename=upload.filename or "", data=data,
                       uploaded_by=link.actor, now=now)
    except DomainError as exc:
        session.rollback()
        return _item(request, link, session, context, now, request_id,
                     problems=[("file", exc.message)], status=422)
    session.commit()
    return _to_item(link, request_id, "evidence")


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
              link: LiaisonLink, session: DbSession, context: Context, now: Now) -> Response:
    req = owned_request(session, link.agencies, request_id)
    asked = {"new_due_on": form.new_due_on, "reason": form.reason}
    try:
        ask_extension(session, agency_id=req.agency_id, request_id=request_id,
                      new_due_on=form.new_due_date, reason=form.reason, asked_by=link.actor,
                      now=now)
    except DomainError as exc:
        session.rollback()
        fields = exc.fields if isinstance(exc, ExtensionError) else [("", exc.message)]
        return _item(request, link, session, context, now, request_id, asked=asked,
                     problems=[(FIELD_IDS.get(name, ""), text) for name, text in fields],
                     status=422)
    session.commit()
    return _to_item(link, request_id, "extension")


@router.post("/requests/{request_id}/explanation")
def explanation(request: Request, request_id: RequestId,
                form: Annotated[ExplanationForm, Form()], link: LiaisonLink, session: DbSession,
                context: Context, now: Now) -> Response:
    """The owner's written explanation of an indicator value off its trajectory (说明)."""
    try:
        write_explanation(session, link.agencies, request_id, form.text, by=link.actor, now=now)
    except IndicatorError as exc:
        session.rollback()
        if exc.status == 403:
            raise
        return _item(request, link, session, context, now, request_id, explained=form.text,
                     problems=[(FIELD_IDS.get(exc.field, ""), exc.message)], status=422)
    session.commit()
    return _to_item(link, request_id, "explained")


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
        return _index(request, link, session, context, now,
                      upload_errors=["请选择要上传的 Excel 文件。"], status=422)
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
        return _index(request, link, session, context, now, upload_errors=problems, status=422)
    session.commit()
    # the page names what was recorded (`recorded_summary`, read back for the link's
    # agencies only, so ids typed into the address bar show nothing of anyone else's)
    done = ("uploaded&r=" + ",".join(map(str, result.report_ids)) if result.recorded
            else "uploaded-none")
    # the message heads the page: no jump to the upload box below it
    return RedirectResponse(f"/l/{quote(link.token)}?m={done}", status_code=303)


# Executive meetings (issue 11, item 4) ------------------------------------------------

MEETING_IDS = {"government": "m-government", "held_on": "m-held-on", "name": "m-name",
               "decisions": "m-decisions", "minutes": "m-minutes"}


def _meetings(request: Request, link: Link, session: Session, now: dt.datetime, *,
              editing: int | None = None, typed: MeetingInput | None = None,
              message: str | None = None, status: int = 200) -> HTMLResponse:
    """The link's meetings page: its governments' recorded meetings with their state, and
    the form to record one (or to correct `editing`); after a refusal, the errors (summary
    and beside each field) and what was typed."""
    governments = recordable(session, link.agencies)
    if not governments:
        raise Forbidden("本链接所属单位不负责记录政府常务会议", code="no-government")
    rows = link_meetings(session, link.agencies)
    current = meeting_for_link(session, link.agencies, editing) if editing else None
    if typed is None:
        typed = MeetingInput()
        if current is not None:
            typed = MeetingInput(government=f"{current.plan_id}:{current.government}",
                                 held_on=current.held_on.isoformat(), name=current.name,
                                 decisions=current.decisions)
    by_field: dict[str, list[str]] = {}
    for name, text in typed.problems:
        by_field.setdefault(name, []).append(text)
    return templates.TemplateResponse(request, "liaison/meetings.html", {
        "token": link.token, "governments": governments, "rows": rows, "current": current,
        "typed": typed, "problems": typed.problems, "field_errors": by_field,
        "ids": MEETING_IDS, "today": local_date(now),
        "message": message or MESSAGES.get(request.query_params.get("m", "")),
        "several_plans": len({g.plan_id for g in governments}) > 1,
    }, status_code=status)


@router.get("/meetings", response_class=HTMLResponse)
def meetings(request: Request, link: LiaisonLink, session: DbSession, now: Now) -> HTMLResponse:
    return _meetings(request, link, session, now)


@router.get("/meetings/{meeting_id}", response_class=HTMLResponse)
def meeting_edit(request: Request, meeting_id: RequestId, link: LiaisonLink,
                 session: DbSession, now: Now) -> HTMLResponse:
    """The form to correct a meeting not yet confirmed (a confirmed one shows read-only)."""
    return _meetings(request, link, session, now, editing=meeting_id)


def _record(request: Request, form: MeetingRecordForm, link: Link, session: Session,
            context: WebContext, now: dt.datetime, meeting_id: int | None) -> Response:
    typed = MeetingInput(government=form.government, held_on=form.held_on, name=form.name,
                         decisions=form.decisions)
    upload = form.chosen
    minutes = (Minutes(upload.filename or "", upload.file.read(MAX_BYTES + 1))
               if upload is not None else None)
    try:
        submit_meeting(session, context.settings.home, agencies=link.agencies, typed=typed,
                       minutes=minutes, recorded_by=link.actor, now=now,
                       meeting_id=meeting_id)
    except MeetingFormError as exc:
        session.rollback()
        typed.problems = exc.fields
        if upload is not None and not any(name == "minutes" for name, _ in exc.fields):
            typed.problems = typed.problems + [
                ("minutes", f"会议纪要：所选文件“{upload.filename}”未保存，"
                            "请改正其他问题后重新选择")]
        return _meetings(request, link, session, now, editing=meeting_id, typed=typed,
                         status=422)
    session.commit()
    return RedirectResponse(
        f"/l/{quote(link.token)}/meetings?m=" + ("meeting-corrected" if meeting_id else "meeting"),
        status_code=303)


@router.post("/meetings")
def meeting_record(request: Request, form: Annotated[MeetingRecordForm, Form()],
                   link: LiaisonLink, session: DbSession, context: Context, now: Now
                   ) -> Response:
    """Record a meeting with its minutes; it waits for the office's confirmation. A
    refusal (422) names every faulty field and shows the form again as typed."""
    return _record(request, form, link, session, context, now, None)


@router.post("/meetings/{meeting_id}")
def meeting_correct(request: Request, meeting_id: RequestId,
                    form: Annotated[MeetingRecordForm, Form()], link: LiaisonLink,
                    session: DbSession, context: Context, now: Now) -> Response:
    """Correct a meeting the office has not confirmed (a returned one goes back to 待确认)."""
    return _record(request, form, link, session, context, now, meeting_id)


@router.get("/meetings/{meeting_id}/minutes")
def meeting_minutes(meeting_id: RequestId, link: LiaisonLink, session: DbSession,
                    context: Context) -> Response:
    meeting = meeting_for_link(session, link.agencies, meeting_id)  # 403 if not the link's
    data = minutes_file(context.settings.home, meeting)
    # always a download with a neutral type: nothing uploaded runs in the browser
    return Response(data, media_type="application/octet-stream", headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(meeting.minutes_filename or 'minutes')}",
        "Content-Security-Policy": "sandbox", "X-Content-Type-Options": "nosniff"})


# Expired and revoked links -----------------------------------------------------------

renewal = APIRouter()


def _link_page(request: Request, context: WebContext, exc: LinkError, *, can_renew: bool,
               sent: str | None = None, already: bool = False) -> HTMLResponse:
    token = request.path_params.get("token", "")
    response = templates.TemplateResponse(request, "liaison/link_refused.html", {
        "reason": exc.reason, "token": token, "can_renew": can_renew, "sent": sent,
        "already": already, "office_contact": context.settings.office_contact,
        "every": context.settings.rules.new_link_every_minutes,
    }, status_code=200 if sent else exc.status)  # a new link sent: that request succeeded
    response.headers.update(SECURITY_HEADERS)  # error responses may bypass the middleware
    response.headers["Cache-Control"] = "no-store"
    return response


def link_refused(request: Request, exc: Exception) -> Response:
    """The page of a link that does not open (installed by create_app for LinkError): a
    forged one says only that; an expired or revoked one of an active liaison offers "向登
    记邮箱发送新链接" (`new_link`), and every one names the office to contact."""
    assert isinstance(exc, LinkError)
    context = app_context(request.app)
    liaison = None
    if exc.reason != "forged":
        with context.read_factory() as session:
            try:
                _, liaison = renewable(session, context.secret,
                                       str(request.path_params.get("token", "")),
                                       context.clock(), _max_age(context))
            except LinkError:
                liaison = None
    return _link_page(request, context, exc, can_renew=liaison is not None)


def _max_age(context: WebContext) -> dt.timedelta:
    return dt.timedelta(days=context.settings.rules.link_max_age_days)


@renewal.post("/l/{token}/new-link")
def new_link(request: Request, token: str, session: DbSession, context: Context,
             now: Now) -> Response:
    """Send a new link to the liaison's address on file (at most one per
    `Rules.new_link_every_minutes`; pressing twice sends once). A forged token gets the
    forged page and nothing else; a link that still works goes back to its page."""
    state, liaison = renewable(session, context.secret, token, now, _max_age(context))
    if state == "valid":
        return RedirectResponse(f"/l/{quote(token)}", status_code=303)
    refused = LinkError(state)
    if liaison is None:  # no active liaison to send to: the office's contact only
        return _link_page(request, context, refused, can_renew=False)
    every = dt.timedelta(minutes=context.settings.rules.new_link_every_minutes)
    outcome = send_new_link(session, liaison, now, every=every, channel=context.policy.channel)
    session.commit()
    return _link_page(request, context, refused, can_renew=False, sent=outcome.masked,
                      already=outcome.outcome == "already")
