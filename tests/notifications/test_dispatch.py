"""The outbox dispatcher against a real SMTP server on loopback."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select

from notifications.channels import EmailChannel
from notifications.dispatch import dispatch
from tests import smtp_server
from tests.conftest import at
from tracker.db import transaction
from tracker.enums import ChannelKind
from tracker.models import DeliveryAttempt, OutboxMessage
from tracker.requests.opening import open_due_requests


@pytest.fixture
def smtp():  # type: ignore[no-untyped-def]
    controller, recorder = smtp_server.start()
    yield controller, recorder
    controller.stop()


def _channels(port: int) -> dict[ChannelKind, EmailChannel]:
    return {ChannelKind.EMAIL: EmailChannel("127.0.0.1", port, "tracker@example.org")}


def _queue(db, plan, policy) -> int:  # type: ignore[no-untyped-def]
    with transaction(db) as s:
        return open_due_requests(s, plan, at("2017-03-17"), policy).messages_queued


def _status(db) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with db() as s:
        return dict(s.execute(select(OutboxMessage.status, func.count())
                              .group_by(OutboxMessage.status)).all())


def test_one_digest_per_recipient_sent_once(db, plan, policy, smtp):
    controller, recorder = smtp
    assert _queue(db, plan, policy) == 798
    r = dispatch(db, _channels(controller.port), now=at("2017-03-17", 9, 5),
                 calendar=policy.calendar)
    assert (r.sent, r.failed, r.retrying) == (798, 0, 0)
    assert r.digests == len(recorder.messages) == 52  # one per agency liaison
    again = dispatch(db, _channels(controller.port), now=at("2017-03-17", 9, 10),
                     calendar=policy.calendar)
    assert (again.sent, len(recorder.messages)) == (0, 52)
    assert _status(db) == {"sent": 798}
    mca = next(m for m in recorder.messages if "市残联联络员" in m["To"])
    body = mca.get_content()
    assert mca["Subject"].startswith("【报送通知】《")
    assert "2.2.4 加强辅助器具推广和适配服务" in body and "牵头单位" in body
    assert "截止日期：2017年4月10日" in body
    assert mca["Message-ID"].endswith("@plan-tracker>")


def test_concurrent_dispatchers_send_each_message_once(db, plan, policy, smtp):
    controller, recorder = smtp
    _queue(db, plan, policy)
    results = []

    def run() -> None:
        results.append(dispatch(db, _channels(controller.port), now=at("2017-03-17", 10),
                                calendar=policy.calendar, recipients=5))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.sent for r in results) == 798
    with db() as s:
        attempts = s.scalar(select(func.count()).select_from(DeliveryAttempt))
    assert attempts == 798
    assert _status(db) == {"sent": 798}
    ids = [str(m["Message-ID"]) for m in recorder.messages]
    assert len(ids) == len(set(ids)) == 52


def test_server_down_retries_with_backoff_then_delivers(db, plan, policy):
    """Nothing listens: the first digest spends an attempt, the run's others are deferred
    with its reason (attempts unspent); all are due again after the first wait, 5 min."""
    port = smtp_server.free_port()  # nothing listens yet
    _queue(db, plan, policy)
    r = dispatch(db, _channels(port), now=at("2017-03-17", 9), calendar=policy.calendar)
    assert (r.sent, r.failed, r.digests) == (0, 0, 0)
    assert r.retrying + r.deferred == 798 and r.deferred > 700
    with db() as s:
        nxt = s.scalars(select(OutboxMessage.next_attempt_at).distinct()).all()
        assert nxt == [at("2017-03-17", 9, 5).astimezone(dt.UTC)]
        assert s.scalar(select(func.count()).select_from(DeliveryAttempt)) == r.retrying
        assert set(s.scalars(select(OutboxMessage.attempts).distinct())) == {0, 1}
    early = dispatch(db, _channels(port), now=at("2017-03-17", 9, 4), calendar=policy.calendar)
    assert early.sent == early.retrying == early.deferred == 0  # not due yet
    controller, recorder = smtp_server.start(port)
    try:
        r = dispatch(db, _channels(port), now=at("2017-03-17", 9, 5), calendar=policy.calendar)
    finally:
        controller.stop()
    assert r.sent == 798 and len(recorder.messages) == 52
    with db() as s:
        assert s.scalar(select(func.max(OutboxMessage.attempts))) == 2


def test_permanent_refusal_fails_only_that_recipient(db, plan, policy, smtp):
    controller, recorder = smtp
    _queue(db, plan, policy)
    with db() as s:
        bad = s.scalar(select(OutboxMessage.address).order_by(OutboxMessage.id).limit(1))
        n_bad = s.scalar(select(func.count()).select_from(OutboxMessage)
                         .where(OutboxMessage.address == bad))
    recorder.reject[bad] = "550 no such mailbox"
    assert n_bad > 0
    r = dispatch(db, _channels(controller.port), now=at("2017-03-17", 9), calendar=policy.calendar)
    assert (r.failed, r.sent) == (n_bad, 798 - n_bad)
    assert _status(db) == {"failed": n_bad, "sent": 798 - n_bad}
    with db() as s:
        assert s.scalar(select(DeliveryAttempt.permanent).where(DeliveryAttempt.ok.is_(False))
                        .limit(1)) is True


def test_crashed_claim_is_reclaimed_after_the_lease(db, plan, policy, smtp):
    from notifications.dispatch import claim

    controller, recorder = smtp
    _queue(db, plan, policy)
    with transaction(db) as s:  # a dispatcher claims everything, then dies
        assert claim(s, at("2017-03-17", 9), recipients=5000, lease=dt.timedelta(minutes=15))
    r = dispatch(db, _channels(controller.port), now=at("2017-03-17", 9, 10),
                 calendar=policy.calendar)
    assert r.sent == 0  # still leased
    r = dispatch(db, _channels(controller.port), now=at("2017-03-17", 9, 16),
                 calendar=policy.calendar)
    assert r.sent == 798


def test_one_bad_address_fails_alone(db, plan, policy, smtp):
    """One malformed address among 52 liaisons: the other 51 get their digest exactly once;
    the bad one is a permanent failure naming the address, and the run goes on."""
    from sqlalchemy import update

    controller, recorder = smtp
    _queue(db, plan, policy)
    with transaction(db) as s:
        victim = s.scalar(select(OutboxMessage.contact_id).order_by(OutboxMessage.id).limit(1))
        s.execute(update(OutboxMessage).where(OutboxMessage.contact_id == victim)
                  .values(address="张三 <zhang@@tj.gov.cn>"))
    r = dispatch(db, _channels(controller.port), now=at("2017-03-17", 9, 5),
                 calendar=policy.calendar)
    assert r.digests == len(recorder.messages) == 51
    again = dispatch(db, _channels(controller.port), now=at("2017-03-17", 9, 10),
                     calendar=policy.calendar)
    assert again.sent == 0 and len(recorder.messages) == 51
    with db() as s:
        failed = s.execute(select(OutboxMessage.contact_id, OutboxMessage.last_error).where(
            OutboxMessage.status == "failed")).all()
    assert {c for c, _ in failed} == {victim}
    assert all("收件地址无效" in e and "zhang@@tj.gov.cn" in e for _, e in failed)


def _two_reminders_queued(db, plan, policy, port: int) -> list[int]:  # type: ignore[no-untyped-def]
    """Q1 requested and sent; all but the first two requests answered; the sweep of
    11 April queues a 催办 for those two. Returns the request ids in order."""
    from tracker.escalation.sweep import sweep_overdue
    from tracker.models import ProgressRequest
    from tracker.requests.reports import ReportInput, record_reports

    _queue(db, plan, policy)
    dispatch(db, _channels(port), now=at("2017-03-17", 9, 5), calendar=policy.calendar)
    with db() as s:
        ids = list(s.scalars(select(ProgressRequest.id).order_by(ProgressRequest.id)))
    with transaction(db) as s:
        record_reports(s, [ReportInput(request_id=i, status="in_progress", percent=20)
                           for i in ids[2:]], submitted_by="t", now=at("2017-04-07"))
        sweep_overdue(s, plan, at("2017-04-11", 8, 30), policy)  # 催办 for ids[0] and ids[1]
    return ids


def test_a_report_after_the_sweep_stops_its_reminder(db, plan, policy, smtp):
    """A report stored between the sweep and the dispatch: no reminder is delivered for it."""
    from tracker.requests.reports import ReportInput, record_reports

    controller, recorder = smtp
    ids = _two_reminders_queued(db, plan, policy, controller.port)
    with transaction(db) as s:  # ids[0] answers minutes after the sweep
        record_reports(s, [ReportInput(request_id=ids[0], status="in_progress", percent=5)],
                       submitted_by="t", now=at("2017-04-11", 8, 40))
    before = len(recorder.messages)
    r = dispatch(db, _channels(controller.port), now=at("2017-04-11", 9), calendar=policy.calendar)
    assert r.dropped == 1 and r.sent == 1
    sent = recorder.messages[before:]
    assert len(sent) == 1 and "催办" in sent[0]["Subject"]
    with db() as s:
        rows = dict(s.execute(select(OutboxMessage.request_id, OutboxMessage.status).where(
            OutboxMessage.kind == "escalation")).all())
    assert rows == {ids[0]: "dropped", ids[1]: "sent"}


def test_a_report_while_the_batch_is_sending_stops_its_reminder(db, plan, policy, smtp):
    """A report stored while the dispatcher is sending the same batch (after its claim and
    its first re-check): the recipient's digest is checked again just before it goes, so
    the reminder is dropped, not delivered."""
    from tracker.requests.reports import ReportInput, record_reports

    controller, recorder = smtp
    _two_reminders_queued(db, plan, policy, controller.port)
    with db() as s:
        owner = dict(s.execute(select(OutboxMessage.address, OutboxMessage.request_id)
                               .where(OutboxMessage.kind == "escalation")).all())
    assert len(owner) == 2  # two liaisons, one digest each

    class AnswersWhileSending:  # the real SMTP channel; the other liaison answers meanwhile
        def __init__(self, inner):  # type: ignore[no-untyped-def]
            self.inner, self.timeout, self.first = inner, inner.timeout, None

        def send(self, digest):  # type: ignore[no-untyped-def]
            self.inner.send(digest)
            if self.first is None:
                self.first = digest.address
                other = next(r for a, r in owner.items() if a != digest.address)
                with transaction(db) as s:
                    record_reports(s, [ReportInput(request_id=other, status="in_progress",
                                                   percent=5)],
                                   submitted_by="t", now=at("2017-04-11", 9, 0))

    channel = AnswersWhileSending(_channels(controller.port)[ChannelKind.EMAIL])
    before = len(recorder.messages)
    r = dispatch(db, {ChannelKind.EMAIL: channel}, now=at("2017-04-11", 9),
                 calendar=policy.calendar)
    assert (r.sent, r.dropped) == (1, 1)
    assert [m["To"].addresses[0].addr_spec for m in recorder.messages[before:]] == [channel.first]
    with db() as s:
        rows = dict(s.execute(select(OutboxMessage.address, OutboxMessage.status)
                              .where(OutboxMessage.kind == "escalation")).all())
    assert rows == {a: ("sent" if a == channel.first else "dropped") for a in owner}


def test_a_reminder_whose_due_day_was_moved_is_not_sent(db, plan, policy, smtp):
    """A due day moved past today between the sweep and the dispatch (an extension): the
    request is no longer overdue, so its queued 催办 is dropped with the reason, and the
    other request's 催办 goes out."""
    from sqlalchemy import update

    from tracker.models import ProgressRequest

    controller, recorder = smtp
    ids = _two_reminders_queued(db, plan, policy, controller.port)
    with transaction(db) as s:  # the office moves ids[0]'s due day to 20 April
        s.execute(update(ProgressRequest).where(ProgressRequest.id == ids[0])
                  .values(due_on=dt.date(2017, 4, 20)))
    before = len(recorder.messages)
    r = dispatch(db, _channels(controller.port), now=at("2017-04-11", 9), calendar=policy.calendar)
    assert (r.dropped, r.sent) == (1, 1) and len(recorder.messages) == before + 1
    with db() as s:
        rows = s.execute(select(OutboxMessage.request_id, OutboxMessage.last_error)
                         .where(OutboxMessage.kind == "escalation",
                                OutboxMessage.status == "dropped")).all()
    assert [tuple(r) for r in rows] == [(ids[0], "截止日期已延后，事项不再逾期，不再发送")]


