"""The embedded scheduler of `tracker serve`: APScheduler runs the registry's jobs.

APScheduler keeps its jobs in the tracker's database (`scheduler_job`, a SQLAlchemyJobStore
on the same engine), so a stopped or restarted process keeps each job's next fire time.
Of several processes on one database only the leader runs jobs (`flows.leader`): every
process starts its scheduler paused, and a `LeaderLoop` thread renews the lease and resumes
or pauses it. Jobs coalesce: after downtime (or a hand-over) each job runs once, not once
per missed fire, and evaluates "as of now". Each fire is claimed (job, scheduled time)
before it runs, by `FireRunner`, which both paths below share:

- the real scheduler: APScheduler's wall-clock loop hands due jobs to `ClaimingExecutor`;
- `ClockDriver`: the same stored jobs and triggers driven by an injected clock (tests
  simulate years with it; APScheduler itself reads the wall clock).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from apscheduler.events import EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.executors.pool import BasePoolExecutor
from apscheduler.job import Job as APJob
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_RUNNING, STATE_STOPPED, BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from rich.console import Console
from sqlalchemy.exc import SQLAlchemyError

from flows.leader import (
    LEASE_TTL,
    RENEW_EVERY,
    FireOutcome,
    FireRunner,
    acquire,
    new_holder,
    prune_fires,
    release,
)
from flows.registry import JOBS
from tracker.dates.workdays import SHANGHAI
from tracker.db import transaction
from tracker.models.scheduler import SCHEDULER_JOB_TABLE
from tracker.settings import Settings

log = logging.getLogger("tracker.scheduler")


def scheduled(name: str) -> None:
    """The callable stored with each job (APScheduler pickles a reference to it).

    Never called: `ClaimingExecutor` and `ClockDriver` run a job by its id through
    `FireRunner`, which needs the scheduled fire time APScheduler does not pass to it.
    """
    raise RuntimeError(f"job {name} must run through FireRunner (flows.scheduler)")


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def prefect_call(settings: Settings | None) -> Callable[[str, dt.datetime], Any]:
    """`call(job, now)` for `FireRunner`: the job's Prefect flow with `now` and `settings`.

    Runs in APScheduler's worker thread. Prefect's settings context is a context variable,
    which a new thread does not inherit: each run enters `prefect_context` again, so it uses
    the same Prefect home and local API as the rest of the process. `settings` None: the
    flow reads the environment.
    """
    from flows.runtime import prefect_context

    def call(name: str, now: dt.datetime) -> Any:
        flow = JOBS[name].flow
        if settings is None:
            return flow(now=now.isoformat())
        with prefect_context(settings):
            return flow(now=now.isoformat(), settings=settings)

    return call


STOP_GRACE = 10.0  # seconds a running job gets to finish when the scheduler stops


class DaemonPool:
    """The pool `ClaimingExecutor` runs fires in: a daemon thread per fire, at most
    `max_workers` running at once.

    Not `concurrent.futures.ThreadPoolExecutor` (APScheduler's pool): the interpreter joins
    its workers at exit whatever `shutdown(wait=False)` said, so Ctrl-C on `tracker serve`
    waited for the job under way to end, however long it took (a Prefect flow on a loaded
    machine: minutes). Here `stop_scheduler` waits `STOP_GRACE` at most (`join`); a job
    still running then is abandoned when the process exits, its open transaction rolled
    back, and its fire, left `running`, is run again by the next leader (as after a kill).
    """

    def __init__(self, max_workers: int) -> None:
        self._slots = threading.BoundedSemaphore(max_workers)
        self._lock = threading.Lock()
        self._threads: set[threading.Thread] = set()
        self._closed = False

    def submit(self, fn: Callable[[], Any]) -> Future[Any]:
        future: Future[Any] = Future()

        def work() -> None:
            try:
                with self._slots:
                    if future.set_running_or_notify_cancel():
                        try:
                            future.set_result(fn())
                        except BaseException as exc:  # noqa: BLE001 - handed to the callback
                            future.set_exception(exc)
            finally:
                with self._lock:
                    self._threads.discard(threading.current_thread())

        with self._lock:
            if self._closed:
                raise RuntimeError("the scheduler's pool is shut down")
            thread = threading.Thread(target=work, daemon=True, name="tracker-scheduler-job")
            self._threads.add(thread)
        thread.start()
        return future

    def running(self) -> int:
        """How many fires are still running (or waiting for a slot)."""
        with self._lock:
            return len(self._threads)

    def join(self, timeout: float | None) -> bool:
        """Wait up to `timeout` seconds (None: for ever) for the running fires; True if none
        is left."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                threads = list(self._threads)
            if not threads:
                return True
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            threads[0].join(left)

    def shutdown(self, wait: bool = True) -> None:
        """Accept no more fires; with `wait`, wait for the running ones (APScheduler's call)."""
        with self._lock:
            self._closed = True
        if wait:
            self.join(None)


class ClaimingExecutor(BasePoolExecutor):  # type: ignore[misc]
    """APScheduler's pool executor, running each due job through `FireRunner.fire`
    with its (coalesced) scheduled fire time instead of calling the stored function,
    in daemon threads (`DaemonPool`)."""

    def __init__(self, runner: FireRunner, max_workers: int = 4) -> None:
        super().__init__(DaemonPool(max_workers))
        self.runner = runner

    @property
    def pool(self) -> DaemonPool:
        return self._pool  # type: ignore[no-any-return]

    def _do_submit_job(self, job: APJob, run_times: list[dt.datetime]) -> None:
        fire_at = run_times[-1]

        def run() -> list[JobExecutionEvent]:
            outcome = self.runner.fire(job.id, fire_at)
            return [JobExecutionEvent(EVENT_JOB_EXECUTED, job.id, job._jobstore_alias,
                                      fire_at, retval=outcome)]

        def done(f: Any) -> None:
            exc = f.exception()
            if exc is not None:
                self._run_job_error(job.id, exc, exc.__traceback__)
            else:
                self._run_job_success(job.id, f.result())

        self.pool.submit(run).add_done_callback(done)


class TrackerScheduler(BackgroundScheduler):
    """APScheduler's background scheduler that processes jobs only while running and
    while `may_run()` says this process holds the lease.

    APScheduler 3.11 also processes due jobs once more after `shutdown()` (and so would a
    paused follower being stopped): it advances the stored next fire times even though its
    executor refuses the jobs, and the leader would never run those fires. And a leader that
    lost its lease without knowing yet must not advance them either.
    """

    may_run: Callable[[], bool] = staticmethod(lambda: True)

    def _process_jobs(self) -> float | None:
        if self.state != STATE_RUNNING:
            return None
        if not self.may_run():
            return 1.0  # look again in a second (the lease loop resumes or pauses us)
        return super()._process_jobs()  # type: ignore[no-any-return]


def build_scheduler(settings: Settings | None = None,
                    runner: FireRunner | None = None) -> TrackerScheduler:
    """An APScheduler over the tracker's database (`settings.database_url`), not started.

    With `settings` None the jobs live in memory (listing schedules, `next_runs`). Jobs are
    added by `register_jobs` once the scheduler is started (paused) and sees its store.
    `runner`: the claim-and-run path jobs go through (default: the jobs' Prefect flows
    with `settings`, a new holder id, the wall clock).
    """
    cls = TrackerScheduler
    defaults = dict(coalesce=True, max_instances=1, misfire_grace_time=None)
    if settings is None:
        scheduler = cls(timezone=SHANGHAI, job_defaults=defaults,
                        jobstores={"default": MemoryJobStore()})
        register_jobs(scheduler, utc_now())
        return scheduler
    from flows.runtime import factory_for

    factory = factory_for(settings.database_url)
    if runner is None:
        runner = FireRunner(factory, new_holder(), prefect_call(settings), utc_now)
    store = SQLAlchemyJobStore(engine=factory.kw["bind"], tablename=SCHEDULER_JOB_TABLE)
    return cls(timezone=SHANGHAI, job_defaults=defaults, jobstores={"default": store},
               executors={"default": ClaimingExecutor(runner)})


def register_jobs(scheduler: BaseScheduler, now: dt.datetime) -> None:
    """Store one job per `flows.registry.JOBS` entry, keeping stored ones as they are.

    A job already stored with the same cron keeps its next fire time, even one in the past:
    that is how a restarted process catches up (once, coalesced). A job whose cron changed
    or that has no next fire time (paused) is replaced (next fire computed from `now`); a
    stored job no longer in the registry is removed. Safe to call from several processes at once.
    """
    stored = {job.id: job for job in scheduler.get_jobs()}
    for job in JOBS.values():
        trigger = CronTrigger.from_crontab(job.cron, timezone=SHANGHAI)
        old = stored.get(job.name)
        if (old is not None and str(old.trigger) == str(trigger) and old.args == (job.name,)
                and old.next_run_time is not None):
            continue
        scheduler.add_job(scheduled, trigger, args=(job.name,), id=job.name, name=job.name,
                          replace_existing=True, next_run_time=trigger.get_next_fire_time(None, now),
                          max_instances=1, coalesce=True, misfire_grace_time=None)
    for stale in stored.keys() - JOBS.keys():
        scheduler.remove_job(stale)


def next_runs(scheduler: BaseScheduler, now: dt.datetime) -> list[tuple[str, dt.datetime]]:
    """(job, next fire time after `now`) for each job, by its trigger."""
    return [(job.id, job.trigger.get_next_fire_time(None, now)) for job in scheduler.get_jobs()]


class ClockDriver:
    """The stored jobs driven by an injected clock instead of APScheduler's wall clock.

    `tick(now)` does what one round of APScheduler's loop does (`BaseScheduler._process_jobs`
    in 3.11) at `now`, run in this thread: renew or take the lease; if leading, for each
    stored job due at `now` (in fire-time order), run its latest due fire once (coalesced)
    through `runner.fire` and store its next fire time. `runner.clock` must return the
    clock the driver was last ticked to (`SimClock`). One difference: APScheduler stores
    the next fire time as soon as its executor has the fire, this runs the fire first, so
    a process killed in mid-round leaves the rest of the round to the next leader's
    catch-up (coalesced) instead of skipping it. Right after taking the lease, it first
    reruns the fires a dead leader left running (`FireRunner.rerun_abandoned`).
    """

    def __init__(self, settings: Settings, runner: FireRunner, clock: SimClock,
                 ttl: dt.timedelta = LEASE_TTL) -> None:
        self.runner, self.clock, self.ttl = runner, clock, ttl
        self.leading = False
        self.scheduler = build_scheduler(settings, runner)
        self.scheduler.start(paused=True)  # opens the job store; never resumed
        register_jobs(self.scheduler, clock())
        self.store = self.scheduler._lookup_jobstore("default")

    def tick(self, now: dt.datetime) -> list[FireOutcome]:
        """Advance the clock to `now` (aware) and run what is due; the fires this process ran
        or tried (empty if it does not lead)."""
        self.clock.now = now
        with transaction(self.runner.factory) as session:
            leading = acquire(session, self.runner.holder, now, ttl=self.ttl,
                              name=self.runner.lease)
        was_leading, self.leading = self.leading, leading
        if not leading:
            return []
        out = [] if was_leading else self.runner.rerun_abandoned()
        for job in sorted(self.store.get_due_jobs(now), key=lambda j: (j.next_run_time, j.id)):
            run_times = job._get_run_times(now)
            if not run_times:
                continue
            out.append(self.runner.fire(job.id, run_times[-1]))
            following = job.trigger.get_next_fire_time(run_times[-1], now)
            if following is None:
                self.store.remove_job(job.id)
            else:
                job._modify(next_run_time=following)
                self.store.update_job(job)
        return out

    def close(self) -> None:
        self.scheduler.shutdown(wait=False)


class SimClock:
    """An injected clock: `clock()` returns `clock.now` (aware)."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


class LeaderLoop(threading.Thread):
    """Renews the lease every `every` and resumes the scheduler while leading, pauses it
    otherwise (also when the database cannot be reached: the claim would fail anyway)."""

    def __init__(self, scheduler: BaseScheduler, runner: FireRunner, *,
                 ttl: dt.timedelta = LEASE_TTL, every: dt.timedelta = RENEW_EVERY,
                 on_change: Callable[[bool], None] | None = None) -> None:
        super().__init__(name="tracker-scheduler-lease", daemon=True)
        self.scheduler, self.runner, self.ttl, self.every = scheduler, runner, ttl, every
        self.on_change = on_change
        self.leading: bool | None = None  # unknown until the first step
        self.valid_until = 0.0  # time.monotonic() until which our last renewal holds
        self._next_prune = 0.0  # time.monotonic() of the next hourly prune of old claims
        self._stop_event = threading.Event()
        if isinstance(scheduler, TrackerScheduler):
            scheduler.may_run = self.may_run

    def may_run(self) -> bool:
        """True while this process leads and its last renewal has not run out (by this
        machine's monotonic clock, counted from before the renewal was sent)."""
        return bool(self.leading) and time.monotonic() < self.valid_until

    def step(self) -> bool:
        """One renewal: take or renew the lease, resume or pause; True if leading."""
        started = time.monotonic()
        try:
            with transaction(self.runner.factory) as session:
                leading = acquire(session, self.runner.holder, self.runner.clock(),
                                  ttl=self.ttl, name=self.runner.lease)
        except SQLAlchemyError:
            log.exception("scheduler lease renewal failed")
            leading = False
        if leading:
            self.valid_until = started + self.ttl.total_seconds()
            if started >= self._next_prune:
                self._next_prune = started + 3600
                try:
                    with transaction(self.runner.factory) as session:
                        prune_fires(session, self.runner.clock())
                except SQLAlchemyError:
                    log.exception("pruning old fire claims failed")
        if leading != self.leading:
            stopping = self.scheduler.state == STATE_STOPPED  # `stop_scheduler` under way
            if leading:
                log.info("本进程（%s）成为定时任务调度主节点", self.runner.holder)
                if not stopping:
                    self._rerun_abandoned()
                    self.scheduler.resume()
            elif self.leading is not None:
                log.info("本进程（%s）不再是定时任务调度主节点，暂停运行定时任务",
                            self.runner.holder)
                if not stopping:
                    self.scheduler.pause()
            self.leading = leading
            if self.on_change:
                self.on_change(leading)
        return leading

    def _rerun_abandoned(self) -> None:
        """`runner.rerun_abandoned` in a thread of its own (a job can outlast the lease,
        which this loop must renew): the executor's pool, so that `stop_scheduler` gives it
        the same grace as any job."""
        executor = self.scheduler._executors.get("default")
        if isinstance(executor, ClaimingExecutor):
            try:
                executor.pool.submit(self.runner.rerun_abandoned)
            except RuntimeError:  # stopped meanwhile: the next leader reruns them
                pass
            return
        threading.Thread(target=self.runner.rerun_abandoned, daemon=True,
                         name="tracker-scheduler-rerun").start()

    def run(self) -> None:
        while True:
            self.step()
            if self._stop_event.wait(self.every.total_seconds()):
                return

    def stop(self) -> None:
        """Stop renewing and release the lease if held (a follower takes over at once)."""
        self._stop_event.set()
        if self.is_alive():
            self.join(timeout=10)
        if self.leading:
            if self.scheduler.state != STATE_STOPPED:
                self.scheduler.pause()
            try:
                with transaction(self.runner.factory) as session:
                    release(session, self.runner.holder, self.runner.clock(),
                            name=self.runner.lease)
            except SQLAlchemyError:
                log.exception("scheduler lease release failed")
            self.leading = False


def start_scheduler(settings: Settings, *, runner: FireRunner | None = None,
                    ttl: dt.timedelta = LEASE_TTL, every: dt.timedelta = RENEW_EVERY,
                    on_change: Callable[[bool], None] | None = None,
                    ) -> tuple[BaseScheduler, LeaderLoop]:
    """Start the database-backed scheduler (a BackgroundScheduler) paused, register the
    jobs and start the lease loop, which resumes the scheduler while this process leads
    (`on_change(leading)` is told of each change). Stop with `stop_scheduler`.
    """
    scheduler = build_scheduler(settings, runner)
    executor = scheduler._lookup_executor("default")
    assert isinstance(executor, ClaimingExecutor)
    scheduler.start(paused=True)
    register_jobs(scheduler, executor.runner.clock())
    loop = LeaderLoop(scheduler, executor.runner, ttl=ttl, every=every, on_change=on_change)
    loop.start()
    return scheduler, loop


def stop_scheduler(scheduler: BaseScheduler, loop: LeaderLoop, grace: float = STOP_GRACE) -> None:
    """Stop the scheduler, give a job under way up to `grace` seconds to finish, then stop
    renewing and release the lease (if held): a follower takes over at its next renewal.

    A job still running after `grace` is left to the process's exit (`DaemonPool`): its
    open transaction rolls back, and the next leader runs its fire again (the jobs are
    idempotent and commit step by step). The lease is held during `grace`: a job that
    finishes in time is not run again by the follower.
    """
    executor = scheduler._lookup_executor("default")
    scheduler.shutdown(wait=False)  # no new fires
    if isinstance(executor, ClaimingExecutor) and not executor.pool.join(grace):
        log.warning("%d 个定时任务在 %.0f 秒内未结束，随进程退出而中止（未提交的数据库事务回滚）；"
                    "下一主节点将重新运行", executor.pool.running(), grace)
    loop.stop()


def serve_settings(settings: Settings, host: str, port: int) -> Settings:
    """`settings` for `tracker serve`: links point at this server unless TRACKER_BASE_URL is set."""
    if "base_url" in settings.model_fields_set:
        return settings
    return settings.model_copy(update={"base_url": f"http://{host}:{port}"})


def run_forever(console: Console, settings: Settings, host: str = "127.0.0.1", port: int = 8000,
                web: bool = True, jobs: bool = True,
                clock: Callable[[], dt.datetime] | None = None, browsing: bool = False) -> None:
    """The embedded deployment: the web app (uvicorn) with the scheduler in the background.

    Call it inside `prefect_context(settings)`; links point at `settings.base_url` (see
    `serve_settings`). Several processes may run on one database: only the lease holder
    runs jobs, another takes over within a minute when it dies. `jobs=False` (`tracker
    serve --no-scheduler`): the pages only, the jobs run on Prefect workers (`tracker deploy`).
    `browsing=True` (`tracker serve --as-of`): no jobs will ever send what the pages queue,
    and the pages say so.
    """
    from tracker.ops.logs import configure_logging, uvicorn_log_config

    configure_logging(settings)
    scheduler = loop = None
    if jobs:
        for name, when in next_runs(build_scheduler(), dt.datetime.now(SHANGHAI)):
            console.print(f"{name}: 下次运行 {when:%Y-%m-%d %H:%M %Z}")

        def announce(leading: bool) -> None:
            console.print("本进程为定时任务调度主节点，定时任务在本进程运行" if leading else
                          "另一进程为定时任务调度主节点，本进程待命（主节点停止后一分钟内自动接替）")

        scheduler, loop = start_scheduler(settings, on_change=announce)
    elif clock is None:
        console.print("本进程不运行定时任务（--no-scheduler）：定时任务由 Prefect worker 执行"
                      "（tracker deploy、tracker worker）")
    if not web:
        stop = threading.Event()
        try:
            stop.wait()
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            if scheduler is not None and loop is not None:
                stop_scheduler(scheduler, loop)
        return
    import uvicorn

    from flows.runtime import factory_for
    from tracker.web.app import create_app

    app = (create_app(factory_for(settings.database_url), settings) if clock is None
           else create_app(factory_for(settings.database_url), settings, clock, browsing=browsing))
    console.print(f"网页：http://{host}:{port}/（联络员通过通知邮件中的专用链接进入）")
    console.print(f"通知中的链接地址：{settings.base_url}")
    if settings.env != "production":
        from flows.runtime import redirect_notice

        console.print(redirect_notice(settings))
    elif settings.channel.value == "email":
        console.print(f"通知渠道：邮件，经 SMTP {settings.smtp_host}:{settings.smtp_port}"
                      "（无邮件服务器时可设 TRACKER_CHANNEL=file 写入 .eml 文件）")
    else:
        console.print(f"通知渠道：文件，写入 {settings.outbox_dir}")
    try:
        # proxy_headers=False: the client address comes only from TRACKER_TRUSTED_PROXY_HEADER
        # sent by TRACKER_TRUSTED_PROXIES (tracker.web.staff.client_address), never from
        # uvicorn's own reading of X-Forwarded-For
        uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=False,
                    log_config=uvicorn_log_config(settings))
    finally:
        if scheduler is not None and loop is not None:
            stop_scheduler(scheduler, loop)
