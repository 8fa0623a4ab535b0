"""Circulars (通报): drafted from the top rung of the ladder, sent after sign-off.

The sweep and "escalate now" add the requests that reach the top rung to the draft of
their day (one draft per plan and effective day). The office downloads the draft as a
Word document, and signs it off on the desk; only then does a notification go to each
agency named in it (liaison and deputy head). Signing twice sends nothing twice.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import Select, case, delete, exists, func, literal, or_, select
from sqlalchemy.orm import Session

from tracker.dates.chinese import cn_date
from tracker.dates.workdays import local_date
from tracker.documents.editing import (
    Defaults,
    DocumentView,
    Edits,
    apply_edits,
    build_view,
    document_templates,
    excluded_ids,
    number_on_issue,
)
from tracker.documents.render import render_docx
from tracker.documents.wording import (
    Counts,
    Issuer,
    counts,
    default_addressees,
    ordered,
    plan_issuer,
)
from tracker.enums import CircularState, ContactRole, MessageKind, RequestState, Role, role_label
from tracker.errors import DomainError, NotFound
from tracker.models import (
    Agency,
    Assignment,
    AuditEvent,
    Circular,
    CircularItem,
    Indicator,
    Measure,
    Plan,
    ProgressRequest,
    ReportingPeriod,
)
from tracker.outbox import enqueue_to_agencies
from tracker.policy import Policy
from tracker.requests.subjects import among, with_subject
from tracker.sql import insert_ignore_from_select, insert_ignore_values


class CircularError(DomainError):
    """A refusal with its reason in Chinese (tracker.errors)."""


def add_to_draft(session: Session, *, plan_id: int, request_ids: list[int] | Select[Any],
                 effective_on: dt.date, now: dt.datetime) -> Circular:
    """Add requests to the day's draft circular (created if missing). Does not commit.

    `request_ids` is a list of ids or a SELECT of distinct ids (the sweep passes a query,
    so a national batch never binds one parameter per id; `requests.subjects.among`).
    """
    key = f"{plan_id}:{effective_on.isoformat()}"
    day = cn_date(effective_on)
    title = f"关于{day}逾期未报送进展情况的通报（稿）"
    insert_ignore_values(session, Circular.__table__, [dict(  # type: ignore[arg-type]
        plan_id=plan_id, key=key, title=title, state=CircularState.DRAFT.value,
        drafted_at=now)])
    circular = session.scalars(select(Circular).where(Circular.key == key)).one()
    if circular.state != CircularState.DRAFT:
        return circular  # signed already; later items go to a new day's draft
    role = case({r.value: r.label for r in Role}, value=Assignment.role, else_=role_label(None))
    # one INSERT … SELECT of the plan's own requests; an item already listed is kept as it
    # was (rerunning the sweep changes nothing)
    insert_ignore_from_select(
        session, CircularItem.__table__,  # type: ignore[arg-type]
        ["circular_id", "request_id", "period", "agency_id", "agency", "code", "title", "role",
         "due_on"],
        among(with_subject(select(
            literal(circular.id), ProgressRequest.id, ReportingPeriod.label, Agency.id,
            Agency.name, func.coalesce(func.nullif(Measure.code, ""), Indicator.code, ""),
            func.coalesce(func.nullif(Measure.title, ""), Indicator.name, ""), role,
            ProgressRequest.due_on)),
            request_ids).where(ReportingPeriod.plan_id == plan_id))
    session.expire(circular, ["rows"])
    return circular


def circular_list(session: Session, plan_id: int | None = None
                  ) -> list[tuple[Circular, str, Counts]]:
    """Circulars newest first with their plan's title and the counts their documents state
    (`documents.wording.counts` over `circular_items`: a draft's still-open items, less
    those left out), one plan's or every plan's."""
    query = (select(Circular, Plan.title).join(Plan, Plan.id == Circular.plan_id)
             .order_by(Circular.id.desc()))
    if plan_id is not None:
        query = query.where(Circular.plan_id == plan_id)
    return [(c, title, circular_counts(session, c)) for c, title in session.execute(query)]


def circular_counts(session: Session, circular: Circular) -> Counts:
    """The counts the circular's documents state (the same as `documents.wording.counts`
    over `circular_items`: a signed one's items, a draft's still-open items less those left
    out), by one GROUP BY: a list page never loads a national circular's items."""
    query = (select(CircularItem.agency_id, func.min(CircularItem.agency), func.count())
             .where(CircularItem.circular_id == circular.id)
             .group_by(CircularItem.agency_id))
    if circular.state == CircularState.DRAFT:
        query = (query.join(ProgressRequest, ProgressRequest.id == CircularItem.request_id)
                 .where(ProgressRequest.state == RequestState.OPEN.value,
                        CircularItem.request_id.not_in(excluded_ids(circular))))
    groups = sorted(session.execute(query).all(), key=lambda r: (-r[2], r[0]))
    return Counts(items=sum(n for *_, n in groups), agencies=len(groups),
                  by_agency=[(name, n) for _, name, n in groups])


