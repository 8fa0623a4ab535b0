"""The embedded scheduler registers every job of the registry on its Asia/Shanghai cron."""

from __future__ import annotations

import datetime as dt
import json
import os
import select
import subprocess
import sys
import time

from sqlalchemy import select as sql_select

from flows.scheduler import build_scheduler, scheduled
from tests.conftest import ROOT
from tests.waiting import wait_for
from tracker.dates.workdays import SHANGHAI


def test_jobs_registered_with_their_triggers():
    scheduler = build_scheduler()
    jobs = {j.id: j for j in scheduler.get_jobs()}
    assert set(jobs) == {"progress_requests", "overdue_sweep", "dispatch", "annual_checkpoint",
                         "outbox_archive"}
    assert jobs["dispatch"].func is scheduled and jobs["dispatch"].args == ("dispatch",)
    after = dt.datetime(2017, 4, 10, 8, 10, tzinfo=SHANGHAI)
    fire = jobs["overdue_sweep"].trigger.get_next_fire_time(None, after)
    assert fire == dt.datetime(2017, 4, 10, 8, 30, tzinfo=SHANGHAI)
    fire = jobs["progress_requests"].trigger.get_next_fire_time(None, after)
    assert fire == dt.datetime(2017, 4, 11, 8, 0, tzinfo=SHANGHAI)
    fire = jobs["outbox_archive"].trigger.get_next_fire_time(None, after)
    assert fire == dt.datetime(2017, 4, 11, 2, 40, tzinfo=SHANGHAI)
    assert all(j.max_instances == 1 and j.coalesce and j.misfire_grace_time is None
               for j in jobs.values())


def test_serve_prints_next_runs_before_starting():
    from flows.scheduler import next_runs

    now = dt.datetime(2017, 4, 10, 8, 11, tzinfo=SHANGHAI)
    runs = dict(next_runs(build_scheduler(), now))
    assert runs["dispatch"] == dt.datetime(2017, 4, 10, 8, 15, tzinfo=SHANGHAI)
    assert runs["annual_checkpoint"] == dt.datetime(2017, 4, 10, 9, 0, tzinfo=SHANGHAI)


def _latest_fire(cron: str, at: dt.datetime, since: dt.datetime) -> dt.datetime:
    """The last fire of `cron` (Asia/Shanghai) at or before `at`, searching from `since`."""
    from apscheduler.triggers.cron import CronTrigger

    trigger = CronTrigger.from_crontab(cron, timezone=SHANGHAI)
    fire = trigger.get_next_fire_time(None, since)
    while True:
        following = trigger.get_next_fire_time(None, fire + dt.timedelta(seconds=1))
        if following > at:
            return fire
        fire = following


def test_real_scheduler_catches_up_once_as_of_now(db_url, tmp_path):
    """The real scheduler (APScheduler's wall-clock loop, the database job store, the lease
    loop, ClaimingExecutor) started over a store whose jobs were last due 25 hours ago runs
    each job once, for its latest missed fire, as of the start; not once per missed fire
    (dispatch missed 300). Stopping releases the lease."""
    from flows.leader import DONE, FireRunner, current_lease
    from flows.registry import JOBS
    from flows.runtime import factory_for
    from flows.scheduler import register_jobs, start_scheduler, stop_scheduler, utc_now
    from tests.flows.sched_sim import sim_settings
    from tracker.models import JobFire, scheduler_job

    settings = sim_settings(tmp_path, db_url)
    factory = factory_for(db_url)
    calls: list[tuple[str, dt.datetime]] = []
    runner = FireRunner(factory, "real-A", lambda job, now: calls.append((job, now)), utc_now)
    since = utc_now() - dt.timedelta(hours=25)
    stale = build_scheduler(settings, runner)
    stale.start(paused=True)
    register_jobs(stale, since)  # as a process that stopped 25 hours ago left them
    stale.shutdown(wait=False)
    started = utc_now()
    scheduler, loop = start_scheduler(settings, runner=runner, every=dt.timedelta(seconds=0.2))
    try:
        wait_for("the catch-up runs", lambda: {job for job, _ in calls} == set(JOBS), 30)

        def done() -> bool:
            with factory() as s:
                return s.query(JobFire).filter(JobFire.status == DONE).count() >= len(JOBS)

        wait_for("the fires recorded", done, 10)
    finally:
        stop_scheduler(scheduler, loop)
    stopped = utc_now()
    with factory() as s:
        fires = s.query(JobFire).order_by(JobFire.job, JobFire.fire_at).all()
        stored = dict(s.execute(sql_select(scheduler_job.c.id, scheduler_job.c.next_run_time)).all())
        lease = current_lease(s)
    for name, job in JOBS.items():
        mine = [f for f in fires if f.job == name]
        assert 1 <= len(mine) <= 2, mine  # a second only if a 5-minute mark passed meanwhile
        first = mine[0]
        assert started <= first.now_at <= stopped
        assert first.fire_at == _latest_fire(job.cron, first.now_at, since)
        assert (first.holder, first.status) == ("real-A", DONE)
        assert (name, first.now_at) in calls
        assert stored[name] > started.timestamp()
    assert len(calls) == len(fires)
    assert lease is not None and lease.holder == "real-A"
    assert lease.expires_at == lease.renewed_at <= stopped  # released, not left to run out


