"""Synthetic deployments for benchmarks and scale tests (issue 14, item 5): `tracker synth`.

Two shapes, both written with set-based SQL (INSERT … SELECT over a recursive CTE of
numbers; the plans, a few thousand rows at most, in one executemany), never one ORM object
per row, on SQLite or PostgreSQL:

- national: one plan of `measures` (40) measures; assignment i (0 ≤ i < N) is measure
  i mod M and district agency i div M, so the directory holds ceil(N/M) district agencies
  (agency 0 leads every measure, the others are its districts).
- counties: P plans of N assignments each, sharing one directory of `agencies` agencies
  (at least ceil(N/M)); plan p's measure m takes `per` = ceil(N/M) consecutive agencies
  from an offset that moves with the plan, so the plans spread over the directory.

Each shape adds its supervision office (an agency of the same government) and a liaison
and a deputy head, with an example.org address each, for every agency: what the product
needs to open, sweep, dispatch and show. Plans run quarterly from `first_year` to
`last_year`; no indicators, no task deadlines (the quarters are the load).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Integer, String, and_, case, cast, func, insert, literal, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from tracker.enums import AgencyKind, Cadence, ContactRole, Role
from tracker.models import Agency, Assignment, Contact, Measure, Plan
from tracker.policy import Policy

NATIONAL_GOVERNMENT = "合成市人民政府"
COUNTIES_GOVERNMENT = "合成省人民政府"
OFFICE = "合成督查室"
DEFAULT_MEASURES = 40


class SynthError(Exception):
    """A shape that cannot be built (Chinese message): bad sizes, or the keys already taken."""


@dataclass(frozen=True)
class SynthSpec:
    """What to build. `assignments`: per plan; `agencies`: the directory's size, without the
    office (None: the fewest that hold the assignments, ceil(assignments / measures))."""

    plans: int
    assignments: int
    measures: int = DEFAULT_MEASURES
    agencies: int | None = None
    government: str = NATIONAL_GOVERNMENT
    key: str = "synth"
    first_year: int = 2016
    last_year: int = 2020

    @property
    def measures_per_plan(self) -> int:
        return min(self.measures, self.assignments)

    @property
    def per_measure(self) -> int:
        """Agencies per measure (the first measures take one more when M does not divide N)."""
        return -(-self.assignments // self.measures_per_plan)

    @property
    def directory(self) -> int:
        return self.agencies if self.agencies is not None else self.per_measure


def national(assignments: int, measures: int = DEFAULT_MEASURES, key: str = "synth") -> SynthSpec:
    """One plan of `assignments` assignments over `measures` measures (district agencies)."""
    return SynthSpec(plans=1, assignments=assignments, measures=measures, key=key,
                     government=_government(NATIONAL_GOVERNMENT, key))


def counties(plans: int, assignments_per_plan: int, agencies: int | None = None,
             measures: int = DEFAULT_MEASURES, key: str = "synth") -> SynthSpec:
    """`plans` plans of `assignments_per_plan` assignments sharing one agency directory."""
    return SynthSpec(plans=plans, assignments=assignments_per_plan, measures=measures,
                     agencies=agencies, government=_government(COUNTIES_GOVERNMENT, key), key=key)


def _government(base: str, key: str) -> str:
    """The directory's government: one per key, so several deployments share a database."""
    return base if key == "synth" else f"{base}（{key}）"


@dataclass
class SynthResult:
    plan_ids: list[int]
    plans: int
    measures: int
    assignments: int
    agencies: int
    contacts: int


def _numbers(count: int, name: str):  # type: ignore[no-untyped-def]
    """A recursive CTE of the integers 0 … count-1 (column `i`), on SQLite and PostgreSQL."""
    base = select(literal(0, Integer).label("i")).cte(name, recursive=True)
    return base.union_all(select(base.c.i + 1).where(base.c.i < count - 1))


def _text(value: Any) -> ColumnElement[str]:
    return cast(value, String)


