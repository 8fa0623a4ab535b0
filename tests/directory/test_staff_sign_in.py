"""Sign-in failures under concurrency (issue 10, item 8): parallel wrong passwords for one
account lock it on both databases (each failure counted in one UPDATE), and parallel
attempts from one address are evaluated at most up to the address's limit."""

from __future__ import annotations

import datetime as dt
import threading

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import at
from tests.web_helpers import Clock, make_app, make_settings
from tracker.db import transaction
from tracker.directory.staff import AuthError, create_user, sign_in
from tracker.enums import StaffRole
from tracker.models import StaffUser
from tracker.settings import Rules
from tracker.web.staff import LoginThrottle

PASSWORD = "correct-horse-9"


def test_parallel_wrong_passwords_lock_the_account(db):
    with transaction(db) as s:
        create_user(s, username="ducha", display_name="督查室", role=StaffRole.OFFICE,
                    password=PASSWORD, now=at("2017-03-20"))
    rules = Rules()
    barrier = threading.Barrier(20)
    outcomes: list[str] = []

    def attempt() -> None:
        barrier.wait()
        with db() as s:  # as the sign-in route does: a failure is committed too
            try:
                sign_in(s, username="ducha", password="wrong-password", now=at("2017-03-20", 10),
                        rules=rules)
            except AuthError as exc:
                s.commit()
                outcomes.append(exc.args[0])

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outcomes) == 20 and set(outcomes) <= {"bad", "locked"}
    with db() as s:
        user = s.scalars(select(StaffUser).where(StaffUser.username == "ducha")).one()
        assert user.locked_until is not None
        assert user.locked_until > at("2017-03-20", 10).astimezone(dt.UTC)
    try:  # even the right password waits out the lock
        with transaction(db) as s:
            sign_in(s, username="ducha", password=PASSWORD, now=at("2017-03-20", 10, 5), rules=rules)
        raise AssertionError("signed in while locked")
    except AuthError as exc:
        assert exc.args[0] == "locked"


def test_an_address_gets_at_most_its_limit_of_evaluations():
    throttle = LoginThrottle(limit=20)
    now = at("2017-03-20", 10)
    granted = [throttle.begin("10.0.0.9", now) for _ in range(80)]
    assert granted.count(True) == 20  # reserved before the slow hash runs
    throttle.succeeded("10.0.0.9", now)  # a right password gives its slot back
    assert throttle.begin("10.0.0.9", now) is True and throttle.begin("10.0.0.9", now) is False
    later = now + dt.timedelta(minutes=16)
    assert throttle.begin("10.0.0.9", later) is True  # the window has passed


def test_parallel_sign_ins_over_http_are_cut_at_the_limit(db, db_url, tmp_path):
    """80 wrong sign-ins at once from one client: 20 are evaluated (401), the rest 429."""
    settings = make_settings(tmp_path, db_url)
    app = make_app(db, settings, Clock(at("2017-03-20", 10)))
    codes: list[int] = []
    barrier = threading.Barrier(80)

    def attempt() -> None:
        client = TestClient(app, follow_redirects=False)  # one browser each, one address
        page = client.get("/login")
        nonce = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        barrier.wait()
        r = client.post("/login", data={"username": "nobody", "password": "x" * 12,
                                        "csrf": nonce, "next": "/desk"})
        codes.append(r.status_code)

    threads = [threading.Thread(target=attempt) for _ in range(80)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(set(codes)) == [401, 429] and codes.count(401) == 20
