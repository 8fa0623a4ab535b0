"""The supervision office's desk: sign-in, overdue board, item pages, actions, ledger.

Each handler parses (path, query, a form model), calls a service and renders or
redirects; the dependencies in `tracker.web.deps` give it the session, the clock's time
and the signed-in staff member. A service's refusal (`tracker.errors.DomainError`) of an
action comes back to the page it was made from, with its words.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Annotated
from urllib.parse import parse_qsl, quote, urlencode

from fastapi import APIRouter, Form, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from tracker.annual.meeting_records import board_meetings
from tracker.annual.meetings import record_meeting
from tracker.annual.scorecard import escalation_detail_csv, scorecard_as_it_stands
from tracker.dates.workdays import SHANGHAI, local_date
from tracker.desk.board import (
    BoardFilter,
    agencies_matching,
    agency_name,
    board,
    board_options,
    chosen_plan,
    heat_board,
    on_time_by_period,
    plan_for_page,
)
from tracker.desk.item_history import request_history
from tracker.desk.ledger import ledger_title
from tracker.desk.ledger_book import ledger_workbook
from tracker.desk.queues import QUEUES, QueueFilter
from tracker.directory.staff import CHECK_SECONDS, AuthError, sign_in_committed, sign_out
from tracker.enums import StaffRole
from tracker.errors import DomainError, NotFound
from tracker.escalation.circulars import circular_list, sign_off
from tracker.escalation.office_actions import add_note, escalate_now, waive
from tracker.outbox import dead_letters, dead_letters_by_id, requeue_by_office
from tracker.requests.close_out import close_out
from tracker.requests.extensions import decide_extension, extension_request_id
from tracker.requests.review import (
    accept_report,
    accept_reports,
    report_request_id,
    return_comment_problem,
    return_report,
)
from tracker.web.deps import (
    Context,
    DbSession,
    Id,
    Now,
    OfficeViewer,
    PageNo,
    StaffActor,
    StaffLeaving,
    StaffViewer,
    WebContext,
    desk_again,
    staff_actor_name,
)
from tracker.web.forms import (
    CheckedReportsForm,
    CloseOutForm,
    ConfirmForm,
    ExtensionDecisionForm,
    LoginForm,
    MeetingForm,
    RequestActionForm,
    RequeueForm,
    ReviewForm,
)
from tracker.web.notices import notice
from tracker.web.pages import templates
from tracker.web.queues_routes import queue_response
from tracker.web.staff import (
    COOKIE,
    LOGIN_COOKIE,
    Desk,
    client_address,
    flash,
    login_nonce,
    read_flash,
)

router = APIRouter()
# where each role lands after signing in: the office on its queues, the performance office
# (绩效办) on its scorecards, administrators on the board
LANDING = {StaffRole.OFFICE: "/desk/queues", StaffRole.PERFORMANCE: "/desk/scorecards"}
AGENCY_MATCHES = 20  # the agency search's matches listed when the text names several
HEAT_ROWS = 50  # the board's heat table: the agencies with most overdue, the rest as one row
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _attachment(data: bytes, media_type: str, filename: str) -> Response:
    return Response(data, media_type=media_type, headers=_disposition(filename))


def _disposition(filename: str) -> dict[str, str]:
    return {"Content-Disposition": "attachment; filename*=UTF-8''" + quote(filename)}


def _safe_next(value: str) -> str:
    return value if value.startswith("/desk") else "/desk"


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, context: Context, next: str = "/desk") -> HTMLResponse:
    nonce = login_nonce()
    resp = templates.TemplateResponse(request, "desk/login.html",
                                      {"nonce": nonce, "next": _safe_next(next), "error": None})
    resp.set_cookie(LOGIN_COOKIE, nonce, httponly=True, samesite="strict", max_age=1800,
                    secure=_https(context))
    return resp


def _https(context: WebContext) -> bool:
    """Every cookie is Secure when liaisons and staff reach the site over https."""
    return context.settings.base_url.startswith("https")


@router.post("/login")
async def login(request: Request, form: Annotated[LoginForm, Form()], context: Context,
                now: Now) -> Response:
    nonce = request.cookies.get(LOGIN_COOKIE)
    if not nonce or form.csrf != nonce:
        raise HTTPException(403, "csrf")
    rules = context.settings.rules
    try:
        # argon2 is deliberately slow: checked in a worker thread, holding no transaction
        _user, token = await run_in_threadpool(
            sign_in_committed, context.factory, username=form.username, password=form.password,
            address=client_address(request, context.settings), now=now, rules=rules)
    except AuthError as exc:
        if not exc.checked:  # answered no sooner than a checked one: timing tells nothing
            await asyncio.sleep(CHECK_SECONDS)
        # the same words whether the name exists or is locked: no account discovery
        text = (f"用户名或密码错误。连续错误 {rules.login_max_failures} 次后"
                f"账户将锁定 {rules.login_lock_minutes} 分钟。")
        fresh = login_nonce()
        resp = templates.TemplateResponse(
            request, "desk/login.html",
            {"nonce": fresh, "next": _safe_next(form.next), "error": text}, status_code=401)
        resp.set_cookie(LOGIN_COOKIE, fresh, httponly=True, samesite="strict", max_age=1800,
                        secure=_https(context))
        return resp
    target = _safe_next(form.next)
    if target == "/desk":  # no page asked for: the role's own page (issue 10, item 4)
        target = LANDING.get(_user.role, "/desk")
    done = RedirectResponse(target, status_code=303)
    done.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=_https(context))
    done.delete_cookie(LOGIN_COOKIE)
    return done


@router.post("/logout")
def logout(who: StaffLeaving, session: DbSession, now: Now) -> Response:
    if who is not None:  # a stale session is over already: just drop the cookie
        sign_out(session, who, now)
        session.commit()
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(COOKIE)
    return resp


@router.get("/desk", response_class=HTMLResponse)
def desk(request: Request, viewer: StaffViewer, session: DbSession, context: Context,
         now: Now) -> HTMLResponse:
    today = local_date(now)
    params = {k: v for k, v in request.query_params.items() if v}
    # the agency filter is a search box (a national plan has tens of thousands of agencies):
    # one agency named or matched picks it; several or none are listed instead
    agency_text = params.pop("agency_name", "").strip()[:100]
    agency_matches: list[tuple[int, str]] = []
    if agency_text:
        params.pop("agency", None)
        agency_matches = agencies_matching(session, BoardFilter.from_query(params).plan_id,
                                           agency_text, limit=AGENCY_MATCHES + 1)
        if len(agency_matches) == 1:
            params["agency"] = str(agency_matches[0][0])
    f = BoardFilter.from_query(params)
    if f.agency_id and not agency_text:
        agency_text = agency_name(session, f.agency_id)
    opts = board_options(session, f.plan_id)
    policy = context.policy_in(session)
    result = board(session, f, today, policy)
    sections, heat, heat_rest = heat_board(session, f, today, policy, HEAT_ROWS)
    rates = on_time_by_period(session, f, today, policy)
    meeting_plan = plan_for_page(session, f.plan_id)
    meetings = board_meetings(session, meeting_plan, today) if meeting_plan else None
    session.commit()
    query = {k: v for k, v in params.items() if k not in ("page", "after", "before")}
    return templates.TemplateResponse(request, "desk/board.html", {
        "desk": viewer, "board": result,
        "f": f, "opts": opts, "sections": sections, "heat": heat, "heat_rest": heat_rest,
        "several_plans": len(opts.plans) > 1 and not f.plan_id, "meeting_plan": meeting_plan,
        "meetings": meetings, "rates": rates, "today": today, "query": query,
        "agency_text": agency_text, "agency_matches": agency_matches[:AGENCY_MATCHES],
        "agency_more": len(agency_matches) > AGENCY_MATCHES,
        "agency_qs": urlencode({k: v for k, v in query.items() if k != "agency"}),
        "qs": urlencode(query), "pages": max((result.total + f.per_page - 1) // f.per_page, 1),
        "notice": notice(context, request.query_params.get("m")),
        "error": read_flash(context.secret, request.query_params.get("error")),
        "can_act": viewer.can_act,
    })


@router.get("/desk/ledger.xlsx")
def ledger(request: Request, _desk: StaffViewer, session: DbSession, context: Context,
           now: Now) -> Response:
    f = BoardFilter.from_query(dict(request.query_params))
    title = ledger_title(session, f, local_date(now))
    data = ledger_workbook(session, f, local_date(now), context.policy_in(session), title)
    session.commit()
    return _attachment(data, XLSX, "督查台账.xlsx")


@router.get("/desk/scorecard/{year}.xlsx")
def scorecard(year: Annotated[int, Path(ge=2000, le=2100)], _desk: StaffViewer,
              session: DbSession, context: Context, now: Now,
              plan: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None) -> Response:
    """A plan's scorecard of the year: the issued one once the annual checkpoint has issued
    it, else a trial as it stands now. `?plan=` names the plan when several are loaded."""
    data = scorecard_as_it_stands(session, chosen_plan(session, plan), year,
                                  rules=context.policy.rules, now=now)
    session.commit()
    return _attachment(data, XLSX, f"考核记分卡-{year}.xlsx")


@router.get("/desk/scorecard/{year}-escalations.csv")
def scorecard_detail(year: Annotated[int, Path(ge=2000, le=2100)], _desk: StaffViewer,
                     session: DbSession, context: Context, now: Now,
                     plan: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None) -> Response:
    """The per-escalation detail (CSV, UTF-8 with BOM) beside the year's scorecard."""
    chunks = escalation_detail_csv(session, chosen_plan(session, plan), year,
                                   rules=context.policy.rules, now=now)
    session.commit()
    return StreamingResponse(chunks, media_type="text/csv; charset=utf-8",
                             headers=_disposition(f"考核记分卡-{year}-逾期督办明细.csv"))


