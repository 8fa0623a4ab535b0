"""Load a validated catalog into the database, idempotently (`tracker catalog load`).

Loading the same catalog twice changes nothing. A changed catalog updates rows in place:
measures and indicators keep their ids (so progress history stays attached), removed
assignments are deactivated rather than deleted, and new ones are added.

A plan is one document: its id names it, its identity is (issuer, 文号, issue date). A
catalog whose id is loaded already but whose identity differs is another document under
a taken id, refused (`PlanIdentityError`) unless `replace=True` says it is the same plan
re-issued: then it updates the plan in place like a changed catalog, keeping every
request and report. A new id adds a plan beside the others; the directory is shared.

A catalog that leaves out tasks or indicators of the loaded plan is refused, listing them
with their open requests (`WithdrawalError`), unless `replace=True`: then they are
withdrawn and their open requests closed with the reason (`tracker.catalog.withdraw`).

No statement grows with the catalog (issue 14): measures and assignments are written
set-based (`tracker.catalog.load_rows`: executemany, and the assignments from staged
temporary tables in a few INSERT … SELECT and UPDATE statements scoped to the plan), names
are looked up through a temporary table, and no object is built per assignment.

Names resolve as the directory stands on the load's day (a merged agency's old name finds
the agency it was merged into). Names new to a government's directory, and the phrases the
catalog flagged, go to the office's review list (`tracker.directory.review`); the first
plan of a government establishes its directory, but its names that read like another
(`tracker.directory.variants`: 市人力社保局 beside 市人力资源和社会保障局) go there too.
Requests of a name on the list are held until the office decides (`directory.holds`).

The plan's supervision office (督查室: copied on 督办, drafts the 通报) is the catalog's
(`PlanInfo.supervision_office`), else the one office the rules' `documents.offices`
configure; with neither, the load is refused naming the option (`PlanSettingsError`):
no city's office is assumed. The performance office (绩效办) is optional.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

from sqlalchemy import Table, bindparam, select, text, update
from sqlalchemy.orm import Session

from tracker.catalog.load_rows import load_assignments, load_measures
from tracker.catalog.schema import Catalog
from tracker.catalog.withdraw import WithdrawalError, Withdrawn, close_withdrawn, to_withdraw
from tracker.dates.workdays import local_date
from tracker.directory.agencies import AgencySpec, ensure_agencies, lookup_names
from tracker.directory.review import office_deadlines, record_reviews
from tracker.directory.variants import variants_to_review
from tracker.enums import AgencyKind
from tracker.errors import Conflict, DomainError
from tracker.models import Agency, AgencyAlias, Assignment, AuditEvent, Indicator, Measure, Plan
from tracker.settings import Rules
from tracker.sql import id_set

__all__ = ["LoadResult", "PlanIdentityError", "PlanSettingsError", "WithdrawalError",
           "Withdrawn", "catalog_digest", "load_catalog"]


class PlanIdentityError(Conflict):
    """A catalog names a loaded plan's id but another document (issuer, 文号, issue date)."""

    code = "plan-identity"


class PlanSettingsError(DomainError):
    """A setting the load needs is neither in the catalog nor in the rules (Chinese,
    naming the option)."""

    code = "plan-settings"


IDENTITY = (("issuer", "发文机关"), ("doc_number", "文号"), ("issued", "成文日期"))


