"""Sign-in failures under concurrency (issue 10, item 8), counted in the database: parallel
wrong passwords for one account lock it with at most `login_max_failures` checked; parallel
attempts from one address for unknown names are checked at most up to the address's limit;
another account's right password from that address still signs in; two app instances (two
engines, as two processes would have) share the counts. Every test runs on SQLite and
PostgreSQL."""

from __future__ import annotations

import datetime as dt
import re
import threading

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.conftest import at
from tests.web_helpers import Clock, make_app, make_settings
from tracker.db import make_engine, session_factory, transaction
from tracker.directory.staff import AuthError, create_user, sign_in, sign_in_committed
from tracker.enums import StaffRole
from tracker.models import AuditEvent, SignInAddress, StaffUser
from tracker.settings import Rules

PASSWORD = "correct-horse-9"
NOW = at("2017-03-20", 10)


def _users(db, *names: str) -> None:  # type: ignore[no-untyped-def]
    with transaction(db) as s:
        for name in names:
            create_user(s, username=name, display_name=name, role=StaffRole.OFFICE,
                        password=PASSWORD, now=at("2017-03-01"))


def _failed(db) -> int:  # type: ignore[no-untyped-def]
    """Attempts whose password was checked and wrong (each writes one audit row)."""
    with db() as s:
        return s.scalar(select(func.count()).select_from(AuditEvent)
                        .where(AuditEvent.action == "user.sign_in_failed"))


def _parallel(n: int, attempt) -> list[str]:  # type: ignore[no-untyped-def]
    barrier = threading.Barrier(n)
    outcomes: list[str] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            attempt(i)
            outcomes.append("signed-in")
        except AuthError as exc:
            outcomes.append(f"{exc.reason}:{'checked' if exc.checked else 'unchecked'}")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def test_parallel_wrong_passwords_lock_the_account(db):
    _users(db, "ducha")
    rules = Rules()
    outcomes = _parallel(20, lambda i: sign_in_committed(
        db, username="ducha", password="wrong-password", address=f"10.0.0.{i}", now=NOW,
        rules=rules))
    # five slots: five checked and wrong, the other fifteen refused unchecked
    assert sorted(outcomes) == ["bad:checked"] * 5 + ["locked:unchecked"] * 15
    assert _failed(db) == 5
    with db() as s:
        user = s.scalars(select(StaffUser).where(StaffUser.username == "ducha")).one()
        assert user.locked_until == (NOW + dt.timedelta(minutes=15)).astimezone(dt.UTC)
        assert s.scalar(select(func.count()).select_from(AuditEvent)
                        .where(AuditEvent.action == "user.locked")) == 1
    try:  # even the right password waits out the lock
        sign_in_committed(db, username="ducha", password=PASSWORD, address="10.0.0.1",
                          now=NOW + dt.timedelta(minutes=5), rules=rules)
        raise AssertionError("signed in while locked")
    except AuthError as exc:
        assert (exc.reason, exc.checked) == ("locked", False)
    user, _ = sign_in_committed(db, username="ducha", password=PASSWORD, address="10.0.0.1",
                                now=NOW + dt.timedelta(minutes=16), rules=rules)
    assert (user.username, user.failed_logins, user.locked_until) == ("ducha", 0, None)


def test_one_transaction_sign_in_counts_the_same_way(db):
    """`sign_in` (one transaction, as the demo and the CLI use it) shares the rules."""
    _users(db, "ducha")
    rules = Rules(login_max_failures=2)
    for _ in range(2):
        with db() as s:
            try:
                sign_in(s, username="ducha", password="wrong-password", now=NOW, rules=rules)
            except AuthError as exc:
                assert exc.reason == "bad"
                s.commit()  # a failure counts: the caller commits it, as the routes did
    try:
        with transaction(db) as s:
            sign_in(s, username="ducha", password=PASSWORD, now=NOW, rules=rules)
        raise AssertionError("signed in while locked")
    except AuthError as exc:
        assert exc.reason == "locked"


def test_80_parallel_unknown_names_from_one_address_check_at_most_the_limit(db):
    rules = Rules()
    outcomes = _parallel(80, lambda i: sign_in_committed(
        db, username=f"nobody{i % 7}", password="x" * 12, address="203.0.113.9", now=NOW,
        rules=rules))
    assert sorted(outcomes) == ["bad:checked"] * 20 + ["bad:unchecked"] * 60
    assert _failed(db) == 20
    with db() as s:
        assert s.execute(select(SignInAddress.address, SignInAddress.failures)).all() == [
            ("203.0.113.9", 20)]
    # the window over, the address may try again
    later = NOW + dt.timedelta(minutes=15)
    try:
        sign_in_committed(db, username="nobody", password="x" * 12, address="203.0.113.9",
                          now=later, rules=rules)
    except AuthError as exc:
        assert exc.checked
    assert _failed(db) == 21