@router.get("/desk/requests/{request_id}", response_class=HTMLResponse)
def item(request: Request, request_id: Id, viewer: StaffViewer, session: DbSession,
         context: Context, now: Now) -> HTMLResponse:
    return _item_response(request, session, context, now, viewer, request_id,
                          dict(request.query_params))


def _item_response(request: Request, session: Session, context: WebContext, now: dt.datetime,
                   viewer: Desk, request_id: int, params: dict[str, str], *,
                   field_errors: dict[int, str] | None = None) -> HTMLResponse:
    """Render the item page of `request_id` (NotFound if unknown); commits. `field_errors`
    ({report id: message}) shows the review form again with its comment marked (400)."""
    history = request_history(session, request_id)
    if history is None:
        raise NotFound(f"没有编号为 {request_id} 的事项")
    session.commit()
    return templates.TemplateResponse(request, "desk/item.html", {
        "desk": viewer, "h": history, "tz": SHANGHAI, "today": local_date(now),
        "notice": notice(context, params.get("m")), "field_errors": field_errors or {},
        "error": read_flash(context.secret, params.get("error")),
        "can_act": viewer.can_act}, status_code=400 if field_errors else 200)


def _back(request_id: int, message: str | None = None, error: str | None = None) -> Response:
    q = urlencode({k: v for k, v in (("m", message), ("error", error)) if v})
    return RedirectResponse(f"/desk/requests/{request_id}?{q}", status_code=303)


