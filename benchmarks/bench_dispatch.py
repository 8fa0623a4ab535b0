"""Benchmark the dispatcher against a hand-written SQL floor in the same run (on demand).

    .venv/bin/python benchmarks/bench_dispatch.py [--messages 10000 100000]
        [--per-recipient 5] [--sent 1.0] [--db sqlite postgresql] [--channel null|file]
        [--pg-admin URL]

For each database and size: a fresh database (a temporary SQLite file, or a temporary
PostgreSQL database made through --pg-admin and dropped after) holds `--messages` due
waiver notices (免报), `--per-recipient` per address, beside `--sent` × as many messages
already sent (a queue's history). A copy of it is taken (SQLite: the file; PostgreSQL:
CREATE DATABASE … TEMPLATE). Then, timed:

- dispatch: one `notifications.dispatch.dispatch` run that sends the whole backlog
  (claim, re-check, render, send through the channel, record each digest in its own
  transaction). `--channel null` accepts each digest in memory, so the time is the
  dispatcher's own; `file` also writes the .eml files.
- floor, on the copy: what any dispatcher keeping the same guarantees must do, written by
  hand in SQL: one read of every due message in recipient order, then per recipient one
  transaction that marks its messages sent and records their delivery attempts.

Prints one table: operation, rows, seconds, peak MiB (the process's peak resident set
during the step, reset before it), SQL floor in the same run, ratio. The script uses only
`dispatch()`, so the same file measures an older checkout (PYTHONPATH) for a before/after.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import itertools
import os
import resource
import shutil
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, func, insert, select, text

from notifications.channels import FileChannel
from notifications.channels.base import Digest
from notifications.dispatch import ANY_TIME, dispatch
from tracker.dates.workdays import SHANGHAI, WorkCalendar
from tracker.db import make_engine, migrate, session_factory, transaction
from tracker.enums import ChannelKind, MessageKind, OutboxStatus
from tracker.models import OutboxMessage

NOW = dt.datetime(2017, 3, 17, 9, 5, tzinfo=SHANGHAI)
PG_ADMIN = os.environ.get("TRACKER_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@dataclass
class Row:
    """One line of the table (the shape benchmarks/ prints for every operation)."""

    operation: str
    rows: int
    seconds: float
    peak_mib: float
    floor_seconds: float | None = None

    @property
    def ratio(self) -> float | None:
        return None if not self.floor_seconds else self.seconds / self.floor_seconds


class NullChannel:
    """Accepts every digest in memory: the dispatcher's own time, no I/O of a channel."""

    timeout = 0

    def __init__(self) -> None:
        self.digests = 0

    def send(self, digest: Digest) -> None:
        self.digests += 1


def _reset_peak() -> None:
    """Reset the kernel's high-water mark of this process's resident set (Linux ≥ 4.0)."""
    gc.collect()
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _peak_mib() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """(seconds, peak MiB, result) of one call."""
    _reset_peak()
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, _peak_mib(), out


# --- databases ------------------------------------------------------------------------------

