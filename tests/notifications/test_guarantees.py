"""The dispatcher's guarantees (issue 8): per-digest records, whole recipients per claim,
a bounded run with a renewed claim, retries spread over days, quiet days, indexed claims.

Time is injected: `now` for the rows, a counting fake for the run's monotonic clock.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select, text

from notifications.channels import Digest, EmailChannel
from notifications.dispatch import (
    ANY_TIME,
    LEASE,
    MAX_ATTEMPTS,
    SendWindow,
    backoff,
    claim,
    claim_batch,
    claim_rows_statement,
    digest_rows,
    dispatch,
    lease_statement,
)
from notifications.render import digest_id
from tests import smtp_server
from tests.conftest import at
from tests.notifications.outbox_rows import add_notices, message_ids
from tracker.db import transaction
from tracker.enums import ChannelKind, NoticeKind
from tracker.models import DeliveryAttempt, OutboxClaim, OutboxLease, OutboxMessage
from tracker.requests.opening import open_due_requests
from tracker.settings import Settings, SettingsError

NOW = at("2017-03-17", 9, 5)  # a Friday, within office hours


@pytest.fixture
def smtp():  # type: ignore[no-untyped-def]
    controller, recorder = smtp_server.start()
    yield controller, recorder
    controller.stop()


class Ticks:
    """A monotonic clock that moves only when told (seconds)."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Probe:
    """A channel around the real SMTP channel that runs `check(n)` before its n-th send
    (0-based) and advances the fake clock by `step` seconds per send."""

    def __init__(self, inner: EmailChannel, clock: Ticks, step: float = 0.0, check=None):  # type: ignore[no-untyped-def]
        self.inner, self.clock, self.step, self.check, self.n = inner, clock, step, check, 0

    def send(self, digest: Digest) -> None:
        if self.check:
            self.check(self.n)
        self.n += 1
        self.clock.t += self.step
        self.inner.send(digest)


def _email(port: int) -> EmailChannel:
    return EmailChannel("127.0.0.1", port, "tracker@example.org")


def _status(db) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with db() as s:
        return dict(s.execute(select(OutboxMessage.status, func.count())
                              .group_by(OutboxMessage.status)).all())


def _write_without_waiting(db) -> None:  # type: ignore[no-untyped-def]
    """Write to every outbox row from another connection, failing within a second if any
    transaction holds a lock on them (SQLite: the database; PostgreSQL: the rows)."""
    engine = db.kw["bind"]
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if engine.dialect.name == "sqlite":
            cur.execute("PRAGMA busy_timeout=1000")
            cur.execute("BEGIN IMMEDIATE")
        else:
            cur.execute("SET lock_timeout = '1s'")
        cur.execute("UPDATE outbox_message SET recipient_name = recipient_name")
        raw.commit()
        if engine.dialect.name == "sqlite":
            cur.execute("PRAGMA busy_timeout=30000")
        else:
            cur.execute("RESET lock_timeout")
            raw.commit()
    finally:
        raw.close()


def test_backoff_spreads_retries_over_more_than_three_days():
    waits = [backoff(n) for n in range(1, MAX_ATTEMPTS)]
    assert waits[:7] == [dt.timedelta(minutes=5), dt.timedelta(minutes=15), dt.timedelta(hours=1),
                         dt.timedelta(hours=3), dt.timedelta(hours=6), dt.timedelta(hours=12),
                         dt.timedelta(days=1)]
    assert sum(waits, dt.timedelta()) == dt.timedelta(days=3, hours=22, minutes=20)


def test_each_digest_is_recorded_right_after_its_send_with_no_lock_held(db, plan, policy, smtp):
    """Before the n-th send, the n digests before it are already committed as sent, and
    another session can write the outbox (the dispatcher holds no transaction)."""
    controller, recorder = smtp
    with transaction(db) as s:
        open_due_requests(s, plan, at("2017-03-17"), policy)
    seen: list[int] = []

    def check(n: int) -> None:
        _write_without_waiting(db)
        with db() as s:
            seen.append(s.scalar(select(func.count(func.distinct(OutboxMessage.address)))
                                 .where(OutboxMessage.status == "sent")))

    clock = Ticks()
    r = dispatch(db, {ChannelKind.EMAIL: Probe(_email(controller.port), clock, check=check)},
                 now=NOW, calendar=policy.calendar, clock=clock)
    assert r.digests == len(recorder.messages) == 52
    assert seen == list(range(52))


