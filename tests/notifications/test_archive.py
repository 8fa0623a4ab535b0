"""Settled notices archived after the retention period (issue 14, item 2): their delivery
evidence kept as compact receipts, every item history line and scorecard figure unchanged,
only messages whose key can never be written again, in bounded batches, once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, or_, select, text

from notifications.channels import Digest, FileChannel
from notifications.channels.base import DeliveryError
from notifications.dispatch import dispatch
from tests.conftest import at
from tracker.annual.checkpoint import figures_hash
from tracker.annual.scorecard.figures import compute
from tracker.db import transaction
from tracker.desk.item_history import request_history
from tracker.enums import ChannelKind, MessageKind, OutboxStatus
from tracker.escalation.circulars import sign_off
from tracker.escalation.sweep import sweep_overdue
from tracker.models import (
    Circular,
    DeliveryAttempt,
    DeliveryReceipt,
    DeliveryReceiptItem,
    Escalation,
    OutboxMessage,
    Plan,
    ProgressRequest,
)
from tracker.outbox import archive_batch, archive_settled, archived_count
from tracker.requests.opening import open_due_requests
from tracker.requests.reports import ReportInput, record_reports

RETENTION = dt.timedelta(days=90)


class Flaky:
    """A file channel that refuses the first digest to `address` once (a transient failure),
    so that message has two attempts: one failed, one delivered."""

    def __init__(self, folder: Path, address: str) -> None:
        self.inner, self.address, self.failed = FileChannel(folder), address, False

    def send(self, digest: Digest) -> None:
        if digest.address == self.address and not self.failed:
            self.failed = True
            raise DeliveryError("421 服务暂时不可用", permanent=False)
        self.inner.send(digest)


def _answer(db, ids: list[int], day: str) -> None:  # type: ignore[no-untyped-def]
    with transaction(db) as s:
        record_reports(s, [ReportInput(request_id=i, status="in_progress", percent=30)
                           for i in ids], submitted_by="t", now=at(day))


def _evidence(db, plan: Plan) -> tuple[dict[int, list[dict]], str, list]:  # type: ignore[type-arg]
    """Every request's history lines, and the 2017 scorecard's figures (hash and frames)."""
    with db() as s:
        ids = list(s.scalars(select(ProgressRequest.id).order_by(ProgressRequest.id)))
        lines = {i: request_history(s, i).messages for i in ids}  # type: ignore[union-attr]
        figures = compute(s, s.get_one(Plan, plan.id), 2017, plan_rules().scoring,
                          now=at("2018-02-13"))
    return lines, figures_hash(figures), figures.frames()


def plan_rules():  # type: ignore[no-untyped-def]
    from tracker.settings import Rules

    return Rules()


def test_archiving_keeps_every_history_line_and_scorecard_figure(db, plan, policy, tmp_path):
    """A quarter's notices, a retried delivery, reminders, a dropped reminder, 督办 with
    copies, a signed circular: archived 90 days on, the outbox keeps only what an open
    request may still need, and every request's history and the 2017 scorecard (hash and
    every table) read exactly as before; a second run archives nothing."""
    channels = {ChannelKind.EMAIL: FileChannel(tmp_path / "eml")}
    with transaction(db) as s:
        open_due_requests(s, plan, at("2017-03-17"), policy)
    with db() as s:
        ids = list(s.scalars(select(ProgressRequest.id).order_by(ProgressRequest.id)))
        flaky = s.scalar(select(OutboxMessage.address).order_by(OutboxMessage.id).limit(1))
    first = dispatch(db, {ChannelKind.EMAIL: Flaky(tmp_path / "eml", flaky)},
                     now=at("2017-03-17", 10), calendar=policy.calendar)
    assert first.retrying > 0
    assert dispatch(db, channels, now=at("2017-03-17", 10, 10), calendar=policy.calendar).sent \
        == first.retrying
    _answer(db, ids[5:], "2017-04-07")
    with transaction(db) as s:
        sweep_overdue(s, s.get_one(Plan, plan.id), at("2017-04-12"), policy)
    _answer(db, ids[:1], "2017-04-12")  # before its reminder goes: dropped
    assert dispatch(db, channels, now=at("2017-04-12", 17), calendar=policy.calendar).dropped > 0
    day = dt.date(2017, 4, 13)
    while day <= dt.date(2017, 4, 28):
        with transaction(db) as s:
            sweep_overdue(s, s.get_one(Plan, plan.id), at(day.isoformat()), policy)
        day += dt.timedelta(days=1)
    dispatch(db, channels, now=at("2017-04-28", 10), calendar=policy.calendar)
    with transaction(db) as s:
        sign_off(s, s.scalars(select(Circular.id)).one(), signed_by="督查室张科长",
                 now=at("2017-05-02"), policy=policy)
    dispatch(db, channels, now=at("2017-05-02", 10), calendar=policy.calendar)
    _answer(db, ids[2:5], "2017-05-10")  # ids[1] stays open all year
    with db() as s:
        assert s.scalar(select(func.count()).select_from(Escalation)
                        .where(Escalation.notified_at.is_not(None))) > 0
        kinds = set(s.scalars(select(OutboxMessage.kind).distinct()))
        total = s.scalar(select(func.count()).select_from(OutboxMessage))
        kept = s.scalar(select(func.count()).select_from(OutboxMessage)
                        .where(OutboxMessage.request_id == ids[1]))
        going = or_(OutboxMessage.request_id.is_(None), OutboxMessage.request_id != ids[1])

        def lines_of(*where):  # type: ignore[no-untyped-def]
            """History lines of the messages archived: one per attempt, or one if none."""
            tried = s.scalar(select(func.count()).select_from(DeliveryAttempt)
                             .join(OutboxMessage, OutboxMessage.id == DeliveryAttempt.message_id)
                             .where(going, *where))
            never = s.scalar(select(func.count()).select_from(OutboxMessage).where(
                going, *where, ~OutboxMessage.id.in_(select(DeliveryAttempt.message_id))))
            return tried + never

        all_lines, item_lines = lines_of(), lines_of(OutboxMessage.request_id.is_not(None))
        sent = s.scalar(select(func.count()).select_from(OutboxMessage)
                        .where(going, OutboxMessage.status == "sent"))
    assert {"progress_request", "escalation", "circular_issued"} <= kinds
    lines, digest, frames = _evidence(db, plan)
    assert any(len({(m["to"], m["queued_at"]) for m in ls}) < len(ls) for ls in lines.values()), \
        "some message has two attempts"
    assert any(m["status"] == "dropped" for ls in lines.values() for m in ls)

    result = archive_settled(db, at("2017-12-01"), retention=RETENTION)
    assert result.messages == total - kept and result.receipts < result.messages
    with db() as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == kept
        assert set(s.scalars(select(OutboxMessage.request_id).distinct())) == {ids[1]}
        assert s.scalar(select(func.sum(DeliveryReceipt.messages))) == all_lines
        assert s.scalar(select(func.count()).select_from(DeliveryReceiptItem)) == item_lines
        assert archived_count(s) == sent
    after_lines, after_digest, after_frames = _evidence(db, plan)
    assert after_lines == lines
    assert after_digest == digest
    assert all(a.equals(b) for a, b in zip(after_frames, frames, strict=True))
    again = archive_settled(db, at("2017-12-02"), retention=RETENTION)
    assert (again.messages, again.receipts) == (0, 0)


def test_the_daily_job_archives_and_the_cli_counts_what_it_kept(db, db_url, small, policy,
                                                                 tmp_path, monkeypatch):
    """The registry's daily job outbox_archive runs with the settings' retention (here 30
    days): a waiver sent 2017-03-17 is archived on 2017-05-01, not on 2017-04-10; `tracker
    outbox` then counts it as 已发送并归档."""
    from typer.testing import CliRunner

    from flows.registry import JOBS
    from flows.tracker_flows import archive_outbox_task
    from tracker.cli import app
    from tracker.settings import Settings

    assert JOBS["outbox_archive"].cron == "40 2 * * *"
    with transaction(db) as s:
        s.add_all([_row(f"w{i}", MessageKind.WAIVED) for i in range(3)])
    settings = Settings(home=tmp_path, database_url=db_url, outbox_retention_days=30)
    assert archive_outbox_task.fn(at("2017-04-10").isoformat(), settings)["archived"] == 0
    assert archive_outbox_task.fn(at("2017-05-01").isoformat(), settings) == \
        {"archived": 3, "receipts": 3, "batches": 1}
    from tracker.cli.run import job_summary

    assert job_summary("outbox_archive", {"archived": 3, "receipts": 3, "batches": 1}) == [
        "归档超过保留期的通知 3 条，保留投递凭据 3 条（分 1 批）"]
    monkeypatch.setenv("TRACKER_DATABASE_URL", db_url)
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    r = CliRunner().invoke(app, ["outbox"])
    assert r.exit_code == 0, r.output
    assert [line.split() for line in r.output.splitlines() if "已发送" in line] == \
        [["│", "已发送", "│", "0", "│"], ["│", "已发送并归档", "│", "3", "│"]]


def _row(key: str, kind: MessageKind, *, status: OutboxStatus = OutboxStatus.SENT,
         request_id: int | None = None, when: dt.datetime | None = None) -> OutboxMessage:
    when = when or at("2017-03-17", 10)
    return OutboxMessage(key=key, kind=kind.value, channel=ChannelKind.EMAIL.value,
                         address=f"{key}@tj.gov.cn", recipient_name="联络员", level=0,
                         request_id=request_id, status=status.value, attempts=1,
                         next_attempt_at=when, created_at=when,
                         sent_at=when if status == OutboxStatus.SENT else None)


def test_only_messages_no_enqueue_can_write_again_are_archived(db, small, policy):
    """Archived on 2018-01-10 (retention 90 days): a notice of an answered request of a
    closed period, a waiver, a meeting reminder of 2017, a dropped message; kept: a notice
    of a request still open, a meeting reminder of 2018's, a 新填报链接 (its key counts the
    liaison's earlier ones), anything sent within 90 days, a dead letter, a pending one."""
    with transaction(db) as s:
        open_due_requests(s, small, at("2017-03-17"), policy)
    with db() as s:
        open_id, answered_id = s.scalars(select(ProgressRequest.id).order_by(ProgressRequest.id)
                                         .limit(2)).all()
    _answer(db, [answered_id], "2017-04-01")
    with transaction(db) as s:
        s.execute(text("DELETE FROM outbox_message"))
        s.add_all([
            _row("answered", MessageKind.PROGRESS_REQUEST, request_id=answered_id),
            _row("rung", MessageKind.ESCALATION, request_id=answered_id),
            _row("waived", MessageKind.WAIVED, request_id=answered_id),
            _row("meet2017", MessageKind.MEETING_REMINDER),
            _row("dropped", MessageKind.PRE_DUE_REMINDER, status=OutboxStatus.DROPPED,
                 request_id=answered_id),
            _row("open", MessageKind.PROGRESS_REQUEST, request_id=open_id),
            _row("meet2018", MessageKind.MEETING_REMINDER, when=at("2018-01-02", 9)),
            _row("newlink", MessageKind.NEW_LINK),
            _row("recent", MessageKind.WAIVED, when=at("2017-12-01")),
            _row("failed", MessageKind.WAIVED, status=OutboxStatus.FAILED),
            _row("pending", MessageKind.WAIVED, status=OutboxStatus.PENDING),
        ])
    result = archive_settled(db, at("2018-01-10"), retention=RETENTION)
    with db() as s:
        left = set(s.scalars(select(OutboxMessage.key)))
        receipts = sorted(s.scalars(select(DeliveryReceipt.address)))
    assert left == {"open", "meet2018", "newlink", "recent", "failed", "pending"}
    assert result.messages == 5
    assert receipts == sorted(f"{k}@tj.gov.cn" for k in
                              ("answered", "rung", "waived", "meet2017", "dropped"))
    # while its period still opens requests, an answered request's notice stays too
    with transaction(db) as s:
        s.add(_row("answered-late", MessageKind.PROGRESS_REQUEST, request_id=answered_id))
    assert archive_settled(db, at("2017-04-05"), retention=dt.timedelta(days=1)).messages == 0


