"""The desk's sign-in pieces: cookie names, roles, the page's form token, flash messages,
and the client address sign-ins are counted against. The dependencies that check a staff session are in
`tracker.web.deps`."""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass

from fastapi import Request
from itsdangerous import BadSignature, URLSafeSerializer

from tracker.desk.queues import QueueCounts
from tracker.directory.staff import SignedIn
from tracker.enums import StaffRole
from tracker.settings import Settings

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


def client_address(request: Request, settings: Settings) -> str:
    """The address a sign-in is counted against: the socket's peer, or, when the peer is
    one of TRACKER_TRUSTED_PROXIES and TRACKER_TRUSTED_PROXY_HEADER is set, the address the
    proxy wrote in that header (X-Real-IP; for X-Forwarded-For, the last entry, the one the
    proxy itself appended). A header from any other peer is ignored: anyone can send one.
    A header that holds no IP address falls back to the peer."""
    peer = request.client.host if request.client else "unknown"
    header = settings.trusted_proxy_header
    if not header or not _trusted(peer, settings.trusted_proxies):
        return peer
    value = request.headers.get(header, "").split(",")[-1].strip()
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return peer


def _trusted(peer: str, proxies: tuple[str, ...]) -> bool:
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(p, strict=False) for p in proxies)