def circular_by_id(session: Session, circular_id: int) -> tuple[Circular, str]:
    """A circular with its plan's title, for its confirmation page. Raises NotFound (404)."""
    row = session.execute(select(Circular, Plan.title).join(Plan, Plan.id == Circular.plan_id)
                          .where(Circular.id == circular_id)).first()
    if row is None:
        raise NotFound(f"没有编号为 {circular_id} 的通报")
    return row[0], row[1]


def still_overdue(session: Session, circular: Circular) -> list[dict[str, Any]]:
    """The circular's items whose requests are still open (answered or waived drop out),
    in the documents' order. One query whatever the number of items."""
    rows = session.scalars(
        select(CircularItem).join(ProgressRequest, ProgressRequest.id == CircularItem.request_id)
        .where(CircularItem.circular_id == circular.id,
               ProgressRequest.state == RequestState.OPEN.value))
    return [dict(i) for i in ordered(r.as_item() for r in rows)]


def _body(plan: Plan, ladder_top: int) -> str:
    return (
        "根据《{规划名称}》实施工作要求，{督查室}按报送期调度各责任单位任务进展情况。"
        f"截至{{截止日期}}，{{单位数}}个单位共{{事项数}}项任务逾期{ladder_top}个工作日以上仍未报送"
        "进展情况，经催办、督办仍未落实，现予通报。\n"
        "其中：{单位明细}。具体事项见附件。\n"
        "请被通报单位高度重视，认真查找原因，自本通报印发之日起5个工作日内报送进展情况，"
        "并将整改情况书面报{督查室}。")


def circular_defaults(circular: Circular, plan: Plan, items: list[dict[str, Any]],
                      policy: Policy) -> Defaults:
    """The circular's default wording, 主送 (`wording.default_addressees`) and
    抄送 (the office's, `settings.OfficeDocuments.cc`)."""
    office = policy.rules.documents.for_office(plan.supervision_office)
    return Defaults(
        title=_draft_title(circular.key), addressees=default_addressees(counts(items)),
        body=_body(plan, policy.rules.ladder[2]), cc=list(office.cc),
        values={"规划名称": plan.title, "督查室": plan.supervision_office,
                "截止日期": cn_date(circular.key.split(":")[1])},
        annex_title="逾期未报送进展情况事项清单")


def _draft_title(key: str) -> str:
    return f"关于{cn_date(key.split(':')[1])}逾期未报送进展情况的通报"


def circular_items(session: Session, circular: Circular) -> list[dict[str, Any]]:
    """What the circular lists: as signed, or (a draft) its still-open items less those the
    office left out."""
    if circular.state != CircularState.DRAFT:
        return [dict(i) for i in ordered(circular.items)]
    out = excluded_ids(circular)
    return [i for i in still_overdue(session, circular) if i["request_id"] not in out]


def circular_view(session: Session, circular_id: int, *, policy: Policy,
                  now: dt.datetime) -> DocumentView:
    """The circular as its preview page shows it and its Word file says it (the counts of
    both come from `documents.wording.counts`). Raises NotFound (404)."""
    circular = session.get(Circular, circular_id)
    if circular is None:
        raise NotFound(f"没有编号为 {circular_id} 的通报")
    plan = session.get_one(Plan, circular.plan_id)
    items = circular_items(session, circular)
    draft = circular.state == CircularState.DRAFT
    on = local_date(circular.signed_at) if circular.signed_at else local_date(now)
    return build_view(session, circular, kind="circular", document_id=circular.id,
                      editable=draft, items=items,
                      defaults=circular_defaults(circular, plan, items, policy),
                      title=circular.title.removesuffix("（稿）"), issuer=_issuer(plan, policy),
                      on=on)


def _issuer(plan: Plan, policy: Policy) -> Issuer:
    return plan_issuer(plan, policy.rules.documents)


def circular_docx(session: Session, circular_id: int, *, policy: Policy, now: dt.datetime,
                  templates_dir: Path | None = None) -> bytes:
    """The circular as a Word document (GB/T 9704-2012 layout, `documents.render`): a
    signed one exactly as filed at sign-off, a draft as it stands (its still-open items,
    with the number it would get now). Raises NotFound (404)."""
    circular = session.get(Circular, circular_id)
    if circular is not None and circular.document is not None:
        return circular.document
    view = circular_view(session, circular_id, policy=policy, now=now)
    return render_docx(view.document, override_dir=document_templates(templates_dir))