@dataclass
class LoadResult:
    """The plan's id, counts of created/updated/deactivated rows by kind (`changes`), and
    the tasks and indicators withdrawn (with the open requests each had)."""

    plan_id: int
    changes: dict[str, int] = field(default_factory=dict)
    withdrawn: list[Withdrawn] = field(default_factory=list)

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
                 replace: bool = False, rules: Rules | None = None) -> LoadResult:
    """Upsert the plan, agencies, measures, indicators and assignments of `catalog`, and
    add its flags and new names to the office's review list. `rules` (default `Rules()`)
    may name the supervision office a catalog leaves out (`documents.offices`).

    Returns counts of created/updated/deactivated rows by kind (all zero on a reload) and
    what was withdrawn. Raises PlanIdentityError (Chinese, naming each difference) when the
    plan id is loaded with another issuer, 文号 or issue date, and WithdrawalError (listing
    each task and indicator with its open requests) when the catalog leaves out some of the
    plan's, unless `replace`; PlanSettingsError when no supervision office is known;
    AgencyError for an alias of two agencies. Does not commit.
    """
    digest = catalog_digest(catalog)
    info = catalog.plan
    _one_load_at_a_time(session, info.id)
    plan = session.scalar(select(Plan).where(Plan.key == info.id))
    counts: dict[str, int] = {}

    def bump(key: str, n: int = 1) -> None:
        if n:
            counts[key] = counts.get(key, 0) + n

    if plan is not None and plan.catalog_hash == digest:
        return LoadResult(plan.id, {})
    office = info.supervision_office or (plan.supervision_office if plan is not None
                                         else _configured_office(rules or Rules(), info.id))
    settings = dict(
        title=info.title, issuer=info.issuer, doc_number=info.doc_number, issued=info.issued,
        first_year=info.period[0], last_year=info.period[1], cadence=info.cadence,
        government=info.government, districts=list(info.districts),
        supervision_office=office, performance_office=info.performance_office,
        meeting_contact=info.meeting_contact, meeting_duty=info.meeting_duty)
    replaced: dict[str, str | None] = {}
    withdrawn: list[Withdrawn] = []
    if plan is None:
        plan = Plan(key=info.id, catalog_hash=digest, **settings)
        session.add(plan)
        session.flush()
        bump("plan_created")
    else:
        replaced = _check_identity(plan, catalog, replace)
        withdrawn = to_withdraw(session, plan.id, catalog)
        if withdrawn and not replace:
            raise WithdrawalError(info.id, withdrawn)
        if _set(plan, catalog_hash=digest, **settings):
            bump("plan_updated")

    # Agencies live in the directory shared by all plans, keyed by (government, name):
    # a second plan naming 市民政局 finds the same row, its contacts and its link.
    specs = [AgencySpec(a.name, a.kind, tuple(a.aliases), a.parent) for a in catalog.agencies]
    listed = {a.name for a in catalog.agencies}
    specs += [AgencySpec(name, AgencyKind.CITY_AGENCY) for name in
              dict.fromkeys((office, info.performance_office, info.meeting_contact))
              if name and name not in listed]
    day = local_date(now)
    names = {s.name for s in specs} | {a for s in specs for a in s.aliases}
    known = lookup_names(session, info.government, names, day)
    # the directory's names before this load, each with its agency's own name (an alias
    # found alike is named by the agency the office would map to)
    before = dict(session.execute(select(Agency.name, Agency.name).where(
        Agency.government == info.government)).all())
    before.update((alias, name) for alias, name in session.execute(
        select(AgencyAlias.alias, Agency.name).join(Agency, Agency.id == AgencyAlias.agency_id)
        .where(AgencyAlias.government == info.government)) if alias not in before)
    agency_ids = ensure_agencies(session, info.government, specs, day)
    known_ids = set(known.values())
    added = {s.name: agency_ids[s.name] for s in specs
             if s.name not in known and agency_ids[s.name] not in known_ids}
    if added:
        bump("agencies_created", len(added))
    variants = {name: before.get(other, other) for name, other in variants_to_review(
        [s.name for s in specs if s.name in added], before, same=agency_ids).items()}
    # the first plan of a government establishes its directory: only its names that read
    # like another name are in doubt
    to_review = added if before else {n: added[n] for n in variants}
    _link_parents(session, info.government, specs, agency_ids, day)

    # measures and assignments set-based (`load_rows`): no ORM object per row
    session.flush()
    fresh = counts.get("plan_created", 0) == 1
    measure_ids = load_measures(session, catalog, plan.id, office_deadlines(session, plan.id),
                                bump)
    load_assignments(session, catalog, plan.id, measure_ids, agency_ids, fresh=fresh, bump=bump)
    _expire_rows(session)
    _load_indicators(session, catalog, plan, agency_ids, bump)
    session.flush()
    # withdrawn tasks and indicators (only with replace) and agencies dropped from a task
    # that stays: their open requests closed as 免报, nothing chases them
    closed = 0 if fresh else close_withdrawn(session, plan.id, now)
    if closed:
        bump("requests_closed", closed)
    reviews = record_reviews(session, plan.id, catalog, to_review, now, variants)
    if reviews:
        bump("reviews_created", reviews)
    session.add(AuditEvent(at=now, actor="system:catalog", action="catalog.load",
                           object_type="plan", object_id=info.id,
                           detail={"hash": digest, **counts,
                                   **({"replaced": replaced} if replaced else {}),
                                   **({"withdrawn": [w.code for w in withdrawn]}
                                      if withdrawn else {})}))
    session.flush()
    return LoadResult(plan.id, counts, withdrawn)


