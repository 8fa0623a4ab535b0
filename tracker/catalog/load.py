"""Load a validated catalog into the database, idempotently (`tracker catalog load`).

Loading the same catalog twice changes nothing. A changed catalog updates rows in place:
measures and indicators keep their ids (so progress history stays attached), removed
assignments are deactivated rather than deleted, and new ones are added.

A plan is one document: its id names it, its identity is (issuer, 文号, issue date). A
catalog whose id is loaded already but whose identity differs is another document under
a taken id, refused (`PlanIdentityError`) unless `replace=True` says it is the same plan
re-issued: then it updates the plan in place like a changed catalog, keeping every
request and report. A new id adds a plan beside the others; the directory is shared.

Names resolve as the directory stands on the load's day (a merged agency's old name finds
the agency it was merged into). Names new to a government's directory, and the phrases the
catalog flagged, go to the office's review list (`tracker.directory.review`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker.catalog.deadline_rows import store_deadlines
from tracker.catalog.schema import Catalog, dump_catalog
from tracker.dates.workdays import local_date
from tracker.directory.agencies import AgencySpec, ensure_agencies, lookup_names
from tracker.directory.review import picked_assignments, record_reviews
from tracker.enums import AgencyKind, Role
from tracker.errors import Conflict
from tracker.models import Agency, Assignment, AuditEvent, Indicator, Measure, Plan


class PlanIdentityError(Conflict):
    """A catalog names a loaded plan's id but another document (issuer, 文号, issue date)."""

    code = "plan-identity"


IDENTITY = (("issuer", "发文机关"), ("doc_number", "文号"), ("issued", "成文日期"))


@dataclass
class LoadResult:
    plan_id: int
    changes: dict[str, int] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return any(self.changes.values())


def _set(obj: object, **values: object) -> bool:
    """Assign only differing values; True if anything changed."""
    changed = False
    for k, v in values.items():
        if getattr(obj, k) != v:
            setattr(obj, k, v)
            changed = True
    return changed


def load_catalog(session: Session, catalog: Catalog, now: dt.datetime, *,
                 replace: bool = False) -> LoadResult:
    """Upsert the plan, agencies, measures, indicators and assignments of `catalog`, and
    add its flags and new names to the office's review list.

    Returns counts of created/updated/deactivated rows by kind; all zero on a reload.
    Raises PlanIdentityError (Chinese, naming each difference) when the plan id is loaded
    with another issuer, 文号 or issue date and `replace` is False; AgencyError for an
    alias of two agencies. Does not commit.
    """
    digest = hashlib.sha256(dump_catalog(catalog).encode()).hexdigest()
    info = catalog.plan
    plan = session.scalar(select(Plan).where(Plan.key == info.id))
    counts: dict[str, int] = {}

    def bump(key: str, n: int = 1) -> None:
        counts[key] = counts.get(key, 0) + n

    settings = dict(
        title=info.title, issuer=info.issuer, doc_number=info.doc_number, issued=info.issued,
        first_year=info.period[0], last_year=info.period[1], cadence=info.cadence,
        government=info.government, districts=list(info.districts),
        supervision_office=info.supervision_office, performance_office=info.performance_office,
        meeting_contact=info.meeting_contact, meeting_duty=info.meeting_duty)
    replaced: dict[str, str | None] = {}
    if plan is None:
        plan = Plan(key=info.id, catalog_hash=digest, **settings)
        session.add(plan)
        session.flush()
        bump("plan_created")
    elif plan.catalog_hash == digest:
        return LoadResult(plan.id, {})
    else:
        replaced = _check_identity(plan, catalog, replace)
        if _set(plan, catalog_hash=digest, **settings):
            bump("plan_updated")

    # Agencies live in the directory shared by all plans, keyed by (government, name):
    # a second plan naming 市民政局 finds the same row, its contacts and its link.
    specs = [AgencySpec(a.name, a.kind, tuple(a.aliases), a.parent) for a in catalog.agencies]
    listed = {a.name for a in catalog.agencies}
    specs += [AgencySpec(name, AgencyKind.CITY_AGENCY) for name in
              (info.supervision_office, info.performance_office, info.meeting_contact)
              if name and name not in listed]
    day = local_date(now)
    names = {s.name for s in specs} | {a for s in specs for a in s.aliases}
    known = lookup_names(session, info.government, names, day)
    established = session.scalar(select(func.count()).select_from(Agency)
                                 .where(Agency.government == info.government)) or 0
    agency_ids = ensure_agencies(session, info.government, specs, day)
    added = {s.name: agency_ids[s.name] for s in specs
             if s.name not in known and agency_ids[s.name] not in known.values()}
    if added:
        bump("agencies_created", len(added))
    _link_parents(session, info.government, specs, agency_ids, day)

    measures = {m.code: m for m in session.scalars(select(Measure).where(Measure.plan_id == plan.id))}
    for pos, m in enumerate(catalog.measures):
        values = dict(section=m.section, title=m.title, text=m.text, position=pos, active=True,
                      targets=[t.model_dump(mode="json") for t in m.targets], leader=m.leader)
        if m.code not in measures:
            measures[m.code] = Measure(plan_id=plan.id, code=m.code, **values)
            session.add(measures[m.code])
            bump("measures_created")
        elif _set(measures[m.code], **values):
            bump("measures_updated")
    wanted_codes = {m.code for m in catalog.measures}
    for code, row in measures.items():
        if code not in wanted_codes and row.active:
            row.active = False
            bump("measures_deactivated")
    store_deadlines(catalog, measures, bump)  # 完成时限 (issue 13): tracked as milestones
    session.flush()

    _load_assignments(session, catalog, measures, agency_ids, bump)
    _load_indicators(session, catalog, plan, agency_ids, bump)
    # the first plan of a government establishes its directory: nothing to compare with
    reviews = record_reviews(session, plan.id, catalog, added if established else {}, now)
    if reviews:
        bump("reviews_created", reviews)
    session.add(AuditEvent(at=now, actor="system:catalog", action="catalog.load",
                           object_type="plan", object_id=info.id,
                           detail={"hash": digest, **counts,
                                   **({"replaced": replaced} if replaced else {})}))
    session.flush()
    return LoadResult(plan.id, counts)


