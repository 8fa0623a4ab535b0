"""Signing in and the staff session for desk pages (cookie + single-use form tokens)."""

from __future__ import annotations

import datetime as dt
import secrets
from collections import deque
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm import Session

from tracker.directory.staff import AuthError, SignedIn, consume_form_token, current, issue_form_token
from tracker.enums import StaffRole

COOKIE = "tracker_session"
LOGIN_COOKIE = "tracker_login"
ACT_ROLES = {StaffRole.OFFICE}
VIEW_ROLES = {StaffRole.OFFICE, StaffRole.PERFORMANCE, StaffRole.ADMIN}


class NeedsLogin(Exception):
    """Raised for a page view without a live session: redirect to the sign-in page."""


@dataclass
class Desk:
    signed_in: SignedIn
    csrf: str  # the form token for this page's forms


def signed_in(request: Request, session: Session, roles: set[StaffRole]) -> SignedIn:
    """The current staff user. Raises NeedsLogin (stale) or 403 (wrong role)."""
    app = request.app
    try:
        who = current(session, request.cookies.get(COOKIE), app.state.clock(),
                      app.state.settings.rules)
    except AuthError as exc:
        raise NeedsLogin() from exc
    if who.user.role not in roles:
        raise HTTPException(403, "role")
    return who


def page(request: Request, session: Session, roles: set[StaffRole] = VIEW_ROLES) -> Desk:
    who = signed_in(request, session, roles)
    return Desk(who, issue_form_token(session, who.session, request.app.state.clock()))


async def acting(request: Request, session: Session, roles: set[StaffRole] = ACT_ROLES
                 ) -> tuple[SignedIn, dict[str, str]]:
    """For a POST: a live session of the right role and an unused form token of it.

    A stale session gets 401, a wrong role 403, a missing or replayed token 403.
    """
    form = {k: str(v) for k, v in (await request.form()).items()}
    app = request.app
    try:
        who = current(session, request.cookies.get(COOKIE), app.state.clock(),
                      app.state.settings.rules)
    except AuthError as exc:
        raise HTTPException(401, "stale") from exc
    if who.user.role not in roles:
        raise HTTPException(403, "role")
    try:
        consume_form_token(session, who.session, form.get("csrf"), app.state.clock())
    except AuthError as exc:
        raise HTTPException(403, "csrf") from exc
    return who, form


def login_nonce() -> str:
    return secrets.token_urlsafe(24)


def flash(app: Any, text: str) -> str:
    """A message for the next page, signed so a crafted link cannot put words on our pages."""
    return str(URLSafeSerializer(app.state.secret, salt="flash").dumps(text[:500]))


def read_flash(app: Any, value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(URLSafeSerializer(app.state.secret, salt="flash").loads(value))
    except BadSignature:
        return None


class LoginThrottle:
    """Failed sign-ins per client address in a sliding window (in-process memory).

    The per-account lock stops guessing one password; this stops one address from
    spraying names. Behind a proxy, the proxy's address is what is seen here.
    """

    def __init__(self, limit: int = 20, window: dt.timedelta = dt.timedelta(minutes=15)):
        self.limit, self.window = limit, window
        self._failures: dict[str, deque[dt.datetime]] = {}

    def _recent(self, address: str, now: dt.datetime) -> deque[dt.datetime]:
        times = self._failures.setdefault(address, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def blocked(self, address: str, now: dt.datetime) -> bool:
        return len(self._recent(address, now)) >= self.limit

    def failed(self, address: str, now: dt.datetime) -> None:
        self._recent(address, now).append(now)
