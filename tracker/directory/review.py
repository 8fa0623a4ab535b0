"""The office's review list of the directory (单位名录待核, issue 13, item 4).

A load (`tracker.catalog.load`) leaves two kinds of row here (`DirectoryReview`):
- a phrase the catalog flagged on a measure (`Measure.flags`): a generic phrase
  (各有关部门和单位, 等有关部门), 有关区 (which districts?), a deadline or indicator the
  importer could not read. The office picks the agencies or districts it means (the
  assignments are created: co-responsible, or district for the districts field), sets an
  unreadable 完成时限 (`set_deadline`: a day, a day of each year, or 长期坚持; the measure's
  deadline then tracked as a milestone and kept on a reload) or dismisses it with a reason;
- a name the directory did not know: the loader added it as a new agency so the task is
  tracked at once, its requests held until the office decides (`directory.holds`: opened,
  nothing sent, no ladder). The office maps it to an existing agency (the name becomes that
  agency's alias; its assignments and held requests move there, see `map_name`) or accepts
  it as a new agency (its requests are released). When a government's directory is empty,
  the first plan loaded establishes it: its names are not "unknown", except those that
  read like another name of the plan or the directory (`directory.variants`: 市人力社保局
  beside 市人力资源和社会保障局), listed for the office, never merged silently;
- a merge recorded by `tracker agency merge` closes the rows of the names it merges
  (`close_merged`).

Each resolution is one audited action (`AuditEvent`, action `directory.review.*`).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from tracker.catalog.schema import Catalog
from tracker.dates.chinese import cn_date
from tracker.dates.workdays import local_date
from tracker.directory.agencies import lookup_names
from tracker.directory.holds import (
    Moved,
    move_open_requests,
    notify,
    redate,
    release,
    waiting_agencies,
)
from tracker.directory.renames import move_assignments
from tracker.directory.variants import likely_variant
from tracker.enums import DeadlineKind, RequestState, Role
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
from tracker.policy import Policy
from tracker.sql import insert_ignore_rows, insert_ignore_values

OPEN = "open"
STATES = {"open": "待处理", "mapped": "已对应到已有单位", "accepted": "已确认为新单位",
          "assigned": "已指定单位", "dated": "已设定完成时限", "dismissed": "不予处理"}
FIELDS = {"lead": "牵头单位", "co": "配合单位", "districts": "区县", "deadline": "完成时限",
          "indicators": "关联指标", "name": "单位名称"}
ASSIGNABLE = ("lead", "co", "districts")  # fields whose phrase stands for agencies


class ReviewError(DomainError):
    """A refusal of a review action, in Chinese."""


NEW_NAME = ("单位名录中原无此名称，载入时已作为新单位加入，其进展调度暂不发送、不催办；请确认为新单位，"
            "或对应到名录中已有的单位（如简称、曾用名）")
VARIANT = ("与“{other}”可能是同一单位的不同写法，载入时已作为新单位加入，其进展调度暂不发送、不催办；"
           "如是同一单位，请对应到“{other}”，否则请确认为新单位")


def record_reviews(session: Session, plan_id: int, catalog: Catalog,
                   new_names: dict[str, int], now: dt.datetime,
                   variants: dict[str, str] | None = None) -> int:
    """Add the catalog's flagged phrases and the names to review (`new_names`: {name: the
    agency id the load added}; `variants`: {name: the look-alike it likely repeats}, named
    in the reason) to the review list of plan `plan_id`. INSERT … ON CONFLICT DO NOTHING
    by executemany in chunks (each statement one row's size, however many names): a row
    already there (open or resolved) stays as it is. Returns the number of rows added
    (the plan's rows counted before and after: two index-backed counts)."""
    variants = variants or {}
    rows: list[dict[str, object]] = [
        dict(plan_id=plan_id, kind="flag", measure_code=m.code, field=f.field,
             phrase=f.phrase[:200], reason=f.reason, agency_id=None, state=OPEN,
             agency_ids=[], created_at=now)
        for m in catalog.measures for f in m.flags]
    rows += [dict(plan_id=plan_id, kind="name", measure_code="", field="name", phrase=name,
                  reason=VARIANT.format(other=variants[name]) if name in variants else NEW_NAME,
                  agency_id=agency_id, state=OPEN, agency_ids=[], created_at=now)
             for name, agency_id in sorted(new_names.items())]
    if not rows:
        return 0
    count = select(func.count()).select_from(DirectoryReview).where(
        DirectoryReview.plan_id == plan_id)
    before = session.scalar(count) or 0
    insert_ignore_rows(session, DirectoryReview.__table__, rows)  # type: ignore[arg-type]
    return (session.scalar(count) or 0) - before


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
    held: int = 0  # a new name's open requests, held until the office decides (directory.holds)

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
    # the agencies the open rows name, as a subquery; the resolved rows shown are at most
    # `resolved_limit`, so their few ids may be listed
    named = select(DirectoryReview.agency_id).where(DirectoryReview.state == OPEN,
                                                    DirectoryReview.agency_id.is_not(None))
    shown = {r.agency_id for r, *_ in done if r.agency_id}
    shown |= {i for r, *_ in [*rows, *done] for i in r.agency_ids}
    names = dict(session.execute(select(Agency.id, Agency.name).where(
        or_(Agency.id.in_(named), Agency.id.in_(shown)))).all())
    choosable = _choosable(session, select(Plan.government).join(
        DirectoryReview, DirectoryReview.plan_id == Plan.id).where(DirectoryReview.state == OPEN))
    held = dict(session.execute(
        select(ProgressRequest.agency_id, func.count())
        .where(ProgressRequest.agency_id.in_(waiting_agencies()),
               ProgressRequest.state == RequestState.OPEN.value)
        .group_by(ProgressRequest.agency_id)).all())
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
        waiting = held.get(r.agency_id or 0, 0) if r.kind == "name" and r.state == OPEN else 0
        return ReviewItem(r, plan.title, measure, agency, choices, similar, waiting)

    return ReviewPage([item(r, p, t) for r, p, t, _ in rows],
                      [item(r, p, t) for r, p, t, _ in done])


def similar_names(name: str, names: list[str], limit: int = 3) -> list[str]:
    """Up to `limit` of `names` that read like `name`: likely variants first
    (`directory.variants`: 市人力社保局 and 市人力资源和社会保障局), then by difflib's ratio
    ≥ 0.8, most alike first: a hint for the office, never a decision."""
    scored = [(likely_variant(name, n), SequenceMatcher(None, name, n).ratio(), n)
              for n in names if n != name]
    return [n for variant, ratio, n in sorted(scored, key=lambda x: (not x[0], -x[1], x[2]))
            if variant or ratio >= 0.8][:limit]


def _choosable(session: Session, governments: set[str] | Select[Any]
               ) -> dict[str, list[tuple[int, str]]]:
    """{government: [(id, name)]} of the agencies one may map to or pick: not merged away,
    not a name still waiting on the list; by name. `governments`: names, or a SELECT of
    them (the review page's: the governments of its open rows)."""
    if not isinstance(governments, Select) and not governments:
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
             now: dt.datetime, policy: Policy) -> Moved:
    """The name is another name of agency `agency_id` (same government): it becomes its
    alias, the agency the load added for it is marked merged into it from the start (so
    the name resolves there on any day), its active assignments and indicators move there,
    and its held open requests move there and are released from the mapping day
    (`directory.holds`: a duplicate of the agency's own is closed; answered ones stay as
    recorded). Returns the requests moved, closed and kept (also in the audit detail).
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
    if target.id in set(session.scalars(waiting_agencies())):
        raise ReviewError(f"“{target.name}”本身也在待核名单中，请先确认该单位")
    added.merged_into_id, added.merged_on = target.id, None
    insert_ignore_values(session, AgencyAlias.__table__, [  # type: ignore[arg-type]
        dict(agency_id=target.id, government=target.government, alias=row.phrase)])
    moved = move_assignments(session, [added.id], target.id)
    redate(session, added.id, now, policy)  # the held ones, as issued today, then moved
    requests = move_open_requests(
        session, added.id, target.id, now=now,
        reason=f"“{row.phrase}”经督查室核定即“{target.name}”，该单位已有同期同一任务的进展调度，此项不再重复报送")
    row.agency_ids = [target.id]
    _done(session, row, "mapped", by, now, agency=target.name, assignments_moved=moved,
          requests_moved=requests.moved, requests_closed=requests.closed,
          requests_kept=requests.kept)
    notify(session, target.id, now, policy)
    return requests


def accept_name(session: Session, review_id: int, *, by: str, now: dt.datetime,
                policy: Policy) -> int:
    """The name is a new agency of the directory, as the load added it: its held requests
    are released from today (`directory.holds`). Returns how many. Does not commit."""
    row = _open_row(session, review_id, "name")
    _done(session, row, "accepted", by, now)
    return release(session, row.agency_id, now, policy) if row.agency_id else 0


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
                          + ("请设定完成时限，或写明理由后不予处理" if row.field == "deadline"
                             else "只能写明理由后不予处理"))
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


DEADLINE_KINDS = ("date", "yearly", "ongoing")


def set_deadline(session: Session, review_id: int, kind: str, *, due: dt.date | None = None,
                 month: int | None = None, day: int | None = None, by: str,
                 now: dt.datetime) -> str:
    """Resolve a flagged 完成时限 the importer could not read (field deadline): the measure
    is due on `due` (kind date: a day not before today, Asia/Shanghai, else nothing would
    track it), each plan year on `month`/`day` (kind yearly; 29 February falls on the 28th
    in other years, `requests.milestones`) or is 长期坚持 (kind ongoing: no milestone, the
    periodic requests track it). The document's words stay the measure's deadline text;
    a reload keeps what the office set while the catalog writes no deadline of its own
    (`office_deadlines`). Returns what was set, in words (also the row's note). Audited.
    Raises ReviewError (Chinese) for another field, an unknown kind, a missing or past day,
    an impossible month and day, or a measure no longer in the plan. Does not commit."""
    row = _open_row(session, review_id, "flag")
    if row.field != "deadline":
        raise ReviewError(f"“{row.phrase}”（{FIELDS.get(row.field, row.field)}）不是完成时限")
    if kind not in DEADLINE_KINDS:
        raise ReviewError("请选择完成时限的设定方式")
    measure = session.scalar(select(Measure).where(Measure.plan_id == row.plan_id,
                                                   Measure.code == row.measure_code,
                                                   Measure.active.is_(True)))
    if measure is None:
        raise ReviewError(f"规划中已没有任务 {row.measure_code}")
    values: dict[str, object] = dict(deadline_kind=DeadlineKind(kind), deadline_due=None,
                                     deadline_month=None, deadline_day=None)
    if kind == "date":
        if due is None:
            raise ReviewError("请填写完成日期（如 2018-06-30）")
        if due < local_date(now):
            raise ReviewError(f"完成日期 {cn_date(due)} 早于今天，无法再作为完成时限跟踪；"
                              "如无需跟踪，请写明理由后不予处理")
        values["deadline_due"] = due
        words = f"{cn_date(due)}前完成"
    elif kind == "yearly":
        if month is None or day is None or not 1 <= month <= 12 \
                or not 1 <= day <= calendar.monthrange(2020, month)[1]:
            raise ReviewError("请填写每年完成的月份和日期（如 12 月 31 日）")
        values.update(deadline_month=month, deadline_day=day)
        words = f"每年{month}月{day}日前完成"
    else:
        words = "长期坚持（不设完成时限，由定期进展调度跟踪）"
    values["deadline_text"] = row.phrase[:100]
    for key, value in values.items():
        setattr(measure, key, value)
    row.note = words
    _done(session, row, "dated", by, now, deadline=kind,
          due=due.isoformat() if due and kind == "date" else None,
          month=month if kind == "yearly" else None, day=day if kind == "yearly" else None)
    return words


def office_deadlines(session: Session, plan_id: int) -> set[str]:
    """The codes of plan `plan_id`'s measures whose 完成时限 the office set on the review
    list (`set_deadline`): a reload keeps them while the catalog writes none. One query."""
    return set(session.scalars(select(DirectoryReview.measure_code).where(
        DirectoryReview.plan_id == plan_id, DirectoryReview.state == "dated")))
