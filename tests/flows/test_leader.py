"""The scheduler's lease and fire claims, with an injected clock, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

from flows.leader import (
    DONE,
    FAILED,
    FireRunner,
    acquire,
    claim_fire,
    current_lease,
    doctor_checks,
    finish_fire,
    prune_fires,
    release,
)
from flows.runtime import factory_for
from flows.scheduler import ClockDriver, SimClock
from tracker.dates.workdays import SHANGHAI
from tracker.db import transaction
from tracker.models import JobFire
from tracker.settings import Settings

T0 = dt.datetime(2017, 4, 10, 8, 0, tzinfo=SHANGHAI)


def s(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def test_a_follower_takes_over_within_a_minute_of_a_kill(db_url):
    """A renews every 5 s (TTL 30 s) and is killed after its renewal at +10 s: B, trying
    every 5 s, is refused until the lease runs out at +40 s and takes it then (30 s after
    A's death). A, back from the dead, is refused and must step down."""
    factory = factory_for(db_url)

    def try_(holder: str, at: dt.datetime) -> bool:
        with transaction(factory) as session:
            return acquire(session, holder, at)

    assert [try_("A", s(t)) for t in (0, 5, 10)] == [True, True, True]
    assert [try_("B", s(t)) for t in (15, 20, 25, 30, 35)] == [False] * 5
    assert try_("B", s(40)) is True
    with factory() as session:
        lease = current_lease(session)
        assert lease is not None
        assert (lease.holder, lease.acquired_at, lease.expires_at) == ("B", s(40), s(70))
    assert try_("A", s(45)) is False
    assert try_("B", s(45)) is True
    with factory() as session:
        lease = current_lease(session)
        assert lease is not None
        assert (lease.holder, lease.acquired_at, lease.renewed_at) == ("B", s(40), s(45))


def test_a_released_lease_is_taken_at_once(db_url):
    factory = factory_for(db_url)
    with transaction(factory) as session:
        assert acquire(session, "A", s(0))
    with transaction(factory) as session:
        assert release(session, "A", s(3)) is True
        assert release(session, "B", s(3)) is False
    with transaction(factory) as session:
        assert acquire(session, "B", s(4)) is True


def test_a_fire_is_claimed_once_and_only_by_the_leader(db_url):
    factory = factory_for(db_url)
    fire = dt.datetime(2017, 4, 10, 8, 30, tzinfo=SHANGHAI)
    with transaction(factory) as session:
        assert acquire(session, "A", s(0))
        assert claim_fire(session, "overdue_sweep", fire, "B", s(1)) is False  # B does not lead
        assert claim_fire(session, "overdue_sweep", fire, "A", s(1)) is True
        assert claim_fire(session, "overdue_sweep", fire, "A", s(2)) is False  # once
        assert claim_fire(session, "overdue_sweep", fire, "A", s(31)) is False  # lease ran out
    with transaction(factory) as session:
        assert acquire(session, "B", s(40))
        # the hand-over: B sees A's claim of the same fire and does not run it again
        assert claim_fire(session, "overdue_sweep", fire, "B", s(41)) is False
        assert claim_fire(session, "dispatch", fire, "B", s(41)) is True
    with factory() as session:
        rows = session.query(JobFire.job, JobFire.holder, JobFire.status, JobFire.now_at).order_by(
            JobFire.job).all()
    assert [tuple(r) for r in rows] == [("dispatch", "B", "running", s(41)),
                                        ("overdue_sweep", "A", "running", s(1))]


def test_runner_records_done_and_failed_fires(db_url):
    factory = factory_for(db_url)
    clock = SimClock(s(0))

    def call(job: str, now: dt.datetime) -> dict[str, str]:
        if job == "dispatch":
            raise RuntimeError("SMTP 不可用")
        return {"as_of": now.isoformat()}

    runner = FireRunner(factory, "A", call, clock)
    with transaction(factory) as session:
        acquire(session, "A", s(0))
    fire = dt.datetime(2017, 4, 10, 8, 0, tzinfo=SHANGHAI)
    ok = runner.fire("progress_requests", fire)
    assert (ok.ran, ok.status, ok.summary) == (True, DONE, {"as_of": s(0).isoformat()})
    bad = runner.fire("dispatch", fire)
    assert (bad.ran, bad.status) == (True, FAILED)
    assert runner.fire("progress_requests", fire).ran is False
    with factory() as session:
        rows = {j.job: (j.status, j.summary, j.error, j.finished_at)
                for j in session.query(JobFire)}
    assert rows == {"progress_requests": (DONE, {"as_of": s(0).isoformat()}, None, s(0)),
                    "dispatch": (FAILED, None, "RuntimeError: SMTP 不可用", s(0))}


def test_doctor_reports_leader_staleness_and_failures(db_url, tmp_path):
    settings = Settings(home=tmp_path, database_url=db_url)
    assert doctor_checks(settings, s(0)) == [
        ("warn", "尚无定时任务调度主节点：tracker serve 尚未在本数据库上运行过，定时任务不会自动执行")]
    clock = SimClock(s(0))
    calls: list[tuple[str, dt.datetime]] = []

    def call(job: str, now: dt.datetime) -> None:
        calls.append((job, now))
        if job == "dispatch":
            raise RuntimeError("boom")

    factory = factory_for(db_url)
    d = ClockDriver(settings, FireRunner(factory, "host-1:42:abc", call, clock), clock)
    try:
        d.tick(dt.datetime(2017, 4, 10, 8, 0, tzinfo=SHANGHAI))  # dispatch 08:00 fails
    finally:
        d.close()
    now = dt.datetime(2017, 4, 10, 8, 0, 10, tzinfo=SHANGHAI)
    assert doctor_checks(settings, now) == [
        ("ok", "定时任务调度主节点：host-1:42:abc，自 2017-04-10 08:00:00 起（北京时间），"
               "租约有效至 2017-04-10 08:00:30"),
        ("warn", "定时任务 dispatch 最近 24 小时有 1 次运行失败，详见 job_fire 表的 error 字段和运行日志"),
    ]
    later = dt.datetime(2017, 4, 10, 8, 2, tzinfo=SHANGHAI)
    assert doctor_checks(settings, later)[0] == (
        "error", "定时任务调度租约已过期 90 秒（上一主节点 host-1:42:abc，最后续约于 "
                 "2017-04-10 08:00:00）：当前没有进程运行定时任务，请检查 tracker serve 是否在运行")


def test_claims_older_than_30_days_are_pruned(db_url):
    factory = factory_for(db_url)
    old = dt.datetime(2017, 3, 10, 8, 0, tzinfo=SHANGHAI)
    recent = dt.datetime(2017, 3, 11, 8, 0, tzinfo=SHANGHAI)
    with transaction(factory) as session:
        acquire(session, "A", s(0))
        assert claim_fire(session, "progress_requests", old, "A", s(0))
        assert claim_fire(session, "progress_requests", recent, "A", s(0))
    with transaction(factory) as session:
        assert prune_fires(session, dt.datetime(2017, 4, 10, 7, 30, tzinfo=SHANGHAI)) == 1
    with factory() as session:
        assert [f.fire_at for f in session.query(JobFire)] == [recent]


def test_a_new_leader_reruns_the_fire_a_killed_leader_left_running(db_url):
    """A claimed the 08:30 sweep and died in the middle of it (its claim stays `running`);
    B, once leading, runs that fire again, once, as of its own clock. An older unfinished
    claim (not the job's latest) and a finished one are left alone."""
    factory = factory_for(db_url)
    sweep = dt.datetime(2017, 4, 10, 8, 30, tzinfo=SHANGHAI)
    with transaction(factory) as session:
        assert acquire(session, "A", s(0))
        assert claim_fire(session, "overdue_sweep", sweep - dt.timedelta(days=1), "A", s(0))
        assert claim_fire(session, "overdue_sweep", sweep, "A", s(0))
        assert claim_fire(session, "progress_requests", sweep, "A", s(0))
        finish_fire(session, "progress_requests", sweep, status=DONE, finished_at=s(1))
    calls: list[tuple[str, dt.datetime]] = []
    clock = SimClock(s(40))
    b = FireRunner(factory, "B", lambda job, now: calls.append((job, now)), clock)
    assert b.rerun_abandoned() == []  # B does not lead yet
    with transaction(factory) as session:
        assert acquire(session, "B", s(40))
    again = b.rerun_abandoned()
    assert [(o.job, o.fire_at, o.status) for o in again] == [("overdue_sweep", sweep, DONE)]
    assert calls == [("overdue_sweep", s(40))]
    assert b.rerun_abandoned() == []
    with factory() as session:
        rows = sorted((f.job, f.fire_at, f.holder, f.status)
                      for f in session.query(JobFire))
    assert rows == [("overdue_sweep", sweep - dt.timedelta(days=1), "A", "running"),
                    ("overdue_sweep", sweep, "B", DONE),
                    ("progress_requests", sweep, "A", DONE)]


def test_doctor_on_a_database_without_the_scheduler_tables(tmp_path):
    settings = Settings(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'empty.db'}")
    assert doctor_checks(settings, s(0)) == []  # the database check reports the missing schema


def test_doctor_warns_of_a_job_with_no_upcoming_run(db_url, tmp_path):
    from sqlalchemy import delete, update

    from tracker.models import scheduler_job

    settings = Settings(home=tmp_path, database_url=db_url)
    clock = SimClock(s(0))
    d = ClockDriver(settings, FireRunner(factory_for(db_url), "A", lambda j, n: None, clock), clock)
    d.tick(s(1))
    d.close()
    with transaction(factory_for(db_url)) as session:
        session.execute(delete(scheduler_job).where(scheduler_job.c.id == "dispatch"))
        session.execute(update(scheduler_job).where(scheduler_job.c.id == "overdue_sweep")
                        .values(next_run_time=None))  # paused
    assert doctor_checks(settings, s(2))[1:] == [
        ("warn", "以下定时任务没有下次运行时间（未登记或已暂停）：overdue_sweep、dispatch；"
                 "重启 tracker serve 可重新登记")]
