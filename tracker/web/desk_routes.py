"""The supervision office's desk: sign-in, overdue board, item pages, actions, ledger."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path as FsPath
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from tracker.annual.meetings import MeetingError, record_meeting
from tracker.annual.scorecard.excel import write_scorecard
from tracker.annual.scorecard.figures import compute
from tracker.dates.workdays import SHANGHAI, local_date
from tracker.desk.board import BoardFilter, board, board_options, heat_table, on_time_by_period, plan_for_page
from tracker.desk.item_history import request_history
from tracker.desk.ledger import ledger_frame, ledger_title, ledger_xlsx
from tracker.directory.staff import AuthError, sign_in, sign_out
from tracker.enums import CircularState
from tracker.escalation.circulars import CircularError, circular_list, render_docx, sign_off, still_overdue
from tracker.escalation.office_actions import ActionError, add_note, escalate_now, waive
from tracker.models import Circular, ExtensionRequest, Plan, ProgressReport
from tracker.requests.close_out import close_out
from tracker.requests.extensions import ExtensionError, decide_extension
from tracker.requests.review import ReviewError, accept_report, return_report
from tracker.web.pages import templates
from tracker.web.staff import COOKIE, LOGIN_COOKIE, acting, flash, login_nonce, page, read_flash

router = APIRouter()
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
NOTICES = {"escalated-1": "已催办，已通知联络员。", "escalated-2": "已督办，已通知分管领导并抄送督查室。",
           "escalated-3": "已列入通报稿，待签发后通知相关单位。",
           "escalated-nobody": "已升级，但该单位没有可通知的联系人，请先添加联络员。",
           "waived": "已免报。", "noted": "备注已添加。",
           "accepted": "已审核通过。", "returned": "已退回，已通知联络员。",
           "decided": "延期申请已处理，已通知联络员。", "signed": "通报已签发，已通知相关单位。",
           "meeting": "常务会议已记录。",
           "meeting-dup": "该政府当天的常务会议已记录过，未重复记录。",
           "closed": "已办结销号，该任务不再调度。"}


def _chosen_plan(session, plan_id: int | None) -> Plan:  # type: ignore[no-untyped-def]
    """The plan a page is about: the one asked for, or the only one loaded."""
    plan = plan_for_page(session, plan_id)
    if plan is None:
        raise HTTPException(404, "not-found")
    return plan


def _actor(who) -> str:  # type: ignore[no-untyped-def]
    return f"user:{who.user.username}"


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/desk") -> HTMLResponse:
    nonce = login_nonce()
    resp = templates.TemplateResponse(request, "desk/login.html",
                                      {"nonce": nonce, "next": _safe_next(next), "error": None})
    resp.set_cookie(LOGIN_COOKIE, nonce, httponly=True, samesite="strict", max_age=1800)
    return resp


def _safe_next(value: str) -> str:
    return value if value.startswith("/desk") else "/desk"


@router.post("/login")
async def login(request: Request) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    nonce = request.cookies.get(LOGIN_COOKIE)
    if not nonce or form.get("csrf") != nonce:
        raise HTTPException(403, "csrf")
    app = request.app
    now = app.state.clock()
    address = request.client.host if request.client else "?"
    if app.state.login_throttle.blocked(address, now):
        raise HTTPException(429, "throttled")
    with app.state.factory() as session:
        try:
            # argon2 is deliberately slow: verify in a worker thread, not on the event loop
            _user, token = await run_in_threadpool(
                sign_in, session, username=form.get("username", "")[:80],
                password=form.get("password", "")[:200], now=now, rules=app.state.settings.rules)
        except AuthError:
            app.state.login_throttle.failed(address, now)
            session.commit()  # failed attempts count, even though sign-in failed
            # the same words whether the name exists or is locked: no account discovery
            text = (f"用户名或密码错误。连续错误 {app.state.settings.rules.login_max_failures} 次后"
                    f"账户将锁定 {app.state.settings.rules.login_lock_minutes} 分钟。")
            fresh = login_nonce()
            resp = templates.TemplateResponse(
                request, "desk/login.html",
                {"nonce": fresh, "next": _safe_next(form.get("next", "/desk")), "error": text},
                status_code=401)
            resp.set_cookie(LOGIN_COOKIE, fresh, httponly=True, samesite="strict", max_age=1800)
            return resp
        session.commit()
    done = RedirectResponse(_safe_next(form.get("next", "/desk")), status_code=303)
    done.set_cookie(COOKIE, token, httponly=True, samesite="strict",
                    secure=app.state.settings.base_url.startswith("https"))
    done.delete_cookie(LOGIN_COOKIE)
    return done


@router.post("/logout")
async def logout(request: Request) -> Response:
    from tracker.enums import StaffRole

    with request.app.state.factory() as session:
        try:
            who, _ = await acting(request, session, set(StaffRole))
        except HTTPException as exc:
            if exc.status_code != 401:
                raise
        else:  # a stale session is over already: just drop the cookie
            sign_out(session, who, request.app.state.clock())
            session.commit()
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(COOKIE)
    return resp


@router.get("/desk", response_class=HTMLResponse)
def desk(request: Request) -> HTMLResponse:
    app = request.app
    today = local_date(app.state.clock())
    f = BoardFilter.from_query(dict(request.query_params))
    with app.state.factory() as session:
        d = page(request, session)
        opts = board_options(session, f.plan_id)
        result = board(session, f, today, app.state.policy)
        sections, heat = heat_table(session, today, plan_id=f.plan_id, period=f.period,
                                    agency_id=f.agency_id)
        rates = on_time_by_period(session, f.plan_id, f.agency_id)
        meeting_plan = plan_for_page(session, f.plan_id)
        session.commit()
        query = {k: v for k, v in request.query_params.items() if k != "page" and v}
        return templates.TemplateResponse(request, "desk/board.html", {
            "desk": d, "board": result,
            "f": f, "opts": opts, "sections": sections, "heat": heat,
            "several_plans": len(opts.plans) > 1 and not f.plan_id, "meeting_plan": meeting_plan,
            "rates": rates, "today": today, "query": query,
            "qs": urlencode(query), "pages": max((result.total + f.per_page - 1) // f.per_page, 1),
            "notice": NOTICES.get(request.query_params.get("m", "")),
            "error": read_flash(app, request.query_params.get("error")),
            "can_act": d.signed_in.user.role.value == "office",
        })


@router.get("/desk/ledger.xlsx")
def ledger(request: Request) -> Response:
    app = request.app
    now = app.state.clock()
    f = BoardFilter.from_query(dict(request.query_params))
    with app.state.factory() as session:
        page(request, session)
        frame = ledger_frame(session, f, local_date(now), app.state.policy)
        title = ledger_title(session, f, local_date(now))
        session.commit()
    data = ledger_xlsx(frame, title)
    return Response(data, media_type="application/vnd.openxmlformats-officedocument."
                                     "spreadsheetml.sheet", headers={
        "Content-Disposition": "attachment; filename*=UTF-8''" + quote("督查台账.xlsx")})


@router.get("/desk/scorecard/{year}.xlsx")
def scorecard(request: Request, year: Annotated[int, Path(ge=2000, le=2100)],
              plan: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None) -> Response:
    """A plan's scorecard of the year as it stands now (the annual checkpoint writes the
    final one). `?plan=` names the plan when several are loaded."""
    app = request.app
    now = app.state.clock()
    with app.state.factory() as session:
        page(request, session)
        plan_row = _chosen_plan(session, plan)
        if not plan_row.first_year <= year <= plan_row.last_year:
            raise HTTPException(404, "not-found")
        figures = compute(session, plan_row, year, app.state.policy.rules.weights)
        session.commit()
    with tempfile.TemporaryDirectory() as folder:
        path = write_scorecard(figures, FsPath(folder) / "card.xlsx", rules=app.state.policy.rules,
                               plan_title=plan_row.title, generated=now)
        data = path.read_bytes()
    return Response(data, media_type="application/vnd.openxmlformats-officedocument."
                                     "spreadsheetml.sheet", headers={
        "Content-Disposition": "attachment; filename*=UTF-8''" + quote(f"考核记分卡-{year}.xlsx")})


@router.get("/desk/requests/{request_id}", response_class=HTMLResponse)
def item(request: Request, request_id: Id) -> HTMLResponse:
    with request.app.state.factory() as session:
        d = page(request, session)
        history = request_history(session, request_id)
        if history is None:
            raise HTTPException(404, "not-found")
        session.commit()
        return templates.TemplateResponse(request, "desk/item.html", {
            "desk": d, "h": history, "tz": SHANGHAI, "today": local_date(request.app.state.clock()),
            "notice": NOTICES.get(request.query_params.get("m", "")),
            "error": read_flash(request.app, request.query_params.get("error")),
            "can_act": d.signed_in.user.role.value == "office"})


def _back(request_id: int, message: str | None = None, error: str | None = None) -> Response:
    q = urlencode({k: v for k, v in (("m", message), ("error", error)) if v})
    return RedirectResponse(f"/desk/requests/{request_id}?{q}", status_code=303)


@router.post("/desk/requests/{request_id}/{action}")
async def request_action(request: Request, request_id: Id, action: str) -> Response:
    app = request.app
    now: dt.datetime = app.state.clock()
    with app.state.factory() as session:
        who, form = await acting(request, session)
        try:
            if action == "escalate":
                level, queued = escalate_now(session, request_id, actor=_actor(who), now=now,
                                             policy=app.state.policy)
                message = f"escalated-{level}" if queued else "escalated-nobody"
            elif action == "waive":
                waive(session, request_id, reason=form.get("reason", ""), actor=_actor(who),
                      now=now, policy=app.state.policy)
                message = "waived"
            elif action == "note":
                add_note(session, request_id=request_id, measure_id=None,
                         text=form.get("text", ""), author=_actor(who), now=now)
                message = "noted"
            else:
                raise HTTPException(404, "not-found")
        except ActionError as exc:
            session.commit()  # the form token stays used
            return _back(request_id, error=flash(app, str(exc)))
        session.commit()
    return _back(request_id, message)


@router.post("/desk/reports/{report_id}/{decision}")
async def review(request: Request, report_id: Id, decision: str) -> Response:
    app = request.app
    now = app.state.clock()
    with app.state.factory() as session:
        who, form = await acting(request, session)
        report = session.get(ProgressReport, report_id)
        if report is None:
            raise HTTPException(404, "not-found")
        request_id = report.request_id
        try:
            if decision == "accept":
                accept_report(session, report_id, reviewer=_actor(who),
                              comment=form.get("comment", ""), now=now)
            elif decision == "return":
                return_report(session, report_id, reviewer=_actor(who),
                              comment=form.get("comment", ""), now=now, policy=app.state.policy)
            else:
                raise HTTPException(404, "not-found")
        except ReviewError as exc:
            session.commit()
            return _back(request_id, error=flash(app, str(exc)))
        session.commit()
    return _back(request_id, "accepted" if decision == "accept" else "returned")


@router.post("/desk/extensions/{extension_id}")
async def extension(request: Request, extension_id: Id) -> Response:
    app = request.app
    with app.state.factory() as session:
        who, form = await acting(request, session)
        ext = session.get(ExtensionRequest, extension_id)
        if ext is None:
            raise HTTPException(404, "not-found")
        request_id = ext.request_id
        if form.get("decision") not in ("grant", "refuse"):
            session.commit()
            return _back(request_id, error=flash(app, "请选择批准或不予批准。"))
        try:
            decide_extension(session, extension_id, grant=form.get("decision") == "grant",
                             note=form.get("note", ""), decided_by=_actor(who),
                             now=app.state.clock(), policy=app.state.policy)
        except ExtensionError as exc:
            session.commit()
            return _back(request_id, error=flash(app, str(exc)))
        session.commit()
    return _back(request_id, "decided")


def _int(value: str | None) -> int:
    try:
        number = int(value or "0")
    except ValueError:
        return 0
    return number if 0 < number < 2**31 else 0


@router.post("/desk/measures/{measure_id}/close-out")
async def measure_close_out(request: Request, measure_id: Id) -> Response:
    """办结销号 from the lead's item page; the service checks what the rule needs."""
    app = request.app
    with app.state.factory() as session:
        who, form = await acting(request, session)
        request_id = _int(form.get("request_id"))
        try:
            close_out(session, measure_id, signed_by=_actor(who), now=app.state.clock())
        except ReviewError as exc:
            session.commit()
            return _back(request_id, error=flash(app, str(exc)))
        session.commit()
    return _back(request_id, "closed")