class RealProcess:
    """`python -m tests.flows.sched_sim real …`: the real scheduler in a subprocess."""

    def __init__(self, url: str, home, holder: str, ttl: float, every: float) -> None:  # type: ignore[no-untyped-def]
        self.holder = holder
        self.err = open(home / f"{holder}.stderr", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.flows.sched_sim", "real", url, str(home), holder,
             str(ttl), str(every)],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=self.err, text=True)

    def next_event(self, timeout: float) -> dict:  # type: ignore[type-arg]
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            raise AssertionError(f"{self.holder}: nothing in {timeout} s (see {self.err.name})")
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"{self.holder} exited (see {self.err.name})")
        return json.loads(line)  # type: ignore[no-any-return]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)
        self.err.close()


def test_two_real_schedulers_follower_takes_over_after_kill(pg_urls, tmp_path):
    """Two processes run the real scheduler on one PostgreSQL database (lease TTL 2 s,
    renewed every 0.5 s). A leads, B waits; A is killed with SIGKILL (no release): B
    leads within TTL + one renewal of the kill (production: 30 s + 5 s, under a minute)."""
    from flows.leader import current_lease
    from flows.runtime import factory_for
    from flows.scheduler import utc_now

    url = pg_urls[0]
    factory_for(url)  # migrated before either process starts
    a = RealProcess(url, tmp_path, "A", 2.0, 0.5)
    b = None
    try:
        assert a.next_event(120) == {"leading": True}
        b = RealProcess(url, tmp_path, "B", 2.0, 0.5)
        assert b.next_event(120) == {"leading": False}
        time.sleep(1.0)  # B keeps trying while A renews: it stays a follower
        with factory_for(url)() as s:
            assert current_lease(s).holder == "A"  # type: ignore[union-attr]
        killed = utc_now()
        a.kill()
        assert b.next_event(30) == {"leading": True}
        took = (utc_now() - killed).total_seconds()
        assert took <= 2.0 + 0.5 + 2.0  # TTL + a renewal + slack for a loaded machine
        with factory_for(url)() as s:
            lease = current_lease(s)
            assert lease is not None
            assert lease.holder == "B" and lease.acquired_at >= killed
    finally:
        a.kill()
        if b is not None:
            b.kill()


# `tracker serve` whose dispatch job never ends: prints when it starts, then blocks
STUCK_DISPATCH = """
import dataclasses, threading
from prefect import flow
import flows.registry as registry

@flow(name="dispatch")
def stuck(now: str, settings: object = None) -> None:
    print("dispatch under way", flush=True)
    threading.Event().wait()

registry.JOBS["dispatch"] = dataclasses.replace(registry.JOBS["dispatch"], flow=stuck)
"""