def test_a_recipient_is_never_split_across_batches(db, policy, smtp):
    """5,000 messages for one recipient (and a few for others), 2 recipients per batch:
    one digest each, the big one counting all 5,000 items and listing the first 200 (the
    cap, TRACKER_NOTICE_MAX_ITEMS); its Message-ID is the hash of all 5,000 keys, streamed."""
    controller, recorder = smtp
    per = {"duchashi@tj.gov.cn": 5000, **{f"lly{i}@tj.gov.cn": 3 for i in range(5)}}
    add_notices(db, per, NOW)
    r = dispatch(db, {ChannelKind.EMAIL: _email(controller.port)}, now=NOW,
                 calendar=policy.calendar, recipients=2)
    assert (r.sent, r.digests) == (5015, 6)
    assert len(recorder.messages) == 6 and set(message_ids(recorder.messages).values()) == {1}
    big = next(m for m in recorder.messages if "duchashi@tj.gov.cn" in m["To"])
    assert "5000项" in str(big["Subject"])
    body = big.get_content()
    assert "第200项任务本期免报。" in body and "第201项" not in body
    assert body.count("本期免报。") == 200 and "（另有4800项未列出，详见督查督办系统。）\n" in body
    with db() as s:
        per_digest = dict(s.execute(select(DeliveryAttempt.digest_id, func.count())
                                    .group_by(DeliveryAttempt.digest_id)).all())
        keys = list(s.scalars(select(OutboxMessage.key)
                              .where(OutboxMessage.address == "duchashi@tj.gov.cn")))
    assert sorted(per_digest.values()) == [3] * 5 + [5000]
    assert per_digest[digest_id(keys)] == 5000
    assert big["Message-ID"] == f"<{digest_id(keys)}@plan-tracker>"


def test_the_run_stops_at_its_timeout_and_gives_back_unsent_rows_untouched(db, policy, smtp):
    controller, recorder = smtp
    add_notices(db, {f"lly{i}@tj.gov.cn": 2 for i in range(10)}, NOW)
    clock = Ticks()
    r = dispatch(db, {ChannelKind.EMAIL: Probe(_email(controller.port), clock, step=10)},
                 now=NOW, calendar=policy.calendar, clock=clock, run_timeout=35)
    # sends start at 0, 10, 20 and 30 s; at 40 s the run is over
    assert (r.digests, r.sent, r.deferred, r.timed_out) == (4, 8, 12, True)
    assert clock.t - 1000 == 40
    assert len(recorder.messages) == 4
    with db() as s:
        left = s.execute(select(OutboxMessage.status, OutboxMessage.attempts,
                                OutboxMessage.claim_token, OutboxMessage.next_attempt_at)
                         .where(OutboxMessage.status != "sent")).all()
        tried = s.scalar(select(func.count()).select_from(DeliveryAttempt))
    assert left == [("pending", 0, None, NOW.astimezone(dt.UTC))] * 12 and tried == 8
    r = dispatch(db, {ChannelKind.EMAIL: _email(controller.port)}, now=NOW,
                 calendar=policy.calendar)
    assert r.digests == 6 and len(recorder.messages) == 10
    assert set(message_ids(recorder.messages).values()) == {1}


def test_no_send_starts_that_could_outlast_the_run(db, policy, smtp):
    """With 25 s left and a channel timeout of 30 s, the next digest is not started."""
    controller, recorder = smtp
    add_notices(db, {f"lly{i}@tj.gov.cn": 1 for i in range(3)}, NOW)
    clock = Ticks()
    channel = Probe(_email(controller.port), clock, step=10)
    channel.timeout = 30  # type: ignore[attr-defined]
    r = dispatch(db, {ChannelKind.EMAIL: channel}, now=NOW, calendar=policy.calendar,
                 clock=clock, run_timeout=45)
    assert (r.digests, r.deferred, r.timed_out) == (2, 1, True) and len(recorder.messages) == 2


def test_the_claim_is_renewed_while_the_run_is_alive(db, policy, smtp):
    """A long run (fake clock: 60 s per send) renews its claim, so another dispatcher whose
    `now` is past the original lease still cannot take the rows it holds."""
    controller, recorder = smtp
    add_notices(db, {f"lly{i}@tj.gov.cn": 1 for i in range(30)}, NOW)
    stolen: list[str | None] = []

    def check(n: int) -> None:
        if n == 20:  # 20 min into the run: the first lease (15 min) has passed
            with db() as s:
                stolen.append(claim(s, NOW + LEASE + dt.timedelta(minutes=1)))
                s.rollback()

    clock = Ticks()
    r = dispatch(db, {ChannelKind.EMAIL: Probe(_email(controller.port), clock, step=60, check=check)},
                 now=NOW, calendar=policy.calendar, clock=clock, run_timeout=3600,
                 heartbeat=120)
    assert stolen == [None]
    assert r.digests == 30 and set(message_ids(recorder.messages).values()) == {1}


