"""A simulated year through the scheduler's stored triggers with an injected clock (issue 9).

Each run drives the jobs stored in the database (`scheduler_job`) with `ClockDriver`, the
injected-clock twin of APScheduler's loop, and runs every fire through `FireRunner` (the
claim-and-run path of the real scheduler). The jobs call the flows' task bodies directly
(see tests/flows/sched_sim.py); the clock stops at 08:30 and 17:00 of the year's event days
and every day of the National Day week. Processes are real subprocesses, killed with SIGKILL.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from flows.leader import DONE
from flows.runtime import factory_for
from tests.conftest import ROOT
from tests.flows.sched_sim import (
    HOLIDAY_FROM,
    HOLIDAY_TO,
    START,
    driver,
    load_plan,
    outbox_state,
    run_ticks,
    sim_settings,
    ticks,
)
from tracker.dates.workdays import SHANGHAI
from tracker.models import SchedulerLease


class SimProcess:
    """`python -m tests.flows.sched_sim URL HOME HOLDER`, driven a tick at a time."""

    def __init__(self, url: str, home: Path, holder: str) -> None:
        self.holder = holder
        self.err = open(home / f"{holder}.stderr", "w")  # noqa: SIM115
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.flows.sched_sim", url, str(home), holder],
            cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err,
            text=True)
        assert self._read(120) == {"ready": holder}

    def _read(self, timeout: float) -> Any:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while True:
            ready, _, _ = select.select([self.proc.stdout], [], [], 1.0)
            if ready:
                line = self.proc.stdout.readline()
                if not line:
                    raise AssertionError(f"{self.holder} exited: see {self.err.name}")
                return json.loads(line)
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.holder} did not answer in {timeout} s")

    def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def tick(self, now: dt.datetime) -> list[list[str]]:
        self.send(f"tick {now.isoformat()}")
        ran: list[list[str]] = self._read(120)["ran"]
        return ran

    def kill(self) -> None:
        self.proc.kill()  # SIGKILL: no clean release of the lease
        self.proc.wait(timeout=30)
        self.err.close()

    def quit(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
        self.err.close()


def straight_year(url: str, home: Path, stops: list[dt.datetime]) -> dict[str, Any]:
    """The same year run straight through by one scheduler, in this process."""
    settings = sim_settings(home, url)
    d = driver(settings, "straight", START)
    try:
        for _ in run_ticks(d, stops):
            pass
    finally:
        d.close()
    return outbox_state(url)


def _at(y: int, m: int, d: int, hh: int, mm: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


def test_year_jumping_national_day_with_a_restart_sends_each_notice_once(tmp_path, catalog, policy):
    """Process A runs the year up to Friday 2017-09-29 17:00 and is killed (-9); the clock
    jumps to Monday 2017-10-09 07:00, where a new process A2 on the same SQLite file takes
    the lease over and catches up: each job runs ONCE, for its latest missed fire, as of
    07:00. The year's notifications are exactly those of the same year run straight
    through: the same outbox rows, each sent once."""
    stops = ticks(policy)
    before = [t for t in stops if t <= HOLIDAY_FROM]
    after = [t for t in stops if t >= HOLIDAY_TO]
    assert len(before) + len(after) < len(stops)  # the jump skips the week's stops

    (tmp_path / "straight").mkdir()
    straight_url = f"sqlite:///{tmp_path / 'straight' / 'tracker.db'}"
    load_plan(sim_settings(tmp_path / "straight", straight_url), catalog)
    straight = straight_year(straight_url, tmp_path / "straight", stops)

    home = tmp_path / "jumped"
    home.mkdir()
    url = f"sqlite:///{home / 'tracker.db'}"
    load_plan(sim_settings(home, url), catalog)
    a = SimProcess(url, home, "A")
    try:
        for now in before:
            a.tick(now)
    finally:
        a.kill()
    a2 = SimProcess(url, home, "A2")
    try:
        catch_up = a2.tick(after[0])
        for now in after[1:]:
            a2.tick(now)
    finally:
        a2.quit()
    jumped = outbox_state(url)

    # On restart, each job ran once, for its latest missed fire, as of 07:00.
    assert sorted(catch_up) == sorted([
        ["annual_checkpoint", _at(2017, 10, 8, 9).isoformat(), DONE],
        ["dispatch", _at(2017, 10, 9, 7).isoformat(), DONE],
        ["outbox_archive", _at(2017, 10, 9, 2, 40).isoformat(), DONE],
        ["overdue_sweep", _at(2017, 10, 8, 8, 30).isoformat(), DONE],
        ["progress_requests", _at(2017, 10, 8, 8).isoformat(), DONE],
    ])
    in_gap = [f for f in jumped["fires"] if HOLIDAY_FROM < f[1] < _at(2017, 10, 8, 8)]
    assert in_gap == []
    catch_up_rows = [f for f in jumped["fires"] if f[4] == HOLIDAY_TO]
    assert [(f[0], f[3]) for f in catch_up_rows] == [
        ("annual_checkpoint", "A2"), ("dispatch", "A2"), ("outbox_archive", "A2"),
        ("overdue_sweep", "A2"), ("progress_requests", "A2")]
    assert {f[3] for f in jumped["fires"] if f[4] <= HOLIDAY_FROM} == {"A"}
    assert {f[3] for f in jumped["fires"] if f[4] > HOLIDAY_FROM} == {"A2"}
    assert {f[2] for f in jumped["fires"]} == {DONE}

    # Outside the jumped week, the same fires as the straight year, in the same state.
    def outside(fires):  # type: ignore[no-untyped-def]
        return [f[:3] for f in fires if not HOLIDAY_FROM < f[4] <= HOLIDAY_TO]

    assert outside(jumped["fires"]) == outside(straight["fires"])
    # Every notification of the straight year, no more, each sent exactly once.
    assert len(straight["rows"]) > 1000
    assert jumped["rows"] == straight["rows"]
    assert {r[1] for r in jumped["rows"]} == {"sent"}
    assert sorted(jumped["sends"].values()) == [1] * len(jumped["rows"])


def test_two_schedulers_on_postgresql_leader_killed_mid_year(tmp_path, catalog, policy, pg_urls):
    """Processes A and B run on one PostgreSQL database; each stop of the clock reaches A,
    then B. A leads. At the first 08:30 stop of July, A has claimed the day's overdue sweep
    and is killed (-9) in the middle of running it. B, at the same stop, does not lead yet
    (A's lease runs 30 s more); at the next stop it takes the lease over, runs the sweep A
    left unfinished once, then every later fire. Every fire of the year was claimed and
    run to the end exactly once (the fires of one scheduler running the year alone on
    another database, but one that coalesced into B's catch-up), and the notifications are
    the same rows, each sent once."""
    from sqlalchemy import select

    from tracker.models import JobFire

    stops = ticks(policy)
    kill_at = min(t for t in stops if t >= _at(2017, 7, 1, 0) and t.hour == 8)
    next_stop = min(t for t in stops if t > kill_at)
    straight_url, url = pg_urls
    (tmp_path / "straight").mkdir()
    load_plan(sim_settings(tmp_path / "straight", straight_url), catalog)
    straight = straight_year(straight_url, tmp_path / "straight", stops)

    home = tmp_path / "pair"
    home.mkdir()
    load_plan(sim_settings(home, url), catalog)
    a, b = SimProcess(url, home, "A"), SimProcess(url, home, "B")
    ran_by: dict[str, list[list[str]]] = {"A": [], "B": []}
    try:
        for now in stops:
            if now == kill_at:
                a.send("hang overdue_sweep")
                assert a._read(30) == {"ok": True}
                a.send(f"tick {now.isoformat()}")

                def claimed() -> bool:
                    with factory_for(url)() as s:
                        return s.scalar(select(JobFire.holder).where(
                            JobFire.job == "overdue_sweep", JobFire.fire_at == kill_at)) == "A"

                deadline = time.monotonic() + 60
                while not claimed():
                    assert time.monotonic() < deadline, "A never claimed the sweep"
                    time.sleep(0.1)
                a.kill()
            elif a.proc.poll() is None:
                ran_by["A"] += a.tick(now)
            ran = b.tick(now)
            assert ran == [] or now >= next_stop
            ran_by["B"] += ran
    finally:
        if a.proc.poll() is None:
            a.quit()
        b.quit()
    pair = outbox_state(url)

    with factory_for(url)() as s:
        lease = s.get_one(SchedulerLease, "scheduler")
        assert (lease.holder, lease.acquired_at) == ("B", next_stop)
    # B's first act as leader: the sweep A left unfinished, as of B's first stop
    assert ran_by["B"][0] == ["overdue_sweep", kill_at.isoformat(), DONE]
    sweep = [f for f in pair["fires"] if f[:2] == ("overdue_sweep", kill_at)]
    assert [(f[3], f[4]) for f in sweep] == [("B", next_stop)]
    assert {f[3] for f in pair["fires"] if f[4] < kill_at} == {"A"}
    assert {f[3] for f in pair["fires"] if f[4] >= next_stop} == {"B"}
    # The same fires as one scheduler alone, each run to the end once, but one: A died
    # before its round reached the annual checkpoint (due since 3 July 09:00), so that
    # fire coalesced into B's first round (4 July 09:00, which the lone scheduler also ran).
    alone = {f[:3] for f in straight["fires"]}
    together = {f[:3] for f in pair["fires"]}
    assert together <= alone
    assert alone - together == {("annual_checkpoint", _at(2017, 7, 3, 9), DONE)}
    assert len(pair["fires"]) == len(together)
    assert {f[2] for f in pair["fires"]} == {DONE}
    assert len(pair["rows"]) > 1000
    assert pair["rows"] == straight["rows"]
    assert sorted(pair["sends"].values()) == [1] * len(pair["rows"])