class Databases:
    """Makes databases (`make(name)` -> URL of a new empty one) and copies of them
    (`copy(engine, url)`), and remembers every one of them so that `databases` drops them
    all, copies included, however the benchmark ends."""

    def __init__(self, kind: str, pg_admin: str, tmp: Path) -> None:
        self.pg_admin, self.tmp = pg_admin, tmp
        self.admin = (create_engine(pg_admin, isolation_level="AUTOCOMMIT")
                      if kind == "postgresql" else None)
        self.made: list[str] = []

    def __call__(self, name: str) -> str:
        if self.admin is None:
            return f"sqlite:///{self.tmp / f'{name}.db'}"
        return self._create(f"bench_dispatch_{name}_{uuid.uuid4().hex[:8]}", None)

    def _create(self, db: str, template: str | None) -> str:
        assert self.admin is not None
        self.made.append(db)  # before CREATE: a copy interrupted half-way is dropped too
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{db}"'
                              + (f' TEMPLATE "{template}"' if template else "")))
        return self.pg_admin.rsplit("/", 1)[0] + f"/{db}"

    def copy(self, engine: Engine, url: str) -> str:
        """A copy of the database at `url` (its engine is disposed first); returns its URL.
        SQLite: an online backup into a file beside it (removed with the folder);
        PostgreSQL: CREATE DATABASE … TEMPLATE, dropped with the others."""
        engine.dispose()
        if url.startswith("sqlite"):
            path = url.split("///", 1)[1]
            target = path.replace(".db", "-floor.db")
            src, dst = sqlite3.connect(path), sqlite3.connect(target)
            with dst:
                src.backup(dst)
            src.close()
            dst.close()
            return f"sqlite:///{target}"
        return self._create(f"{url.rsplit('/', 1)[1]}_floor", url.rsplit("/", 1)[1])

    def drop_all(self) -> None:
        if self.admin is None:
            return
        with self.admin.connect() as conn:
            for db in reversed(self.made):
                conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        self.made.clear()
        self.admin.dispose()


@contextmanager
def databases(kind: str, pg_admin: str, tmp: Path) -> Iterator[Databases]:
    """Yields a `Databases` (call it with a name for a new empty database; `.copy` copies
    one); every database it made or copied is dropped afterwards."""
    made = Databases(kind, pg_admin, tmp)
    try:
        yield made
    finally:
        made.drop_all()