def test_tracker_serve_leads_follows_and_hands_over_on_ctrl_c(tmp_path):
    """Two `tracker serve --no-web` on one SQLite file: the first leads, the second waits;
    Ctrl-C (SIGINT) on the first, while its dispatch job (a Prefect flow) hangs, stops it
    within the stop grace (10 s) instead of waiting for the job: the interpreter must not
    join the job's thread. The first holds the lease through the grace, then releases it:
    the second leads at its next renewal (5 s) after the first exits, well before the
    lease's 30 s would have run out, and runs the abandoned dispatch fire again."""
    import signal

    from sqlalchemy import select as select_

    from flows.leader import DONE
    from flows.registry import JOBS
    from flows.runtime import factory_for
    from flows.scheduler import STOP_GRACE, register_jobs, utc_now
    from tests.flows.sched_sim import sim_settings
    from tracker.models import JobFire

    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    due = (utc_now() - dt.timedelta(minutes=1)).replace(microsecond=0)
    store = build_scheduler(sim_settings(tmp_path, url))
    store.start(paused=True)
    register_jobs(store, utc_now())
    store.modify_job("dispatch", next_run_time=due)  # the first runs it as it starts leading
    store.shutdown(wait=False)
    assert "dispatch" in JOBS

    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", "COLUMNS": "200",
           "PYTHONFAULTHANDLER": "1",
           "TRACKER_HOME": str(tmp_path), "TRACKER_ENV": "development"}
    # Ctrl-C as at a terminal: a suite started in the background (`make test &`, nohup)
    # runs with SIGINT ignored, which its subprocesses inherit (Python then installs no
    # handler), so the first would never see the signal
    cli = ("import signal; signal.signal(signal.SIGINT, signal.default_int_handler)\n"
           "from tracker.cli import app; app(prog_name='tracker')")

    def start(name: str, prelude: str = "") -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-c", prelude + cli, "serve", "--no-web"],
                                cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE,
                                stderr=open(tmp_path / f"{name}.stderr", "w"),  # noqa: SIM115
                                text=True)

    def wait_line(proc: subprocess.Popen[str], text: str, timeout: float) -> float:
        assert proc.stdout is not None
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 0.5)
            if ready:
                line = proc.stdout.readline()
                if not line:
                    break
                seen.append(line)
                if text in line:
                    return time.monotonic()
        raise AssertionError(f"no {text!r} in {timeout} s; output: {''.join(seen)}")

    def dispatch_fire(fire_at: dt.datetime) -> JobFire:
        with factory_for(url)() as s:
            return s.query(JobFire).filter(JobFire.job == "dispatch",
                                           JobFire.fire_at == fire_at).one()

    first = start("first", STUCK_DISPATCH)
    second = None
    try:
        wait_line(first, "本进程为定时任务调度主节点", 120)
        wait_line(first, "dispatch under way", 120)
        # the fire the first took: `due`, or the latest */5 boundary if one passed between
        # `due` and the first's start (jobs coalesce to their latest due fire)
        with factory_for(url)() as s:
            abandoned = s.scalars(select_(JobFire.fire_at).where(
                JobFire.job == "dispatch", JobFire.holder.contains(f":{first.pid}:"))).one()
        abandoned = abandoned.replace(tzinfo=dt.UTC) if abandoned.tzinfo is None \
            else abandoned
        assert due <= abandoned <= utc_now()
        assert abandoned == due or (abandoned.minute % 5, abandoned.second) == (0, 0)
        second = start("second")
        wait_line(second, "另一进程为定时任务调度主节点，本进程待命", 120)
        first.send_signal(signal.SIGINT)
        interrupted = time.monotonic()
        # the grace, then the interpreter's exit (Prefect's services drain) on a loaded
        # machine; a process that has not exited by then leaves its threads' stacks
        # (faulthandler, on SIGABRT) in the failure
        try:
            first.wait(timeout=STOP_GRACE + 30)
        except subprocess.TimeoutExpired:
            first.send_signal(signal.SIGABRT)
            first.wait(timeout=30)
            stacks = (tmp_path / "first.stderr").read_text(errors="replace")[-12_000:]
            raise AssertionError(f"the first leader did not exit after Ctrl-C:\n{stacks}") from None
        exited = time.monotonic()
        assert exited - interrupted >= STOP_GRACE - 1  # the job had its grace
        took = wait_line(second, "本进程为定时任务调度主节点", 25) - exited
        assert took < 20  # released: a lease left to run out takes 25 to 30 s more
        # the abandoned fire (left running by the first) is the second's now, and done
        wait_for("the second reruns the abandoned dispatch",
                 lambda: dispatch_fire(abandoned).status == DONE, 120)
        fire = dispatch_fire(abandoned)
        assert f":{second.pid}:" in fire.holder
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
