"""Leader election and fire claims for the embedded scheduler (issue 9, item 2).

Several `tracker serve` processes may share one database (SQLite file or PostgreSQL). Only
the holder of the `scheduler_lease` row runs jobs: it renews the lease every
`RENEW_EVERY` seconds for `LEASE_TTL` seconds; once the lease has expired (its holder was
killed, lost the database, or stopped), the next process to try takes it over, so a
follower takes over at most `LEASE_TTL + RENEW_EVERY` (35 s) after the leader's last
renewal. A lease is plain rows and conditional UPDATEs: the same SQL on both databases.

Every fire of a job (job name, scheduled fire time) is claimed before it runs by inserting
a `job_fire` row, unique on that pair, and only while the claimer holds an unexpired lease
(one INSERT … SELECT … WHERE EXISTS): a hand-over at the wrong instant (the old leader
still running its loop, the new one catching up) still runs each fire at most once. The
jobs are idempotent besides, so a fire claimed by a process killed mid-run is done again
by the job's next fire.

Every function takes `now` (timezone-aware): the lease's time comes from the caller's clock,
injected in tests. Production uses the wall clock of each machine: keep them in NTP sync
(a skew of a few seconds only shortens or lengthens a take-over by as much).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, delete, exists, func, literal, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from tracker.dates.workdays import SHANGHAI
from tracker.db import transaction
from tracker.models import JobFire, SchedulerLease, scheduler_job
from tracker.models.base import UTCDateTime
from tracker.sql import insert_ignore_from_select, insert_ignore_values

log = logging.getLogger("tracker.scheduler")

LEASE = "scheduler"
LEASE_TTL = dt.timedelta(seconds=30)
RENEW_EVERY = dt.timedelta(seconds=5)

RUNNING, DONE, FAILED = "running", "done", "failed"
KEEP_FIRES = dt.timedelta(days=30)  # dispatch alone claims 288 fires a day


def new_holder() -> str:
    """A holder id for this process: host, pid and a random suffix (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def acquire(session: Session, holder: str, now: dt.datetime, *, ttl: dt.timedelta = LEASE_TTL,
            name: str = LEASE) -> bool:
    """Take or renew lease `name` for `holder` until `now + ttl`; True if `holder` now leads.

    Renewing keeps `acquired_at`; taking over (the lease expired at or before `now`) sets it
    to `now`. A holder whose lease another process took over gets False and must stop
    running jobs. The caller commits.
    """
    until = now + ttl
    if insert_ignore_values(session, SchedulerLease.__table__,  # type: ignore[arg-type]
                            [dict(name=name, holder=holder, acquired_at=now, renewed_at=now,
                                  expires_at=until)]):
        log.info("scheduler lease %s taken by %s (first holder)", name, holder)
        return True
    lease = SchedulerLease.__table__.c
    result = session.execute(
        update(SchedulerLease)
        .where(SchedulerLease.name == name,
               or_(SchedulerLease.holder == holder, SchedulerLease.expires_at <= now))
        .values(holder=holder, renewed_at=now, expires_at=until,
                acquired_at=case((lease.holder == holder, lease.acquired_at),
                                 else_=literal(now, UTCDateTime)))
        .execution_options(synchronize_session=False))
    return result.rowcount == 1  # type: ignore[attr-defined]


def release(session: Session, holder: str, now: dt.datetime, *, name: str = LEASE) -> bool:
    """Let lease `name` expire at `now` if `holder` holds it (a clean stop: a follower takes
    over at its next renewal instead of waiting out the lease). True if it was held."""
    result = session.execute(
        update(SchedulerLease)
        .where(SchedulerLease.name == name, SchedulerLease.holder == holder)
        .values(expires_at=now, renewed_at=now)
        .execution_options(synchronize_session=False))
    return result.rowcount == 1  # type: ignore[attr-defined]


def current_lease(session: Session, name: str = LEASE) -> SchedulerLease | None:
    return session.get(SchedulerLease, name)


def claim_fire(session: Session, job: str, fire_at: dt.datetime, holder: str, now: dt.datetime,
               *, name: str = LEASE) -> bool:
    """Claim fire (`job`, `fire_at`) for `holder`, evaluated at `now`; True if this call won.

    One INSERT … SELECT … WHERE EXISTS (the lease held by `holder`, unexpired at `now`)
    ON CONFLICT DO NOTHING: False when the fire was already claimed (by anyone) or when
    `holder` does not lead at `now`. The caller commits before running the job.
    """
    held = exists().where(SchedulerLease.name == name, SchedulerLease.holder == holder,
                          SchedulerLease.expires_at > now)
    row = select(literal(job), literal(fire_at, UTCDateTime), literal(holder),
                 literal(now, UTCDateTime), literal(RUNNING)).where(held)
    return insert_ignore_from_select(
        session, JobFire.__table__,  # type: ignore[arg-type]
        ["job", "fire_at", "holder", "now_at", "status"], row) == 1


def reclaim_abandoned(session: Session, holder: str, now: dt.datetime, *,
                      name: str = LEASE) -> list[tuple[str, dt.datetime]]:
    """Take over the fires another holder claimed and never finished: (job, fire time) of
    each fire now claimed by `holder` (who must lead at `now`), to be run again.

    Only each job's latest claim counts, and only while still `running` under another
    holder: a leader killed in the middle of a run left it so, and a daily job would
    otherwise wait a day for its next fire. Called by a new leader right after taking the
    lease (the old holder's lease is gone, so it is dead or knows it no longer leads);
    the jobs are idempotent, so a slow old holder finishing as well sends nothing twice.
    """
    latest = (select(JobFire.job, func.max(JobFire.fire_at).label("fire_at"))
              .group_by(JobFire.job).subquery())
    held = exists().where(SchedulerLease.name == name, SchedulerLease.holder == holder,
                          SchedulerLease.expires_at > now)
    stale = session.execute(
        select(JobFire.id, JobFire.job, JobFire.fire_at)
        .join(latest, (latest.c.job == JobFire.job) & (latest.c.fire_at == JobFire.fire_at))
        .where(JobFire.status == RUNNING, JobFire.holder != holder, held)).all()
    if not stale:
        return []
    session.execute(
        update(JobFire).where(JobFire.id.in_([r.id for r in stale]), JobFire.status == RUNNING)
        .values(holder=holder, now_at=now, error=None)
        .execution_options(synchronize_session=False))
    return [(r.job, r.fire_at) for r in stale]


def finish_fire(session: Session, job: str, fire_at: dt.datetime, *, status: str,
                finished_at: dt.datetime, summary: Any = None, error: str | None = None) -> None:
    """Record how a claimed fire ended (`status` done or failed)."""
    session.execute(
        update(JobFire).where(JobFire.job == job, JobFire.fire_at == fire_at)
        .values(status=status, finished_at=finished_at, summary=summary, error=error)
        .execution_options(synchronize_session=False))


def prune_fires(session: Session, now: dt.datetime, keep: dt.timedelta = KEEP_FIRES) -> int:
    """Delete the claims of fires scheduled more than `keep` (calendar time) before `now`;
    the number deleted. Old claims can no longer collide: a catch-up claims the latest
    missed fire only."""
    result = session.execute(delete(JobFire).where(JobFire.fire_at < now - keep)
                             .execution_options(synchronize_session=False))
    return result.rowcount or 0  # type: ignore[attr-defined]


@dataclass
class FireOutcome:
    job: str
    fire_at: dt.datetime
    now: dt.datetime
    ran: bool  # False: claimed by someone else, or this process does not lead
    status: str | None = None
    summary: Any = None


@dataclass
class FireRunner:
    """Claim, run and record one fire: the one path of both the real scheduler (its
    executor) and the test driver with an injected clock (`flows.scheduler.ClockDriver`).

    `call(job_name, now)` does the job's work as of `now` and returns a JSON-able summary
    (production: the job's Prefect flow); `clock()` is now (aware).
    """

    factory: sessionmaker[Session]
    holder: str
    call: Callable[[str, dt.datetime], Any]
    clock: Callable[[], dt.datetime]
    lease: str = LEASE

    def fire(self, job: str, fire_at: dt.datetime) -> FireOutcome:
        """Run `job`'s fire scheduled at `fire_at`, as of `clock()`, if this call claims it.

        A missed stretch reaches here once, with the latest missed fire time (the scheduler
        coalesces), and the job evaluates "as of now". An error in the job is recorded on
        the fire (status failed) and logged, not raised: the next fire runs as usual.
        """
        now = self.clock()
        with transaction(self.factory) as session:
            if not claim_fire(session, job, fire_at, self.holder, now, name=self.lease):
                log.info("fire %s@%s not run: claimed already or not the leader", job,
                         fire_at.isoformat())
                return FireOutcome(job, fire_at, now, ran=False)
        return self._run(job, fire_at, now)


    def rerun_abandoned(self) -> list[FireOutcome]:
        """Run again, as of `clock()`, each job's latest fire left `running` by another
        holder (see `reclaim_abandoned`); call right after taking the lease."""
        now = self.clock()
        with transaction(self.factory) as session:
            fires = reclaim_abandoned(session, self.holder, now, name=self.lease)
        out = []
        for job, fire_at in fires:
            log.warning("定时任务 %s（计划于 %s）由已停止的主节点开始而未完成，现由本进程重新运行",
                        job, fire_at.isoformat())
            out.append(self._run(job, fire_at, now))
        return out

    def _run(self, job: str, fire_at: dt.datetime, now: dt.datetime) -> FireOutcome:
        try:
            summary = _jsonable(self.call(job, now))
        except Exception as exc:  # one failed run must not stop the scheduler
            log.exception("job %s (fire %s) failed", job, fire_at.isoformat())
            with transaction(self.factory) as session:
                finish_fire(session, job, fire_at, status=FAILED, finished_at=self.clock(),
                            error=f"{type(exc).__name__}: {exc}"[:2000])
            return FireOutcome(job, fire_at, now, ran=True, status=FAILED)
        with transaction(self.factory) as session:
            finish_fire(session, job, fire_at, status=DONE, finished_at=self.clock(),
                        summary=summary)
        return FireOutcome(job, fire_at, now, ran=True, status=DONE, summary=summary)


def _jsonable(value: Any) -> Any:
    import json

    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return {"repr": repr(value)[:2000]}


def doctor_checks(settings: Any, now: dt.datetime) -> list[tuple[str, str]]:
    """What `tracker doctor` reports about the scheduler: (level, message in Chinese).

    Levels: ok / warn / error. Reads the lease (who leads, since when, expired?), the job
    store (every job of `flows.registry.JOBS` stored with an upcoming run) and the fires of
    the last 24 hours (failed, or still running an hour after they started). `now` is
    timezone-aware; times are shown in Asia/Shanghai.
    """
    from flows.registry import JOBS
    from tracker.db import make_engine, session_factory

    def bj(t: dt.datetime) -> str:
        return t.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")

    out: list[tuple[str, str]] = []
    engine = make_engine(settings.database_url)  # not migrated here: doctor only reads
    try:
        with session_factory(engine)() as session:
            lease = current_lease(session)
            stored = dict(session.execute(
                select(scheduler_job.c.id, scheduler_job.c.next_run_time)).all())
            since = now - dt.timedelta(hours=24)
            failed = session.execute(
                select(JobFire.job, func.count()).where(JobFire.status == FAILED,
                                                        JobFire.fire_at >= since)
                .group_by(JobFire.job).order_by(JobFire.job)).all()
            stuck = session.execute(
                select(JobFire.job, JobFire.fire_at, JobFire.holder)
                .where(JobFire.status == RUNNING, JobFire.fire_at >= since,
                       JobFire.now_at < now - dt.timedelta(hours=1))
                .order_by(JobFire.fire_at)).all()
    except SQLAlchemyError:
        return []  # unreachable or not migrated: the database's own check says which
    finally:
        engine.dispose()
    from flows.deploy import api_url

    if lease is None and api_url() is not None:
        out.append(("ok", "本数据库未运行内置调度（tracker serve --no-scheduler）："
                          "定时任务由 Prefect 工作池执行"))
    elif lease is None:
        out.append(("warn", "尚无定时任务调度主节点：tracker serve 尚未在本数据库上运行过，"
                            "定时任务不会自动执行"))
    elif lease.expires_at > now and api_url() is not None:
        out.append(("warn", f"tracker serve（{lease.holder}）的内置调度正在运行定时任务，而设置了 "
                            "PREFECT_API_URL：若任务也已用 tracker deploy 部署到 Prefect 工作池，"
                            "每个任务会运行两次；请改用 tracker serve --no-scheduler"))
    elif lease.expires_at > now:
        out.append(("ok", f"定时任务调度主节点：{lease.holder}，自 {bj(lease.acquired_at)} 起"
                          f"（北京时间），租约有效至 {bj(lease.expires_at)}"))
    elif api_url() is not None:
        out.append(("ok", "内置调度未在运行（上次租约已过期）：定时任务由 Prefect 工作池执行"))
        return out
    else:
        stale = int((now - lease.expires_at).total_seconds())
        out.append(("error", f"定时任务调度租约已过期 {stale} 秒（上一主节点 {lease.holder}，"
                             f"最后续约于 {bj(lease.renewed_at)}）：当前没有进程运行定时任务，"
                             "请检查 tracker serve 是否在运行"))
    missing = [name for name in JOBS if stored.get(name) is None]
    if lease is not None and missing:
        out.append(("warn", "以下定时任务没有下次运行时间（未登记或已暂停）："
                            + "、".join(missing) + "；重启 tracker serve 可重新登记"))
    for job, n in failed:
        out.append(("warn", f"定时任务 {job} 最近 24 小时有 {n} 次运行失败，"
                            "详见 job_fire 表的 error 字段和运行日志"))
    for job, fire_at, holder in stuck:
        out.append(("warn", f"定时任务 {job}（计划于 {bj(fire_at)}）由 {holder} 开始后"
                            "超过 1 小时仍未结束，可能随进程中断；下次运行会补做"))
    return out