def fill(engine: Engine, messages: int, per_recipient: int, sent: float) -> int:
    """`messages` due waiver notices, `per_recipient` per address (ids interleaved across
    recipients, as an opening writes them), and `sent` × as many already sent before; then
    ANALYZE. Returns the number of recipients."""
    recipients = max(messages // per_recipient, 1)
    factory = session_factory(engine)
    history = int(messages * sent)
    before = NOW - dt.timedelta(days=30)

    def rows(start: int, n: int, due: bool) -> Iterator[dict[str, Any]]:
        for i in range(start, start + n):
            yield dict(key=f"bench:{i}", kind=MessageKind.WAIVED.value,
                       channel=ChannelKind.FILE.value,
                       address=f"lly{i % recipients:06d}@bench.gov.cn",
                       recipient_name=f"联络员{i % recipients}",
                       payload={"text": f"第{i}项任务本期免报。"},
                       status=(OutboxStatus.PENDING if due else OutboxStatus.SENT).value,
                       attempts=0 if due else 1, next_attempt_at=NOW if due else before,
                       sent_at=None if due else before, created_at=NOW if due else before)

    for start, n, due in ((0, history, False), (history, messages, True)):
        it = rows(start, n, due)
        while chunk := list(itertools.islice(it, 20_000)):
            with transaction(factory) as s:
                s.execute(insert(OutboxMessage), chunk)
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    return recipients


# --- the two measured operations -------------------------------------------------------------

def run_dispatch(engine: Engine, channel: str, out: Path) -> tuple[int, int]:
    """One dispatcher run over the whole backlog; returns (messages sent, digests)."""
    factory = session_factory(engine)
    chan = FileChannel(out) if channel == "file" else NullChannel()
    r = dispatch(factory, {ChannelKind.FILE: chan}, now=NOW,  # type: ignore[dict-item]
                 calendar=WorkCalendar(), window=ANY_TIME, run_timeout=36_000,
                 max_batches=1_000_000)
    assert not r.errors and not r.timed_out, r
    return r.sent, r.digests


def run_floor(engine: Engine) -> tuple[int, int]:
    """The hand-written floor: one read of the due messages in recipient order, then per
    recipient one transaction of two statements (mark sent, record attempts) and its commit:
    the least a dispatcher recording each digest right after its send can do."""
    sql = engine.dialect.name
    due = ("SELECT id, channel, address, kind, level, payload, recipient_name FROM outbox_message "
           "WHERE status = 'pending' AND next_attempt_at <= :now ORDER BY channel, address, id")
    mark = ("UPDATE outbox_message SET status = 'sent', sent_at = :now, attempts = attempts + 1 "
            "WHERE status IN ('pending', 'sending') AND channel = :channel AND address = :address")
    record = ("INSERT INTO delivery_attempt (message_id, digest_id, attempted_at, ok, permanent) "
              "SELECT id, :digest, :now, :ok, :no FROM outbox_message WHERE status IN "
              "('pending', 'sending') AND channel = :channel AND address = :address")
    sent = digests = 0
    with engine.connect() as conn:
        rows = conn.execute(text(due), {"now": NOW}).all()
        conn.commit()
        for (channel, address), group in itertools.groupby(rows, key=lambda r: (r[1], r[2])):
            n = sum(1 for _ in group)
            params = {"now": NOW, "channel": channel, "address": address,
                      "digest": uuid.uuid4().hex[:32], "ok": True, "no": False}
            conn.execute(text(record), params)
            conn.execute(text(mark), params)
            conn.commit()
            sent += n
            digests += 1
    assert sql in ("sqlite", "postgresql")
    return sent, digests


def sent_count(engine: Engine) -> int:
    with session_factory(engine)() as s:
        return int(s.scalar(select(func.count()).select_from(OutboxMessage)
                            .where(OutboxMessage.status == OutboxStatus.SENT.value)) or 0)


def measure(kind: str, messages: int, per_recipient: int, sent: float, channel: str,
            pg_admin: str) -> Row:
    tmp = Path(tempfile.mkdtemp(prefix="bench-dispatch-"))
    try:
        with databases(kind, pg_admin, tmp) as make:
            url = make("run")
            engine = make_engine(url)
            migrate(engine)
            history = sent_count(engine)
            recipients = fill(engine, messages, per_recipient, sent)
            history = sent_count(engine)
            floor_url = make.copy(engine, url)
            engine = make_engine(url)
            seconds, peak, (n, digests) = timed(lambda: run_dispatch(engine, channel, tmp / "eml"))
            assert (n, digests) == (messages, recipients), (n, digests, messages, recipients)
            assert sent_count(engine) == history + messages
            engine.dispose()
            floor_engine = make_engine(floor_url)
            floor_s, _, (fn, fd) = timed(lambda: run_floor(floor_engine))
            assert (fn, fd) == (messages, recipients), (fn, fd)
            floor_engine.dispose()
            return Row(f"dispatch ({kind}, {channel} channel, {per_recipient}/digest)",
                       messages, seconds, peak, floor_s)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def print_table(rows: list[Row]) -> None:
    print(f"{'operation':48s} {'rows':>9s} {'seconds':>9s} {'peak MiB':>9s} "
          f"{'SQL floor':>9s} {'ratio':>6s}")
    for r in rows:
        floor = f"{r.floor_seconds:9.2f}" if r.floor_seconds is not None else f"{'-':>9s}"
        ratio = f"{r.ratio:5.2f}×" if r.ratio is not None else f"{'-':>6s}"
        print(f"{r.operation:48s} {r.rows:9,d} {r.seconds:9.2f} {r.peak_mib:9.0f} {floor} {ratio}",
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--per-recipient", type=int, default=5)
    parser.add_argument("--sent", type=float, default=1.0,
                        help="messages already sent, as a multiple of --messages")
    parser.add_argument("--db", nargs="+", choices=["sqlite", "postgresql"],
                        default=["sqlite", "postgresql"])
    parser.add_argument("--channel", choices=["null", "file"], default="null")
    parser.add_argument("--pg-admin", default=PG_ADMIN,
                        help="PostgreSQL URL allowed to create and drop databases")
    args = parser.parse_args()
    rows = []
    for kind in args.db:
        for n in args.messages:
            rows.append(measure(kind, n, args.per_recipient, args.sent, args.channel,
                                args.pg_admin))
            print_table(rows[-1:])
    print()
    print_table(rows)


if __name__ == "__main__":
    main()