def test_others_failures_from_an_address_never_refuse_a_right_password(db):
    _users(db, "ducha", "colleague")
    rules = Rules()
    for i in range(20):  # others' failures: unknown names and a colleague's typos
        name = "colleague" if i < 4 else f"nobody{i}"
        try:
            sign_in_committed(db, username=name, password="wrong-password", address="198.51.100.7",
                              now=NOW, rules=rules)
        except AuthError as exc:
            assert (exc.reason, exc.checked) == ("bad", True)
    try:  # the address is spent for names that are no account
        sign_in_committed(db, username="nobody99", password="x" * 12, address="198.51.100.7",
                          now=NOW, rules=rules)
        raise AssertionError("signed in as nobody")
    except AuthError as exc:
        assert (exc.reason, exc.checked) == ("bad", False)
    user, token = sign_in_committed(db, username="ducha", password=PASSWORD,
                                    address="198.51.100.7", now=NOW, rules=rules)
    assert user.username == "ducha" and len(token) > 30


def test_two_app_instances_share_the_counts(db, db_url):
    """Two engines on one database, as two `tracker serve` processes: 12 attempts through
    each for unknown names from one address, 20 checked in all."""
    other = session_factory(make_engine(str(db.kw["bind"].url.render_as_string(hide_password=False))))
    rules = Rules()
    outcomes = _parallel(24, lambda i: sign_in_committed(
        db if i % 2 else other, username="nobody", password="x" * 12, address="192.0.2.1",
        now=NOW, rules=rules))
    other.kw["bind"].dispose()
    assert sorted(outcomes) == ["bad:checked"] * 20 + ["bad:unchecked"] * 4
    assert _failed(db) == 20


def _login(client: TestClient, username: str, password: str, headers=None):  # type: ignore[no-untyped-def]
    page = client.get("/login")
    nonce = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    return client.post("/login", headers=headers or {}, data={
        "username": username, "password": password, "csrf": nonce, "next": "/desk"})


def test_over_http_the_address_is_the_trusted_proxys_header(db, db_url, tmp_path):
    """Behind the proxy (TRACKER_TRUSTED_PROXIES holds the peer, 127.0.0.1), X-Real-IP is
    the address: 20 unknown names from one office spend that office's address, not the
    proxy's; every refusal reads the same; the office's right password still signs in."""
    _users(db, "ducha")
    settings = make_settings(tmp_path, db_url).model_copy(update={
        "trusted_proxy_header": "X-Real-IP", "trusted_proxies": ("127.0.0.1",)})
    app = make_app(db, settings, Clock(NOW))
    client = TestClient(app, follow_redirects=False, client=("127.0.0.1", 50000))
    office = {"X-Real-IP": "198.51.100.20"}
    codes = [_login(client, f"nobody{i}", "x" * 12, office).status_code for i in range(21)]
    assert codes == [401] * 21
    assert _failed(db) == 20  # the 21st was not checked
    with db() as s:
        assert s.execute(select(SignInAddress.address, SignInAddress.failures)).all() == [
            ("198.51.100.20", 20)]
    r = _login(client, "ducha", PASSWORD, office)
    assert r.status_code == 303 and r.headers["location"] == "/desk/queues"  # the office lands
    # another office behind the same proxy has its own count
    assert _login(client, "nobody", "x" * 12, {"X-Real-IP": "198.51.100.21"}).status_code == 401
    assert _failed(db) == 21


def test_a_header_from_an_untrusted_peer_is_ignored(db, db_url, tmp_path):
    from starlette.requests import Request

    from tracker.web.staff import client_address

    settings = make_settings(tmp_path, db_url).model_copy(update={
        "trusted_proxy_header": "X-Forwarded-For", "trusted_proxies": ("127.0.0.1",)})

    def request(peer: str, value: str) -> Request:
        return Request({"type": "http", "client": (peer, 1), "headers": [
            (b"x-forwarded-for", value.encode())]})

    assert client_address(request("127.0.0.1", "1.2.3.4, 198.51.100.5"), settings) == "198.51.100.5"
    assert client_address(request("10.9.9.9", "198.51.100.5"), settings) == "10.9.9.9"
    assert client_address(request("127.0.0.1", "not-an-ip"), settings) == "127.0.0.1"
    plain = make_settings(tmp_path, db_url)
    assert client_address(request("127.0.0.1", "198.51.100.5"), plain) == "127.0.0.1"
