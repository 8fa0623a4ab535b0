"""Benchmark the overdue board on the demo's database (run on demand, not in CI).

    make demo && .venv/bin/python benchmarks/bench_board.py [--db var/demo/tracker.db]

Signs in a staff user on a copy of the demo database (2017, 798 assignments, four
quarters) and requests /desk through the real app (uvicorn on loopback) with several
filters, 30 times each. Target (issue 4): median under 200 ms per request.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.browser import ServerThread  # noqa: E402
from tests.smtp_server import free_port  # noqa: E402
from tests.web_helpers import Clock, make_settings  # noqa: E402
from tracker.dates.workdays import SHANGHAI  # noqa: E402
from tracker.db import make_engine, migrate, session_factory, transaction  # noqa: E402
from tracker.directory.staff import create_user  # noqa: E402
from tracker.enums import StaffRole  # noqa: E402
from tracker.web.app import create_app  # noqa: E402

TARGET_MS = 200
QUERIES = [{}, {"light": "red"}, {"period": "2017Q3"}, {"level": "2", "role": "district"},
           {"light": "yellow", "page": "3"}]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default="var/demo/tracker.db")
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp())
    shutil.copy(args.db, work / "tracker.db")
    url = f"sqlite:///{work / 'tracker.db'}"
    engine = make_engine(url)
    migrate(engine)
    factory = session_factory(engine)
    now = dt.datetime(2018, 1, 20, 10, tzinfo=SHANGHAI)
    with transaction(factory) as s:
        create_user(s, username="bench", display_name="bench", role=StaffRole.OFFICE,
                    password="benchmark-password", now=now)
    port = free_port()
    app = create_app(factory, make_settings(work, url), Clock(now))
    server = ServerThread(app, port)
    server.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            page = client.get("/login").text
            csrf = page.split('name="csrf" value="')[1].split('"')[0]
            client.post("/login", data={"username": "bench", "password": "benchmark-password",
                                        "csrf": csrf})
            print(f"/desk on {args.db}, {args.rounds} rounds per query")
            worst = 0.0
            for query in QUERIES:
                times = []
                for _ in range(args.rounds):
                    t = time.perf_counter()
                    r = client.get("/desk", params=query)
                    times.append((time.perf_counter() - t) * 1000)
                    assert r.status_code == 200, r.status_code
                median = statistics.median(times)
                worst = max(worst, median)
                flag = "OK  " if median < TARGET_MS else "SLOW"
                print(f"  {flag} {str(query):45s} median {median:6.1f} ms  p95 "
                      f"{sorted(times)[int(len(times) * 0.95) - 1]:6.1f} ms")
            print(f"worst median {worst:.1f} ms (target < {TARGET_MS} ms)")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
