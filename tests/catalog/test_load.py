"""Loading the catalog: idempotent, and a changed catalog updates in place keeping history."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from tests.conftest import at
from tracker.catalog.load import load_catalog
from tracker.catalog.schema import dump_catalog, validate_catalog_text
from tracker.db import transaction
from tracker.enums import Role
from tracker.models import Agency, Assignment, AuditEvent, Measure, ProgressReport, ProgressRequest
from tracker.requests.opening import open_due_requests
from tracker.requests.reports import ReportInput, record_reports


def _assignments(s) -> dict[tuple[str, str], tuple[str, bool]]:  # type: ignore[no-untyped-def]
    rows = s.execute(select(Measure.code, Agency.name, Assignment.role, Assignment.active)
                     .join(Measure, Measure.id == Assignment.measure_id)
                     .join(Agency, Agency.id == Assignment.agency_id)).all()
    return {(c, a): (r, act) for c, a, r, act in rows}


def test_load_twice_changes_nothing(db, catalog):
    with transaction(db) as s:
        first = load_catalog(s, catalog, at("2017-01-03"))
    with transaction(db) as s:
        second = load_catalog(s, catalog, at("2017-01-04"))
    assert first.changes["assignments_created"] == 798
    assert first.changes["agencies_created"] == 52
    assert not second.changed
    with db() as s:
        assert s.scalar(select(func.count()).select_from(Assignment)) == 798
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == 1
        roles = _assignments(s)
    assert roles[("2.1.4", "市国土房管局")] == (Role.LEAD, True)
    assert roles[("2.1.4", "市建委")] == (Role.CO, True)
    assert roles[("2.1.4", "蓟州区人民政府")] == (Role.DISTRICT, True)


def test_changed_catalog_updates_in_place_and_keeps_history(db, plan, policy, catalog):
    with transaction(db) as s:
        open_due_requests(s, plan, at("2017-03-17"), policy)
        measure_id = s.scalar(select(Measure.id).where(Measure.code == "2.1.4"))
        asg = s.scalar(select(Assignment.id).join(Agency, Agency.id == Assignment.agency_id)
                       .where(Assignment.measure_id == measure_id, Agency.name == "市建委"))
        rid = s.scalar(select(ProgressRequest.id).where(ProgressRequest.assignment_id == asg))
        record_reports(s, [ReportInput(request_id=rid, status="in_progress", percent=40)],
                       submitted_by="t", now=at("2017-04-01"))
    data = json.loads(dump_catalog(catalog))
    m = next(x for x in data["measures"] if x["code"] == "2.1.4")
    m["co"] = ["市财政局", "市残联", "市民政局"]  # 市建委 dropped, 市民政局 added
    m["title"] = "优先保障残疾人基本住房（修订）"
    changed = validate_catalog_text(json.dumps(data, ensure_ascii=False))
    with transaction(db) as s:
        result = load_catalog(s, changed, at("2017-05-01"))
    assert result.changes == {"plan_updated": 1, "measures_updated": 1,
                              "assignments_created": 1, "assignments_updated": 2,
                              "assignments_deactivated": 1}
    with db() as s:
        roles = _assignments(s)
        assert roles[("2.1.4", "市建委")] == (Role.CO, False)
        assert roles[("2.1.4", "市民政局")] == (Role.CO, True)
        assert s.scalar(select(Measure.id).where(Measure.code == "2.1.4")) == measure_id
        assert s.scalar(select(ProgressReport.percent).where(ProgressReport.request_id == rid)) == 40
    with transaction(db) as s:  # the next period asks only active assignments
        r = open_due_requests(s, plan, at("2017-06-16"), policy)
    assert r.requests_opened == 798


def test_two_loads_of_one_new_plan_at_once_run_one_after_the_other(pg_url, catalog):
    """The second load waits for the first (a lock keyed by the plan id) and then finds the
    plan loaded, unchanged, instead of failing on the plan's unique key."""
    import threading

    from sqlalchemy import text

    from tests.conftest import _engine, _wipe
    from tests.waiting import wait_for
    from tracker.db import session_factory

    engine = _engine(pg_url)
    _wipe(engine)
    factory = session_factory(engine)
    results: list[object] = []
    first = factory()
    first.begin()
    load_catalog(first, catalog, at("2017-01-03"))  # holds the lock, not yet committed

    def second() -> None:
        try:
            with transaction(factory) as s:
                results.append(load_catalog(s, catalog, at("2017-01-03")))
        except Exception as exc:  # noqa: BLE001 - the assertion below shows it
            results.append(exc)

    thread = threading.Thread(target=second)
    thread.start()
    with engine.connect() as watch:  # the second load waits on a lock, not on the first's rows
        wait_for("the second load to wait on the plan's lock", lambda: watch.execute(text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")).scalar())
    first.commit()
    first.close()
    thread.join(timeout=120)
    assert len(results) == 1 and not isinstance(results[0], Exception), results
    assert not results[0].changed  # type: ignore[attr-defined]
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Assignment)) == 798
    _wipe(engine)