def test_without_heartbeat_a_late_dispatcher_would_take_the_rows(db, policy):
    """The counterpart: a claim not renewed is taken once its lease has passed."""
    add_notices(db, {"a@tj.gov.cn": 1}, NOW)
    with transaction(db) as s:
        assert claim(s, NOW)
    with transaction(db) as s:
        assert claim(s, NOW + LEASE - dt.timedelta(seconds=1)) is None
    with transaction(db) as s:
        assert claim(s, NOW + LEASE) is not None


def test_three_hour_outage_then_every_message_arrives_once(db, plan, policy):
    """The real server is stopped from 09:00 to 12:00 (simulated); the dispatcher runs every
    5 minutes throughout and after; every digest arrives exactly once, nothing fails."""
    controller, recorder = smtp_server.start()
    port = controller.port
    controller.stop()
    with transaction(db) as s:
        open_due_requests(s, plan, at("2017-03-17"), policy)
    channels = {ChannelKind.EMAIL: _email(port)}
    t = at("2017-03-17", 9)
    while t < at("2017-03-17", 12):
        r = dispatch(db, channels, now=t, calendar=policy.calendar)
        assert r.sent == r.failed == 0
        t += dt.timedelta(minutes=5)
    with db() as s:
        assert s.scalar(select(func.max(OutboxMessage.attempts))) == 4  # 9:00, 9:05, 9:20, 10:20
    controller, recorder = smtp_server.start(port)
    try:
        sent = 0
        while t <= at("2017-03-17", 14):
            sent += dispatch(db, channels, now=t, calendar=policy.calendar).sent
            t += dt.timedelta(minutes=5)
    finally:
        controller.stop()
    assert sent == 798 and _status(db) == {"sent": 798}
    assert len(recorder.messages) == 52 and set(message_ids(recorder.messages).values()) == {1}


@pytest.mark.parametrize("when", [at("2017-03-18", 10),  # Saturday
                                  at("2017-10-02", 10),  # National Day holiday, a Monday
                                  at("2017-03-17", 8, 29), at("2017-03-17", 18, 0),
                                  at("2017-03-17", 23)])
def test_nothing_goes_out_on_quiet_days_or_at_night(db, policy, smtp, when):
    controller, recorder = smtp
    add_notices(db, {"a@tj.gov.cn": 2}, at("2017-03-01"))
    r = dispatch(db, {ChannelKind.EMAIL: _email(controller.port)}, now=when,
                 calendar=policy.calendar)
    assert r.quiet and r.sent == 0 and not recorder.messages
    assert _status(db) == {"pending": 2}  # waiting, not dropped
    r = dispatch(db, {ChannelKind.EMAIL: _email(controller.port)}, now=when,
                 calendar=policy.calendar, window=ANY_TIME)
    assert r.sent == 2 and len(recorder.messages) == 1


def test_send_window_edges_and_settings():
    cal = __import__("tracker.dates.workdays", fromlist=["WorkCalendar"]).WorkCalendar()
    window = SendWindow.parse("08:30-18:00")
    assert window.allows(at("2017-03-17", 8, 30), cal) and not window.allows(at("2017-03-17", 18), cal)
    # 30 Sep 2017 is a Saturday worked in exchange for the National Day week
    assert window.allows(at("2017-09-30", 10), cal)
    assert SendWindow.parse("always") == SendWindow(None, None, False)
    assert SendWindow.parse("always", True).allows(at("2017-10-01", 3), cal)
    with pytest.raises(ValueError, match="发送时段“8点-18点”格式不对"):
        SendWindow.parse("8点-18点")
    with pytest.raises(SettingsError,
                       match="TRACKER_SEND_HOURS 发送时段“18:00-08:30”的开始时间应早于结束时间"):
        Settings(send_hours="18:00-08:30")
    with pytest.raises(SettingsError, match=r"TRACKER_SMTP_TIMEOUT（60 秒）应小于 "
                                            r"TRACKER_DISPATCH_RUN_TIMEOUT（30 秒）"):
        Settings(smtp_timeout=60, dispatch_run_timeout=30)
    with pytest.raises(SettingsError, match="TRACKER_SMTP_CA_FILE 的证书文件 .* 不存在"):
        Settings(smtp_ca_file="/nonexistent/ca.pem")