def build(session: Session, spec: SynthSpec) -> SynthResult:
    """Write the deployment `spec` describes into the session's database. Does not commit.

    Raises SynthError when a size is below 1, the directory is too small to hold one
    measure's agencies, or a plan key `<key>-NNNN` or the directory's government is already
    there (build into a fresh database, or pass another key and government).
    """
    if spec.plans < 1 or spec.assignments < 1 or spec.measures < 1:
        raise SynthError("规划数、任务分解条数和措施数均须至少为 1")
    if spec.directory < spec.per_measure:
        raise SynthError(f"单位名录至少须有 {spec.per_measure} 个单位（每项措施的责任单位数）")
    keys = [f"{spec.key}-{p + 1:04d}" for p in range(spec.plans)]
    taken = session.scalar(select(func.count()).select_from(Plan)
                           .where(Plan.key.like(f"{spec.key}-%")))
    present = session.scalar(select(func.count()).select_from(Agency)
                             .where(Agency.government == spec.government))
    if taken or present:
        raise SynthError(f"数据库中已有标识以 {spec.key}- 开头的规划或“{spec.government}”的单位："
                         "请换用新数据库或另一标识")

    # the directory: the office, then agencies 0 … A-1 with consecutive ids (one INSERT)
    session.execute(insert(Agency).values(government=spec.government, name=OFFICE,
                                          kind=AgencyKind.CITY_AGENCY.value))
    n = _numbers(spec.directory, "synth_agency")
    kind = (AgencyKind.DISTRICT_GOVERNMENT if spec.plans == 1 else AgencyKind.CITY_AGENCY).value
    session.execute(insert(Agency).from_select(
        ["government", "name", "kind"],
        select(literal(spec.government), literal("合成单位") + _text(n.c.i + 1), literal(kind))
        .order_by(n.c.i)))
    office_id = session.scalar(select(Agency.id).where(Agency.government == spec.government,
                                                       Agency.name == OFFICE))
    low, high, count = session.execute(
        select(func.min(Agency.id), func.max(Agency.id), func.count())
        .where(Agency.government == spec.government, Agency.id != office_id)).one()
    if high - low + 1 != count:  # pragma: no cover - a sequence shared with another writer
        raise SynthError("单位编号不连续（另有程序同时写入）：请在空闲的数据库上生成")

    for role in ContactRole:
        word = "liaison" if role is ContactRole.LIAISON else "deputy"
        session.execute(insert(Contact).from_select(
            ["agency_id", "role", "name", "email", "active", "token_version"],
            select(Agency.id, literal(role.value), Agency.name + literal(role.label),
                   literal("a") + _text(Agency.id) + literal(f".{word}@example.org"),
                   literal(True), literal(1))
            .where(Agency.government == spec.government)))

    session.execute(insert(Plan), [dict(
        key=key, title=f"合成规划{p + 1}", issuer=spec.government, doc_number=None,
        issued=dt.date(spec.first_year, 1, 1) - dt.timedelta(days=24),
        first_year=spec.first_year, last_year=spec.last_year, cadence=Cadence.QUARTER,
        government=spec.government, districts=[], supervision_office=OFFICE,
        performance_office=None, meeting_contact=None, meeting_duty=False, catalog_hash="synth",
    ) for p, key in enumerate(keys)])
    plans = select(Plan.id).where(Plan.key.like(f"{spec.key}-%"), Plan.government == spec.government)

    m = _numbers(spec.measures_per_plan, "synth_measure")
    session.execute(insert(Measure).from_select(
        ["plan_id", "code", "section", "title", "text", "targets", "position", "active"],
        select(Plan.id, _text(m.c.i + 1), literal("合成"), literal("合成任务") + _text(m.c.i + 1),
               literal(""), literal([], JSON), m.c.i + 1, literal(True))
        .where(Plan.id.in_(plans)).join(m, literal(True))))

    # measure m (0-based: position - 1) takes agencies j = 0 … per-1 while j*M + m < N;
    # agency j of plan p is (j + p·per) mod A in the directory (p = 0 for one plan)
    j = _numbers(spec.per_measure, "synth_slot")
    mi = Measure.position - 1
    others = (Role.DISTRICT if spec.plans == 1 else Role.CO).value
    shift = (Plan.id - select(func.min(Plan.id)).where(Plan.id.in_(plans)).scalar_subquery()) \
        * spec.per_measure
    agency = literal(low) + (j.c.i + shift) % spec.directory
    session.execute(insert(Assignment).from_select(
        ["measure_id", "agency_id", "role", "position", "active"],
        select(Measure.id, agency, case((j.c.i == 0, Role.LEAD.value), else_=others),
               j.c.i + 1, literal(True))
        .join(Plan, Plan.id == Measure.plan_id)
        .join(j, and_(j.c.i * spec.measures_per_plan + mi < spec.assignments))
        .where(Plan.id.in_(plans))))

    counted = lambda q: int(session.scalar(q) or 0)  # noqa: E731
    return SynthResult(
        plan_ids=list(session.scalars(plans.order_by(Plan.id))),
        plans=spec.plans,
        measures=counted(select(func.count()).select_from(Measure).where(Measure.plan_id.in_(plans))),
        assignments=counted(select(func.count()).select_from(Assignment)
                            .join(Measure, Measure.id == Assignment.measure_id)
                            .where(Measure.plan_id.in_(plans))),
        agencies=spec.directory + 1,
        contacts=2 * (spec.directory + 1),
    )


@dataclass
class OpenTotals:
    requests_opened: int = 0
    messages_queued: int = 0


def open_all(session: Session, plan_ids: list[int], now: dt.datetime, policy: Policy) -> OpenTotals:
    """The product's own opening (`requests.opening.open_due_requests`) run for each plan
    at `now` (aware); returns the totals. Does not commit."""
    from tracker.requests.opening import open_due_requests

    totals = OpenTotals()
    for plan_id in plan_ids:
        result = open_due_requests(session, session.get_one(Plan, plan_id), now, policy)
        totals.requests_opened += result.requests_opened
        totals.messages_queued += result.messages_queued
    return totals