def _refused(session: Session, context: WebContext, request_id: int, exc: DomainError
             ) -> Response:
    """Back to the item page with the refusal's words; the form token stays used."""
    session.commit()
    return _back(request_id, error=flash(context.secret, exc.message))


@router.post("/desk/requests/{request_id}/{action}")
def request_action(request_id: Id, action: str, form: Annotated[RequestActionForm, Form()],
                   who: StaffActor, session: DbSession, context: Context, now: Now
                   ) -> Response:
    if action not in ("escalate", "waive", "note"):
        raise HTTPException(404, "not-found")
    if action != "note" and not form.confirmed:  # the first step: what will be sent
        session.commit()  # the form token stays used
        q = "?" + urlencode({"reason": form.reason}) if action == "waive" else ""
        return RedirectResponse(f"/desk/requests/{request_id}/{action}{q}", status_code=303)
    actor = staff_actor_name(who)
    try:
        if action == "escalate":
            level, queued = escalate_now(session, request_id, actor=actor, now=now,
                                         policy=context.policy_in(session),
                                         to_level=form.to_level)
            message = f"escalated-{level}" if queued else "escalated-nobody"
        elif action == "waive":
            waive(session, request_id, reason=form.reason, actor=actor, now=now,
                  policy=context.policy_in(session))
            message = "waived"
        else:
            add_note(session, request_id=request_id, measure_id=None, text=form.text,
                     author=actor, now=now)
            message = "noted"
    except DomainError as exc:
        return _refused(session, context, request_id, exc)
    session.commit()
    return _back(request_id, message)


@router.post("/desk/reports/accept-checked")
def review_checked(form: Annotated[CheckedReportsForm, Form()], who: StaffActor,
                   session: DbSession, context: Context, now: Now) -> Response:
    """审核通过 for the queue page's checked rows; back to that page with the outcome."""
    back = form.queue or "/desk/queues/reviews"
    try:
        done = accept_reports(session, form.report, reviewer=staff_actor_name(who), now=now)
    except DomainError as exc:
        return _to_queue(session, context, back, error=exc.message)
    skipped = len(set(form.report)) - len(done)
    return _to_queue(session, context, back, message=f"accepted-{len(done)}" if done else None,
                     error=(f"另有 {skipped} 项未审核通过：已由他人审核，或已有更新的版本。"
                            if skipped else None))


