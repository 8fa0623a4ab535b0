"""Benchmark the dispatcher: 10,000 file-channel messages (run on demand, not in CI).

    .venv/bin/python benchmarks/bench_dispatch.py [--messages 10000] [--recipients 2000]
                                                  [--url URL]

Queues `--messages` waiver notices (免报) spread over `--recipients` addresses in a fresh
database (a temporary SQLite file unless --url names an empty PostgreSQL database), then
times one dispatch run through the file channel (.eml files in a temporary folder): claim,
re-check, render, write and record each digest. Prints messages and digests per second, and
the plan of the claim query (it must use ix_outbox_message_due; on PostgreSQL sequential
scans are disabled for the EXPLAIN only, as a table this small is read whole either way).
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, insert, select, text

from notifications.channels import FileChannel
from notifications.dispatch import ANY_TIME, claim_query, dispatch
from tracker.dates.workdays import SHANGHAI, WorkCalendar
from tracker.db import make_engine, migrate, session_factory, transaction
from tracker.enums import ChannelKind, MessageKind, OutboxStatus
from tracker.models import OutboxMessage

NOW = dt.datetime(2017, 3, 17, 9, 5, tzinfo=SHANGHAI)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--recipients", type=int, default=2_000)
    parser.add_argument("--url", default=None, help="database URL (default: a temp SQLite file)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-dispatch-"))
    url = args.url or f"sqlite:///{tmp / 'tracker.db'}"
    engine = make_engine(url)
    migrate(engine)
    factory = session_factory(engine)
    rows = [dict(key=f"bench:{i}", kind=MessageKind.WAIVED.value, channel=ChannelKind.FILE.value,
                 address=f"lly{i % args.recipients:05d}@bench.gov.cn",
                 recipient_name=f"联络员{i % args.recipients}",
                 payload={"text": f"第{i}项任务本期免报。"}, status=OutboxStatus.PENDING.value,
                 attempts=0, next_attempt_at=NOW, created_at=NOW) for i in range(args.messages)]
    with transaction(factory) as s:
        s.execute(insert(OutboxMessage), rows)

    with engine.connect() as conn:
        sql = str(claim_query(NOW, 500).compile(engine, compile_kwargs={"literal_binds": True}))
        if engine.dialect.name == "sqlite":
            plan = " | ".join(str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
        else:
            conn.exec_driver_sql("SET enable_seqscan = off")
            plan = " | ".join(r[0] for r in conn.execute(text("EXPLAIN " + sql)))
    print(f"claim query plan ({engine.dialect.name}): {plan}")
    assert "ix_outbox_message_due" in plan, "the claim query does not use its index"

    channels = {ChannelKind.FILE: FileChannel(tmp / "outbox")}
    started = time.perf_counter()
    result = dispatch(factory, channels, now=NOW, calendar=WorkCalendar(), window=ANY_TIME,
                      run_timeout=600, max_batches=10_000)
    seconds = time.perf_counter() - started
    with factory() as s:
        sent = s.scalar(select(func.count()).select_from(OutboxMessage)
                        .where(OutboxMessage.status == OutboxStatus.SENT.value))
    files = len(list((tmp / "outbox").glob("*.eml")))
    assert sent == args.messages == result.sent and files == result.digests == args.recipients, (
        sent, result, files)
    print(f"{engine.dialect.name}: {result.sent} messages in {result.digests} digests "
          f"({files} .eml files) in {seconds:.2f} s: {result.sent / seconds:,.0f} messages/s, "
          f"{result.digests / seconds:,.0f} digests/s")


if __name__ == "__main__":
    main()