def _check_identity(plan: Plan, catalog: Catalog, replace: bool) -> dict[str, str | None]:
    """Refuse another document under a loaded plan's id, naming each difference, unless
    `replace` says it is the same plan re-issued; returns the identity replaced
    ({field: the loaded value}, empty when nothing differs) for the audit trail."""
    info = catalog.plan
    differs = [f"{label}：已载入“{getattr(plan, key) or '（无）'}”，本次“{getattr(info, key) or '（无）'}”"
               for key, label in IDENTITY if getattr(plan, key) != getattr(info, key)]
    if differs and not replace:
        raise PlanIdentityError(
            f"规划标识“{info.id}”已载入另一份文件（《{plan.title}》）：" + "；".join(differs)
            + "。如是同一规划重新印发，请加 --replace 更新（已有的进展调度和报送保留）；"
              "如是另一份文件，请换一个规划标识")
    return {key: str(getattr(plan, key)) if getattr(plan, key) is not None else None
            for key, _ in IDENTITY if getattr(plan, key) != getattr(info, key)}


def _link_parents(session: Session, government: str, specs: list[AgencySpec],
                  agency_ids: dict[str, int], day: dt.date) -> None:
    """Set each agency's parent (the catalog's `Agency.parent`) when the directory knows
    it; two statements whatever the count."""
    wanted = {s.name: s.parent for s in specs if s.parent}
    if not wanted:
        return
    parents = lookup_names(session, government, set(wanted.values()), day)
    rows = session.scalars(select(Agency).where(Agency.id.in_(
        [agency_ids[n] for n in wanted])))
    by_id = {agency_ids[n]: p for n, p in wanted.items()}
    for row in rows:
        parent = parents.get(by_id[row.id])
        if parent is not None and parent != row.id and row.parent_id != parent:
            row.parent_id = parent


def _load_assignments(session, catalog, measures, agencies, bump) -> None:  # type: ignore[no-untyped-def]
    """The catalog's assignments, one per (measure, agency): the first listing wins (lead,
    then co, then districts), so two names of one agency (市国税局 and 市地税局 after their
    merge) keep the stronger role. The agencies the office picked for a flagged phrase on
    the review list stay too (they are not in the catalog)."""
    districts = list(catalog.plan.districts)
    wanted: dict[tuple[int, int], tuple[Role, int]] = {}
    sizes: dict[int, int] = {}
    for m in catalog.measures:
        mid = measures[m.code].id
        rows = [(m.lead, Role.LEAD)] + [(c, Role.CO) for c in m.co]
        rows += [(d, Role.DISTRICT) for d in (districts if m.districts else m.district_names)]
        for pos, (name, role) in enumerate(rows):
            wanted.setdefault((mid, agencies[name]), (role, pos))
        sizes[mid] = len(rows)
    measure_ids = [m.id for m in measures.values()]
    existing = {
        (a.measure_id, a.agency_id): a
        for a in session.scalars(select(Assignment).where(Assignment.measure_id.in_(measure_ids)))
    }
    plan_id = next(iter(measures.values())).plan_id
    for key, role in picked_assignments(session, plan_id):
        if key not in wanted and key[0] in sizes:
            pos = existing[key].position if key in existing else sizes[key[0]]
            sizes[key[0]] = max(sizes[key[0]], pos + 1)
            wanted[key] = (role, pos)
    for key, (role, pos) in wanted.items():
        row = existing.get(key)
        if row is None:
            session.add(Assignment(measure_id=key[0], agency_id=key[1], role=role, position=pos))
            bump("assignments_created")
        elif _set(row, role=role, position=pos, active=True):
            bump("assignments_updated")
    for key, row in existing.items():
        if key not in wanted and row.active:
            row.active = False
            bump("assignments_deactivated")


def _load_indicators(session, catalog, plan, agencies, bump) -> None:  # type: ignore[no-untyped-def]
    existing = {i.code: i for i in session.scalars(select(Indicator).where(Indicator.plan_id == plan.id))}
    for ind in catalog.indicators:
        values = dict(name=ind.name, target=ind.target, comparator=ind.comparator, unit=ind.unit,
                      attribute=ind.attribute, measure_codes=list(ind.measures),
                      owner_agency_id=agencies[ind.owner], active=True, kind=ind.kind,
                      level_name=ind.level_name, level_unit=ind.level_unit)
        if ind.baseline is not None:  # printed in the plan; else the office records one
            values.update(baseline=ind.baseline, baseline_source=ind.baseline_source or "规划纲要")
        if ind.code not in existing:
            session.add(Indicator(plan_id=plan.id, code=ind.code, **values))
            bump("indicators_created")
        elif _set(existing[ind.code], **values):
            bump("indicators_updated")
    wanted = {i.code for i in catalog.indicators}
    for code, row in existing.items():
        if code not in wanted and row.active:
            row.active = False
            bump("indicators_deactivated")
