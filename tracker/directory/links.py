"""Signed links for liaisons: no password, scoped to one liaison and the agencies they serve.

A link carries {liaison, agency, token version, issued-at} signed with the deployment's
secret (itsdangerous). It is refused when the signature is wrong (forged), when it is
older than `max_age` (expired, default 30 days), when the liaison's token version has
moved on or the liaison was deactivated (revoked). Expiry is checked against the `now`
passed in, so tests and simulations control time. A link opens the items of every
agency the same person is an active liaison of (`person_agencies`); the signed claims are
unchanged, so links issued before keep working.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from pathlib import Path

from itsdangerous import BadSignature, URLSafeSerializer
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.enums import ContactRole
from tracker.errors import DomainError
from tracker.models import Contact

DEFAULT_MAX_AGE = dt.timedelta(days=30)
CLOCK_SKEW = dt.timedelta(minutes=5)
SALT = "liaison-link"


class LinkError(DomainError):
    """`code` (and `reason`) is forged, expired (410) or revoked (403)."""

    def __init__(self, reason: str):
        text = {"forged": "链接无效或已被篡改", "expired": "链接已过期",
                "revoked": "链接已停用"}[reason]
        super().__init__(text, status=410 if reason == "expired" else 403, code=reason)
        self.reason = reason


@dataclass(frozen=True)
class LinkClaims:
    liaison_id: int
    agency_id: int
    version: int
    issued_at: dt.datetime


def load_secret(home: Path, env_value: str | SecretStr | None = None) -> str:
    """The signing secret: TRACKER_SECRET_KEY, else a random one kept in HOME/secret.key."""
    if isinstance(env_value, SecretStr):
        env_value = env_value.get_secret_value()
    if env_value:
        return env_value
    path = home / "secret.key"
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


def make_token(secret: str, liaison: Contact, now: dt.datetime) -> str:
    """A link token for `liaison`, issued at `now`."""
    payload = {"l": liaison.id, "a": liaison.agency_id, "v": liaison.token_version,
               "t": int(now.timestamp())}
    return str(URLSafeSerializer(secret, salt=SALT).dumps(payload))


def read_token(secret: str, token: str, now: dt.datetime,
               max_age: dt.timedelta = DEFAULT_MAX_AGE) -> LinkClaims:
    """Check the signature and age. Raises LinkError('forged' | 'expired')."""
    try:
        data = URLSafeSerializer(secret, salt=SALT).loads(token)
        claims = LinkClaims(int(data["l"]), int(data["a"]), int(data["v"]),
                            dt.datetime.fromtimestamp(int(data["t"]), dt.UTC))
    except (BadSignature, KeyError, TypeError, ValueError, OverflowError, OSError) as exc:
        raise LinkError("forged") from exc
    if claims.issued_at > now + CLOCK_SKEW:
        raise LinkError("forged")  # issued in the future: not a link we gave out
    if now - claims.issued_at > max_age:
        raise LinkError("expired")
    return claims


def link_id(claims: LinkClaims) -> str:
    """A stable name for one issued link in the audit trail (not the token's bytes)."""
    return f"{claims.liaison_id}v{claims.version}@{int(claims.issued_at.timestamp())}"


def verify(session: Session, secret: str, token: str, now: dt.datetime,
           max_age: dt.timedelta = DEFAULT_MAX_AGE) -> Contact:
    """The liaison a link speaks for. Raises LinkError('forged' | 'expired' | 'revoked')."""
    return verify_link(session, secret, token, now, max_age)[0]


def verify_link(session: Session, secret: str, token: str, now: dt.datetime,
                max_age: dt.timedelta = DEFAULT_MAX_AGE) -> tuple[Contact, LinkClaims]:
    """As `verify`, with the link's claims (for the audit trail)."""
    claims = read_token(secret, token, now, max_age)
    if not 0 < claims.liaison_id < 2**31:
        raise LinkError("forged")
    liaison = session.get(Contact, claims.liaison_id)
    if liaison is None or liaison.agency_id != claims.agency_id:
        raise LinkError("forged")
    if not liaison.active or liaison.token_version != claims.version:
        raise LinkError("revoked")
    return liaison, claims


def person_agencies(session: Session, liaison: Contact) -> tuple[int, ...]:
    """The agencies a link opens: the link's own, and every agency where the same person
    (the same normalised address) is an active liaison right now (issue 8, item 4: one
    person serving several agencies gets one link to all their items). Read at each
    request, so deactivating one of their contacts removes that agency's items at once.
    One query; the link's own agency first, then by id.
    """
    others = session.scalars(select(Contact.agency_id).where(
        Contact.email == liaison.email, Contact.active.is_(True),
        Contact.role == ContactRole.LIAISON.value, Contact.agency_id != liaison.agency_id)
        .order_by(Contact.agency_id)).all()
    return (liaison.agency_id, *dict.fromkeys(others))


def revoke(session: Session, liaison_id: int) -> None:
    """Invalidate every link issued so far to a liaison (bump the token version)."""
    liaison = session.get_one(Contact, liaison_id)
    liaison.token_version += 1
