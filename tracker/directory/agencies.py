"""The agency directory (单位名录) shared by all plans: agencies keyed by their parent
government and name, with aliases (市人力社保局 = 市人力资源和社会保障局).

A plan names agencies as its text writes them; `resolve` and `ensure_agencies` map those
names to one directory row, so two plans of one city share 市民政局, its contacts and its
link, while another city's 市民政局 stays apart.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select, union
from sqlalchemy.orm import Session

from tracker.enums import AgencyKind
from tracker.errors import DomainError, NotFound
from tracker.models import Agency, AgencyAlias, Assignment, Indicator, Measure, Plan
from tracker.sql import SMALL_SET, insert_ignore_rows, name_set


class AgencyError(DomainError):
    """A refusal naming the agency (tracker.errors)."""


@dataclass(frozen=True)
class AgencySpec:
    """An agency as a catalog names it: its name, kind, other names it goes by, and the
    agency or government it belongs to (`parent`, a 街道's district)."""

    name: str
    kind: AgencyKind
    aliases: tuple[str, ...] = field(default=())
    parent: str | None = None


def resolve(session: Session, government: str, name: str, on: dt.date | None = None
            ) -> int | None:
    """The id of the agency called `name` (or aliased so) under `government` on day `on`,
    or None. A merged agency's name resolves to the agency it was merged into from the
    merging day (`on` None: today's directory, every merge applied)."""
    return lookup_names(session, government, {name}, on).get(name)


def ensure_agencies(session: Session, government: str, specs: Iterable[AgencySpec],
                    on: dt.date | None = None) -> dict[str, int]:
    """Find or add each agency under `government`; returns {name or alias: agency id} as
    the names resolve on day `on` (see `resolve`).

    A name already known as an alias maps to its agency; new aliases are recorded.
    Idempotent (ON CONFLICT DO NOTHING); a few statements of constant size for the whole
    list (rows by executemany, names looked up through a temporary table). Raises
    AgencyError when one alias would point at two agencies. Does not commit.
    """
    specs = list(specs)
    names = {s.name for s in specs} | {a for s in specs for a in s.aliases}
    known = lookup_names(session, government, names, on)
    # a catalog's full name for an agency the directory knows by its short name (or the
    # other way round) is the same agency: the unknown name becomes one more alias
    adopted = []
    for s in specs:
        if s.name not in known:
            hits = {known[a] for a in s.aliases if a in known}
            if len(hits) == 1:
                known[s.name] = hits.pop()
                adopted.append(dict(agency_id=known[s.name], government=government, alias=s.name))
    insert_ignore_rows(session, AgencyAlias.__table__, adopted)  # type: ignore[arg-type]
    new = [s for s in specs if s.name not in known]
    insert_ignore_rows(session, Agency.__table__, [  # type: ignore[arg-type]
        dict(government=government, name=s.name, kind=s.kind.value) for s in new])
    if new or adopted:
        known = lookup_names(session, government, names, on)
    alias_rows = []
    for s in specs:
        for alias in s.aliases:
            if alias in known and known[alias] != known[s.name]:
                raise AgencyError(f"简称“{alias}”已属于另一单位，不能再作为“{s.name}”的简称",
                                  code="alias-clash")
            alias_rows.append(dict(agency_id=known[s.name], government=government, alias=alias))
    insert_ignore_rows(session, AgencyAlias.__table__, alias_rows)  # type: ignore[arg-type]
    return lookup_names(session, government, names, on) if adopted or alias_rows else known


def lookup_names(session: Session, government: str, names: set[str],
                 on: dt.date | None = None) -> dict[str, int]:
    """{name: agency id} for the names `government`'s directory knows on day `on`: an
    agency's own name first, else an alias valid that day; then merges are followed
    (`Agency.merged_into_id`, from `merged_on`, or always when it has no day). Three
    queries, whatever the number of names: up to `SMALL_SET` names bound as a list, more
    through a temporary table (`tracker.sql.name_set`), so no statement grows with them."""
    if not names:
        return {}
    if len(names) > SMALL_SET:
        with name_set(session, names) as wanted:
            return _lookup(session, government, wanted, on)
    return _lookup(session, government, sorted(names), on)


def _lookup(session: Session, government: str, names: Any, on: dt.date | None
            ) -> dict[str, int]:
    found: dict[str, int] = {n: i for n, i in session.execute(
        select(Agency.name, Agency.id).where(Agency.government == government,
                                             Agency.name.in_(names)))}
    aliases = select(AgencyAlias.alias, AgencyAlias.agency_id).where(
        AgencyAlias.government == government, AgencyAlias.alias.in_(names))
    if on is not None:
        aliases = aliases.where(or_(AgencyAlias.valid_from.is_(None), AgencyAlias.valid_from <= on),
                                or_(AgencyAlias.valid_to.is_(None), AgencyAlias.valid_to > on))
    else:
        aliases = aliases.where(AgencyAlias.valid_to.is_(None))
    found.update({a: i for a, i in session.execute(aliases) if a not in found})
    merged: dict[int, tuple[int, dt.date | None]] = {
        i: (into, day) for i, into, day in session.execute(
            select(Agency.id, Agency.merged_into_id, Agency.merged_on).where(
                Agency.government == government, Agency.merged_into_id.is_not(None)))
        if into is not None}
    for name, agency_id in found.items():
        seen = {agency_id}
        while agency_id in merged:
            into, day = merged[agency_id]
            if (day is not None and on is not None and day > on) or into in seen:
                break
            agency_id = into
            seen.add(agency_id)
        found[name] = agency_id
    return found


def plan_agency_ids(plan_id: int | None):  # type: ignore[no-untyped-def]
    """A SELECT of the ids of the agencies a plan involves (None: any loaded plan): its
    assignments' agencies and its indicators' reporting agencies."""
    assignments = (select(Assignment.agency_id).join(Measure, Measure.id == Assignment.measure_id)
                   .where(Assignment.active.is_(True)))
    indicators = select(Indicator.owner_agency_id).where(Indicator.active.is_(True))
    if plan_id is not None:
        assignments = assignments.where(Measure.plan_id == plan_id)
        indicators = indicators.where(Indicator.plan_id == plan_id)
    return union(assignments, indicators)


def involved_in_plan(plan_id: int | None):  # type: ignore[no-untyped-def]
    """A condition on `Agency`: the agency is one of `plan_agency_ids(plan_id)` (an active
    assignment of the plan's measures, or an active indicator of the plan it reports on),
    as EXISTS probes by the agency's id, for a query that keeps a few agencies (a name
    searched): the agency's assignments are read by their index, never the plan's
    assignments (1M in a national plan) gathered and made distinct first."""
    assignments = (select(Assignment.id).join(Measure, Measure.id == Assignment.measure_id)
                   .where(Assignment.agency_id == Agency.id, Assignment.active.is_(True)))
    indicators = select(Indicator.id).where(Indicator.owner_agency_id == Agency.id,
                                            Indicator.active.is_(True))
    if plan_id is not None:
        assignments = assignments.where(Measure.plan_id == plan_id)
        indicators = indicators.where(Indicator.plan_id == plan_id)
    return or_(assignments.exists(), indicators.exists())


def plan_agencies(session: Session, plan_id: int | None = None) -> list[tuple[int, str]]:
    """(id, name) of the agencies of one plan, or of every loaded plan (one subquery, not
    one term per plan), in directory order."""
    query = select(Agency.id, Agency.name).order_by(Agency.id)
    if plan_id is not None or session.scalar(select(Plan.id).limit(1)) is not None:
        query = query.where(Agency.id.in_(plan_agency_ids(plan_id)))
    return [(i, n) for i, n in session.execute(query)]


def get_agency(session: Session, agency_id: int) -> Agency:
    """The directory row of an agency. Raises NotFound (404) if there is none."""
    agency = session.get(Agency, agency_id)
    if agency is None:
        raise NotFound(f"单位名录中没有编号为 {agency_id} 的单位")
    return agency


def agencies_named(session: Session, agency_ids: Iterable[int]) -> list[Agency]:
    """The directory rows of these agencies, in the order given (one query)."""
    ids = list(agency_ids)
    found = {a.id: a for a in session.scalars(select(Agency).where(Agency.id.in_(ids)))}
    return [found[i] for i in ids if i in found]


def office_id(session: Session, plan: Plan, name: str | None) -> int | None:
    """The directory id of one of the plan's offices (督查室, 绩效办, meeting contact)."""
    return resolve(session, plan.government, name) if name else None


def find_by_name(session: Session, name: str, government: str | None = None) -> int:
    """The agency called `name` (or aliased so) for the CLI: under `government` if given,
    else the only one of that name in the directory.

    Raises AgencyError (404) if there is none, or if several governments have one.
    """
    if government is not None:
        found = resolve(session, government, name)
        if found is None:
            raise AgencyError(f"单位名录中没有 {government} 的“{name}”", status=404,
                              code="unknown-agency")
        return found
    rows = sorted(set(session.execute(
        select(Agency.id, Agency.government).where(Agency.name == name)
        .union(select(AgencyAlias.agency_id, AgencyAlias.government)
               .where(AgencyAlias.alias == name)))))
    if not rows:
        raise AgencyError(f"单位名录中没有“{name}”", status=404, code="unknown-agency")
    if len({g for _, g in rows}) > 1:
        raise AgencyError(f"“{name}”在多个政府下都有（{'、'.join(sorted({g for _, g in rows}))}），"
                          "请用 --government 指明", code="ambiguous-agency")
    # today's directory: a merged agency's name finds the agency it was merged into
    return resolve(session, rows[0][1], name) or int(rows[0][0])
