"""Benchmark the pages that must stay fast (issue 14, item 4; run on demand, not in CI).

    .venv/bin/python benchmarks/bench_pages.py [--assignments 10000 100000] [--db sqlite postgresql]

For each size and database: a synthetic plan (`bench_services.synthetic_catalog`, 2,500
agencies per measure as in the issue, so the lead has 2,499 peers on every item) loaded
in a fresh database, a quarter's requests opened, a third of them answered, the overdue
sweep run (PostgreSQL then ANALYZEd, as autovacuum would have done); then, through the
real app (uvicorn on loopback, clock fixed), the median of:

- the board `/desk` (no filter, red only, an agency, and page 20 reached by keyset);
- the biggest lead's landing page `/l/{token}` and one of its item pages (peers summarised,
  the first 50 listed), with the page's size.

Targets (issue 14): board median under 200 ms and a lead's page under 500 ms at 1M
assignments on PostgreSQL. PostgreSQL at 127.0.0.1:5432 (user postgres, trust); each run
creates and drops its own database.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
from sqlalchemy import create_engine, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_services import at, synthetic_catalog  # noqa: E402

from tests.browser import ServerThread  # noqa: E402
from tests.smtp_server import free_port  # noqa: E402
from tests.web_helpers import Clock, make_settings  # noqa: E402
from tracker.catalog.load import load_catalog  # noqa: E402
from tracker.dates.workdays import SHANGHAI, WorkCalendar  # noqa: E402
from tracker.db import make_engine, migrate, session_factory, transaction  # noqa: E402
from tracker.directory.contacts import ensure_demo_contacts  # noqa: E402
from tracker.directory.links import load_secret, make_token  # noqa: E402
from tracker.directory.staff import create_user  # noqa: E402
from tracker.enums import ChannelKind, ContactRole, StaffRole  # noqa: E402
from tracker.escalation.sweep import sweep_overdue  # noqa: E402
from tracker.models import Agency, Contact, Plan, ProgressRequest  # noqa: E402
from tracker.policy import Policy  # noqa: E402
from tracker.requests.opening import open_due_requests  # noqa: E402
from tracker.requests.reports import ReportInput, record_reports  # noqa: E402
from tracker.settings import Rules  # noqa: E402
from tracker.web.app import create_app  # noqa: E402

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PER_MEASURE = 2500
PASSWORD = "benchmark-password"


def build(url: str, assignments: int, home: Path) -> tuple[int, str]:
    """Load, open, answer a third, sweep; a staff account. Returns (plan id, lead's link)."""
    engine = make_engine(url)
    migrate(engine)
    factory = session_factory(engine)
    policy = Policy(Rules(), WorkCalendar(), ChannelKind.FILE)
    catalog = synthetic_catalog(assignments, per_measure=min(PER_MEASURE, assignments))
    catalog = catalog.model_copy(update={"plan": catalog.plan.model_copy(
        update={"supervision_office": "市政府督查室"})})  # the loader asks for the office
    with transaction(factory) as s:
        plan_id = load_catalog(s, catalog, at("2017-01-03")).plan_id
        ensure_demo_contacts(s, plan_id)
        create_user(s, username="bench", display_name="bench", role=StaffRole.OFFICE,
                    password=PASSWORD, now=at("2017-01-03"))
    with transaction(factory) as s:
        open_due_requests(s, s.get_one(Plan, plan_id), at("2017-03-17"), policy)
    with factory() as s:
        ids = list(s.scalars(select(ProgressRequest.id).order_by(ProgressRequest.id)))
    with transaction(factory) as s:
        record_reports(s, [ReportInput(request_id=i, status="in_progress", percent=30,
                                       narrative="按计划推进")
                           for i in ids[::3]], submitted_by="bench", now=at("2017-04-07"))
    with transaction(factory) as s:
        sweep_overdue(s, s.get_one(Plan, plan_id), at("2017-04-24"), policy)
    if engine.dialect.name == "postgresql":  # as autovacuum would have by then: plans need stats
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
    with factory() as s:
        lead = s.scalars(select(Contact).join(Agency, Agency.id == Contact.agency_id)
                         .where(Agency.name == catalog.measures[0].lead,
                                Contact.role == ContactRole.LIAISON)).one()
        token = make_token(load_secret(home, "test-secret-key"), lead, at("2017-04-20"))
    engine.dispose()
    return plan_id, token


def median_ms(fn: Callable[[], httpx.Response], rounds: int) -> tuple[float, int]:
    """The median time of `rounds` calls in ms, and the last response's size in bytes."""
    times, size = [], 0
    for _ in range(rounds):
        t = time.perf_counter()
        r = fn()
        times.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, (r.status_code, r.text[:300])
        size = len(r.content)
    return statistics.median(times), size


def measure(url: str, assignments: int, rounds: int) -> list[tuple[str, float, int]]:
    home = Path(tempfile.mkdtemp())
    t = time.perf_counter()
    _plan_id, token = build(url, assignments, home)
    print(f"  built in {time.perf_counter() - t:.1f} s", flush=True)
    engine = make_engine(url)
    factory = session_factory(engine)
    settings = make_settings(home, url)  # its secret_key is "test-secret-key", as in build
    port = free_port()
    server = ServerThread(create_app(factory, settings, Clock(
        dt.datetime(2017, 4, 25, 10, tzinfo=SHANGHAI))), port)
    server.start()
    out: list[tuple[str, float, int]] = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            page = client.get("/login").text
            csrf = page.split('name="csrf" value="')[1].split('"')[0]
            client.post("/login", data={"username": "bench", "password": PASSWORD, "csrf": csrf})
            with factory() as s:
                agency = s.scalar(select(ProgressRequest.agency_id).limit(1))
            for name, params in (("board", {}), ("board red", {"light": "red"}),
                                 ("board one agency", {"agency": str(agency)})):
                out.append((name, *median_ms(lambda p=params: client.get("/desk", params=p),
                                             rounds)))
            deep = "/desk"
            for _ in range(19):  # page 20 by the 下一页 links (keyset)
                found = re.search(r'<a href="(/desk\?[^"]*)" rel="next">', client.get(deep).text)
                assert found, "no next page"
                deep = found.group(1).replace("&amp;", "&")
            out.append(("board page 20 (keyset)", *median_ms(lambda: client.get(deep), rounds)))
            landing = client.get(f"/l/{token}").text
            item = re.search(rf'href="/l/{re.escape(token)}/requests/(\d+)"', landing)
            assert item, "the lead's page lists no item"
            out.append(("lead's landing page", *median_ms(
                lambda: client.get(f"/l/{token}"), max(rounds // 3, 3))))
            out.append(("lead's item page (2,499 peers)", *median_ms(
                lambda: client.get(f"/l/{token}/requests/{item.group(1)}"), max(rounds // 3, 3))))
    finally:
        server.stop()
        engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--assignments", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--db", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    table: list[tuple[str, int, str, float, int]] = []
    for n in args.assignments:
        for kind in args.db:
            print(f"{n} assignments on {kind}", flush=True)
            if kind == "sqlite":
                url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
                table += [(kind, n, *row) for row in measure(url, n, args.rounds)]
                continue
            name = f"bench_pages_{uuid.uuid4().hex[:8]}"
            admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
                table += [(kind, n, *row) for row in measure(url, n, args.rounds)]
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()
    print(f"\n{'database':10s} {'assignments':>11s}  {'page':32s} {'median ms':>9s} {'KiB':>8s}")
    for kind, n, page, ms, size in table:
        print(f"{kind:10s} {n:11,d}  {page:32s} {ms:9.1f} {size / 1024:8.1f}")


if __name__ == "__main__":
    main()