def catalog_digest(catalog: Catalog) -> str:
    """The SHA-256 (hex) of the catalog as `schema.dump_catalog` writes it (UTF-8, two-space
    indent), which the plan keeps to find an unchanged reload: the same bytes made by
    pydantic's serialiser (0.8 s for 1M written-out assignments, against 7.4 s through
    the json module's indenting encoder; `tests/catalog/test_load_scale.py` checks that
    they are the same)."""
    return hashlib.sha256((catalog.model_dump_json(indent=2) + "\n").encode()).hexdigest()


def _one_load_at_a_time(session: Session, plan_key: str) -> None:
    """Two loads of one plan at once run one after the other: on PostgreSQL a lock held
    to the transaction's end, keyed by the plan id, so the second sees the first's plan
    (an unchanged reload, or a difference to refuse) instead of failing on its unique key;
    SQLite's transactions already begin by taking the write lock (`tracker.db`)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                        {"key": f"catalog-load:{plan_key}"})


def _configured_office(rules: Rules, plan_key: str) -> str:
    """The supervision office of a catalog that names none: the one issuing office the
    rules configure (`documents.offices`). Raises PlanSettingsError naming the option
    when there is none or there are several."""
    offices = list(rules.documents.offices)
    if len(offices) == 1:
        return offices[0]
    where = (f"规则文件的 documents.offices 设有多个发文机关（{'、'.join(offices)}），无法确定是哪一个"
             if offices else "规则文件的 documents.offices 也未设置")
    raise PlanSettingsError(
        f"规划“{plan_key}”的目录未写明督查室（plan.supervision_office），{where}：请在导入时用 "
        "--supervision-office 给出（如 某市人民政府督查室），或在目录的 plan.supervision_office 中写明")


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
    it: the parents looked up, the agencies' current parents read by a join against a
    temporary table of their ids, the changed ones updated by executemany."""
    wanted = {s.name: s.parent for s in specs if s.parent}
    if not wanted:
        return
    parents = lookup_names(session, government, set(wanted.values()), day)
    by_id = {agency_ids[n]: p for n, p in wanted.items()}
    with id_set(session, by_id) as ids:
        current = dict(session.execute(select(Agency.id, Agency.parent_id)
                                       .where(Agency.id.in_(ids))).all())
    rows = [dict(b_id=agency_id, parent_id=parent) for agency_id, parent in
            ((i, parents.get(p)) for i, p in by_id.items() if i in current)
            if parent is not None and parent != agency_id and current[agency_id] != parent]
    table: Table = Agency.__table__  # type: ignore[assignment]
    stmt = update(table).where(table.c.id == bindparam("b_id"))
    conn = session.connection()
    for start in range(0, len(rows), 1000):
        conn.execute(stmt, rows[start:start + 1000])


def _expire_rows(session: Session) -> None:
    """Rows written by bulk statements are stale in the session: expire the directory,
    measure and assignment objects it holds (each reloads when next read)."""
    for obj in list(session.identity_map.values()):
        if isinstance(obj, (Agency, Measure, Assignment)):
            session.expire(obj)


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
