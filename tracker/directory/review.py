"""The office's review list of the directory (单位名录待核, issue 13, item 4).

A load (`tracker.catalog.load`) leaves two kinds of row here (`DirectoryReview`):
- a phrase the catalog flagged on a measure (`Measure.flags`): a generic phrase
  (各有关部门和单位, 等有关部门), 有关区 (which districts?), a deadline or indicator the
  importer could not read. The office picks the agencies or districts it means (the
  assignments are created: co-responsible, or district for the districts field) or
  dismisses it with a reason;
- a name the directory did not know: the loader added it as a new agency so the task is
  tracked at once. The office maps it to an existing agency (the name becomes that
  agency's alias; its assignments and open requests move there, see `map_name`) or accepts
  it as a new agency. When a government's directory is empty, the first plan loaded
  establishes it: its names are not "unknown" (nothing to compare them with).

Each resolution is one audited action (`AuditEvent`, action `directory.review.*`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker.catalog.schema import Catalog
from tracker.directory.agencies import lookup_names
from tracker.directory.renames import move_assignments
from tracker.enums import RequestState, Role
from tracker.errors import Conflict, DomainError, NotFound
from tracker.models import (
    Agency,
    AgencyAlias,
    Assignment,
    AuditEvent,
    DirectoryReview,
    Measure,
    Plan,
    ProgressRequest,
)
from tracker.sql import insert_ignore_values

OPEN = "open"
STATES = {"open": "待处理", "mapped": "已对应到已有单位", "accepted": "已确认为新单位",
          "assigned": "已指定单位", "dismissed": "不予处理"}
FIELDS = {"lead": "牵头单位", "co": "配合单位", "districts": "区县", "deadline": "完成时限",
          "indicators": "关联指标", "name": "单位名称"}
ASSIGNABLE = ("lead", "co", "districts")  # fields whose phrase stands for agencies


class ReviewError(DomainError):
    """A refusal of a review action, in Chinese."""


def record_reviews(session: Session, plan_id: int, catalog: Catalog,
                   new_names: dict[str, int], now: dt.datetime) -> int:
    """Add the catalog's flagged phrases and the names new to the directory (`new_names`:
    {name: the agency id the load added}) to the review list of plan `plan_id`. One INSERT
    … ON CONFLICT DO NOTHING: a row already there (open or resolved) stays as it is.
    Returns the number of rows added."""
    rows: list[dict[str, object]] = [
        dict(plan_id=plan_id, kind="flag", measure_code=m.code, field=f.field,
             phrase=f.phrase[:200], reason=f.reason, agency_id=None, state=OPEN,
             agency_ids=[], created_at=now)
        for m in catalog.measures for f in m.flags]
    rows += [dict(plan_id=plan_id, kind="name", measure_code="", field="name", phrase=name,
                  reason="单位名录中原无此名称，载入时已作为新单位加入；请确认为新单位，"
                         "或对应到名录中已有的单位（如简称、曾用名）",
                  agency_id=agency_id, state=OPEN, agency_ids=[], created_at=now)
             for name, agency_id in sorted(new_names.items())]
    return insert_ignore_values(session, DirectoryReview.__table__, rows)  # type: ignore[arg-type]


def picked_assignments(session: Session, plan_id: int) -> list[tuple[tuple[int, int], Role]]:
    """((measure id, agency id), role) of every agency the office picked for a flagged
    phrase of plan `plan_id` (district for the districts field, else co-responsible): the
    loader keeps them when the plan is loaded again. One query."""
    rows = session.execute(
        select(Measure.id, DirectoryReview.field, DirectoryReview.agency_ids)
        .join(Measure, (Measure.plan_id == DirectoryReview.plan_id)
              & (Measure.code == DirectoryReview.measure_code))
        .where(DirectoryReview.plan_id == plan_id, DirectoryReview.state == "assigned")
        .order_by(DirectoryReview.id)).all()
    return [((mid, agency_id), Role.DISTRICT if field == "districts" else Role.CO)
            for mid, field, ids in rows for agency_id in ids]


def open_count(session: Session) -> int:
    """How many rows wait for the office (the navigation's badge)."""
    return int(session.scalar(select(func.count()).select_from(DirectoryReview)
                              .where(DirectoryReview.state == OPEN)) or 0)


@dataclass(frozen=True)
class ReviewItem:
    """One row as the page shows it: the plan's title, the measure's title (a flag), the
    agency the load added (a name), and what the office may pick from."""

    row: DirectoryReview
    plan: str
    measure: str  # "2.1.3 title", or "" for a name
    agency: str  # the agency added for a name, or the agencies picked
    choices: list[tuple[int, str]]  # agencies (or districts) the office may pick
    similar: list[str] = field(default_factory=list)  # a new name's look-alikes in the directory

    @property
    def field_label(self) -> str:
        return FIELDS.get(self.row.field, self.row.field)

    @property
    def state_label(self) -> str:
        return STATES.get(self.row.state, self.row.state)

    @property
    def assignable(self) -> bool:
        return self.row.kind == "flag" and self.row.field in ASSIGNABLE


@dataclass(frozen=True)
class ReviewPage:
    open: list[ReviewItem]
    resolved: list[ReviewItem]  # the latest resolved, newest first


def review_page(session: Session, resolved_limit: int = 20) -> ReviewPage:
    """The open rows (by plan, measure order, then names) and the latest resolved ones.
    A handful of queries whatever the number of rows: the rows with their plan and
    measure, the agencies named, and each government's choosable agencies."""
    rows = session.execute(
        select(DirectoryReview, Plan, Measure.title, Measure.position)
        .join(Plan, Plan.id == DirectoryReview.plan_id)
        .outerjoin(Measure, (Measure.plan_id == DirectoryReview.plan_id)
                   & (Measure.code == DirectoryReview.measure_code))
        .where(DirectoryReview.state == OPEN)
        .order_by(Plan.id, DirectoryReview.kind.desc(), Measure.position, DirectoryReview.id)).all()
    done = session.execute(
        select(DirectoryReview, Plan, Measure.title, Measure.position)
        .join(Plan, Plan.id == DirectoryReview.plan_id)
        .outerjoin(Measure, (Measure.plan_id == DirectoryReview.plan_id)
                   & (Measure.code == DirectoryReview.measure_code))
        .where(DirectoryReview.state != OPEN)
        .order_by(DirectoryReview.resolved_at.desc(), DirectoryReview.id.desc())
        .limit(resolved_limit)).all()
    ids = {r.agency_id for r, *_ in [*rows, *done] if r.agency_id}
    ids |= {i for r, *_ in done for i in r.agency_ids}
    names = dict(session.execute(select(Agency.id, Agency.name).where(Agency.id.in_(ids))).all())
    governments = {p.government for _, p, *_ in rows}
    choosable = _choosable(session, governments)
    plans = {p.id: p for _, p, *_ in rows}  # a few queries per plan listed, not per row
    district_ids = {i: lookup_names(session, p.government, set(p.districts))
                    for i, p in plans.items()}

    def item(r: DirectoryReview, plan: Plan, title: str | None) -> ReviewItem:
        measure = f"{r.measure_code} {title}" if r.measure_code else ""
        if r.kind == "flag" and r.field == "districts":
            got = district_ids.get(plan.id, {})
            choices = [(got[d], d) for d in plan.districts if d in got]
        elif r.state == OPEN:
            choices = [(i, n) for i, n in choosable.get(plan.government, [])
                       if i != r.agency_id]
        else:
            choices = []
        # the picked agencies (or the one a name was mapped to), else the one a load added
        agency = ("、".join(names.get(i, "") for i in r.agency_ids) if r.agency_ids
                  else names.get(r.agency_id or 0, ""))
        similar = similar_names(r.phrase, [n for _, n in choices]) if (
            r.kind == "name" and r.state == OPEN) else []
        return ReviewItem(r, plan.title, measure, agency, choices, similar)

    return ReviewPage([item(r, p, t) for r, p, t, _ in rows],
                      [item(r, p, t) for r, p, t, _ in done])


def similar_names(name: str, names: list[str], limit: int = 3) -> list[str]:
    """Up to `limit` of `names` that read like `name` (difflib's ratio ≥ 0.8: 市人力资源社会
    保障局 and 市人力资源和社会保障局), most alike first: a hint for the office, never a
    decision."""
    scored = [(SequenceMatcher(None, name, n).ratio(), n) for n in names if n != name]
    return [n for ratio, n in sorted(scored, key=lambda x: (-x[0], x[1])) if ratio >= 0.8][:limit]


def _choosable(session: Session, governments: set[str]) -> dict[str, list[tuple[int, str]]]:
    """{government: [(id, name)]} of the agencies one may map to or pick: not merged away,
    not a name still waiting on the list; by name."""
    if not governments:
        return {}
    waiting = select(DirectoryReview.agency_id).where(DirectoryReview.state == OPEN,
                                                      DirectoryReview.agency_id.is_not(None))
    out: dict[str, list[tuple[int, str]]] = {}
    for gov, i, name in session.execute(
            select(Agency.government, Agency.id, Agency.name)
            .where(Agency.government.in_(governments), Agency.merged_into_id.is_(None),
                   Agency.id.not_in(waiting))):
        out.setdefault(gov, []).append((i, name))
    # by name in code point order: the same on every database, whatever its collation
    return {gov: sorted(rows, key=lambda r: (r[1], r[0])) for gov, rows in out.items()}


def _open_row(session: Session, review_id: int, kind: str) -> DirectoryReview:
    row = session.get(DirectoryReview, review_id)
    if row is None:
        raise NotFound(f"没有编号为 {review_id} 的待核事项")
    if row.state != OPEN:
        raise Conflict(f"“{row.phrase}”已处理（{STATES.get(row.state, row.state)}）")
    if row.kind != kind:
        raise ReviewError(f"“{row.phrase}”不能这样处理")
    return row


def _done(session: Session, row: DirectoryReview, state: str, by: str, now: dt.datetime,
          **detail: object) -> None:
    row.state, row.resolved_at, row.resolved_by = state, now, by
    session.add(AuditEvent(at=now, actor=by, action=f"directory.review.{state}",
                           object_type="directory_review", object_id=str(row.id),
                           detail={"phrase": row.phrase, "measure": row.measure_code,
                                   "field": row.field, **detail}))
    session.flush()


def map_name(session: Session, review_id: int, agency_id: int, *, by: str,
             now: dt.datetime) -> None:
    """The name is another name of agency `agency_id` (same government): it becomes its
    alias, the agency the load added for it is marked merged into it from the start (so
    the name resolves there on any day), and its active assignments and indicators move
    there with its open requests (they reach nobody where they are: `_move_open_requests`);
    answered ones stay as recorded.
    Raises ReviewError (Chinese) for an agency of another government or one merged away;
    NotFound / Conflict for an unknown or resolved row. Does not commit."""
    row = _open_row(session, review_id, "name")
    added = session.get(Agency, row.agency_id) if row.agency_id else None
    target = session.get(Agency, agency_id)
    if added is None:
        raise ReviewError(f"“{row.phrase}”对应的单位已不在名录中")
    if target is None or target.government != added.government or target.id == added.id:
        raise ReviewError(f"请从{added.government}的单位中选择“{row.phrase}”对应的单位")
    if target.merged_into_id is not None:
        raise ReviewError(f"“{target.name}”已合并到其他单位，请选择合并后的单位")
    added.merged_into_id, added.merged_on = target.id, None
    insert_ignore_values(session, AgencyAlias.__table__, [  # type: ignore[arg-type]
        dict(agency_id=target.id, government=target.government, alias=row.phrase)])
    moved = move_assignments(session, [added.id], target.id)
    requests = _move_open_requests(session, added.id, target.id)
    row.agency_ids = [target.id]
    _done(session, row, "mapped", by, now, agency=target.name, assignments_moved=moved,
          requests_moved=requests)


def _move_open_requests(session: Session, from_id: int, to_id: int) -> int:
    """The open requests of an agency that was only another name of `to_id`: they were
    that agency's work all along and reach nobody where they are (the added row has no
    liaison), so each moves to `to_id`'s assignment of the same measure, unless `to_id`
    was asked for that measure and period already (then it stays). Answered and waived
    ones stay as recorded. Three queries and one batched update."""
    open_ = RequestState.OPEN.value
    rows = session.execute(
        select(ProgressRequest, Assignment.measure_id)
        .join(Assignment, Assignment.id == ProgressRequest.assignment_id)
        .where(ProgressRequest.agency_id == from_id, ProgressRequest.state == open_)).all()
    indicator_rows = session.scalars(select(ProgressRequest).where(
        ProgressRequest.agency_id == from_id, ProgressRequest.indicator_id.is_not(None),
        ProgressRequest.state == open_)).all()
    if not rows and not indicator_rows:
        return 0
    theirs = dict(session.execute(select(Assignment.measure_id, Assignment.id).where(
        Assignment.agency_id == to_id, Assignment.active.is_(True),
        Assignment.measure_id.in_({m for _, m in rows}))).all())
    asked: set[tuple[int, int | None]] = {
        (p, a) for p, a in session.execute(
            select(ProgressRequest.period_id, ProgressRequest.assignment_id)
            .where(ProgressRequest.assignment_id.in_(list(theirs.values()))))}
    moved = 0
    for req, measure_id in rows:
        target_assignment = theirs.get(measure_id)
        if target_assignment is not None and (req.period_id, target_assignment) not in asked:
            req.agency_id, req.assignment_id = to_id, target_assignment
            asked.add((req.period_id, target_assignment))
            moved += 1
    for req in indicator_rows:
        req.agency_id = to_id
        moved += 1
    session.flush()
    return moved


def accept_name(session: Session, review_id: int, *, by: str, now: dt.datetime) -> None:
    """The name is a new agency of the directory, as the load added it. Does not commit."""
    row = _open_row(session, review_id, "name")
    _done(session, row, "accepted", by, now)


def assign_flag(session: Session, review_id: int, agency_ids: Iterable[int], *, by: str,
                now: dt.datetime) -> int:
    """The flagged phrase means these agencies: each gets an assignment of the measure
    (district for the districts field, co-responsible otherwise), added after the measure's
    others, or reactivated; an active one stays as it is. Returns the number added.
    Raises ReviewError (Chinese) when nothing is picked or a pick is not among the
    choices (the plan's districts, or its government's agencies). Does not commit."""
    row = _open_row(session, review_id, "flag")
    if row.field not in ASSIGNABLE:
        raise ReviewError(f"“{row.phrase}”（{FIELDS.get(row.field, row.field)}）不是单位，"
                          "只能写明理由后不予处理")
    picked = sorted(set(agency_ids))
    if not picked:
        raise ReviewError(f"请选择“{row.phrase}”所指的单位")
    plan = session.get_one(Plan, row.plan_id)
    measure = session.scalar(select(Measure).where(Measure.plan_id == plan.id,
                                                   Measure.code == row.measure_code))
    if measure is None:
        raise ReviewError(f"规划中已没有任务 {row.measure_code}")
    if row.field == "districts":
        allowed = set(lookup_names(session, plan.government, set(plan.districts)).values())
    else:
        allowed = {i for i, _ in _choosable(session, {plan.government}).get(plan.government, [])}
    if not set(picked) <= allowed:
        raise ReviewError("所选单位不在可选范围内，请刷新页面后重新选择")
    role = Role.DISTRICT if row.field == "districts" else Role.CO
    there = {a.agency_id: a for a in session.scalars(
        select(Assignment).where(Assignment.measure_id == measure.id))}
    last = max((a.position for a in there.values()), default=-1)
    added = 0
    for agency_id in picked:
        a = there.get(agency_id)
        if a is None:
            last += 1
            session.add(Assignment(measure_id=measure.id, agency_id=agency_id, role=role,
                                   position=last))
            added += 1
        elif not a.active:
            last += 1
            a.active, a.role, a.position = True, role, last
            added += 1
    row.agency_ids = picked
    _done(session, row, "assigned", by, now, agencies=picked, assignments_added=added)
    return added


def dismiss(session: Session, review_id: int, note: str, *, by: str, now: dt.datetime) -> None:
    """Leave a flagged phrase as it is, with the office's reason (required). Does not
    commit. Raises ReviewError without a reason."""
    row = _open_row(session, review_id, "flag")
    note = note.strip()
    if not note:
        raise ReviewError("请写明不予处理的理由")
    row.note = note[:500]
    _done(session, row, "dismissed", by, now, note=row.note)
