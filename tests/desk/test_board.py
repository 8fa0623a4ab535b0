"""The board's heat table and on-time chart follow the board's filter (issue 10, item 5).

The small plan (tests.factories.small_plan) on 23 January 2018, with three periods:
- 2017Q1 (#1-#9, due 2017-04-10): seven answered on time, #6 (市残联, co, 一) late,
  #7 (市残联, lead, 二) still open;
- 2017 (#10, the indicator I1 of 人社局, due 2018-01-22): open;
- 2017Q4 (#11-#19, due 2018-01-08): five on time, #13 (和平区, district, 一) late,
  #11 (人社局, lead, 一), #16 (市残联, co, 一) and #18 (和平区, district, 二) open.
So five requests are red: #7, #10, #11, #16, #18.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import at
from tracker.db import transaction
from tracker.desk.board import (
    BoardFilter,
    agencies_matching,
    board,
    heat_board,
    heat_table,
    on_time_by_period,
)
from tracker.enums import AgencyKind
from tracker.models import (
    Agency,
    Indicator,
    Measure,
    Plan,
    ProgressRequest,
    ReportingPeriod,
)
from tracker.policy import Policy
from tracker.requests.opening import open_due_requests
from tracker.requests.reports import ReportInput, record_reports
from tracker.requests.subjects import with_subject

TODAY = dt.date(2018, 1, 23)
ONE, TWO = "一、促进按比例就业", "二、加强就业服务"
HRSS, CDPF, HEPING = "市人力资源和社会保障局", "市残联", "和平区人民政府"


@pytest.fixture
def year(db: sessionmaker[Session], small: Plan, policy: Policy) -> dict[str, int]:
    """The state above; returns the ids of the agencies named in the tests."""
    with transaction(db) as s:
        open_due_requests(s, small, at("2017-03-17"), policy)
        open_due_requests(s, small, at("2017-12-20"), policy)
    with db() as s:
        rows = s.execute(with_subject(select(ReportingPeriod.label, Agency.name, Measure.code,
                                             Indicator.code, ProgressRequest.id)
                                      .select_from(ProgressRequest))).all()
        agencies = {name: i for name, i in s.execute(select(Agency.name, Agency.id))}
    assert len(rows) == 19
    # numbered as above: the small plan's assignments in catalog order, per quarter
    key = {(p, a, m or i): rid for p, a, m, i, rid in rows}
    order = [("1", HRSS), ("1", "市财政局"), ("1", HEPING), ("1", "河东区人民政府"),
             ("2", "市民政局"), ("2", CDPF), ("3", CDPF), ("3", HEPING), ("3", "河东区人民政府")]
    n = {k + 1: key[("2017Q1", a, m)] for k, (m, a) in enumerate(order)}
    n[10] = key[("2017", HRSS, "I1")]
    n.update({k + 11: key[("2017Q4", a, m)] for k, (m, a) in enumerate(order)})

    def answer(numbers: list[int], day: str) -> None:
        with transaction(db) as s:
            record_reports(s, [ReportInput(request_id=n[i], status="in_progress", percent=20)
                               for i in numbers], submitted_by="t", now=at(day))

    answer([1, 2, 3, 4, 5, 8, 9], "2017-04-07")
    answer([6], "2017-04-20")
    answer([12, 14, 15, 17, 19], "2018-01-05")
    answer([13], "2018-01-15")
    return agencies


def _both(db: sessionmaker[Session], policy: Policy, f: BoardFilter):  # type: ignore[no-untyped-def]
    with db() as s:
        sections, heat = heat_table(s, f, TODAY, policy)
        rates = on_time_by_period(s, f, TODAY, policy)
        red = board(s, f, TODAY, policy).counts.get("red", 0)
    # the heat table counts the board's red rows, whatever the filter
    assert sum(total for _, _, total in heat) == red
    return sections, heat, rates


def test_unfiltered(db, year, policy):
    sections, heat, rates = _both(db, policy, BoardFilter())
    assert sections == [ONE, TWO, "主要指标"]
    assert heat == [(HRSS, {ONE: 1, "主要指标": 1}, 2), (CDPF, {ONE: 1, TWO: 1}, 2),
                    (HEPING, {TWO: 1}, 1)]
    assert rates == [("2017Q1", 7, 9), ("2017Q4", 5, 9), ("2017", 0, 1)]


def test_agency_filter_applies_to_heat_and_chart(db, year, policy):
    sections, heat, rates = _both(db, policy, BoardFilter(agency_id=year[CDPF]))
    assert sections == [ONE, TWO, "主要指标"]
    assert heat == [(CDPF, {ONE: 1, TWO: 1}, 2)]
    assert rates == [("2017Q1", 0, 2), ("2017Q4", 1, 2)]
    _, heat, rates = _both(db, policy, BoardFilter(agency_id=year[HEPING]))
    assert heat == [(HEPING, {TWO: 1}, 1)]
    assert rates == [("2017Q1", 2, 2), ("2017Q4", 0, 2)]


def test_section_role_period_level_and_light_filters(db, year, policy):
    sections, heat, rates = _both(db, policy, BoardFilter(section=TWO))
    assert sections == [TWO]
    assert heat == [(CDPF, {TWO: 1}, 1), (HEPING, {TWO: 1}, 1)]
    assert rates == [("2017Q1", 2, 3), ("2017Q4", 2, 3)]
    # the indicators' section: requests about an indicator, which have no measure
    sections, heat, rates = _both(db, policy, BoardFilter(section="主要指标"))
    assert sections == ["主要指标"]
    assert heat == [(HRSS, {"主要指标": 1}, 1)]
    assert rates == [("2017", 0, 1)]
    _, heat, rates = _both(db, policy, BoardFilter(role="district"))
    assert heat == [(HEPING, {TWO: 1}, 1)]
    assert rates == [("2017Q1", 4, 4), ("2017Q4", 2, 4)]
    _, heat, rates = _both(db, policy, BoardFilter(period="2017Q4"))
    assert heat == [(HRSS, {ONE: 1}, 1), (CDPF, {ONE: 1}, 1), (HEPING, {TWO: 1}, 1)]
    assert rates == [("2017Q4", 5, 9)]
    _, heat, rates = _both(db, policy, BoardFilter(level=2))  # nothing escalated yet
    assert heat == [] and rates == []
    _, heat, rates = _both(db, policy, BoardFilter(light="yellow"))  # the two late answers
    assert heat == []
    assert rates == [("2017Q1", 0, 1), ("2017Q4", 0, 1)]
    _, heat, rates = _both(db, policy, BoardFilter(agency_id=year[CDPF], role="lead"))
    assert heat == [(CDPF, {TWO: 1}, 1)]
    assert rates == [("2017Q1", 0, 1), ("2017Q4", 1, 1)]


def test_measures_of_a_plan_without_parts_are_not_taken_for_indicators(db, policy):
    """A table without a 部分 column leaves each measure's part empty (issue 13): the board,
    its heat table and the liaison's items still tell them from the indicator's request."""
    from tests.factories import small_plan
    from tracker.catalog.load import load_catalog
    from tracker.requests.answer_form import agency_items

    plan = small_plan()
    plan = plan.model_copy(update={"measures": [m.model_copy(update={"section": ""})
                                                for m in plan.measures]})
    with transaction(db) as s:
        loaded = s.get_one(Plan, load_catalog(s, plan, at("2017-01-05")).plan_id)
        open_due_requests(s, loaded, at("2017-12-20"), policy)
    with db() as s:
        rows = board(s, BoardFilter(agency_id=None, per_page=100), TODAY, policy).rows
        sections, _ = heat_table(s, BoardFilter(), TODAY, policy)
        hrss = s.scalar(select(Agency.id).where(Agency.name == HRSS))
        items = agency_items(s, hrss, TODAY)
    assert sorted({(r["code"], r["section"]) for r in rows}) == [
        ("1", ""), ("2", ""), ("3", ""), ("I1", "主要指标")]
    assert sections == ["", "主要指标"]
    assert sorted({(i.code, i.section) for i in items}) == [("1", ""), ("I1", "主要指标")]


def test_the_board_cuts_its_heat_table_in_the_database(db, year, policy):
    """`heat_board`: the first rows by total (a tie by the agency's id: 人社局 before 市残联),
    the others added up as (agencies, cells, total), the same as `heat_top` cuts the table."""
    with db() as s:
        assert heat_board(s, BoardFilter(), TODAY, policy, 3) == (
            [ONE, TWO, "主要指标"], [(HRSS, {ONE: 1, "主要指标": 1}, 2), (CDPF, {ONE: 1, TWO: 1}, 2),
                                    (HEPING, {TWO: 1}, 1)], None)
        assert heat_board(s, BoardFilter(), TODAY, policy, 2)[1:] == (
            [(HRSS, {ONE: 1, "主要指标": 1}, 2), (CDPF, {ONE: 1, TWO: 1}, 2)], (1, {TWO: 1}, 1))
        assert heat_board(s, BoardFilter(), TODAY, policy, 1)[1:] == (
            [(HRSS, {ONE: 1, "主要指标": 1}, 2)], (2, {ONE: 1, TWO: 2}, 3))
        assert heat_board(s, BoardFilter(section=TWO), TODAY, policy, 1) == (
            [TWO], [(CDPF, {TWO: 1}, 1)], (1, {TWO: 1}, 1))
        assert heat_board(s, BoardFilter(light="green"), TODAY, policy, 1)[1:] == ([], None)


def test_scorecard_years_are_those_a_measure_was_asked_about(db, year, small, policy):
    """`years_with_data`: a year with a measure's request; the indicator's alone is none."""
    from tracker.annual.scorecard import years_with_data
    from tracker.models import OutboxMessage, ProgressReport

    with db() as s:
        assert years_with_data(s) == {(small.id, 2017)}
        assert years_with_data(s, small.id) == {(small.id, 2017)}
        assert years_with_data(s, small.id + 999) == set()
        measures = select(ProgressRequest.id).where(ProgressRequest.assignment_id.is_not(None))
        for table in (OutboxMessage, ProgressReport):
            s.execute(delete(table).where(table.request_id.in_(measures)))
        s.execute(delete(ProgressRequest).where(ProgressRequest.assignment_id.is_not(None)))
        assert s.scalar(select(func.count()).select_from(ProgressRequest)) == 1  # I1's
        assert years_with_data(s) == set()
        s.rollback()


def test_the_agency_search_keeps_the_plans_agencies(db, year, small, policy):
    """`agencies_matching`: exact name first, else a part of it, in directory order; an
    agency of the directory that the plan does not involve is never offered."""
    with transaction(db) as s:
        s.add(Agency(government="天津市人民政府", name="市残联办公室", kind=AgencyKind.MASS_ORGANISATION))
    with db() as s:
        assert agencies_matching(s, small.id, CDPF) == [(year[CDPF], CDPF)]
        assert agencies_matching(s, None, "残联") == [(year[CDPF], CDPF)]
        assert agencies_matching(s, small.id, "市残联办公室") == []
        assert agencies_matching(s, small.id + 999, "残联") == []
        assert [n for _, n in agencies_matching(s, small.id, "区人民政府")] == [
            HEPING, "河东区人民政府"]
        assert agencies_matching(s, small.id, "区人民政府", limit=1) == [(year[HEPING], HEPING)]