@router.get("/desk/circulars", response_class=HTMLResponse)
def circulars(request: Request) -> HTMLResponse:
    with request.app.state.factory() as session:
        d = page(request, session)
        rows = circular_list(session)
        session.commit()
        return templates.TemplateResponse(request, "desk/circulars.html", {
            "desk": d, "circulars": rows, "tz": SHANGHAI,
            "notice": NOTICES.get(request.query_params.get("m", "")),
            "error": read_flash(request.app, request.query_params.get("error")),
            "can_act": d.signed_in.user.role.value == "office"})


@router.get("/desk/circulars/{circular_id}.docx")
def circular_docx(request: Request, circular_id: Id) -> Response:
    with request.app.state.factory() as session:
        page(request, session)
        circular = session.get(Circular, circular_id)
        if circular is None:
            raise HTTPException(404, "not-found")
        items = still_overdue(session, circular) if circular.state == CircularState.DRAFT else None
        data = render_docx(circular, session.get_one(Plan, circular.plan_id), items)
        session.commit()
    return Response(data, media_type="application/vnd.openxmlformats-officedocument."
                                     "wordprocessingml.document", headers={
        "Content-Disposition": "attachment; filename*=UTF-8''" + quote(f"通报-{circular_id}.docx")})


@router.post("/desk/circulars/{circular_id}/sign")
async def circular_sign(request: Request, circular_id: Id) -> Response:
    app = request.app
    with app.state.factory() as session:
        who, _ = await acting(request, session)
        try:
            sign_off(session, circular_id, signed_by=f"{who.user.display_name}",
                     now=app.state.clock(), policy=app.state.policy)
        except CircularError as exc:
            session.commit()
            return RedirectResponse("/desk/circulars?" + urlencode({"error": flash(app, str(exc))}),
                                    303)
        session.commit()
    return RedirectResponse("/desk/circulars?m=signed", status_code=303)


@router.post("/desk/meetings")
async def meeting(request: Request) -> Response:
    app = request.app
    with app.state.factory() as session:
        who, form = await acting(request, session)
        try:
            plan = _chosen_plan(session, _int(form.get("plan")) or None)
            added = record_meeting(session, plan, government=form.get("government", ""),
                                   held_on=dt.date.fromisoformat(form.get("held_on", "")),
                                   topic=form.get("topic", "")[:500], recorded_by=_actor(who),
                                   now=app.state.clock())
        except MeetingError as exc:
            session.commit()
            return RedirectResponse("/desk?" + urlencode({"error": flash(app, str(exc))}), 303)
        except ValueError:
            session.commit()
            return RedirectResponse("/desk?" + urlencode({"error": flash(app, "请填写有效的会议日期。")}),
                                    303)
        session.commit()
    return RedirectResponse("/desk?m=" + ("meeting" if added else "meeting-dup"), status_code=303)