def test_batches_are_bounded_and_skip_what_must_stay(db, small, policy):
    """25 archivable waivers between 40 notices of an open request, 10 rows read a batch:
    every waiver archived, none of the others, in the 7 batches 65 rows need."""
    with transaction(db) as s:
        open_due_requests(s, small, at("2017-03-17"), policy)
        s.execute(text("DELETE FROM outbox_message"))
    with db() as s:
        open_id = s.scalar(select(ProgressRequest.id).order_by(ProgressRequest.id).limit(1))
    with transaction(db) as s:
        s.add_all([_row(f"keep{i}", MessageKind.PROGRESS_REQUEST, request_id=open_id,
                        when=at("2017-03-17", 10) + dt.timedelta(minutes=2 * i))
                   for i in range(40)]
                  + [_row(f"go{i}", MessageKind.WAIVED,
                          when=at("2017-03-17", 10) + dt.timedelta(minutes=3 * i + 1))
                     for i in range(25)])
    result = archive_settled(db, at("2018-01-10"), retention=RETENTION, limit=10)
    assert (result.messages, result.batches) == (25, 7)
    with db() as s:
        assert {k[:4] for k in s.scalars(select(OutboxMessage.key))} == {"keep"}
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 40


@pytest.mark.postgresql_only
def test_two_archivers_at_once_take_different_rows(db):
    """Archiver A holds its batch (transaction open); B, with a lock timeout of 2 s, does
    not wait and archives only the rest; each message ends in exactly one receipt."""
    with transaction(db) as s:
        s.add_all([_row(f"w{i}", MessageKind.WAIVED) for i in range(30)])
    a, b = db(), db()
    try:
        a.begin()
        n_a, _, _ = archive_batch(a, at("2018-01-10"), status=OutboxStatus.SENT,
                                  retention=RETENTION, limit=12)
        b.begin()
        b.execute(text("SET LOCAL lock_timeout = '2s'"))
        n_b, _, _ = archive_batch(b, at("2018-01-10"), status=OutboxStatus.SENT,
                                  retention=RETENTION, limit=30)
        b.commit()
        a.commit()
    finally:
        a.close()
        b.close()
    assert (n_a, n_b) == (12, 18)
    with db() as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 0
        assert s.scalar(select(func.sum(DeliveryReceipt.messages))) == 30
        assert sorted(s.scalars(select(DeliveryReceipt.address))) == \
            sorted(f"w{i}@tj.gov.cn" for i in range(30))