def _plan(engine, query) -> str:  # type: ignore[no-untyped-def]
    """EXPLAIN (SQLite: EXPLAIN QUERY PLAN) of a statement, its lines joined by " | ". On
    PostgreSQL sequential and bitmap scans and sorts are disabled for the check: a table of
    a few rows is read whole and sorted either way; the point is that an index serves the
    condition in its order (a sort left in the plan means no index could)."""
    sql = str(query.compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            return " | ".join(str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
        with conn.begin():
            for knob in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
                conn.exec_driver_sql(f"SET LOCAL {knob} = off")
            return " | ".join(r[0] for r in conn.execute(text("EXPLAIN " + sql)))


def test_the_claim_reads_partial_indexes_in_order_and_sorts_nothing(db, db_url):
    """EXPLAIN of the claim's two statements: the head of the queue is read from the
    partial index of live rows in its own order (no sort of the due rows), the leased
    recipients' rows through the partial recipient index. A digest's rows (settle,
    re-check) are found by the claim list's key, each message by its primary key."""
    add_notices(db, {f"lly{i}@tj.gov.cn": 2 for i in range(50)}, NOW)
    engine = db.kw["bind"]
    lease_plan = _plan(engine, lease_statement(engine.dialect.name, NOW, recipients=10,
                                               until=NOW + LEASE, token="x"))
    assert "ix_outbox_message_due_at" in lease_plan, lease_plan
    rows_plan = _plan(engine, claim_rows_statement(NOW, "x"))
    assert "ix_outbox_message_due_recipient" in rows_plan, rows_plan
    digest = _plan(engine, select(OutboxMessage.id).where(
        digest_rows("x", ChannelKind.EMAIL, "lly1@tj.gov.cn", NoticeKind.WAIVED)))
    assert "pk_outbox_claim" in digest or "sqlite_autoindex_outbox_claim" in digest, digest
    if engine.dialect.name == "sqlite":
        assert "outbox_message USING INTEGER PRIMARY KEY (rowid=?)" in digest, digest
        assert "TEMP B-TREE FOR ORDER BY" not in lease_plan, lease_plan
        assert "ix_outbox_message_due (" not in lease_plan, lease_plan
    else:
        assert "Sort Key: outbox_message" not in lease_plan, lease_plan
        for plan in (lease_plan, rows_plan, digest):
            assert "Seq Scan on outbox_message" not in plan, plan


def test_the_claim_returns_its_rows_and_leaves_the_rest(db, policy):
    """Two recipients per batch: the claim lists exactly the due rows of the two
    recipients with the oldest due messages (all of them, however many), each under its
    digest's notice kind, and leases those two recipients under its token until the lease's
    end; no message is written (still pending, due as before); a message not yet due and
    the other recipients are not listed."""
    add_notices(db, {"late@tj.gov.cn": 1}, NOW + dt.timedelta(minutes=1))
    add_notices(db, {"b@tj.gov.cn": 3}, NOW - dt.timedelta(minutes=2))
    add_notices(db, {"a@tj.gov.cn": 2}, NOW - dt.timedelta(minutes=1))
    add_notices(db, {"c@tj.gov.cn": 4}, NOW)
    with transaction(db) as s:  # b's newer message comes along
        s.add(OutboxMessage(key="t:b-newer", kind="waived", channel="email",
                            address="b@tj.gov.cn", recipient_name="联络员", status="pending",
                            attempts=0, next_attempt_at=NOW, created_at=NOW))
    with db() as s:
        before = {r.id: tuple(r) for r in s.execute(select(OutboxMessage.__table__))}
    with transaction(db) as s:
        batch = claim_batch(s, NOW, recipients=2)
    assert batch is not None and batch.until == NOW + LEASE
    with db() as s:
        listed = s.execute(select(OutboxClaim.message_id, OutboxClaim.address,
                                  OutboxClaim.channel, OutboxClaim.notice)
                           .where(OutboxClaim.token == batch.token)
                           .order_by(OutboxClaim.message_id)).all()
        leases = s.execute(select(OutboxLease.address, OutboxLease.until)
                           .where(OutboxLease.token == batch.token)).all()
        after = {r.id: tuple(r) for r in s.execute(select(OutboxMessage.__table__))}
        due_of = dict(s.execute(select(OutboxMessage.id, OutboxMessage.address)
                                .where(OutboxMessage.address.in_(["a@tj.gov.cn", "b@tj.gov.cn"]))).all())
    assert batch.count == len(listed) == 6
    assert [r.message_id for r in listed] == sorted(due_of)
    assert sorted(r.address for r in listed) == ["a@tj.gov.cn"] * 2 + ["b@tj.gov.cn"] * 4
    assert {(r.channel, r.notice) for r in listed} == {("email", NoticeKind.WAIVED.value)}
    assert sorted(leases) == [("a@tj.gov.cn", (NOW + LEASE).astimezone(dt.UTC)),
                              ("b@tj.gov.cn", (NOW + LEASE).astimezone(dt.UTC))]
    assert after == before  # the claim wrote no message
