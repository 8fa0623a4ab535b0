"""What a liaison sees behind their link: the agency's requests, pre-filled, with peers.

Everything is read with a handful of set-based queries for the whole agency, never one
query per item (an agency like 市残联 has ~40 requests a quarter; a district 38). The
landing page lists the items compactly (`agency_items(..., detail=False)`, grouped by
`item_groups`); one item's page reads the same for one request (`item_page`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, and_, case, func, literal, or_, select, tuple_
from sqlalchemy.orm import Session, aliased

from tracker.annual.indicators import (
    explanations_for,
    pending_explanation_requests,
    target_text,
)
from tracker.dates.chinese import cn_period
from tracker.enums import ExtensionState, Light, RequestState, ReviewState, Role
from tracker.errors import Forbidden
from tracker.models import (
    Agency,
    Assignment,
    Evidence,
    ExtensionRequest,
    Indicator,
    Measure,
    Plan,
    ProgressReport,
    ProgressRequest,
    ReportDraft,
    ReportingPeriod,
)
from tracker.policy import Policy
from tracker.requests.milestones import is_milestone_label
from tracker.requests.rules import is_overdue, light
from tracker.sql import id_set

FIELDS = ("status", "percent", "narrative", "problems", "next_steps")


@dataclass
class Item:
    """One request as the answer form shows it."""

    request_id: int
    plan: str  # the plan's title: one link shows the agency's items of every plan
    period: str
    due_on: dt.date
    due_provisional: bool  # counted over a year the calendar does not cover (暂定)
    state: RequestState
    role: Role | None
    measure_code: str | None
    measure_title: str
    measure_text: str
    section: str
    indicator: dict[str, Any] | None
    latest: dict[str, Any] | None = None  # this request's latest submitted version
    versions: int = 0
    prefill: dict[str, Any] = field(default_factory=dict)
    prefill_source: str = ""  # draft, latest, previous (period), posted, or empty
    prefill_period: str = ""  # the previous period's name in words when source is previous
    evidence: list[dict[str, Any]] = field(default_factory=list)
    extension: dict[str, Any] | None = None  # the latest extension request
    extensions: list[dict[str, Any]] = field(default_factory=list)  # every one, oldest first
    original_due_on: dt.date | None = None  # the due day before any extension
    today: dt.date | None = None  # the local day the item was read on (Asia/Shanghai)
    peers: list[dict[str, Any]] = field(default_factory=list)  # lead only: one page of them
    peer_counts: dict[str, int] = field(default_factory=dict)  # lead only: peers per state
    peer_total: int = 0  # lead only: every peer of the measure this period
    peer_reported: int = 0  # lead only: peers that have reported
    peers_next: str | None = None  # the cursor of the next page of peers (`peer_cursor`)
    peers_after: tuple[int, int] | None = None  # the cursor this page of peers starts after
    agency_id: int = 0  # whose item it is: one person may serve several agencies
    agency: str = ""
    plan_id: int = 0
    period_name: str = ""  # `period` (2017Q1 as stored) in words: 2017年第一季度
    light: Light = Light.GREEN  # the board's light (requests.rules.light); needs a policy
    overdue: bool = False  # open past its due day (requests.rules.is_overdue)
    answered_late: bool | None = None
    returned: bool = False  # open again because the office returned its latest report
    return_comment: str = ""
    # an indicator value off its trajectory whose owner is asked for a written explanation
    # (tracker.annual.indicators.explanations_for): asked_at, text (None until written) …
    explanation: dict[str, Any] | None = None
    deadline_text: str = ""  # the task's own 完成时限 as the plan writes it, if any

    @property
    def milestone(self) -> bool:
        """The request is the task's own 完成时限 (tracker.requests.milestones): a
        完成情况报告, 已完成 or why not and by when."""
        return is_milestone_label(self.period)

    @property
    def explanation_pending(self) -> bool:
        """Asked for a written explanation (偏离进度说明) not yet written."""
        return self.explanation is not None and not self.explanation.get("text")

    @property
    def code(self) -> str:
        """The measure's code, or the indicator's (I1 …)."""
        return self.measure_code or (self.indicator or {}).get("code", "")

    @property
    def action_rank(self) -> int:
        """How soon the liaison must act: 0 returned (退回修改), 1 overdue, 2 open, 3 none."""
        if self.state != RequestState.OPEN:
            return 1 if self.explanation_pending else 3
        return 0 if self.returned else 1 if self.overdue else 2

    @property
    def state_label(self) -> str:
        """The state as the liaison reads it; a returned report says what to do."""
        if self.explanation_pending:
            return "指标偏离进度，请填写说明"
        return "已退回，请修改后重新报送" if self.returned else RequestState(self.state).label

    @property
    def can_ask_extension(self) -> bool:
        """Whether the page offers 申请延期 (the rule is `extensions.ask_extension`'s): open,
        not past its due day, none pending and none granted before."""
        return (self.state == RequestState.OPEN and self.today is not None
                and self.today <= self.due_on
                and not any(e["state"] in (ExtensionState.PENDING, ExtensionState.GRANTED)
                            for e in self.extensions))


@dataclass
class ItemGroup:
    """The items of one plan and period on the landing page (`item_groups`)."""

    plan: str
    period: str  # in words: 2017年第一季度
    items: list[Item]

    @property
    def open_count(self) -> int:
        return sum(1 for i in self.items if i.state == RequestState.OPEN)

    @property
    def overdue_count(self) -> int:
        return sum(1 for i in self.items if i.overdue)

    @property
    def returned_count(self) -> int:
        return sum(1 for i in self.items if i.returned)

    @property
    def counts(self) -> str:
        """The group's heading line, one format for every group, every number shown."""
        answered = sum(1 for i in self.items if i.state == RequestState.ANSWERED)
        return (f"共 {len(self.items)} 项：待报送 {self.open_count} 项（其中已退回 "
                f"{self.returned_count} 项，已逾期 {self.overdue_count} 项），已报送 {answered} 项")


def _report_dict(r: ProgressReport) -> dict[str, Any]:
    return {"id": r.id, "version": r.version, "status": r.status, "percent": r.percent,
            "narrative": r.narrative, "problems": r.problems, "next_steps": r.next_steps,
            "value": r.value, "numerator": r.numerator, "denominator": r.denominator,
            "source": r.value_source or "", "submitted_at": r.submitted_at, "late": r.late,
            "review_state": r.review_state, "review_comment": r.review_comment}


def latest_reports(session: Session, request_ids: Collection[int] | Select[int]
                   ) -> dict[int, tuple[ProgressReport, int]]:
    """request id -> (latest version, number of versions), one query.

    `request_ids`: a SELECT of request ids (used as a subquery), or ids from Python, held
    in a temporary table (`tracker.sql.id_set`): no statement binds one parameter per id."""
    if isinstance(request_ids, Select):
        return _latest_reports(session, request_ids)
    if not request_ids:
        return {}
    with id_set(session, request_ids) as ids:
        return _latest_reports(session, ids)


def _latest_reports(session: Session, ids: Select[int]
                    ) -> dict[int, tuple[ProgressReport, int]]:
    ranked = (
        select(ProgressReport.id,
               func.row_number().over(partition_by=ProgressReport.request_id,
                                      order_by=ProgressReport.version.desc()).label("rn"),
               func.count().over(partition_by=ProgressReport.request_id).label("n"))
        .where(ProgressReport.request_id.in_(ids)).subquery()
    )
    rows = session.execute(
        select(ProgressReport, ranked.c.n).join(ranked, ranked.c.id == ProgressReport.id)
        .where(ranked.c.rn == 1)
    ).all()
    return {r.request_id: (r, n) for r, n in rows}


def agency_items(session: Session, agency_id: int | Collection[int], today: dt.date,
                 policy: Policy | None = None, *, request_ids: Collection[int] | None = None,
                 detail: bool = True, peers_after: tuple[int, int] | None = None
                 ) -> list[Item]:
    """The agency's open requests, and those answered in its latest periods, in plan order.

    `agency_id` may be several agencies (one person serving several, issue 8 item 4): the
    items of all of them, each naming its agency (`Item.agency`); the same few queries.
    `today` is the local date (Asia/Shanghai). With `policy`, each item carries the board's
    light (`requests.rules.light`: red overdue, yellow due within `Rules.yellow_within`
    working days or answered late). `request_ids` reads those requests only (any period,
    still only the agency's); `detail=False` skips reports, drafts, evidence, extensions
    and peers (the landing page's compact list); a lead's item carries its peers summarised
    and one page of them, after the cursor `peers_after` (`_attach_peers`).
    """
    # a person's agencies: a handful (one liaison serving several), not a data-sized set
    agency_ids = [agency_id] if isinstance(agency_id, int) else sorted(set(agency_id))
    # the latest period of each plan (plans may ask quarterly and half-yearly side by side)
    earlier, asked = aliased(ReportingPeriod), aliased(ProgressRequest)
    recent = (select(func.max(earlier.issue_on))
              .join(asked, asked.period_id == earlier.id)
              .where(asked.agency_id == ProgressRequest.agency_id, earlier.issue_on <= today,
                     earlier.plan_id == ReportingPeriod.plan_id)
              .correlate(ReportingPeriod, ProgressRequest)
              .scalar_subquery())
    which = [ProgressRequest.agency_id.in_(agency_ids),
             *([ProgressRequest.id.in_(list(request_ids))] if request_ids is not None else
               [ProgressRequest.state != RequestState.WAIVED.value,
                or_(ProgressRequest.state == RequestState.OPEN.value,
                    ReportingPeriod.issue_on == recent,
                    ProgressRequest.id.in_(pending_explanation_requests()))])]
    # the same requests as a SELECT of their ids: every later query takes the page's set
    # as a subquery (a lead with thousands of items binds no id and chains no OR)
    scope = (select(ProgressRequest.id)
             .join(ReportingPeriod, ReportingPeriod.id == ProgressRequest.period_id)
             .where(*which))
    rows = session.execute(
        select(ProgressRequest, ReportingPeriod.label, Assignment.role, Assignment.measure_id,
               Measure.code, Measure.title, Measure.text, Measure.section, Indicator, Plan.title,
               Agency.name, Plan.id, Measure.deadline_text)
        .join(ReportingPeriod, ReportingPeriod.id == ProgressRequest.period_id)
        .join(Plan, Plan.id == ReportingPeriod.plan_id)
        .join(Agency, Agency.id == ProgressRequest.agency_id)
        .outerjoin(Assignment, Assignment.id == ProgressRequest.assignment_id)
        .outerjoin(Measure, Measure.id == Assignment.measure_id)
        .outerjoin(Indicator, Indicator.id == ProgressRequest.indicator_id)
        .where(*which)
        .order_by(ReportingPeriod.due_on, Plan.id, ProgressRequest.agency_id, Measure.position,
                  Indicator.id)
    ).all()
    items: list[Item] = []
    by_request: dict[int, Item] = {}
    assignment_of: dict[int, int] = {}
    for req, period, role, _mid, code, title, text, section, ind, plan_title, agency, plan_id, \
            deadline in rows:
        item = Item(
            request_id=req.id, plan=plan_title, period=period, due_on=req.due_on,
            due_provisional=req.due_provisional, state=req.state, role=role,
            measure_code=code, measure_title=title or (ind.name if ind else ""),
            measure_text=text or "", section="主要指标" if _mid is None else section,
            indicator=None if ind is None else {
                "code": ind.code, "name": ind.name, "target": ind.target,
                "comparator": ind.comparator, "unit": ind.unit, "kind": ind.kind,
                "level_name": ind.level_name, "level_unit": ind.level_unit,
                "target_text": target_text(ind.comparator, ind.target, ind.unit)},
            agency_id=req.agency_id, agency=agency, plan_id=plan_id, period_name=cn_period(period),
            overdue=is_overdue(req.state, req.due_on, today), answered_late=req.answered_late,
            original_due_on=req.original_due_on, today=today, deadline_text=deadline or "",
        )
        if policy is not None:
            item.light = light(req.state, req.due_on, req.answered_late, today, policy)
        items.append(item)
        by_request[req.id] = item
        if req.assignment_id is not None:
            assignment_of[req.id] = req.assignment_id
    if any(i.indicator is not None for i in items):
        for rid, found in explanations_for(session, scope).items():
            by_request[rid].explanation = found
    if detail:
        _attach_reports(session, by_request, scope, bool(assignment_of))
        _attach_evidence_and_extensions(session, by_request, scope)
        _attach_peers(session, items, rows, scope, peers_after)
    else:  # the compact list still marks a returned report (one query, open items only)
        _mark_returned(by_request, latest_reports(
            session, scope.where(ProgressRequest.state == RequestState.OPEN.value)))
    # what needs action first (returned, overdue, open), then what was answered, each in
    # plan order
    return sorted(items, key=lambda i: i.action_rank)


def _mark_returned(by_request: dict[int, Item],
                   latest: dict[int, tuple[ProgressReport, int]]) -> None:
    for rid, (report, _n) in latest.items():
        item = by_request[rid]
        if item.state == RequestState.OPEN and report.review_state == ReviewState.RETURNED:
            item.returned, item.return_comment = True, report.review_comment or ""


def _attach_reports(session: Session, by_request: dict[int, Item], scope: Select[int],
                    any_assignment: bool) -> None:
    latest = latest_reports(session, scope)
    drafts = {d.request_id: d for d in session.scalars(
        select(ReportDraft).where(ReportDraft.request_id.in_(scope)))}
    previous = _previous_period_reports(session, scope) if any_assignment else {}
    _mark_returned(by_request, latest)
    for rid, item in by_request.items():
        if rid in latest:
            report, n = latest[rid]
            item.latest, item.versions = _report_dict(report), n
        if rid in drafts:
            item.prefill, item.prefill_source = dict(drafts[rid].fields), "draft"
        elif item.latest:
            item.prefill, item.prefill_source = dict(item.latest), "latest"
        elif rid in previous:
            report, label = previous[rid]
            item.prefill, item.prefill_source = _report_dict(report), "previous"
            item.prefill_period = cn_period(label)


def _previous_period_reports(session: Session, scope: Select[int]
                             ) -> dict[int, tuple[ProgressReport, str]]:
    """For each request of `scope` (a SELECT of request ids) that is about an assignment,
    the latest report its assignment gave in the period just before the request's own (by
    the periods' end days), with that period's label.

    Only the previous period counts (issue 10): a Q1 request is never pre-filled from Q3,
    nor from Q1 of the year before when Q4 went unanswered. Two queries (`lag` over the
    assignment's periods, then `latest_reports` of the previous requests as a subquery).
    """
    theirs = select(ProgressRequest.assignment_id).where(
        ProgressRequest.id.in_(scope), ProgressRequest.assignment_id.is_not(None))
    ordered = (
        select(ProgressRequest.id.label("rid"),
               func.lag(ProgressRequest.id).over(
                   partition_by=ProgressRequest.assignment_id,
                   order_by=(ReportingPeriod.ends_on, ProgressRequest.id)).label("prev_id"),
               func.lag(ReportingPeriod.label).over(
                   partition_by=ProgressRequest.assignment_id,
                   order_by=(ReportingPeriod.ends_on, ProgressRequest.id)).label("prev_label"))
        .join(ReportingPeriod, ReportingPeriod.id == ProgressRequest.period_id)
        .where(ProgressRequest.assignment_id.in_(theirs))
        .subquery()
    )
    pairs_query = (select(ordered.c.rid, ordered.c.prev_id, ordered.c.prev_label)
                   .where(ordered.c.rid.in_(scope), ordered.c.prev_id.is_not(None)))
    pairs = {rid: (prev, label) for rid, prev, label in session.execute(pairs_query)}
    if not pairs:
        return {}
    reports = latest_reports(session, select(pairs_query.subquery().c.prev_id))
    return {rid: (reports[prev][0], label) for rid, (prev, label) in pairs.items()
            if prev in reports}


def _attach_evidence_and_extensions(session: Session, by_request: dict[int, Item],
                                    scope: Select[int]) -> None:
    for ev in session.scalars(select(Evidence).where(Evidence.request_id.in_(scope))
                              .order_by(Evidence.id)):
        by_request[ev.request_id].evidence.append(
            {"id": ev.id, "filename": ev.filename, "size": ev.size, "report_id": ev.report_id})
    for ext in session.scalars(select(ExtensionRequest)
                               .where(ExtensionRequest.request_id.in_(scope))
                               .order_by(ExtensionRequest.id)):
        item = by_request[ext.request_id]
        item.extension = {
            "id": ext.id, "requested_due_on": ext.requested_due_on, "reason": ext.reason,
            "state": ext.state, "note": ext.decision_note, "asked_at": ext.asked_at,
            "decided_at": ext.decided_at, "pending": ext.state == ExtensionState.PENDING}
        item.extensions.append(item.extension)


PEERS_PER_PAGE = 50  # a lead's item page lists its peers this many at a time


def peer_cursor(text: str | None) -> tuple[int, int] | None:
    """`?peers_after=` of a lead's item page ("position.request id" of the last peer shown)
    as a keyset cursor; anything else is None (the first page)."""
    parts = (text or "").split(".")
    if len(parts) != 2 or not all(p.isascii() and p.isdigit() and len(p) < 10 for p in parts):
        return None
    return int(parts[0]), int(parts[1])


def _attach_peers(session: Session, items: list[Item], rows: Sequence[Any],
                  scope: Select[int], after: tuple[int, int] | None = None) -> None:
    """For measures this agency leads: co-agencies' and districts' answers, same period,
    summarised and paged (a measure may have thousands of peers).

    Each led item gets `peer_counts` (requests per state), `peer_total` and `peer_reported`
    (peers with a report) from one GROUP BY, and at most PEERS_PER_PAGE peers in the
    measure's order (`Assignment.position`, then request id) after the keyset cursor
    `after` ((position, request id), from `peer_cursor`), with `peers_next` the cursor of
    the next page when there is one. The led (period, measure) pairs are a subquery joined
    to the peers' requests: statements of fixed size however many items or peers."""
    lead = {(row[0].period_id, row[3]): by for row, by in zip(rows, items, strict=True)
            if row[2] == Role.LEAD}
    if not lead:
        return
    led_assignment = aliased(Assignment)
    led = (select(ProgressRequest.period_id, led_assignment.measure_id)
           .join(led_assignment, led_assignment.id == ProgressRequest.assignment_id)
           .where(ProgressRequest.id.in_(scope), led_assignment.role == Role.LEAD.value)
           .distinct().subquery())
    peer = aliased(ProgressRequest)
    reported = select(ProgressReport.id).where(ProgressReport.request_id == peer.id).exists()
    summary = (
        select(peer.period_id, Assignment.measure_id, peer.state, func.count(),
               func.sum(case((reported, 1), else_=0)))
        .join(Assignment, Assignment.id == peer.assignment_id)
        .join(led, and_(led.c.period_id == peer.period_id,
                        led.c.measure_id == Assignment.measure_id))
        .where(Assignment.role != Role.LEAD.value)
        .group_by(peer.period_id, Assignment.measure_id, peer.state))
    for period_id, measure_id, state, n, n_reported in session.execute(summary):
        item = lead[(period_id, measure_id)]
        item.peer_counts[str(state)] = n
        item.peer_total += n
        item.peer_reported += int(n_reported or 0)
    rank = func.row_number().over(partition_by=(peer.period_id, Assignment.measure_id),
                                  order_by=(Assignment.position, peer.id))
    ranked_query = (
        select(peer.id.label("id"), peer.period_id.label("period_id"),
               Assignment.measure_id.label("measure_id"), Assignment.role.label("role"),
               Agency.name.label("name"), peer.state.label("state"),
               Assignment.position.label("position"), rank.label("rn"))
        .join(Assignment, Assignment.id == peer.assignment_id)
        .join(led, and_(led.c.period_id == peer.period_id,
                        led.c.measure_id == Assignment.measure_id))
        .join(Agency, Agency.id == peer.agency_id)
        .where(Assignment.role != Role.LEAD.value))
    if after is not None:
        ranked_query = ranked_query.where(
            tuple_(Assignment.position, peer.id) > tuple_(literal(after[0]), literal(after[1])))
    ranked = ranked_query.subquery()
    page = select(ranked).where(ranked.c.rn <= PEERS_PER_PAGE + 1)  # one more: is there a next?
    peers = session.execute(page.order_by(ranked.c.period_id, ranked.c.measure_id,
                                          ranked.c.rn)).all()
    shown = select(ranked.c.id).where(ranked.c.rn <= PEERS_PER_PAGE)
    latest = latest_reports(session, shown)
    for rid, period_id, measure_id, role, name, state, position, rn in peers:
        item = lead[(period_id, measure_id)]
        if rn > PEERS_PER_PAGE:
            item.peers_next = f"{item.peers[-1]['position']}.{item.peers[-1]['request_id']}"
            continue
        report = latest.get(rid)
        item.peers.append({
            "agency": name, "role": role, "state": state, "position": position,
            "request_id": rid, "report": _report_dict(report[0]) if report else None})
    for item in lead.values():
        item.peers_after = after


def item_page(session: Session, agencies: Collection[int], request_id: int, today: dt.date,
              policy: Policy, peers_after: tuple[int, int] | None = None) -> Item:
    """One request of the link's agencies with everything its page shows (report, draft or
    previous period's pre-fill, evidence, extension, peers for a lead), any period.

    Raises Forbidden (403, "other-agency") when the request is not one of `agencies`'.
    """
    found = agency_items(session, agencies, today, policy, request_ids=[request_id],
                         peers_after=peers_after)
    if not found:
        raise Forbidden("该事项不属于本单位", code="other-agency")
    return found[0]


def item_groups(items: Sequence[Item]) -> list[ItemGroup]:
    """The landing page's items grouped by plan and period: the group holding the most
    urgent item first (`Item.action_rank`: returned, overdue, open, answered), then by due
    day; in each group the items needing action first, each kind in plan order."""
    groups: dict[tuple[int, str], ItemGroup] = {}
    for item in sorted(items, key=lambda i: i.due_on):
        key = (item.plan_id, item.period)
        if key not in groups:
            groups[key] = ItemGroup(item.plan, item.period_name, [])
        groups[key].items.append(item)
    for group in groups.values():
        group.items.sort(key=lambda i: i.action_rank)
    return sorted(groups.values(), key=lambda g: g.items[0].action_rank)


def request_history(session: Session, agency_id: int, request_id: int) -> list[ProgressReport]:
    """Every version of a request's report, oldest first. Empty if not this agency's."""
    return list(session.scalars(
        select(ProgressReport).join(ProgressRequest, ProgressRequest.id == ProgressReport.request_id)
        .where(ProgressRequest.id == request_id, ProgressRequest.agency_id == agency_id)
        .order_by(ProgressReport.version)))
