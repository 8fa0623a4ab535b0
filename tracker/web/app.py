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
from starlette.exceptions import HTTPException as StarletteHTTPException

from tracker.dates.workdays import SHANGHAI
from tracker.directory.links import LinkError
from tracker.errors import DomainError
from tracker.settings import Settings
from tracker.web import confirm_routes, desk_routes, liaison_routes, queues_routes
from tracker.web.deps import WebContext
from tracker.web.pages import HERE, MAX_BODY, SECURITY_HEADERS, error_page, refusal_page, templates
from tracker.web.staff import NeedsLogin

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


def _real_clock() -> dt.datetime:
    return dt.datetime.now(SHANGHAI)


def create_app(factory: sessionmaker[Session], settings: Settings,
               clock: Callable[[], dt.datetime] = _real_clock) -> FastAPI:
    app = FastAPI(title="规划纲要督查督办系统", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.context = WebContext.build(factory, settings, clock)
    app.add_middleware(BodyLimit, limit=MAX_BODY)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(liaison_routes.router)
    app.include_router(liaison_routes.renewal)
    app.include_router(desk_routes.router)
    app.include_router(queues_routes.router)
    app.include_router(confirm_routes.router)

    @app.exception_handler(NeedsLogin)
    async def _needs_login(request: Request, exc: NeedsLogin) -> RedirectResponse:
        return RedirectResponse("/login?next=" + quote(request.url.path), status_code=303)

    @app.middleware("http")
    async def _headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_BODY:
            return error_page(request, 413, "too-large")
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
        return error_page(request, exc.status_code, str(exc.detail))

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