@router.post("/desk/reports/{report_id}/{decision}")
def review(request: Request, report_id: Id, decision: str, form: Annotated[ReviewForm, Form()],
           who: StaffActor, session: DbSession, context: Context, now: Now) -> Response:
    request_id = report_request_id(session, report_id)  # 404 if unknown
    if decision not in ("accept", "return"):
        raise HTTPException(404, "not-found")
    if decision == "return" and (problem := return_comment_problem(form.comment)):
        # the form again, its comment field marked, on the page it was sent from
        viewer, errors = desk_again(session, who, now, context.secret), {report_id: problem}
        path, _, query = (form.queue or "").partition("?")
        if path.rsplit("/", 1)[-1] in QUEUES:
            params = dict(parse_qsl(query))
            page = int(params["page"]) if params.get("page", "").isdigit() else 1
            return queue_response(request, session, context, now, viewer,
                                  path.rsplit("/", 1)[-1], min(page, 10**6), params,
                                  field_errors=errors)
        return _item_response(request, session, context, now, viewer, request_id, {},
                              field_errors=errors)
    try:
        if decision == "accept":
            accept_report(session, report_id, reviewer=staff_actor_name(who),
                          comment=form.comment, now=now)
        else:
            return_report(session, report_id, reviewer=staff_actor_name(who),
                          comment=form.comment, now=now, policy=context.policy_in(session))
    except DomainError as exc:
        if form.queue:
            return _to_queue(session, context, form.queue, error=exc.message)
        return _refused(session, context, request_id, exc)
    session.commit()
    message = "accepted" if decision == "accept" else "returned"
    if form.queue:
        return _to_queue(session, context, form.queue, message=message)
    return _back(request_id, message)


@router.post("/desk/extensions/{extension_id}")
def extension(extension_id: Id, form: Annotated[ExtensionDecisionForm, Form()],
              who: StaffActor, session: DbSession, context: Context, now: Now) -> Response:
    request_id = extension_request_id(session, extension_id)  # 404 if unknown
    if form.grant is None:
        if form.queue:
            return _to_queue(session, context, form.queue, error="请选择批准或不予批准。")
        session.commit()
        return _back(request_id, error=flash(context.secret, "请选择批准或不予批准。"))
    try:
        decide_extension(session, extension_id, grant=form.grant, note=form.note,
                         decided_by=staff_actor_name(who), now=now, policy=context.policy_in(session))
    except DomainError as exc:
        if form.queue:
            return _to_queue(session, context, form.queue, error=exc.message)
        return _refused(session, context, request_id, exc)
    session.commit()
    if form.queue:
        return _to_queue(session, context, form.queue, message="decided")
    return _back(request_id, "decided")


def _to_queue(session: Session, context: WebContext, queue: str, *, message: str | None = None,
              error: str | None = None) -> Response:
    """Back to the queue page an action was taken from (its page and filter kept), with the
    outcome; the form token stays used."""
    session.commit()
    path, _, query = queue.partition("?")
    given = dict(parse_qsl(query))
    params = [("page", given["page"])] if given.get("page", "").isdigit() else []
    params += list(QueueFilter.from_query(given).query().items())  # the filter it was under
    params += [("m", message)] if message else []
    params += [("error", flash(context.secret, error))] if error else []
    return RedirectResponse(f"{path}?{urlencode(params)}", status_code=303)


@router.post("/desk/measures/{measure_id}/close-out")
def measure_close_out(measure_id: Id, form: Annotated[CloseOutForm, Form()], who: StaffActor,
                      session: DbSession, context: Context, now: Now) -> Response:
    """办结销号 from the lead's item page; the service checks what the rule needs."""
    if not form.confirmed:  # the first step: the confirmation page
        session.commit()
        return RedirectResponse(f"/desk/measures/{measure_id}/close-out?"
                                + urlencode({"request_id": form.back_to}), status_code=303)
    try:
        close_out(session, measure_id, signed_by=staff_actor_name(who), now=now)
    except DomainError as exc:
        return _refused(session, context, form.back_to, exc)
    session.commit()
    return _back(form.back_to, "closed")


@router.get("/desk/circulars", response_class=HTMLResponse)
def circulars(request: Request, viewer: StaffViewer, session: DbSession, context: Context
               ) -> HTMLResponse:
    rows = circular_list(session)
    session.commit()
    return templates.TemplateResponse(request, "desk/circulars.html", {
        "desk": viewer, "circulars": rows, "tz": SHANGHAI,
        "notice": notice(context, request.query_params.get("m")),
        "error": read_flash(context.secret, request.query_params.get("error")),
        "can_act": viewer.can_act})


