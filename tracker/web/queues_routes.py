"""The office's queues (issue 10, item 3), the performance office's scorecards page (item 4)
and evidence served to staff (item 3).

- `/desk/queues`: what waits for the office, queue by queue, with counts; each queue has
  its own page, 50 rows a page, oldest first (`/desk/queues/{name}?page=`), with the
  actions that clear it (accept or return a report, grant or refuse an extension; a draft
  circular is signed from its confirmation page).
- `/desk/scorecards`: each plan's years with a download of its scorecard.
- `/desk/evidence/{id}`: a liaison's upload, as a download with safe headers.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote, urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from tracker.dates.chinese import cn_date
from tracker.dates.workdays import SHANGHAI, local_date
from tracker.desk.evidence import evidence_file
from tracker.desk.queues import FILTERED, QUEUES, QueueFilter, queue_options, queue_page
from tracker.desk.scorecards import scorecard_years
from tracker.web.deps import (
    Context,
    DbSession,
    Id,
    Now,
    OfficeViewer,
    PageNo,
    StaffViewer,
    WebContext,
)
from tracker.web.notices import notice
from tracker.web.pages import templates
from tracker.web.staff import Desk, read_flash

router = APIRouter()
TITLES = {"reviews": "待审核的报送", "extensions": "待审批的延期申请", "circulars": "待签发的通报",
          "agencies": "没有联络员的单位"}


@router.get("/desk/queues", response_class=HTMLResponse)
def queues(request: Request, viewer: OfficeViewer, session: DbSession, now: Now
           ) -> HTMLResponse:
    """Every queue's count and its oldest rows (the counts are the navigation's)."""
    firsts = {name: queue_page(session, name, 1, viewer.queues, per_page=5) for name in QUEUES}
    session.commit()
    return templates.TemplateResponse(request, "desk/queues.html", {
        "desk": viewer, "firsts": firsts, "titles": TITLES, "tz": SHANGHAI,
        "today": local_date(now)})


@router.get("/desk/queues/{name}", response_class=HTMLResponse)
def queue(request: Request, name: str, viewer: OfficeViewer, session: DbSession,
          context: Context, now: Now, page: PageNo) -> HTMLResponse:
    """One queue, `PER_PAGE` rows a page, oldest first (or newest first), the review and
    extension queues narrowed by agency and period (`QueueFilter`)."""
    if name not in QUEUES:
        raise HTTPException(404, "not-found")
    return queue_response(request, session, context, now, viewer, name, page,
                          dict(request.query_params))


def queue_response(request: Request, session: Session, context: WebContext, now: dt.datetime,
                   viewer: Desk, name: str, page: int, params: dict[str, str], *,
                   field_errors: dict[int, str] | None = None) -> HTMLResponse:
    """Render queue `name` (one of QUEUES) at `page` under the filter in `params`; commits.
    `field_errors` ({report id: message}) shows a review form again with its comment field
    marked (400), as the liaison's forms do."""
    f = QueueFilter.from_query(params) if name in FILTERED else QueueFilter()
    result = queue_page(session, name, page, viewer.queues, f=f)
    opts = queue_options(session) if name in FILTERED else None
    session.commit()
    qs = urlencode(f.query())
    return templates.TemplateResponse(request, "desk/queue.html", {
        "desk": viewer, "q": result, "title": TITLES[name], "tz": SHANGHAI,
        "today": local_date(now), "f": f, "opts": opts, "qs": qs,
        "back": f"/desk/queues/{name}?page={result.page}" + (f"&{qs}" if qs else ""),
        "qs_page": f"page={result.page}" + (f"&{qs}" if qs else ""),
        "check_all": params.get("check") == "all",
        "notice": notice(context, params.get("m")), "field_errors": field_errors or {},
        "error": read_flash(context.secret, params.get("error"))},
        status_code=400 if field_errors else 200)


@router.get("/desk/scorecards", response_class=HTMLResponse)
def scorecards(request: Request, viewer: StaffViewer, session: DbSession, now: Now,
               context: Context) -> HTMLResponse:
    """The performance office's page: each plan's years, each with its scorecard."""
    plans = scorecard_years(session, local_date(now))
    session.commit()
    return templates.TemplateResponse(request, "desk/scorecards.html", {
        "desk": viewer, "plans": plans, "tz": SHANGHAI, "several": len(plans) > 1,
        "scoring": context.policy.rules.scoring, "cn_date": cn_date,
        "checkpoint_day": context.policy.rules.checkpoint_working_day})


@router.get("/desk/evidence/{evidence_id}")
def evidence_download(evidence_id: Id, _viewer: StaffViewer, session: DbSession,
                      context: Context) -> Response:
    """A liaison's evidence file for staff (office, performance office, administrators).
    Always a download with a neutral type, sandboxed: nothing uploaded runs in a browser."""
    ev, data = evidence_file(session, context.settings.home, evidence_id)
    session.commit()
    return Response(data, media_type="application/octet-stream", headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(ev.filename)}",
        "Content-Security-Policy": "sandbox", "X-Content-Type-Options": "nosniff"})
