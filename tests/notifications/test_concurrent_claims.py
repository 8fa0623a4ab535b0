"""Two dispatchers at once on PostgreSQL (issue 14, item 2): the claim takes disjoint,
whole recipients without waiting for the other run's locks, and two dispatchers running in
threads, each with its own sessions, send each message once. SQLite serialises writers
(BEGIN IMMEDIATE), so these are PostgreSQL's."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy import func, select, text

from notifications.channels import Digest, EmailChannel
from notifications.dispatch import claim_batch, dispatch
from tests import smtp_server
from tests.conftest import at
from tests.notifications.outbox_rows import add_notices, message_ids
from tracker.db import transaction
from tracker.enums import ChannelKind
from tracker.models import DeliveryAttempt, OutboxClaim, OutboxMessage

pytestmark = pytest.mark.postgresql_only

NOW = at("2017-03-17", 9, 5)


def test_a_claim_in_flight_is_skipped_not_awaited_and_no_recipient_is_split(db):
    """Run A has claimed (its transaction still open, its rows and recipients locked); run
    B claims meanwhile with a lock timeout of 2 s: it does not wait, takes none of A's rows,
    and every recipient's messages all went to one of the two claims."""
    add_notices(db, {f"lly{i:03d}@tj.gov.cn": 3 for i in range(30)}, NOW)
    a = db()
    a.begin()
    b = db()
    try:
        first = claim_batch(a, NOW, recipients=10)
        b.begin()
        b.execute(text("SET LOCAL lock_timeout = '2s'"))
        second = claim_batch(b, NOW, recipients=10)
        b.commit()
        a.commit()
    finally:
        a.close()
        b.close()
    assert first is not None and second is not None
    assert first.count == second.count == 30
    with db() as s:
        ids = {t: set(s.scalars(select(OutboxClaim.message_id).where(OutboxClaim.token == t)))
               for t in (first.token, second.token)}
        by_token = s.execute(select(OutboxMessage.address, OutboxClaim.token).outerjoin(
            OutboxClaim, OutboxClaim.message_id == OutboxMessage.id)).all()
    assert len(ids[first.token]) == len(ids[second.token]) == 30
    assert not ids[first.token] & ids[second.token]
    owners: dict[str, set[str | None]] = {}
    for address, token in by_token:
        owners.setdefault(address, set()).add(token)
    assert all(len(tokens) == 1 for tokens in owners.values())  # never split
    taken = Counter(next(iter(t)) for t in owners.values())
    assert taken == {first.token: 10, second.token: 10, None: 10}


class Meeting:
    """A channel around the real SMTP channel whose first send in each thread waits until
    the other thread is at its first send too: both runs hold a claim at the same time."""

    def __init__(self, inner: EmailChannel) -> None:
        self.inner = inner
        self.barrier = threading.Barrier(2, timeout=60)
        self.first = threading.local()

    def send(self, digest: Digest) -> None:
        if not getattr(self.first, "done", False):
            self.first.done = True
            self.barrier.wait()
        self.inner.send(digest)


def test_two_dispatchers_in_threads_send_each_message_once(db, policy):
    """400 liaisons with 2 messages each; two dispatchers in two threads (20 recipients a
    batch) meet at their first send, then share the queue: every digest arrives once,
    every message is sent once with one delivery attempt, both runs took part."""
    add_notices(db, {f"lly{i:04d}@tj.gov.cn": 2 for i in range(400)}, NOW)
    controller, recorder = smtp_server.start()
    channel = Meeting(EmailChannel("127.0.0.1", controller.port, "tracker@example.org", timeout=10))
    results: list[object] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(dispatch(db, {ChannelKind.EMAIL: channel}, now=NOW,
                                    calendar=policy.calendar, recipients=20, run_timeout=600))
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
    finally:
        controller.stop()
    assert errors == [] and len(results) == 2
    assert sum(r.sent for r in results) == 800  # type: ignore[attr-defined]
    assert sum(r.digests for r in results) == 400  # type: ignore[attr-defined]
    assert all(r.digests > 0 for r in results)  # type: ignore[attr-defined]
    counts = message_ids(recorder.messages)
    assert len(counts) == 400 and set(counts.values()) == {1}
    with transaction(db) as s:
        assert dict(s.execute(select(OutboxMessage.status, func.count())
                              .group_by(OutboxMessage.status)).all()) == {"sent": 800}
        per_message = s.execute(select(DeliveryAttempt.message_id, func.count())
                                .group_by(DeliveryAttempt.message_id)).all()
    assert len(per_message) == 800 and {n for _, n in per_message} == {1}
