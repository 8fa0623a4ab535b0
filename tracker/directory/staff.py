"""Staff accounts: argon2id passwords, sessions, single-use form tokens, login throttling.

Rules (config `Rules`): a session unused for `session_idle_minutes`, or older than
`session_max_hours`, is stale and refused; every POST carries a form token issued with the
page for that session, usable once (a missing, foreign or replayed one is refused). The
token is signed, not stored, so rendering a page writes nothing; its use is recorded at
submit time. Only SHA-256 digests of cookie values and of used form tokens are stored. A
page view refreshes the session's `last_seen_at` at most once a minute, apart from the
page's own read and without waiting for SQLite's write lock (`touch_session`).

Failed sign-ins (issue 10, item 8) are counted in the database, so every process and every
`tracker serve` instance shares the counts, each in one conditional UPDATE that also
*reserves* the attempt before the slow password hash runs (parallel attempts cannot all
pass a check made before any of them failed):

- per account: an attempt on an existing account takes one of its `login_max_failures`
  slots (`staff_user.failed_logins`); none left, or the account locked, and the password
  is not checked. A wrong password keeps the slot; the last slot's failure locks the
  account for `login_lock_minutes`; the right password frees every slot.
- per client address (`sign_in_address`, `login_address_limit` failures per window of
  `login_address_window_minutes`): every failure from the address counts, but a spent
  address only stops attempts *for names that are no account* (nothing else limits those:
  guessing names, or burning the server's CPU on hashes). An attempt for an existing
  account is always judged by that account's own slots, so a correct password is never
  refused because others failed from the same address (an office behind one proxy, a
  colleague's typos, an attacker on the same network). An unknown name from a spent
  address gets the same "wrong name or password" answer, unchecked (`AuthError.checked`).

The client address is the socket's peer, or the trusted proxy's header
(`tracker.web.staff.client_address`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, Signer
from sqlalchemy import Engine, case, delete, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from tracker.db import BUSY_MS
from tracker.enums import StaffRole
from tracker.errors import DomainError
from tracker.models import AuditEvent, FormToken, SignInAddress, StaffSession, StaffUser
from tracker.settings import Rules
from tracker.sql import insert_ignore_values

_hasher = PasswordHasher()
FORM_TOKEN_AGE = dt.timedelta(hours=12)  # a page left open longer must be reloaded
# Verifying against a dummy hash for unknown users keeps the timing of both paths alike.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def _check_seconds() -> float:
    started = time.perf_counter()
    try:
        _hasher.verify(_DUMMY_HASH, "not-the-password")
    except VerificationError:
        pass
    return time.perf_counter() - started


# How long one password check takes here: a refusal made without one (`AuthError.checked`
# False) is answered after as long, so timing does not tell which path was taken.
CHECK_SECONDS = _check_seconds()


class AuthError(Exception):
    """`reason`: bad (wrong user or password), locked, stale, csrf. `checked` is False when
    a sign-in was refused without checking its password (a spent address, a locked account)."""

    def __init__(self, reason: str, until: dt.datetime | None = None, checked: bool = True):
        super().__init__(reason)
        self.reason = reason
        self.until = until
        self.checked = checked


@dataclass(frozen=True)
class Attempt:
    """A sign-in attempt that holds a slot: the account's (user_id set) or the address's."""

    username: str
    address: str
    user_id: int | None
    password_hash: str


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
            rules: Rules, address: str = "unknown") -> tuple[StaffUser, str]:
    """Check the password and open a session, in the caller's one transaction; returns
    (user, cookie value). The web uses `sign_in_committed` instead, which does not hold a
    transaction while the password hash runs.

    Raises AuthError('bad') or AuthError('locked', until). Counts failures; does not commit.
    """
    attempt = reserve_attempt(session, username=username, address=address, now=now, rules=rules)
    return settle_attempt(session, attempt, password_matches(attempt, password), password,
                          now=now, rules=rules)


def sign_in_committed(factory: sessionmaker[Session], *, username: str, password: str,
                      address: str, now: dt.datetime, rules: Rules) -> tuple[StaffUser, str]:
    """`sign_in` in three steps, each visible to every other process at once: the slot is
    reserved and committed, the password checked outside any transaction (argon2 takes
    tens of milliseconds, and on SQLite a transaction holds the write lock), then the
    outcome recorded and committed. Blocking; run it in a worker thread.

    Raises AuthError as `sign_in` does.
    """
    with factory() as session:
        attempt = reserve_attempt(session, username=username, address=address, now=now,
                                  rules=rules)
        session.commit()
    matches = password_matches(attempt, password)
    with factory() as session:
        try:
            user, token = settle_attempt(session, attempt, matches, password, now=now, rules=rules)
        except AuthError:
            session.commit()  # the failure counts
            raise
        session.commit()
        session.refresh(user)
        session.expunge(user)
    return user, token


def reserve_attempt(session: Session, *, username: str, address: str, now: dt.datetime,
                    rules: Rules) -> Attempt:
    """Take a slot for one sign-in attempt (module docstring): the account's, or, for a
    name that is no active account, the address's. Raises AuthError('locked', until,
    checked=False) for an account with no slot left, AuthError('bad', checked=False) for
    an unknown name from a spent address. Does not commit."""
    address = address[:64]
    user = session.execute(select(StaffUser.id, StaffUser.password_hash, StaffUser.locked_until)
                           .where(StaffUser.username == username, StaffUser.active.is_(True))
                           ).first()
    if user is None:
        if not _count_address(session, address, now, rules, reserve=True):
            raise AuthError("bad", checked=False)
        return Attempt(username, address, None, _DUMMY_HASH)
    taken = session.execute(
        update(StaffUser)
        .where(StaffUser.id == user.id, StaffUser.failed_logins < rules.login_max_failures,
               (StaffUser.locked_until.is_(None)) | (StaffUser.locked_until <= now))
        .values(failed_logins=StaffUser.failed_logins + 1)
        .execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
    if taken != 1:
        until = session.scalar(select(StaffUser.locked_until).where(StaffUser.id == user.id))
        raise AuthError("locked", until, checked=False)
    return Attempt(username, address, user.id, user.password_hash)


def password_matches(attempt: Attempt, password: str) -> bool:
    """argon2id verification (slow on purpose); an unknown name is checked against a dummy
    hash, so both take the same time. No database."""
    try:
        return bool(_hasher.verify(attempt.password_hash, password)) and attempt.user_id is not None
    except (VerificationError, InvalidHashError):
        return False


def settle_attempt(session: Session, attempt: Attempt, matches: bool, password: str, *,
                   now: dt.datetime, rules: Rules) -> tuple[StaffUser, str]:
    """Record the attempt's outcome: the right password frees the account's slots and opens
    a session (returns (user, cookie value)); a wrong one counts for the address, and locks
    the account when it used the last slot (raises AuthError('bad')). Does not commit."""
    actor = f"user:{attempt.username[:80]}"
    if not matches or attempt.user_id is None:
        session.add(AuditEvent(at=now, actor=actor, action="user.sign_in_failed",
                               object_type="staff_user", object_id=attempt.username[:80],
                               detail={"address": attempt.address}))
        if attempt.user_id is not None:  # an unknown name counted when it reserved
            _count_address(session, attempt.address, now, rules, reserve=False)
            locked = session.execute(
                update(StaffUser).where(StaffUser.id == attempt.user_id,
                                        StaffUser.failed_logins >= rules.login_max_failures)
                .values(locked_until=now + dt.timedelta(minutes=rules.login_lock_minutes),
                        failed_logins=0)
                .execution_options(synchronize_session=False))
            if locked.rowcount:  # type: ignore[attr-defined]
                session.add(AuditEvent(at=now, actor=actor, action="user.locked",
                                       object_type="staff_user", object_id=attempt.username,
                                       detail={}))
        raise AuthError("bad")
    user = session.get_one(StaffUser, attempt.user_id, populate_existing=True)
    user.failed_logins, user.locked_until = 0, None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    token = secrets.token_urlsafe(32)
    session.add(StaffSession(token_hash=_digest(token), user_id=user.id, created_at=now,
                             last_seen_at=now))
    session.add(AuditEvent(at=now, actor=actor, action="user.sign_in",
                           object_type="staff_user", object_id=attempt.username, detail={}))
    return user, token


def _count_address(session: Session, address: str, now: dt.datetime, rules: Rules, *,
                   reserve: bool) -> bool:
    """Count one failure for `address` in its window (a window past its end starts again
    at `now`). With `reserve`, only while the address has failures left: False when spent.
    One conditional UPDATE, so parallel attempts in any process each count once."""
    insert_ignore_values(session, SignInAddress.__table__,  # type: ignore[arg-type]
                         [{"address": address, "window_start": now, "failures": 0}])
    over = SignInAddress.window_start <= now - dt.timedelta(
        minutes=rules.login_address_window_minutes)
    stmt = (update(SignInAddress).where(SignInAddress.address == address)
            .values(failures=case((over, 1), else_=SignInAddress.failures + 1),
                    window_start=case((over, now), else_=SignInAddress.window_start))
            .execution_options(synchronize_session=False))
    if reserve:
        stmt = stmt.where(over | (SignInAddress.failures < rules.login_address_limit))
    return bool(session.execute(stmt).rowcount == 1)  # type: ignore[attr-defined]


def current(session: Session, cookie: str | None, now: dt.datetime, rules: Rules,
            *, touch: bool = True) -> SignedIn:
    """The signed-in user of a session cookie; touches `last_seen_at` unless `touch` is
    False (a page's GET reads only: `touch_session` keeps the session alive instead).

    Raises AuthError('stale') for a missing, ended, idle or too old session.
    """
    signed_in = _live(session, cookie, now, rules)
    if signed_in is None:
        raise AuthError("stale")
    if touch:
        signed_in.session.last_seen_at = now
    return signed_in


TOUCH_EVERY = dt.timedelta(minutes=1)  # a page view refreshes `last_seen_at` this often at most


def touch_session(engine: Engine, staff_session: StaffSession, now: dt.datetime) -> bool:
    """Keep a session alive from a page view without making the view a write that waits:
    `last_seen_at` is moved to `now` when it is at least TOUCH_EVERY old, in its own short
    transaction that on SQLite does not wait for the write lock (busy timeout 0): while a
    job holds the lock the touch is skipped (the idle limit is minutes; a later view
    touches). Returns whether the row was moved. The caller's session is not used."""
    if now - staff_session.last_seen_at < TOUCH_EVERY:
        return False
    try:
        with engine.connect() as conn:
            conn.execution_options(**{BUSY_MS: 0})
            moved = conn.execute(
                update(StaffSession)
                .where(StaffSession.id == staff_session.id,
                       StaffSession.last_seen_at < now - TOUCH_EVERY)
                .values(last_seen_at=now)).rowcount  # type: ignore[attr-defined]
            conn.commit()
    except OperationalError as exc:  # SQLite: "database is locked" by a job's transaction
        if "locked" not in str(exc):
            raise
        return False
    return bool(moved == 1)


def session_is_live(session: Session, cookie: str | None, now: dt.datetime, rules: Rules) -> bool:
    """Whether a session cookie names a live session, as `current` would find it; reads
    only (the web checks this before it reads a request's body)."""
    return _live(session, cookie, now, rules) is not None


def _live(session: Session, cookie: str | None, now: dt.datetime, rules: Rules) -> SignedIn | None:
    if not cookie:
        return None
    row = session.execute(
        select(StaffSession, StaffUser).join(StaffUser, StaffUser.id == StaffSession.user_id)
        .where(StaffSession.token_hash == _digest(cookie))
    ).first()
    if row is None:
        return None
    sess, user = row
    idle = now - sess.last_seen_at > dt.timedelta(minutes=rules.session_idle_minutes)
    old = now - sess.created_at > dt.timedelta(hours=rules.session_max_hours)
    if sess.ended_at is not None or idle or old or not user.active:
        return None
    return SignedIn(user, sess)


def sign_out(session: Session, signed_in: SignedIn, now: dt.datetime) -> None:
    signed_in.session.ended_at = now


def _form_signer(secret: str, staff_session: StaffSession) -> Signer:
    # keyed by the session's cookie digest: a token of one session is forged for any other
    return Signer(secret, salt=f"form-token:{staff_session.token_hash}")


def issue_form_token(secret: str, staff_session: StaffSession, now: dt.datetime) -> str:
    """A CSRF token for the forms of one page: signed, not stored (rendering a page writes
    nothing). It carries the staff member and the session (a random nonce, the session
    id and user id, signed with a key bound to the session's cookie digest) and the time
    it was issued (`now`; it expires after FORM_TOKEN_AGE). `consume_form_token` records
    its use, once."""
    nonce = secrets.token_urlsafe(12)
    value = f"{staff_session.id}.{staff_session.user_id}.{nonce}"
    stamp = int(now.timestamp())
    return _form_signer(secret, staff_session).sign(f"{value}.{stamp}".encode()).decode()


def consume_form_token(session: Session, secret: str, staff_session: StaffSession,
                       token: str | None, now: dt.datetime,
                       max_age: dt.timedelta | None = None) -> None:
    """Use a form token once. Raises AuthError('csrf') if missing, forged, of another
    session, issued in the future, older than `max_age` (FORM_TOKEN_AGE) or used already.

    The signature and the age are checked first (no database); the use is then recorded
    as a `form_token` row whose digest is unique: of two requests posting one token (a
    form sent twice, a replay), one inserts and the other is refused. This session's
    records of tokens past their age are dropped here (they can no longer be posted).
    """
    if not token:
        raise AuthError("csrf")
    try:
        value = _form_signer(secret, staff_session).unsign(token).decode()
        sid, uid, _nonce, stamp = value.split(".")
        issued = dt.datetime.fromtimestamp(int(stamp), dt.UTC)
    except (BadSignature, ValueError, OverflowError, OSError) as exc:
        raise AuthError("csrf") from exc
    age = max_age or FORM_TOKEN_AGE
    if (int(sid) != staff_session.id or int(uid) != staff_session.user_id
            or issued > now + dt.timedelta(seconds=1) or now - issued > age):
        raise AuthError("csrf")
    session.execute(delete(FormToken).where(FormToken.session_id == staff_session.id,
                                            FormToken.issued_at < now - FORM_TOKEN_AGE))
    used = insert_ignore_values(session, FormToken.__table__,  # type: ignore[arg-type]
                                [{"token_hash": _digest(token), "session_id": staff_session.id,
                                  "issued_at": issued, "used_at": now}])
    if used != 1:
        raise AuthError("csrf")


def purge_sessions(session: Session, now: dt.datetime, rules: Rules) -> int:
    """Delete sessions that ended or went stale, with their form tokens, and the address
    counts whose window is over; returns how many sessions.

    Set-based (three DELETEs); idempotent. Run daily by the sweep flow.
    """
    idle = now - dt.timedelta(minutes=rules.session_idle_minutes)
    old = now - dt.timedelta(hours=rules.session_max_hours)
    dead = select(StaffSession.id).where(
        (StaffSession.ended_at.is_not(None)) | (StaffSession.last_seen_at < idle)
        | (StaffSession.created_at < old))
    session.execute(delete(SignInAddress).where(SignInAddress.window_start < now - dt.timedelta(
        minutes=rules.login_address_window_minutes)))  # windows over: counts start afresh
    session.execute(delete(FormToken).where(FormToken.session_id.in_(dead)))
    result = session.execute(delete(StaffSession).where(StaffSession.id.in_(dead.scalar_subquery()))
                             .execution_options(synchronize_session=False))
    return max(result.rowcount or 0, 0)  # type: ignore[attr-defined]