def edit_circular(session: Session, circular_id: int, edits: Edits, *, actor: str,
                  now: dt.datetime, policy: Policy) -> None:
    """Store the office's edits of a draft (文号 serial, title, 主送, wording, 抄送, items
    left out with a reason). Does not commit. Raises NotFound, CircularError (signed
    already) or WordingError (every problem, each naming its field)."""
    circular = session.get(Circular, circular_id, with_for_update=True, populate_existing=True)
    if circular is None:
        raise NotFound(f"没有编号为 {circular_id} 的通报")
    if circular.state != CircularState.DRAFT:
        raise CircularError("该通报已签发，不能再修改")
    plan = session.get_one(Plan, circular.plan_id)
    items = circular_items(session, circular)
    apply_edits(session, circular, edits, current=items,
                defaults=circular_defaults(circular, plan, items, policy), title_attr="title",
                office=_issuer(plan, policy).sequence, year=local_date(now).year,
                kind="circular",
                document_id=circular.id, actor=actor, now=now)
    circular.title = circular.title.removesuffix("（稿）") + "（稿）"


def sign_off(session: Session, circular_id: int, *, signed_by: str, now: dt.datetime,
             policy: Policy, templates_dir: Path | None = None,
             confirmed: str | None = None) -> int:
    """Sign the draft: give it its 文号 (the office's pick or the next of the office's
    sequence for the year), keep the Word file as signed, and notify every agency named in
    it; returns messages queued. Does not commit.

    `confirmed`: the `DocumentView.digest` of the draft the signer saw; when given and the
    draft has changed since, nothing is signed. Raises CircularError if unknown, empty,
    signed already or changed since confirmed; NumberError if the serial the office picked
    was taken meanwhile.
    """
    # locked (PostgreSQL): of two sign-offs at once, the second is told it was signed
    circular = session.get(Circular, circular_id, with_for_update=True, populate_existing=True)
    if circular is None:
        raise CircularError("没有该通报")
    if circular.state != CircularState.DRAFT:
        raise CircularError("该通报已签发")
    # what was answered or waived since the draft was made, or left out by the office, is
    # not circulated
    items = circular_items(session, circular)
    plan = session.get_one(Plan, circular.plan_id)
    circular.number = number_on_issue(
        session, circular, kind="circular", document_id=circular.id, items=items,
        current=lambda: circular_view(session, circular_id, policy=policy, now=now),
        confirmed=confirmed, issuer=_issuer(plan, policy), actor=signed_by, now=now,
        names=("通报", "通报稿", "签发"), error=CircularError)
    # a signed circular keeps exactly what it circulates: the items answered, waived or
    # left out since they were drafted are deleted in one statement
    session.execute(delete(CircularItem).where(
        CircularItem.circular_id == circular.id,
        or_(~exists().where(ProgressRequest.id == CircularItem.request_id,
                            ProgressRequest.state == RequestState.OPEN.value),
            CircularItem.request_id.in_(excluded_ids(circular)))))
    session.expire(circular, ["rows"])
    circular.state, circular.signed_by, circular.signed_at = CircularState.SIGNED, signed_by, now
    circular.title = circular.title.removesuffix("（稿）")
    view = circular_view(session, circular.id, policy=policy, now=now)
    circular.document = render_docx(view.document, override_dir=document_templates(templates_dir))
    queued = 0
    named = select(CircularItem.agency_id).where(CircularItem.circular_id == circular.id)
    # the notice lists the agency's own items and carries the signed circular (.docx):
    # notifications.render reads both from the circular named here; one INSERT … SELECT
    # per role and address kind, however many agencies it names
    for role in (ContactRole.LIAISON, ContactRole.DEPUTY_HEAD):
        queued += enqueue_to_agencies(
            session, named, key_prefix=f"circ:{circular.id}:{role.value}",
            kind=MessageKind.CIRCULAR_ISSUED,
            payload={"circular_id": circular.id, "title": circular.title}, now=now,
            channel=policy.channel, role=role, plan_id=circular.plan_id)
    session.add(AuditEvent(at=now, actor=signed_by, action="circular.sign_off",
                           object_type="circular", object_id=str(circular.id),
                           detail={"agencies": len({i["agency_id"] for i in items}),
                                   "items": len(items),
                                   "number": circular.number}))
    return queued
