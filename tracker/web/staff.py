"""The desk's sign-in pieces: cookie names, roles, the page's form token, flash messages,
and the per-address sign-in throttle. The dependencies that check a staff session are in
`tracker.web.deps`."""

from __future__ import annotations

import datetime as dt
import secrets
from collections import deque
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer

from tracker.desk.queues import QueueCounts
from tracker.directory.staff import SignedIn
from tracker.enums import StaffRole

COOKIE = "tracker_session"
LOGIN_COOKIE = "tracker_login"
ACT_ROLES = {StaffRole.OFFICE}
VIEW_ROLES = {StaffRole.OFFICE, StaffRole.PERFORMANCE, StaffRole.ADMIN}


class NeedsLogin(Exception):
    """Raised for a page view without a live session: redirect to the sign-in page."""


@dataclass
class Desk:
    """The staff member viewing a desk page, and the form token for the page's forms."""

    signed_in: SignedIn
    csrf: str
    queues: QueueCounts = QueueCounts()  # the navigation's badges (office staff only)

    @property
    def dead_letters(self) -> int:
        """Failed notices (the outbox page's total)."""
        return self.queues.dead_letters

    @property
    def can_act(self) -> bool:
        """Whether the page shows the office's action forms (others only read)."""
        return self.signed_in.user.role in ACT_ROLES


def login_nonce() -> str:
    return secrets.token_urlsafe(24)


def flash(secret: str, text: str) -> str:
    """A message for the next page, signed so a crafted link cannot put words on our pages."""
    return str(URLSafeSerializer(secret, salt="flash").dumps(text[:500]))


def read_flash(secret: str, value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(URLSafeSerializer(secret, salt="flash").loads(value))
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

    def begin(self, address: str, now: dt.datetime) -> bool:
        """Reserve one attempt for `address` before its password is checked; False when the
        address has used up its attempts. The reservation counts as a failure until
        `succeeded` returns it, so parallel attempts cannot all pass the check while the
        slow password hash runs (issue 10, item 8: 80 in parallel were all evaluated)."""
        times = self._recent(address, now)
        if len(times) >= self.limit:
            return False
        times.append(now)
        return True

    def succeeded(self, address: str, now: dt.datetime) -> None:
        """The reserved attempt was the right password: it does not count."""
        times = self._recent(address, now)
        if times:
            times.pop()

    def failed(self, address: str, now: dt.datetime) -> None:
        self._recent(address, now).append(now)
