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
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker.enums import ChannelKind, ContactRole, MessageKind, OutboxStatus
from tracker.errors import DomainError
from tracker.models import AuditEvent, Contact, OutboxMessage
from tracker.sql import insert_ignore_values

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


def renewable(session: Session, secret: str, token: str, now: dt.datetime,
              max_age: dt.timedelta = DEFAULT_MAX_AGE) -> tuple[str, Contact | None]:
    """Whether a link may be renewed by email (issue 10, item 1): (state, liaison).

    `state` is "valid" (the link works), "expired" or "revoked"; `liaison` is the active
    liaison the link was issued to when it is expired or revoked (they may ask for a new
    link), else None (the page then names the office to contact). Raises
    LinkError("forged") for a token we did not sign, issued in the future, or naming a
    contact that does not exist or belongs to another agency: a forged token learns
    nothing, not even whether its liaison exists.
    """
    claims = read_token(secret, token, now, max_age=dt.timedelta.max)
    if not 0 < claims.liaison_id < 2**31:
        raise LinkError("forged")
    liaison = session.get(Contact, claims.liaison_id)
    if liaison is None or liaison.agency_id != claims.agency_id:
        raise LinkError("forged")
    revoked = not liaison.active or liaison.token_version != claims.version
    state = "revoked" if revoked else "expired" if now - claims.issued_at > max_age else "valid"
    if state == "valid" or not liaison.active or liaison.role != ContactRole.LIAISON:
        return state, None
    return state, liaison


def mask_address(address: str) -> str:
    """An address as a page may show it to whoever holds a link: the first character of the
    local part and the domain (zhang@example.org -> z***@example.org)."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}" if domain else f"{local[:1]}***"


@dataclass(frozen=True)
class NewLink:
    """The outcome of `send_new_link`: `sent` (queued now) or `already` (one was queued in
    the last `Rules.new_link_every_minutes`; nothing more is sent), and the masked address."""

    outcome: str
    masked: str


def send_new_link(session: Session, liaison: Contact, now: dt.datetime, *,
                  every: dt.timedelta = dt.timedelta(hours=1),
                  channel: ChannelKind = ChannelKind.EMAIL) -> NewLink:
    """Queue a 新填报链接 notice (MessageKind.NEW_LINK) to the liaison's address on file
    (never to an address typed by whoever asks); the dispatcher makes the fresh link when it
    sends (notifications.render: a liaison's own notice carries the answer link).

    At most one per liaison per `every` (default one hour, `Rules.new_link_every_minutes`):
    a row queued within `every` before `now` means "already". The row's key counts the
    liaison's earlier new-link rows ("newlink:{contact}:{n}"), so two presses racing each
    other write one row (the unique key), and pressing twice sends once. Does not commit.
    """
    masked = mask_address(liaison.email)
    recent, count = session.execute(
        select(func.max(OutboxMessage.created_at), func.count())
        .where(OutboxMessage.contact_id == liaison.id,
               OutboxMessage.kind == MessageKind.NEW_LINK.value)).one()
    if recent is not None and recent.tzinfo is None:
        recent = recent.replace(tzinfo=dt.UTC)  # SQLite keeps UTC text without its zone
    if recent is not None and now - recent < every:
        return NewLink("already", masked)
    written = insert_ignore_values(session, OutboxMessage.__table__, [dict(  # type: ignore[arg-type]
        key=f"newlink:{liaison.id}:{count}", kind=MessageKind.NEW_LINK.value,
        channel=channel.value, address=liaison.email, recipient_name=liaison.name,
        agency_id=liaison.agency_id, request_id=None, contact_id=liaison.id, plan_id=None,
        level=0, is_copy=False, payload={}, status=OutboxStatus.PENDING.value, attempts=0,
        next_attempt_at=now, created_at=now)])
    if not written:
        return NewLink("already", masked)
    session.add(AuditEvent(at=now, actor=f"liaison:{liaison.id}", action="link.renew",
                           object_type="contact", object_id=str(liaison.id),
                           detail={"address": masked}))
    return NewLink("sent", masked)


def revoke(session: Session, liaison_id: int) -> None:
    """Invalidate every link issued so far to a liaison (bump the token version)."""
    liaison = session.get_one(Contact, liaison_id)
    liaison.token_version += 1
