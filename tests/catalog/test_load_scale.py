"""Issue 14, item 1: the catalog load has no statement whose size grows with the catalog.

A generated plan of 400 measures × 10 agencies (4,000 assignments, 69 agencies) loads and
reloads with changes on an engine whose every statement is recorded: on SQLite its
connections allow 50 bound variables and an expression depth of 50 (a statement binding
one parameter per measure, agency or assignment fails there), and on both databases no
statement, nor one parameter set of an executemany, binds more than 50 parameters.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3

import pytest
from sqlalchemy import event, func, select

from tests.conftest import at
from tracker.catalog.load import catalog_digest, load_catalog
from tracker.catalog.schema import (
    Agency,
    Catalog,
    Indicator,
    Measure,
    PlanInfo,
    dump_catalog,
    validate_catalog_text,
)
from tracker.db import make_engine, session_factory, transaction
from tracker.enums import AgencyKind, IndicatorAttribute, Role
from tracker.models import Agency as AgencyRow
from tracker.models import Assignment, AuditEvent, DirectoryReview
from tracker.models import Measure as MeasureRow

LIMIT = 50
CITY = [f"市第{i + 1:02d}局" for i in range(60)]  # of one length: no look-alikes
DISTRICTS = [f"{c}区人民政府" for c in "和东西南北红津滨"]  # 8 district governments
MEASURES = 400


def generated(*, districts: list[str] = DISTRICTS, swapped: bool = False,
              extra_co: str | None = None) -> Catalog:
    """400 measures, each with a lead and a co-responsible agency of 60 city agencies and
    every district (the even ones by `districts: true`, the odd ones naming them):
    10 assignments each. `swapped`: lead and co change places on every fourth measure;
    `extra_co`: a new agency joins measure 5 as co-responsible."""
    agencies = [Agency(name=n, kind=AgencyKind.CITY_AGENCY) for n in [*CITY, "市政府督查室"]]
    agencies += [Agency(name=d, kind=AgencyKind.DISTRICT_GOVERNMENT) for d in districts]
    if extra_co:
        agencies.append(Agency(name=extra_co, kind=AgencyKind.CITY_AGENCY))
    measures = []
    for i in range(MEASURES):
        lead, co = CITY[i % 60], CITY[(i + 1) % 60]
        if swapped and i % 4 == 0:
            lead, co = co, lead
        measures.append(Measure(
            code=f"{i // 20 + 1}.{i % 20 + 1}", section=f"第{i // 20 + 1}部分",
            title=f"任务{i + 1}", text=f"任务{i + 1}的内容。", lead=lead,
            co=[co, extra_co] if extra_co and i == 5 else [co], districts=i % 2 == 0,
            district_names=[] if i % 2 == 0 else list(districts)))
    return Catalog(
        plan=PlanInfo(id="generated-400", title="生成的行动方案", issuer="某市人民政府办公厅",
                      issued=dt.date(2017, 1, 5), period=(2017, 2018), government="某市人民政府",
                      districts=list(districts), supervision_office="市政府督查室"),
        agencies=agencies, measures=measures,
        indicators=[Indicator(code="I1", name="指标一", target=90, comparator=">=", unit="%",
                              attribute=IndicatorAttribute.EXPECTED, measures=["1.1"],
                              owner=CITY[0])])


@pytest.fixture
def recorded(db_url):  # type: ignore[no-untyped-def]
    """A session factory on the test's database recording the largest number of bound
    parameters of any statement (or of one row of an executemany); on SQLite its
    connections also allow only 50 variables and an expression depth of 50."""
    engine = make_engine(db_url)
    engine.dialect.insertmanyvalues_max_parameters = LIMIT
    most = {"params": 0}
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _limits(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            dbapi_conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, LIMIT)
            dbapi_conn.setlimit(sqlite3.SQLITE_LIMIT_EXPR_DEPTH, LIMIT)

    @event.listens_for(engine, "before_cursor_execute")
    def _count(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        many = executemany and isinstance(parameters, (list, tuple))
        one = (parameters[0] if parameters else ()) if many else parameters
        most["params"] = max(most["params"], len(one or ()))

    yield session_factory(engine), most
    engine.dispose()


def _state(s) -> dict[tuple[str, str], tuple[Role, int, bool]]:  # type: ignore[no-untyped-def]
    rows = s.execute(select(MeasureRow.code, AgencyRow.name, Assignment.role,
                            Assignment.position, Assignment.active)
                     .join(MeasureRow, MeasureRow.id == Assignment.measure_id)
                     .join(AgencyRow, AgencyRow.id == Assignment.agency_id)).all()
    return {(c, a): (r, p, act) for c, a, r, p, act in rows}


def test_a_catalog_larger_than_the_limits_loads_and_reloads(db, recorded):
    factory, most = recorded
    with transaction(factory) as s:
        if s.get_bind().dialect.name == "sqlite":  # the limit is in force
            raw = s.connection().connection.dbapi_connection
            assert raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) == LIMIT
        first = load_catalog(s, generated(), at("2017-01-05"))
    assert first.changes == {"plan_created": 1, "agencies_created": 69,
                             "measures_created": 400, "assignments_created": 4000,
                             "indicators_created": 1}
    with db() as s:
        assert s.scalar(select(func.count()).select_from(MeasureRow)) == 400
        assert s.scalar(select(func.count()).select_from(AgencyRow)) == 69
        assert s.scalar(select(func.count()).select_from(Assignment)
                        .where(Assignment.active.is_(True))) == 4000
        state = _state(s)
    assert len(state) == 4000
    assert state[("1.1", CITY[0])] == (Role.LEAD, 0, True)
    assert state[("1.1", CITY[1])] == (Role.CO, 1, True)
    assert state[("1.1", "和区人民政府")] == (Role.DISTRICT, 2, True)  # shared by all districts
    assert state[("1.2", "滨区人民政府")] == (Role.DISTRICT, 9, True)  # named
    with transaction(factory) as s:  # the same catalog again: nothing changes
        assert not load_catalog(s, generated(), at("2017-01-06")).changed

    # the first district dropped (the others move up one place), lead and co swapped on
    # every fourth measure, a new agency co-responsible for one measure
    changed = validate_catalog_text(dump_catalog(generated(
        districts=DISTRICTS[1:], swapped=True, extra_co="市新设局")))
    with transaction(factory) as s:
        second = load_catalog(s, changed, at("2017-02-01"))
    assert second.changes == {"plan_updated": 1, "agencies_created": 1,
                              # 7 districts moved up on each measure but 1.6 (the new
                              # co-responsible keeps them in place), 2 swapped on 100
                              "assignments_created": 1, "assignments_updated": 399 * 7 + 200,
                              "assignments_deactivated": 400, "reviews_created": 1}
    with db() as s:
        assert s.scalar(select(func.count()).select_from(Assignment)) == 4001
        assert s.scalar(select(func.count()).select_from(Assignment)
                        .where(Assignment.active.is_(True))) == 3601
        assert s.scalar(select(func.count()).select_from(AgencyRow)) == 70  # kept, unused
        assert s.scalars(select(DirectoryReview.phrase)).all() == ["市新设局"]
        state = _state(s)
        details = s.scalars(select(AuditEvent.detail).order_by(AuditEvent.id)).all()
    assert state[("1.1", CITY[0])] == (Role.CO, 1, True)  # swapped
    assert state[("1.1", CITY[1])] == (Role.LEAD, 0, True)
    assert state[("1.2", CITY[1])] == (Role.LEAD, 0, True)  # not swapped
    assert state[("1.1", "和区人民政府")] == (Role.DISTRICT, 2, False)  # dropped
    assert state[("1.1", "东区人民政府")] == (Role.DISTRICT, 2, True)  # moved up
    assert state[("1.2", "滨区人民政府")] == (Role.DISTRICT, 8, True)
    assert state[("1.6", "市新设局")] == (Role.CO, 2, True)
    assert state[("1.6", "东区人民政府")] == (Role.DISTRICT, 3, True)  # after the new co
    assert [d["assignments_deactivated"] for d in details[1:]] == [400]
    assert most["params"] <= LIMIT, most


@pytest.mark.sqlite_only
def test_the_same_loads_fail_with_a_bound_list_under_the_limit(recorded):
    """The guard is real: a statement binding one parameter per measure code fails on
    the limited connections."""
    factory, _ = recorded
    codes = [f"c{i}" for i in range(LIMIT + 1)]
    with factory() as s, pytest.raises(Exception, match="too many SQL variables"):
        s.execute(select(MeasureRow.id).where(MeasureRow.code.in_(codes))).all()



def test_the_digest_is_that_of_the_catalog_as_written(catalog):
    """An unchanged reload is found by the digest of the catalog as `dump_catalog` writes
    it: the fast serialiser gives the same bytes (plans loaded before keep matching)."""
    for c in (catalog, generated(), generated(districts=DISTRICTS[1:], swapped=True,
                                             extra_co="市新设局")):
        assert catalog_digest(c) == hashlib.sha256(dump_catalog(c).encode()).hexdigest()
