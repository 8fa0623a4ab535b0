"""The embedded scheduler registers every job of the registry on its Asia/Shanghai cron."""

from __future__ import annotations

import datetime as dt

from flows.scheduler import build_scheduler, scheduled
from tracker.dates.workdays import SHANGHAI


def test_jobs_registered_with_their_triggers():
    scheduler = build_scheduler()
    jobs = {j.id: j for j in scheduler.get_jobs()}
    assert set(jobs) == {"progress_requests", "overdue_sweep", "dispatch", "annual_checkpoint"}
    assert jobs["dispatch"].func is scheduled and jobs["dispatch"].args == ("dispatch",)
    after = dt.datetime(2017, 4, 10, 8, 10, tzinfo=SHANGHAI)
    fire = jobs["overdue_sweep"].trigger.get_next_fire_time(None, after)
    assert fire == dt.datetime(2017, 4, 10, 8, 30, tzinfo=SHANGHAI)
    fire = jobs["progress_requests"].trigger.get_next_fire_time(None, after)
    assert fire == dt.datetime(2017, 4, 11, 8, 0, tzinfo=SHANGHAI)
    assert all(j.max_instances == 1 and j.coalesce and j.misfire_grace_time is None
               for j in jobs.values())


def test_serve_prints_next_runs_before_starting():
    from flows.scheduler import next_runs

    now = dt.datetime(2017, 4, 10, 8, 11, tzinfo=SHANGHAI)
    runs = dict(next_runs(build_scheduler(), now))
    assert runs["dispatch"] == dt.datetime(2017, 4, 10, 8, 15, tzinfo=SHANGHAI)
    assert runs["annual_checkpoint"] == dt.datetime(2017, 4, 10, 9, 0, tzinfo=SHANGHAI)
