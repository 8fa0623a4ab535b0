"""Typed FastAPI dependencies: a handler names what it needs, as Polar's routes do.

    def item(request_id: Id, session: DbSession, who: StaffViewer, now: Now) -> HTMLResponse

- `WebContext`: the app's wiring (settings, policy, session factory, link secret, clock,
  the converter of legacy and Strict workbooks), built once by `create_app` and the only
  thing kept on `app.state`.
- `DbSession`: one Session per request. The handler commits once; an exception rolls it
  back; it is closed when the request is done. A GET (or HEAD) gets a read-only session
  (`tracker.db.read_only_factory`: on SQLite a DEFERRED transaction that never takes the
  write lock, so pages answer while a job writes; READ ONLY on PostgreSQL); POSTs write.
- `Now`: the injected clock's aware datetime, read once per request, so the pages and the
  rules they call see the same instant (tests drive the clock, or override `get_now`).
- `StaffViewer` (a desk page: redirect to /login when stale, 403 for a wrong role; issues
  the page's signed form token, which writes nothing), `StaffActor` (an office POST: 401
  when stale, 403 for a wrong role, 403 "csrf" unless the form's single-use token is fresh) and `StaffLeaving`
  (signing out: any role; None when the session is over already).
- `LiaisonLink`: the contact behind a signed link with the link's claims; a forged,
  expired or revoked link is a `LinkError` (403/410 page).

Any dependency here may be replaced through `app.dependency_overrides`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, Request
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette

from tracker.db import read_only_factory
from tracker.desk.queues import QueueCounts, queue_counts
from tracker.directory.links import LinkClaims, link_id, load_secret, person_agencies, verify_link
from tracker.directory.staff import (
    AuthError,
    SignedIn,
    consume_form_token,
    current,
    issue_form_token,
    touch_session,
)
from tracker.enums import StaffRole
from tracker.exchange.convert import Converter
from tracker.models import Contact
from tracker.policy import Policy
from tracker.settings import Settings
from tracker.web.staff import ACT_ROLES, COOKIE, VIEW_ROLES, Desk, NeedsLogin

Id = Annotated[int, Path(ge=1, le=2**31 - 1)]  # a row id in a URL; anything else is a 404
MAX_PAGE = 100_000


def page_number(page: str = "1") -> int:
    """`?page=` of a paged list, as the board reads it: a whole number clamped to
    1..MAX_PAGE, anything else (0, -1, abc, 1.5) page 1; a page past the last shows the
    last (each list's service clamps)."""
    return min(int(page), MAX_PAGE) if page.isdigit() and int(page[:7]) > 0 else 1


PageNo = Annotated[int, Depends(page_number)]


@dataclass(frozen=True)
class WebContext:
    """What the pages are wired to; one per app (`create_app`)."""

    settings: Settings
    policy: Policy
    factory: sessionmaker[Session]
    secret: str  # signs liaisons' links and the pages' flash messages
    clock: Callable[[], dt.datetime]  # returns an aware datetime
    converter: Converter  # LibreOffice for .xls/.et and Strict Open XML uploads
    browsing: bool = False  # `serve --as-of`: no jobs run, queued notices are never sent
    reader: sessionmaker[Session] | None = None  # read-only sessions (GET); None: `factory`

    @property
    def read_factory(self) -> sessionmaker[Session]:
        """Sessions for requests that only read (`tracker.db.read_only_factory`)."""
        return self.reader or self.factory

    def policy_in(self, session: Session) -> Policy:
        """The policy with the calendar overrides stored in the database (cached until
        they change; `tracker calendar load` in another process is seen at once)."""
        return self.policy.with_session(session)

    @classmethod
    def build(cls, factory: sessionmaker[Session], settings: Settings,
              clock: Callable[[], dt.datetime], *, browsing: bool = False) -> WebContext:
        return cls(settings=settings, policy=Policy.from_settings(settings), factory=factory,
                   reader=read_only_factory(factory),
                   secret=load_secret(settings.home, settings.secret_key), clock=clock,
                   converter=Converter.find(settings.soffice, settings.convert_timeout),
                   browsing=browsing)


def app_context(app: Starlette) -> WebContext:
    """The context `create_app` stored on the app."""
    context = app.state.context
    assert isinstance(context, WebContext), "create_app stores the WebContext"
    return context


def get_context(request: Request) -> WebContext:
    return app_context(request.app)


Context = Annotated[WebContext, Depends(get_context)]


READ_METHODS = frozenset({"GET", "HEAD"})


def get_session(request: Request, context: Context) -> Iterator[Session]:
    """One Session for the request; the handler commits, an error rolls back. A GET or
    HEAD reads only (`WebContext.read_factory`): it never takes SQLite's write lock."""
    yield from _session(context.read_factory if request.method in READ_METHODS
                        else context.factory)


def _session(factory: Any) -> Iterator[Session]:
    session = factory()
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


DbSession = Annotated[Session, Depends(get_session)]


def get_write_session(context: Context) -> Iterator[Session]:
    """A writing Session whatever the method: for the few GET pages that preview an action
    by running it in a SAVEPOINT rolled back (`tracker.desk.confirm.preview`)."""
    yield from _session(context.factory)


PreviewSession = Annotated[Session, Depends(get_write_session)]


def get_now(context: Context) -> dt.datetime:
    """The clock's time for this request (aware; the rules convert to Asia/Shanghai)."""
    now = context.clock()
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("the web clock must return an aware datetime")
    return now


Now = Annotated[dt.datetime, Depends(get_now)]


# Staff ---------------------------------------------------------------------------------


def _live(request: Request, session: Session, context: WebContext, now: dt.datetime
          ) -> SignedIn | None:
    """The staff member of the request's session cookie, or None when it is stale. A GET
    does not write its session: `touch_session` refreshes it apart, without waiting."""
    reading = request.method in READ_METHODS
    try:
        who = current(session, request.cookies.get(COOKIE), now, context.settings.rules,
                      touch=not reading)
    except AuthError:
        return None
    if reading:
        touch_session(context.factory.kw["bind"], who.session, now)
    return who


def _in_role(who: SignedIn, roles: set[StaffRole]) -> SignedIn:
    if who.user.role not in roles:
        raise HTTPException(403, "role")
    return who


async def posted_form_token(request: Request) -> str | None:
    """The `csrf` field of a posted form. FastAPI has parsed the body for the handler's
    form model already, and Starlette keeps it on the request: this reads that copy."""
    value = (await request.form()).get("csrf")
    return value if isinstance(value, str) else None


PostedFormToken = Annotated[str | None, Depends(posted_form_token)]


def _consume(session: Session, context: WebContext, who: SignedIn, token: str | None,
             now: dt.datetime) -> None:
    try:
        consume_form_token(session, context.secret, who.session, token, now)
    except AuthError as exc:
        raise HTTPException(403, "csrf") from exc


def staff_viewer(request: Request, session: DbSession, context: Context, now: Now) -> Desk:
    """A desk page: any staff role. Stale → NeedsLogin (redirect to /login)."""
    who = _live(request, session, context, now)
    if who is None:
        raise NeedsLogin()
    _in_role(who, VIEW_ROLES)
    # the office's queue counts for the navigation: one SELECT of five counts
    counts = queue_counts(session) if who.user.role in ACT_ROLES else QueueCounts()
    return Desk(who, issue_form_token(context.secret, who.session, now), counts)


def desk_again(session: Session, who: SignedIn, now: dt.datetime, secret: str) -> Desk:
    """The acting staff member as a page's viewer (a fresh form token, the queue counts),
    for an action that shows its form again with the errors marked; `secret` is
    `WebContext.secret`."""
    counts = queue_counts(session) if who.user.role in ACT_ROLES else QueueCounts()
    return Desk(who, issue_form_token(secret, who.session, now), counts)


def office_viewer(desk: Annotated[Desk, Depends(staff_viewer)]) -> Desk:
    """A desk page for the supervision office's staff only (403 for other roles)."""
    if not desk.can_act:
        raise HTTPException(403, "role")
    return desk


def staff_actor(request: Request, session: DbSession, context: Context, now: Now,
                token: PostedFormToken) -> SignedIn:
    """An office action (POST): stale → 401, wrong role → 403, missing, foreign or replayed
    form token → 403 "csrf". The token is used up here; the handler's commit keeps it so."""
    who = _live(request, session, context, now)
    if who is None:
        raise HTTPException(401, "stale")
    _in_role(who, ACT_ROLES)
    _consume(session, context, who, token, now)
    return who


def staff_leaving(request: Request, session: DbSession, context: Context, now: Now,
                  token: PostedFormToken) -> SignedIn | None:
    """Signing out: any role, with a fresh form token; None when the session is over."""
    who = _live(request, session, context, now)
    if who is not None:
        _consume(session, context, who, token, now)
    return who


StaffViewer = Annotated[Desk, Depends(staff_viewer)]
OfficeViewer = Annotated[Desk, Depends(office_viewer)]
StaffActor = Annotated[SignedIn, Depends(staff_actor)]
StaffLeaving = Annotated[SignedIn | None, Depends(staff_leaving)]


def staff_actor_name(who: SignedIn) -> str:
    """The audit trail's actor for a staff member."""
    return f"user:{who.user.username}"


# Liaisons ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Link:
    """The contact a signed link speaks for, the claims it was signed with, its token, and
    the agencies it opens (the link's own first; several when one person serves several)."""

    contact: Contact
    claims: LinkClaims
    token: str
    agency_ids: tuple[int, ...] = ()

    @property
    def agency_id(self) -> int:
        """The link's own agency (the contact's)."""
        return self.contact.agency_id

    @property
    def agencies(self) -> tuple[int, ...]:
        """Every agency whose items this link opens, as of this request."""
        return self.agency_ids or (self.contact.agency_id,)

    @property
    def actor(self) -> str:
        """The audit trail's actor: who, and through which link, named by what was signed
        (liaison, version, issue time), not by the token's bytes, which have equivalent
        spellings."""
        return f"liaison:{self.contact.id}:link:{link_id(self.claims)}"


def liaison_link(token: str, session: DbSession, context: Context, now: Now) -> Link:
    """The link in the path (`/l/{token}/…`), with the agencies its person serves now
    (`person_agencies`). Raises LinkError (a DomainError: forged or revoked 403, expired
    410), shown as its page."""
    contact, claims = verify_link(
        session, context.secret, token, now,
        dt.timedelta(days=context.settings.rules.link_max_age_days))
    return Link(contact, claims, token, person_agencies(session, contact))


LiaisonLink = Annotated[Link, Depends(liaison_link)]
