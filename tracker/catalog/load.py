"""Load a validated catalog into the database, idempotently (`tracker catalog load`).

Loading the same catalog twice changes nothing. A changed catalog updates rows in place:
measures and indicators keep their ids (so progress history stays attached), removed
assignments are deactivated rather than deleted, and new ones are added.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker.catalog.deadline_rows import store_deadlines
from tracker.catalog.schema import Catalog, dump_catalog
from tracker.directory.agencies import AgencySpec, ensure_agencies
from tracker.enums import AgencyKind, Role
from tracker.models import Agency, Assignment, AuditEvent, Indicator, Measure, Plan


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


def load_catalog(session: Session, catalog: Catalog, now: dt.datetime) -> LoadResult:
    """Upsert the plan, agencies, measures, indicators and assignments of `catalog`.

    Returns counts of created/updated/deactivated rows by kind; all zero on a reload.
    Does not commit.
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
    if plan is None:
        plan = Plan(key=info.id, catalog_hash=digest, **settings)
        session.add(plan)
        session.flush()
        bump("plan_created")
    elif plan.catalog_hash == digest:
        return LoadResult(plan.id, {})
    elif _set(plan, catalog_hash=digest, **settings):
        bump("plan_updated")

    # Agencies live in the directory shared by all plans, keyed by (government, name):
    # a second plan naming 市民政局 finds the same row, its contacts and its link.
    specs = [AgencySpec(a.name, a.kind, tuple(a.aliases)) for a in catalog.agencies]
    listed = {a.name for a in catalog.agencies}
    specs += [AgencySpec(name, AgencyKind.CITY_AGENCY) for name in
              (info.supervision_office, info.performance_office, info.meeting_contact)
              if name and name not in listed]
    before = session.scalar(select(func.count()).select_from(Agency)) or 0
    agency_ids = ensure_agencies(session, info.government, specs)
    created = (session.scalar(select(func.count()).select_from(Agency)) or 0) - before
    if created:
        bump("agencies_created", created)

    measures = {m.code: m for m in session.scalars(select(Measure).where(Measure.plan_id == plan.id))}
    for pos, m in enumerate(catalog.measures):
        values = dict(section=m.section, title=m.title, text=m.text, position=pos, active=True,
                      targets=[t.model_dump(mode="json") for t in m.targets])
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
    session.add(AuditEvent(at=now, actor="system:catalog", action="catalog.load",
                           object_type="plan", object_id=info.id,
                           detail={"hash": digest, **counts}))
    session.flush()
    return LoadResult(plan.id, counts)


def _load_assignments(session, catalog, measures, agencies, bump) -> None:  # type: ignore[no-untyped-def]
    districts = list(catalog.plan.districts)
    wanted: dict[tuple[int, int], tuple[Role, int]] = {}
    for m in catalog.measures:
        mid = measures[m.code].id
        rows = [(m.lead, Role.LEAD)] + [(c, Role.CO) for c in m.co]
        rows += [(d, Role.DISTRICT) for d in (districts if m.districts else m.district_names)]
        for pos, (name, role) in enumerate(rows):
            wanted[(mid, agencies[name])] = (role, pos)
    measure_ids = [m.id for m in measures.values()]
    existing = {
        (a.measure_id, a.agency_id): a
        for a in session.scalars(select(Assignment).where(Assignment.measure_id.in_(measure_ids)))
    }
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
