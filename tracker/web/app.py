"""The web application: `create_app(factory, settings)`; `tracker serve` runs it.

The app's wiring is one `tracker.web.deps.WebContext` on `app.state.context`; handlers
receive what they need from it through the dependencies in `tracker.web.deps`. Time
comes from the context's clock (a callable returning an aware datetime), so tests and
simulations drive the pages with the same clock as the rules.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from tracker.dates.workdays import SHANGHAI
from tracker.directory.links import LinkError, renewable, verify_link
from tracker.directory.staff import session_is_live
from tracker.errors import DomainError
from tracker.settings import Settings
from tracker.web import (
    confirm_routes,
    desk_routes,
    directory_routes,
    document_routes,
    indicator_routes,
    liaison_routes,
    meeting_routes,
    queues_routes,
)
from tracker.web.deps import WebContext, app_context
from tracker.web.pages import HERE, MAX_BODY, SECURITY_HEADERS, error_page, refusal_page, templates
from tracker.web.staff import COOKIE, NeedsLogin

log = logging.getLogger(__name__)


class BodyLimit:
    """Refuse a request body beyond `limit` bytes while it streams, chunked or not: the
    Content-Length check alone lets a chunked body of any size be read and spooled
    (issue 10, item 8). The route that reads past the limit gets HTTP 413, shown as the
    error page; nothing more of the body is read."""

    def __init__(self, app: Any, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        received = 0

        async def limited() -> Any:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise StarletteHTTPException(413, "too-large")
            return message

        await self.app(scope, limited, send)


class CheckBeforeBody:
    """A POST is refused before a byte of its body is read when nobody may send it: to a
    liaison's page (`/l/{token}/…`) unless the link verifies (forged or revoked 403,
    expired 410; the new-link request only needs a link we signed, else 403), to the desk
    (`/desk/…`) unless the session cookie is live (401). Without this, FastAPI reads and
    spools the whole form (up to the body limit) before any dependency checks the link or
    the session (issue 10, item 8). The refusal closes the connection, so the server does
    not read the rest of the body either. The route's own dependencies check again, as
    before; this only moves the refusal ahead of the body."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        refusal: Response | None = None
        if path.startswith("/l/"):
            parts = path.split("/")
            # "/l/{token}/new-link" is for expired and revoked links: only a forged one is
            # refused here (the route itself says what it may do for the rest)
            renewing = len(parts) == 4 and parts[3] == "new-link"
            refusal = await run_in_threadpool(_link_refusal, scope, parts[2], renewing)
        elif path.startswith("/desk/"):
            refusal = await run_in_threadpool(_session_refusal, scope)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        refusal.headers["Connection"] = "close"  # the rest of the body is never read
        await refusal(scope, receive, send)


def _link_refusal(scope: Any, token: str, renewing: bool = False) -> Response | None:
    context = app_context(scope["app"])
    max_age = dt.timedelta(days=context.settings.rules.link_max_age_days)
    with context.read_factory() as session:
        try:
            if renewing:
                renewable(session, context.secret, token, context.clock(), max_age)
            else:
                verify_link(session, context.secret, token, context.clock(), max_age)
        except LinkError as exc:
            return refusal_page(Request(scope), exc)
        finally:
            session.rollback()
    return None


def _session_refusal(scope: Any) -> Response | None:
    context = app_context(scope["app"])
    request = Request(scope)
    with context.read_factory() as session:
        try:
            if session_is_live(session, request.cookies.get(COOKIE), context.clock(),
                               context.settings.rules):
                return None
        finally:
            session.rollback()
    return error_page(request, 401, "stale")


def _real_clock() -> dt.datetime:
    return dt.datetime.now(SHANGHAI)


def create_app(factory: sessionmaker[Session], settings: Settings,
               clock: Callable[[], dt.datetime] = _real_clock, *, browsing: bool = False
               ) -> FastAPI:
    """The web app on `factory`'s database. `clock` returns an aware datetime (the pages'
    "now"); `browsing=True` is `tracker serve --as-of`: no job runs, so the pages say a
    notice was queued but will not be sent."""
    # redirect_slashes off: a redirect built from the Host header would carry a liaison
    # token to whatever host a client names; "/l/<token>/" is simply not found
    app = FastAPI(title="规划纲要督查督办系统", docs_url=None, redoc_url=None, openapi_url=None,
                  redirect_slashes=False)
    app.state.context = WebContext.build(factory, settings, clock, browsing=browsing)
    app.add_middleware(BodyLimit, limit=MAX_BODY)
    app.add_middleware(CheckBeforeBody)  # runs before BodyLimit: a refusal reads nothing
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(liaison_routes.router)
    app.include_router(liaison_routes.renewal)
    app.include_router(desk_routes.router)
    app.include_router(queues_routes.router)
    app.include_router(indicator_routes.router)
    app.include_router(confirm_routes.router)
    app.include_router(document_routes.router)
    app.include_router(meeting_routes.router)
    app.include_router(directory_routes.router)

    @app.exception_handler(NeedsLogin)
    async def _needs_login(request: Request, exc: NeedsLogin) -> RedirectResponse:
        return RedirectResponse("/login?next=" + quote(request.url.path), status_code=303)

    @app.middleware("http")
    async def _headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_BODY:
            refused = error_page(request, 413, "too-large")
            refused.headers["Connection"] = "close"
            return refused
        response = await call_next(request)
        for k, v in SECURITY_HEADERS.items():
            response.headers.setdefault(k, v)
        if not request.url.path.startswith("/static"):
            # pages behind a link or a sign-in carry agency data: never cache them
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    # an expired or revoked link's page offers a new link by email (issue 10, item 1)
    app.add_exception_handler(LinkError, liaison_routes.link_refused)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> HTMLResponse:
        page = error_page(request, exc.status_code, str(exc.detail))
        if exc.status_code == 413:  # else the server reads (and drops) the rest of the body
            page.headers["Connection"] = "close"
        return page

    @app.exception_handler(DomainError)
    async def _refused(request: Request, exc: DomainError) -> HTMLResponse:
        # a service's refusal that no route turned into a redirect or a form shown again
        return refusal_page(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _bad_input(request: Request, exc: RequestValidationError) -> HTMLResponse:
        # a path that is no row id ("abc", 2**63) names no page; a form field that is not
        # text (a file where a field belongs: the forms are all text otherwise) is refused
        if any(error.get("loc", ("",))[0] == "body" for error in exc.errors()):
            return error_page(request, 400, "bad-request")
        return error_page(request, 404, "not-found")

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> HTMLResponse:
        log.exception("unhandled error on %s", request.url.path)
        return error_page(request, 500, "server")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(request, "home.html", {})

    return app


