"""Dispatchers as real processes against a real SMTP server on loopback: killed with
SIGKILL mid-batch, run two at once, and stuck on a server that never answers."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

from sqlalchemy import func, select

from notifications.channels import EmailChannel
from notifications.dispatch import LEASE, dispatch
from tests import smtp_server
from tests.conftest import ROOT, at
from tests.notifications.outbox_rows import add_notices, message_ids
from tests.notifications.test_guarantees import _status, _write_without_waiting
from tracker.db import transaction
from tracker.enums import ChannelKind
from tracker.models import OutboxMessage
from tracker.requests.opening import open_due_requests

NOW = at("2017-03-17", 9, 5)


def _start(db_url: str, port: int, now: dt.datetime, recipients: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.notifications.dispatcher_proc", db_url, str(port),
         now.isoformat(), str(recipients)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen[str]) -> dict:  # type: ignore[type-arg]
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def test_sigkill_mid_batch_then_restart_delivers_each_digest_once(db, db_url):
    """1,000 recipients in one batch; the dispatcher is killed with SIGKILL while the server
    stores the 400th digest (before its "250": the one in flight). A restart after the lease
    delivers the rest: every digest arrives once, except at most that one, which arrives
    twice with the same Message-ID."""
    add_notices(db, {f"lly{i:04d}@tj.gov.cn": 1 for i in range(1000)}, NOW)
    controller, recorder = smtp_server.start()
    try:
        proc = _start(db_url, controller.port, NOW, 1000)
        recorder.on_data = lambda n: os.kill(proc.pid, signal.SIGKILL) if n == 400 else None
        proc.communicate(timeout=300)
        assert proc.returncode == -signal.SIGKILL
        recorder.on_data = None
        assert len(recorder.messages) == 400
        with db() as s:  # each accepted digest was recorded at once: all but the one in flight
            assert s.scalar(select(func.count()).select_from(OutboxMessage)
                            .where(OutboxMessage.status == "sent")) == 399
        early = _finish(_start(db_url, controller.port, NOW + LEASE / 2, 1000))
        assert early["sent"] == 0  # the dead run's claim still holds
        result = _finish(_start(db_url, controller.port, NOW + LEASE, 1000))
    finally:
        controller.stop()
    assert result["sent"] == 601
    counts = message_ids(recorder.messages)
    assert len(counts) == 1000 and sum(counts.values()) == 1001
    assert sorted(counts.values())[-2:] == [1, 2]  # the one in flight, same Message-ID
    assert _status(db) == {"sent": 1000}


def test_two_dispatcher_processes_at_once_send_each_digest_once(db, db_url):
    add_notices(db, {f"lly{i:04d}@tj.gov.cn": 2 for i in range(400)}, NOW)
    controller, recorder = smtp_server.start()
    try:
        procs = [_start(db_url, controller.port, NOW, 20) for _ in range(2)]
        results = [_finish(p) for p in procs]
    finally:
        controller.stop()
    assert sum(r["sent"] for r in results) == 800
    assert sum(r["digests"] for r in results) == 400
    assert all(r["digests"] > 0 for r in results)  # both took part
    counts = message_ids(recorder.messages)
    assert len(counts) == 400 and set(counts.values()) == {1}
    assert _status(db) == {"sent": 800}


def test_a_silent_server_bounds_the_run_and_holds_no_lock(db, plan, policy):
    """The server accepts TCP and never answers. The run ends within its timeout, another
    connection can write the outbox while the dispatcher waits, nothing fails; once a real
    server answers on that port, every digest arrives once."""
    with transaction(db) as s:
        open_due_requests(s, plan, at("2017-03-17"), policy)
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    held: list[socket.socket] = []
    writes: list[str] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            held.append(conn)
            try:
                _write_without_waiting(db)
                writes.append("ok")
            except Exception as exc:  # noqa: BLE001  (reported by the assertion below)
                writes.append(repr(exc))

    threading.Thread(target=serve, daemon=True).start()
    channels = {ChannelKind.EMAIL: EmailChannel("127.0.0.1", port, "t@example.org", timeout=1)}
    started = time.monotonic()
    try:
        r = dispatch(db, channels, now=NOW, calendar=policy.calendar, run_timeout=3)
    finally:
        elapsed = time.monotonic() - started
        listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(), frees the port
        listener.close()
        for conn in held:
            conn.close()
    # a generous wall-clock bound (a loaded CI core may stall a second or two); the exact
    # check is the next line: one connection tried, not one wait of 1 s per digest (798 s)
    assert elapsed < 15
    assert writes == ["ok"]  # one connection tried; the others deferred, not waited for
    assert (r.sent, r.failed, r.retrying + r.deferred) == (0, 0, 798)
    assert "无法连接邮件服务器" in r.errors[0]
    controller, recorder = smtp_server.start(port)
    try:
        r = dispatch(db, channels, now=NOW + dt.timedelta(minutes=5), calendar=policy.calendar)
    finally:
        controller.stop()
    assert r.sent == 798 and len(recorder.messages) == 52
    assert set(message_ids(recorder.messages).values()) == {1}
