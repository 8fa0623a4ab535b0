"""Staff accounts: argon2id passwords, sessions, single-use form tokens, login throttling.

Rules (config `Rules`): after `login_max_failures` consecutive wrong passwords an account
is locked for `login_lock_minutes`; a session unused for `session_idle_minutes`, or older
than `session_max_hours`, is stale and refused; every POST carries a form token issued
with the page for that session, usable once (a missing, foreign or replayed one is
refused). Only SHA-256 digests of cookie values and form tokens are stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from tracker.enums import StaffRole
from tracker.errors import DomainError
from tracker.models import AuditEvent, FormToken, StaffSession, StaffUser
from tracker.settings import Rules

_hasher = PasswordHasher()
FORM_TOKEN_AGE = dt.timedelta(hours=12)  # a page left open longer must be reloaded
# Verifying against a dummy hash for unknown users keeps the timing of both paths alike.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


class AuthError(Exception):
    """`reason`: bad (wrong user or password), locked, stale, csrf."""

    def __init__(self, reason: str, until: dt.datetime | None = None):
        super().__init__(reason)
        self.reason = reason
        self.until = until


@dataclass(frozen=True)
class SignedIn:
    user: StaffUser
    session: StaffSession


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(session: Session, *, username: str, display_name: str, role: StaffRole,
                password: str, now: dt.datetime) -> StaffUser:
    """Add a staff account. Raises DomainError for a short password or a taken username."""
    if len(password) < 10:
        raise DomainError("密码至少需要 10 位")
    if session.scalar(select(StaffUser.id).where(StaffUser.username == username)) is not None:
        raise DomainError(f"用户名 {username} 已被使用", status=409, code="taken")
    user = StaffUser(username=username, display_name=display_name, role=role,
                     password_hash=_hasher.hash(password), created_at=now, active=True)
    session.add(user)
    session.flush()
    session.add(AuditEvent(at=now, actor="cli", action="user.create", object_type="staff_user",
                           object_id=username, detail={"role": role.value}))
    return user


def sign_in(session: Session, *, username: str, password: str, now: dt.datetime,
            rules: Rules) -> tuple[StaffUser, str]:
    """Check the password and open a session; returns (user, cookie value).

    Raises AuthError('bad') or AuthError('locked', until). Counts failures; does not commit.
    """
    user = session.scalar(select(StaffUser).where(StaffUser.username == username,
                                                  StaffUser.active.is_(True)))
    if user is None:
        try:
            _hasher.verify(_DUMMY_HASH, password)
        except VerificationError:
            pass
        raise AuthError("bad")
    if user.locked_until is not None and user.locked_until > now:
        try:  # same cost as a real check, so timing does not tell a locked account apart
            _hasher.verify(_DUMMY_HASH, password)
        except VerificationError:
            pass
        raise AuthError("locked", user.locked_until)
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        session.add(AuditEvent(at=now, actor=f"user:{username}", action="user.sign_in_failed",
                               object_type="staff_user", object_id=username, detail={}))
        # counted in the database in one statement: parallel wrong passwords in several
        # processes each add one (an ORM read-modify-write lost updates on PostgreSQL)
        failures = session.execute(
            update(StaffUser).where(StaffUser.id == user.id)
            .values(failed_logins=StaffUser.failed_logins + 1)
            .returning(StaffUser.failed_logins)
            .execution_options(synchronize_session=False)).scalar_one()
        if failures >= rules.login_max_failures:
            locked = session.execute(
                update(StaffUser).where(StaffUser.id == user.id,
                                        StaffUser.failed_logins >= rules.login_max_failures)
                .values(locked_until=now + dt.timedelta(minutes=rules.login_lock_minutes),
                        failed_logins=0)
                .execution_options(synchronize_session=False))
            if locked.rowcount:  # type: ignore[attr-defined]
                session.add(AuditEvent(at=now, actor=f"user:{username}", action="user.locked",
                                       object_type="staff_user", object_id=username, detail={}))
        session.expire(user)
        raise AuthError("bad") from None
    user.failed_logins, user.locked_until = 0, None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    token = secrets.token_urlsafe(32)
    session.add(StaffSession(token_hash=_digest(token), user_id=user.id, created_at=now,
                             last_seen_at=now))
    session.add(AuditEvent(at=now, actor=f"user:{username}", action="user.sign_in",
                           object_type="staff_user", object_id=username, detail={}))
    return user, token


def current(session: Session, cookie: str | None, now: dt.datetime, rules: Rules) -> SignedIn:
    """The signed-in user of a session cookie; touches `last_seen_at`.

    Raises AuthError('stale') for a missing, ended, idle or too old session.
    """
    if not cookie:
        raise AuthError("stale")
    row = session.execute(
        select(StaffSession, StaffUser).join(StaffUser, StaffUser.id == StaffSession.user_id)
        .where(StaffSession.token_hash == _digest(cookie))
    ).first()
    if row is None:
        raise AuthError("stale")
    sess, user = row
    idle = now - sess.last_seen_at > dt.timedelta(minutes=rules.session_idle_minutes)
    old = now - sess.created_at > dt.timedelta(hours=rules.session_max_hours)
    if sess.ended_at is not None or idle or old or not user.active:
        raise AuthError("stale")
    sess.last_seen_at = now
    return SignedIn(user, sess)


def sign_out(session: Session, signed_in: SignedIn, now: dt.datetime) -> None:
    signed_in.session.ended_at = now


def issue_form_token(session: Session, staff_session: StaffSession, now: dt.datetime) -> str:
    """A fresh CSRF token for the forms of one page (this session's old ones are dropped)."""
    session.execute(delete(FormToken).where(FormToken.session_id == staff_session.id,
                                            FormToken.issued_at < now - FORM_TOKEN_AGE))
    token = secrets.token_urlsafe(24)
    session.add(FormToken(token_hash=_digest(token), session_id=staff_session.id, issued_at=now))
    return token


def consume_form_token(session: Session, staff_session: StaffSession, token: str | None,
                       now: dt.datetime, max_age: dt.timedelta | None = None) -> None:
    """Use a form token once. Raises AuthError('csrf') if missing, foreign, old or used.

    The conditional UPDATE decides: of two requests replaying one token, one wins.
    """
    if not token:
        raise AuthError("csrf")
    used = session.execute(
        update(FormToken)
        .where(FormToken.token_hash == _digest(token), FormToken.session_id == staff_session.id,
               FormToken.used_at.is_(None), FormToken.issued_at >= now - (max_age or FORM_TOKEN_AGE))
        .values(used_at=now)
    ).rowcount  # type: ignore[attr-defined]
    if used != 1:
        raise AuthError("csrf")


def purge_sessions(session: Session, now: dt.datetime, rules: Rules) -> int:
    """Delete sessions that ended or went stale, with their form tokens; returns how many.

    Set-based (two DELETEs); idempotent. Run daily by the sweep flow.
    """
    idle = now - dt.timedelta(minutes=rules.session_idle_minutes)
    old = now - dt.timedelta(hours=rules.session_max_hours)
    dead = select(StaffSession.id).where(
        (StaffSession.ended_at.is_not(None)) | (StaffSession.last_seen_at < idle)
        | (StaffSession.created_at < old))
    session.execute(delete(FormToken).where(FormToken.session_id.in_(dead)))
    result = session.execute(delete(StaffSession).where(StaffSession.id.in_(dead.scalar_subquery()))
                             .execution_options(synchronize_session=False))
    return max(result.rowcount or 0, 0)  # type: ignore[attr-defined]
