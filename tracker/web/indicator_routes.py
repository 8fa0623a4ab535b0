"""The desk's 主要指标 page (issue 11, item 3): each headline indicator of a year against its
trajectory, the explanations owners wrote, and the office's form for a baseline (基期值).

- `GET /desk/indicators?plan=&year=`: the table (`tracker.annual.indicators.indicator_page`).
- `POST /desk/indicators/baseline`: record a baseline (`record_baseline`, audited); a refusal
  comes back as the page's error naming the field.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tracker.annual.indicators import IndicatorError, indicator_page, record_baseline
from tracker.dates.workdays import local_date
from tracker.desk.board import chosen_plan
from tracker.web.deps import Context, DbSession, Now, StaffActor, StaffViewer, staff_actor_name
from tracker.web.forms import BaselineForm
from tracker.web.notices import notice
from tracker.web.pages import templates
from tracker.web.staff import flash, read_flash

router = APIRouter()


@router.get("/desk/indicators", response_class=HTMLResponse)
def indicators(request: Request, viewer: StaffViewer, session: DbSession, context: Context,
               now: Now, plan: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
               year: Annotated[int | None, Query(ge=2000, le=2100)] = None) -> HTMLResponse:
    page = indicator_page(session, chosen_plan(session, plan), year, local_date(now))
    session.commit()
    return templates.TemplateResponse(request, "desk/indicators.html", {
        "desk": viewer, "page": page, "can_act": viewer.can_act,
        "notice": notice(context, request.query_params.get("m")),
        "error": read_flash(context.secret, request.query_params.get("error")),
    })


@router.post("/desk/indicators/baseline")
def baseline(form: Annotated[BaselineForm, Form()], who: StaffActor, session: DbSession,
             context: Context, now: Now) -> Response:
    plan = chosen_plan(session, form.plan_id)
    back = {"plan": plan.id, **({"year": form.year} if form.year.isdigit() else {})}
    try:
        if form.number is None:
            raise IndicatorError("基期值：须为有效数字", field="value")
        record_baseline(session, plan, form.code, form.number, source=form.source,
                        actor=staff_actor_name(who), now=now)
    except IndicatorError as exc:
        session.commit()  # the form token stays used
        return RedirectResponse("/desk/indicators?" + urlencode(
            {**back, "error": flash(context.secret, exc.message)}), 303)
    session.commit()
    return RedirectResponse("/desk/indicators?" + urlencode({**back, "m": "baseline"}), 303)