@router.post("/desk/circulars/{circular_id}/sign")
def circular_sign(circular_id: Id, form: Annotated[ConfirmForm, Form()], who: StaffActor,
                  session: DbSession, context: Context, now: Now) -> Response:
    if not form.confirmed or not form.digest:  # the first step: what will be sent to whom
        session.commit()
        return RedirectResponse(f"/desk/circulars/{circular_id}/sign", status_code=303)
    try:
        with session.begin_nested():  # a refusal keeps the used form token used
            sign_off(session, circular_id, signed_by=who.user.display_name, now=now,
                     policy=context.policy_in(session),
                     templates_dir=context.settings.templates_dir, confirmed=form.digest)
    except DomainError as exc:
        session.commit()
        return RedirectResponse(
            "/desk/circulars?" + urlencode({"error": flash(context.secret, exc.message)}), 303)
    session.commit()
    return RedirectResponse("/desk/circulars?m=signed", status_code=303)


@router.post("/desk/meetings")
def meeting(form: Annotated[MeetingForm, Form()], who: StaffActor, session: DbSession,
            context: Context, now: Now) -> Response:
    plan = chosen_plan(session, form.plan_id)  # 404 if unknown, or none named of several
    if form.held_on_date is None:
        return _to_board(session, context, "请填写有效的会议日期。")
    try:
        added = record_meeting(session, plan, government=form.government,
                               held_on=form.held_on_date, topic=form.topic,
                               recorded_by=staff_actor_name(who), now=now)
    except DomainError as exc:
        return _to_board(session, context, exc.message)
    session.commit()
    return RedirectResponse("/desk?m=" + ("meeting" if added else "meeting-dup"), status_code=303)


def _to_board(session: Session, context: WebContext, error: str) -> Response:
    """Back to the board with an error; the form token stays used."""
    session.commit()
    return RedirectResponse("/desk?" + urlencode({"error": flash(context.secret, error)}), 303)


DEAD_PER_PAGE = 100


@router.get("/desk/outbox", response_class=HTMLResponse)
def outbox(request: Request, viewer: OfficeViewer, session: DbSession, context: Context,
           page: PageNo) -> HTMLResponse:
    """Dead letters (issue 8, item 3): failed notices with their reason, newest first."""
    total = viewer.dead_letters
    page = min(page, max((total + DEAD_PER_PAGE - 1) // DEAD_PER_PAGE, 1))  # past the last: last
    rows = dead_letters(session, limit=DEAD_PER_PAGE, offset=(page - 1) * DEAD_PER_PAGE)
    session.commit()
    return templates.TemplateResponse(request, "desk/outbox.html", {
        "desk": viewer, "rows": rows, "total": total, "page": page, "tz": SHANGHAI,
        "pages": max((total + DEAD_PER_PAGE - 1) // DEAD_PER_PAGE, 1),
        "notice": read_flash(context.secret, request.query_params.get("done")),
        "error": read_flash(context.secret, request.query_params.get("error"))})


@router.get("/desk/outbox/retry", response_class=HTMLResponse)
def outbox_retry_confirm(request: Request, viewer: OfficeViewer, session: DbSession,
                         message: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None
                         ) -> HTMLResponse:
    """The confirmation step before failed notices go back in the queue (one, or all)."""
    chosen = None
    if message is not None:
        chosen = next((r for r in dead_letters_by_id(session, message)), None)
    session.commit()
    return templates.TemplateResponse(request, "desk/outbox_retry.html", {
        "desk": viewer, "message": message, "chosen": chosen, "total": viewer.dead_letters,
        "tz": SHANGHAI})


@router.post("/desk/outbox/retry")
def outbox_retry(form: Annotated[RequeueForm, Form()], who: StaffActor, session: DbSession,
                 context: Context, now: Now) -> Response:
    """One dead letter (`message`) or all (`all=1`) back in the queue; anything else is
    refused, so a damaged id never becomes "all"."""
    if form.message_id is None and not form.everything:
        session.commit()  # the form token stays used
        return RedirectResponse("/desk/outbox?" + urlencode({"error": flash(
            context.secret, "请从列表中选择要重新发送的通知。")}), 303)
    n = requeue_by_office(session, now, actor=staff_actor_name(who),
                          message_id=form.message_id)
    session.commit()
    if not n:
        return RedirectResponse("/desk/outbox?" + urlencode({"error": flash(
            context.secret, "没有可重新发送的通知：该通知已不在“发送失败”状态。")}), 303)
    return RedirectResponse("/desk/outbox?" + urlencode({"done": flash(
        context.secret, f"已将 {n} 条通知重新放入发送队列，将在下一次发送时送出。")}), 303)
