"""Changes of the agency directory over time: another name of an agency (an alias, valid
between two days: a renamed agency) and merges (市国税局 and 市地税局 merged into 国家税务总局
天津市税务局 in 2018), recorded by the office (`tracker agency alias`, `tracker agency
merge`) or by resolving a name on the desk's review list (`tracker.directory.review`).

What a merge does (the rule, decided for issue 13):
- from the merging day the old names resolve to the new agency (`agencies.resolve`), so
  a catalog loaded later that still writes 市国税局 gives its tasks to the new agency;
- the old agencies' active assignments and the indicators they report move to the new
  agency at once (one assignment per measure: the strongest role of those merged, lead
  before co before district), so every request opened from now on is the new agency's;
- requests already opened stay with the old row, as asked: their due days, ladder and
  answers are the old agency's record (its scorecard of the year counts them), and its
  liaison's link still opens them until the office deactivates that liaison;
- a merged name still waiting on the office's review list (a new name the office had not
  confirmed, `directory.review`) is resolved by the merge: its row is closed as mapped to
  the new agency and, since nobody ever answered for it, its held requests move there as
  a mapping moves them (`directory.holds`); an `into` still waiting is closed as accepted
  and its held requests are released.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tracker.dates.workdays import local_date
from tracker.directory.agencies import AgencyError, resolve
from tracker.directory.holds import move_open_requests, notify, redate
from tracker.enums import AgencyKind, Role
from tracker.models import Agency, AgencyAlias, Assignment, AuditEvent, DirectoryReview, Indicator
from tracker.policy import Policy
from tracker.sql import id_set, name_set

_STRENGTH = {Role.LEAD: 0, Role.CO: 1, Role.DISTRICT: 2}


def add_alias(session: Session, government: str, agency: str, alias: str, *,
              valid_from: dt.date | None = None, valid_to: dt.date | None = None,
              actor: str, now: dt.datetime) -> bool:
    """Record `alias` as another name of `agency` (its name or a known alias) under
    `government`, valid from `valid_from` (inclusive) to `valid_to` (exclusive), open-ended
    when empty. Recording it again with other days changes the days. Returns True if
    anything changed; audited.

    Raises AgencyError (Chinese) for an unknown agency, days in the wrong order, an alias
    that is another agency's own name (record a merge instead) or another agency's alias.
    Does not commit.
    """
    alias, agency = alias.strip(), agency.strip()
    if not alias:
        raise AgencyError("简称不能为空", code="alias-empty")
    target = resolve(session, government, agency)
    if target is None:
        raise AgencyError(f"单位名录中没有 {government} 的“{agency}”", status=404,
                          code="unknown-agency")
    if valid_from and valid_to and valid_from >= valid_to:
        raise AgencyError(f"简称“{alias}”的启用日期 {valid_from} 应早于停用日期 {valid_to}",
                          code="alias-dates")
    own = session.scalar(select(Agency.id).where(Agency.government == government,
                                                 Agency.name == alias))
    if own is not None and own != target:
        raise AgencyError(f"“{alias}”是单位名录中另一单位的名称；两者如为同一单位，请记录合并"
                          "（tracker agency merge）", code="alias-is-agency")
    if own == target:
        raise AgencyError(f"“{alias}”就是该单位的名称，无需再记为简称", code="alias-is-name")
    row = session.scalar(select(AgencyAlias).where(AgencyAlias.government == government,
                                                   AgencyAlias.alias == alias))
    if row is not None and row.agency_id != target:
        raise AgencyError(f"简称“{alias}”已属于另一单位，不能再作为“{agency}”的简称",
                          code="alias-clash")
    if row is None:
        session.add(AgencyAlias(agency_id=target, government=government, alias=alias,
                                valid_from=valid_from, valid_to=valid_to))
    elif (row.valid_from, row.valid_to) != (valid_from, valid_to):
        row.valid_from, row.valid_to = valid_from, valid_to
    else:
        return False
    session.add(AuditEvent(at=now, actor=actor, action="agency.alias", object_type="agency",
                           object_id=str(target), detail={
                               "alias": alias, "valid_from": _iso(valid_from),
                               "valid_to": _iso(valid_to)}))
    session.flush()
    return True


def merge_agencies(session: Session, government: str, old: Iterable[str], into: str, *,
                   on: dt.date, actor: str, now: dt.datetime, policy: Policy,
                   kind: AgencyKind | None = None) -> int:
    """Record that the agencies named `old` (their own names in the directory) were merged
    into `into` on day `on` (see the module's rule). `into` is added to the directory when
    it is not there yet, with `kind` (default: the first old agency's). Returns the number
    of assignments moved; recording the same merge again changes nothing. Audited; the
    review-list rows of the names involved are closed (`_close_reviews`; `policy` dates the
    requests they release).

    Raises AgencyError (Chinese) for an unknown old name, a merging day after today, an
    agency merged into itself or already merged into another one. Does not commit.
    """
    if on > local_date(now):
        raise AgencyError(f"合并日期 {on} 晚于今天，请在合并生效后再记录", code="merge-future")
    names = [n.strip() for n in old if n.strip()]
    with name_set(session, names) as named:
        rows = {a.name: a for a in session.scalars(select(Agency).where(
            Agency.government == government, Agency.name.in_(named)))}
    missing = [n for n in names if n not in rows]
    if not names or missing:
        raise AgencyError(f"单位名录中没有 {government} 的“{'”“'.join(missing or ['（空）'])}”",
                          status=404, code="unknown-agency")
    target_id = resolve(session, government, into)
    if target_id is None:
        new_kind = kind or rows[names[0]].kind
        target = Agency(government=government, name=into.strip(), kind=new_kind)
        session.add(target)
        session.flush()
        target_id = target.id
    for name in names:
        row = rows[name]
        if row.id == target_id:
            raise AgencyError(f"“{name}”不能合并到自身", code="merge-self")
        if row.merged_into_id not in (None, target_id):
            raise AgencyError(f"“{name}”已记录合并到另一单位", code="merge-clash")
    fresh = [rows[n] for n in names
             if (rows[n].merged_into_id, rows[n].merged_on) != (target_id, on)]
    for row in fresh:
        row.merged_into_id, row.merged_on = target_id, on
    moved = move_assignments(session, [rows[n].id for n in names], target_id)
    if fresh or moved:
        session.add(AuditEvent(at=now, actor=actor, action="agency.merge", object_type="agency",
                               object_id=str(target_id), detail={
                                   "merged": names, "on": on.isoformat(),
                                   "assignments_moved": moved}))
    _close_reviews(session, [rows[n] for n in names], session.get_one(Agency, target_id),
                   actor=actor, now=now, policy=policy)
    session.flush()
    return moved


def _close_reviews(session: Session, merged: list[Agency], target: Agency, *, actor: str,
                   now: dt.datetime, policy: Policy) -> None:
    """Close the open review-list rows (kind name) of the merged agencies (mapped to
    `target`, their held requests moved and released) and of `target` (accepted, its held
    requests released), each audited as the review page's action is. A few statements
    per row; a merge names a handful of agencies."""
    with id_set(session, [*(a.id for a in merged), target.id]) as ids:
        rows = session.scalars(select(DirectoryReview).where(
            DirectoryReview.kind == "name", DirectoryReview.state == "open",
            DirectoryReview.agency_id.in_(ids)).order_by(DirectoryReview.id)).all()
    for row in rows:
        state = "accepted" if row.agency_id == target.id else "mapped"
        row.state, row.resolved_at, row.resolved_by = state, now, actor
        detail: dict[str, object] = {"phrase": row.phrase, "measure": "", "field": "name",
                                     "by_merge": True}
        session.flush()  # the name no longer waits: its requests may be released
        if state == "mapped" and row.agency_id is not None:
            row.agency_ids = [target.id]
            redate(session, row.agency_id, now, policy)
            requests = move_open_requests(
                session, row.agency_id, target.id, now=now,
                reason=f"“{row.phrase}”已并入“{target.name}”，该单位已有同期同一任务的进展调度，此项不再重复报送")
            detail.update(agency=target.name, requests_moved=requests.moved,
                          requests_closed=requests.closed, requests_kept=requests.kept)
        session.add(AuditEvent(at=now, actor=actor, action=f"directory.review.{state}",
                               object_type="directory_review", object_id=str(row.id),
                               detail=detail))
    if rows:
        session.flush()
        if any(r.state == "accepted" for r in rows):
            redate(session, target.id, now, policy)
        notify(session, target.id, now, policy)


def move_assignments(session: Session, from_ids: list[int], to_id: int) -> int:
    """Move the active assignments of the agencies `from_ids` to agency `to_id`, one per
    measure with the strongest role (lead, co, district), and the active indicators they
    report; the old assignments are deactivated, their requests stay where they are.
    Returns the number of assignments moved. A fixed number of statements of constant
    size (the ids through temporary tables, `tracker.sql.id_set`; the ORM batches the row
    updates), whatever the count."""
    with id_set(session, from_ids) as moving_from:
        moving = list(session.scalars(select(Assignment).where(
            Assignment.agency_id.in_(moving_from), Assignment.active.is_(True))))
        best: dict[int, Assignment] = {}
        for a in sorted(moving, key=lambda a: (_STRENGTH[a.role], a.position, a.id)):
            best.setdefault(a.measure_id, a)
        with id_set(session, best) as measure_ids:
            there = {a.measure_id: a for a in session.scalars(select(Assignment).where(
                Assignment.agency_id == to_id, Assignment.measure_id.in_(measure_ids)))} \
                if best else {}
        for a in moving:
            a.active = False
        for measure_id, a in best.items():
            row = there.get(measure_id)
            if row is None:
                session.add(Assignment(measure_id=measure_id, agency_id=to_id, role=a.role,
                                       position=a.position))
            elif not row.active:
                row.active, row.role, row.position = True, a.role, a.position
            elif _STRENGTH[a.role] < _STRENGTH[row.role]:
                row.role = a.role
        session.flush()
        session.execute(update(Indicator).where(Indicator.owner_agency_id.in_(moving_from),
                                                Indicator.active.is_(True))
                        .values(owner_agency_id=to_id))
    session.flush()
    return len(moving)


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None
