"""Every Prefect flow, run twice for the same moment, sends nothing twice and changes nothing."""

from __future__ import annotations

import hashlib

import pytest
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
from sqlalchemy import select

from flows.runtime import prefect_context
from flows.tracker_flows import (
    annual_checkpoint_flow,
    dispatch_flow,
    overdue_sweep_flow,
    progress_request_flow,
)
from tests import smtp_server
from tests.conftest import at
from tracker.db import transaction
from tracker.models import Base, ProgressRequest
from tracker.requests.reports import ReportInput, record_reports
from tracker.settings import Settings


@pytest.fixture
def env(tmp_path, db_url):  # type: ignore[no-untyped-def]
    """(settings, SMTP recorder): the flows' settings, passed to them explicitly."""
    controller, recorder = smtp_server.start()
    settings = Settings(home=tmp_path, database_url=db_url, smtp_port=controller.port,
                        channel="email", env="production")
    with prefect_context(settings), \
            temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield settings, recorder
    controller.stop()


def snapshot(db) -> str:  # type: ignore[no-untyped-def]
    """A digest of every row of every table."""
    h = hashlib.sha256()
    with db() as s:
        for table in Base.metadata.sorted_tables:
            order = [c for c in table.primary_key.columns]
            for row in s.execute(select(table).order_by(*order)):
                h.update(repr(tuple(row)).encode())
    return h.hexdigest()


def twice(db, recorder, flow, **kwargs):  # type: ignore[no-untyped-def]
    first = flow(**kwargs)
    before, sent = snapshot(db), len(recorder.messages)
    second = flow(**kwargs)
    assert snapshot(db) == before, f"{flow.name} changed the database on its second run"
    assert len(recorder.messages) == sent, f"{flow.name} sent again"
    return first, second


def test_every_flow_is_idempotent(db, plan, env):
    settings, recorder = env

    def run(flow, day, hour=9, **kw):  # type: ignore[no-untyped-def]
        return twice(db, recorder, flow, now=at(day, hour).isoformat(), settings=settings, **kw)

    first, second = run(progress_request_flow, "2017-03-17")
    assert (first["opened"], second["opened"]) == (798, 0)
    first, second = run(dispatch_flow, "2017-03-17", 10)
    assert (first["sent"], second["sent"]) == (798, 0)
    assert len(recorder.messages) == 52
    with db() as s:
        ids = s.scalars(select(ProgressRequest.id).order_by(ProgressRequest.id)).all()
    with transaction(db) as s:
        record_reports(s, [ReportInput(request_id=i, status="in_progress", percent=20,
                                       narrative="推进", next_steps="继续") for i in ids[10:]],
                       submitted_by="t", now=at("2017-04-07"))
    first, second = run(overdue_sweep_flow, "2017-04-17")
    assert first["ladder"]["fired"] == {1: 10, 2: 10, 3: 0}
    assert second["ladder"]["fired"] == {1: 0, 2: 0, 3: 0}
    run(dispatch_flow, "2017-04-17", 10)
    first, _ = run(overdue_sweep_flow, "2017-11-15")
    assert first["meetings"]["warnings"] == 17 * 2
    run(dispatch_flow, "2017-11-15", 10)
    first, second = run(annual_checkpoint_flow, "2018-02-11")
    assert first[0]["written"] is True and second[0]["written"] is False
    assert first[0]["path"].endswith("scorecard-2017-tianjin-disability-2016-2020.xlsx")
