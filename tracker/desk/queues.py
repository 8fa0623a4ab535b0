"""The supervision office's queues (issue 10, item 3): what waits for the office.

- reports awaiting review (审核): a request's latest report version not reviewed yet;
- extension requests to decide (延期申请);
- draft circulars to sign off (通报稿);
- dead letters (notices that failed for good; listed on /desk/outbox);
- agencies with work but no active liaison (their notices reach nobody);
- executive meetings recorded by a liaison and waiting for the office's confirmation
  (issue 11, item 4; listed and decided on /desk/meetings);
- the directory's review list: phrases a catalog flagged and names new to the directory
  (issue 13, item 4; listed and resolved on /desk/directory, `tracker.directory.review`).

Each list is one set-based query, oldest first, paginated (`PER_PAGE` rows a page); the
counts of all six are one SELECT of scalar subqueries (`queue_counts`), cheap enough for
the navigation of every desk page.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session, aliased

from tracker.enums import (
    CircularState,
    ContactRole,
    ExtensionState,
    MeetingState,
    OutboxStatus,
    RequestState,
    ReviewState,
)
from tracker.escalation.circulars import circular_counts
from tracker.models import (
    Agency,
    Assignment,
    Circular,
    Contact,
    DirectoryReview,
    ExecutiveMeeting,
    ExtensionRequest,
    Indicator,
    Measure,
    OutboxMessage,
    Plan,
    ProgressReport,
    ProgressRequest,
    ReportingPeriod,
)
from tracker.requests.subjects import with_subject

PER_PAGE = 50
QUEUES = ("reviews", "extensions", "circulars", "agencies")


@dataclass(frozen=True)
class QueueCounts:
    """How many wait in each queue (the desk navigation's badges)."""

    reviews: int = 0
    extensions: int = 0
    circulars: int = 0
    dead_letters: int = 0
    agencies: int = 0
    meetings: int = 0  # executive meetings waiting for confirmation
    directory: int = 0  # flagged phrases and new names waiting on /desk/directory

    @property
    def total(self) -> int:
        return (self.reviews + self.extensions + self.circulars + self.dead_letters
                + self.meetings + self.directory)


def _latest_pending() -> Any:
    """Reports that are their request's latest version and still pending review."""
    newer = aliased(ProgressReport)
    return and_(ProgressReport.review_state == ReviewState.PENDING.value,
                ~exists().where(newer.request_id == ProgressReport.request_id,
                                newer.version > ProgressReport.version))


def _without_liaison() -> Any:
    has_work = exists().where(Assignment.agency_id == Agency.id, Assignment.active.is_(True))
    has_liaison = exists().where(Contact.agency_id == Agency.id, Contact.active.is_(True),
                                 Contact.role == ContactRole.LIAISON.value)
    return and_(has_work, ~has_liaison)


def queue_counts(session: Session) -> QueueCounts:
    """The seven queues' sizes in one SELECT of seven counts (each on an indexed or small
    table: review states, pending extensions, drafts, failed messages, agencies, meetings
    waiting for confirmation, the directory's open review rows)."""
    def count(model: Any, *where: Any) -> Any:
        return select(func.count()).select_from(model).where(*where).scalar_subquery()

    row = session.execute(select(
        count(ProgressReport, _latest_pending()),
        count(ExtensionRequest, ExtensionRequest.state == ExtensionState.PENDING.value),
        count(Circular, Circular.state == CircularState.DRAFT.value),
        count(OutboxMessage, OutboxMessage.status == OutboxStatus.FAILED.value),
        count(Agency, _without_liaison()),
        count(ExecutiveMeeting, ExecutiveMeeting.state == MeetingState.PENDING.value),
        count(DirectoryReview, DirectoryReview.state == "open"),
    )).one()
    return QueueCounts(*(int(n or 0) for n in row))


@dataclass(frozen=True)
class QueueItem:
    """One row of a queue, named as people read it (no internal ids but the links')."""

    request_id: int | None
    plan: str
    period: str
    agency: str
    subject: str  # the measure's code and title, or the indicator's
    at: dt.datetime | None  # submitted, asked or drafted (UTC-aware; shown in Asia/Shanghai)
    row: Any  # the report, extension request, circular or agency


FILTERED = ("reviews", "extensions")  # the queues whose rows have an agency and a period


@dataclass(frozen=True)
class QueueFilter:
    """The review and extension queues' filters (GET params `agency`, `period`, `order`).

    agency: an agency's id; period: a reporting period's label (`2017Q1`, `2017`), in every
    plan that has it; newest: newest first instead of oldest first. Other queues ignore it.
    """

    agency: int | None = None
    period: str | None = None
    newest: bool = False

    @property
    def active(self) -> bool:
        """Whether the rows are narrowed (then the count is the filter's, not the badge's)."""
        return self.agency is not None or self.period is not None

    @classmethod
    def from_query(cls, params: dict[str, str]) -> QueueFilter:
        """Read `agency` (a positive id), `period` (a label of up to 16 characters) and
        `order` (`newest`; anything else is oldest first). Unreadable values are ignored,
        as the board's filters ignore them."""
        raw = params.get("agency", "").strip()
        agency = int(raw) if raw.isascii() and raw.isdigit() and 0 < int(raw) < 2**31 else None
        period = params.get("period", "").strip()[:16] or None
        return cls(agency=agency, period=period, newest=params.get("order") == "newest")

    def query(self) -> dict[str, str]:
        """The filter as GET params (for links that keep it: pages, actions' way back)."""
        out = {}
        if self.agency is not None:
            out["agency"] = str(self.agency)
        if self.period:
            out["period"] = self.period
        if self.newest:
            out["order"] = "newest"
        return out


@dataclass(frozen=True)
class QueueOptions:
    """What the queue filters offer: (id, name) of the plans' agencies in directory order,
    and the period labels in due order."""

    agencies: list[tuple[int, str]]
    periods: list[str]


def queue_options(session: Session) -> QueueOptions:
    """The choices of the review and extension queues' filters (two queries)."""
    from tracker.directory.agencies import plan_agencies

    periods = session.scalars(select(ReportingPeriod.label).group_by(ReportingPeriod.label)
                              .order_by(func.min(ReportingPeriod.due_on), ReportingPeriod.label))
    return QueueOptions(agencies=plan_agencies(session), periods=list(periods))


@dataclass(frozen=True)
class QueuePage:
    name: str
    items: list[QueueItem]
    total: int
    page: int
    pages: int


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    return value if value is None or value.tzinfo else value.replace(tzinfo=dt.UTC)


def _page(session: Session, name: str, query: Any, total: int, page: int,
          make: Any, per_page: int) -> QueuePage:
    pages = max((total + per_page - 1) // per_page, 1)
    page = min(max(page, 1), pages)
    rows = session.execute(query.limit(per_page).offset((page - 1) * per_page)).all()
    return QueuePage(name, [make(r) for r in rows], total, page, pages)


def _subject(m_code: str | None, m_title: str | None, i_code: str | None,
             i_name: str | None) -> str:
    return f"{m_code} {m_title}" if m_code else f"{i_code} {i_name}"


def _narrow(query: Any, f: QueueFilter, *order: Any) -> Any:
    """`query` (joined to ProgressRequest and ReportingPeriod) narrowed by `f`, in its order."""
    if f.agency is not None:
        query = query.where(ProgressRequest.agency_id == f.agency)
    if f.period:
        query = query.where(ReportingPeriod.label == f.period)
    return query.order_by(*(o.desc() for o in order) if f.newest else order)


def _total(session: Session, query: Any, f: QueueFilter, unfiltered: int) -> int:
    if not f.active:
        return unfiltered
    return int(session.scalar(select(func.count()).select_from(
        query.order_by(None).subquery())) or 0)


def queue_page(session: Session, name: str, page: int = 1,
               counts: QueueCounts | None = None, per_page: int = PER_PAGE,
               f: QueueFilter | None = None) -> QueuePage:
    """One page (`per_page` rows, oldest first unless `f.newest`; a page past the last
    shows the last) of the queue `name` (one of `QUEUES`).

    reviews: latest pending report versions by submission time; extensions: pending
    requests by the time asked; circulars: drafts by the time drafted; agencies: agencies
    with active assignments and no active liaison, by name. `f` narrows reviews and
    extensions by agency and period (set-based, in the same query). Two queries: the count
    and the page (`counts`, when given and no filter is active, spares the count). Raises
    KeyError for an unknown name.
    """
    counts = counts or queue_counts(session)
    f = f or QueueFilter()
    query: Any
    subject_cols = (Plan.title, ReportingPeriod.label, Agency.name, Measure.code, Measure.title,
                    Indicator.code, Indicator.name)
    if name == "reviews":
        query = (with_subject(select(ProgressReport, ProgressRequest.id, *subject_cols)
                              .join(ProgressRequest, ProgressRequest.id == ProgressReport.request_id))
                 .join(Plan, Plan.id == ReportingPeriod.plan_id)
                 .where(_latest_pending()))
        query = _narrow(query, f, ProgressReport.submitted_at, ProgressReport.id)
        return _page(session, name, query, _total(session, query, f, counts.reviews), page,
                     lambda r: QueueItem(
            r[1], r[2], r[3], r[4], _subject(*r[5:9]), _aware(r[0].submitted_at), r[0]), per_page)
    if name == "extensions":
        query = (with_subject(select(ExtensionRequest, ProgressRequest, *subject_cols)
                              .join(ProgressRequest,
                                    ProgressRequest.id == ExtensionRequest.request_id))
                 .join(Plan, Plan.id == ReportingPeriod.plan_id)
                 .where(ExtensionRequest.state == ExtensionState.PENDING.value))
        query = _narrow(query, f, ExtensionRequest.asked_at, ExtensionRequest.id)
        return _page(session, name, query, _total(session, query, f, counts.extensions), page,
                     lambda r: QueueItem(
            r[1].id, r[2], r[3], r[4], _subject(*r[5:9]), _aware(r[0].asked_at),
            (r[0], r[1])), per_page)
    if name == "circulars":
        query = (select(Circular, Plan.title).join(Plan, Plan.id == Circular.plan_id)
                 .where(Circular.state == CircularState.DRAFT.value)
                 .order_by(Circular.drafted_at, Circular.id))
        # the counts its documents state (documents.wording.counts, the one function)
        return _page(session, name, query, counts.circulars, page, lambda r: QueueItem(
            None, r[1], "", "", r[0].title, _aware(r[0].drafted_at),
            (r[0], circular_counts(session, r[0]))), per_page)
    if name == "agencies":
        open_requests = (select(func.count()).select_from(ProgressRequest)
                         .where(ProgressRequest.agency_id == Agency.id,
                                ProgressRequest.state == RequestState.OPEN.value)
                         .correlate(Agency).scalar_subquery())
        query = (select(Agency, open_requests).where(_without_liaison())
                 .order_by(Agency.name, Agency.id))
        return _page(session, name, query, counts.agencies, page, lambda r: QueueItem(
            None, "", "", r[0].name, r[0].kind.label, None, (r[0], int(r[1] or 0))), per_page)
    raise KeyError(name)