def test_a_server_that_requires_login(db, plan, policy):
    """Without credentials the server answers 530: every message waits and retries (a setup
    problem, not a refusal of 52 addresses); with the right login they are delivered."""
    controller, recorder = smtp_server.start(login=("duchashi", "s3cret-pass"))
    try:
        _queue(db, plan, policy)
        anonymous = {ChannelKind.EMAIL: EmailChannel("127.0.0.1", controller.port,
                                                     "tracker@example.org")}
        r = dispatch(db, anonymous, now=at("2017-03-17", 9, 5), calendar=policy.calendar)
        assert (r.sent, r.failed, r.retrying + r.deferred) == (0, 0, 798) and not recorder.messages
        assert "要求登录" in r.errors[0]
        wrong = {ChannelKind.EMAIL: EmailChannel("127.0.0.1", controller.port, "tracker@example.org",
                                                 timeout=5, user="duchashi", password="nope")}
        r = dispatch(db, wrong, now=at("2017-03-17", 12), calendar=policy.calendar)
        # a wrong password is a setup problem too: nothing fails for good, all wait
        assert (r.sent, r.failed, r.retrying + r.deferred) == (0, 0, 798)
        assert not recorder.messages
        right = {ChannelKind.EMAIL: EmailChannel("127.0.0.1", controller.port, "tracker@example.org",
                                                 timeout=5, user="duchashi", password="s3cret-pass")}
        r = dispatch(db, right, now=at("2017-03-20", 9), calendar=policy.calendar)
        assert (r.sent, r.failed) == (798, 0) and len(recorder.messages) == 52
    finally:
        controller.stop()
