"""Circulars (通报): drafted from the top rung of the ladder, sent after sign-off.

The sweep and "escalate now" add the requests that reach the top rung to the draft of
their day (one draft per plan and effective day). The office downloads the draft as a
Word document, and signs it off on the desk; only then does a notification go to each
agency named in it (liaison and deputy head). Signing twice sends nothing twice.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from docx import Document
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from tracker.dates.chinese import cn_date, cn_period
from tracker.dates.workdays import local_date
from tracker.enums import CircularState, ContactRole, MessageKind, RequestState, role_label
from tracker.errors import DomainError, NotFound
from tracker.models import (
    Agency,
    Assignment,
    AuditEvent,
    Circular,
    Indicator,
    Measure,
    Plan,
    ProgressRequest,
    ReportingPeriod,
)
from tracker.outbox import enqueue_to_agency
from tracker.policy import Policy
from tracker.requests.subjects import with_subject
from tracker.sql import insert_ignore_values


class CircularError(DomainError):
    """A refusal with its reason in Chinese (tracker.errors)."""


def add_to_draft(session: Session, *, plan_id: int, request_ids: list[int] | Select[Any],
                 effective_on: dt.date, now: dt.datetime) -> Circular:
    """Add requests to the day's draft circular (created if missing). Does not commit.

    `request_ids` is a list of ids or a SELECT of them (the sweep passes a query, so a
    national batch never binds one parameter per id).
    """
    key = f"{plan_id}:{effective_on.isoformat()}"
    day = cn_date(effective_on)
    title = f"关于{day}逾期未报送进展情况的通报（稿）"
    insert_ignore_values(session, Circular.__table__, [dict(  # type: ignore[arg-type]
        plan_id=plan_id, key=key, title=title, items=[], state=CircularState.DRAFT.value,
        drafted_at=now)])
    circular = session.scalars(select(Circular).where(Circular.key == key)).one()
    if circular.state != CircularState.DRAFT:
        return circular  # signed already; later items go to a new day's draft
    rows = session.execute(
        with_subject(select(ProgressRequest.id, ReportingPeriod.label, Agency.id, Agency.name,
                            Measure.code, Measure.title, Assignment.role, Indicator.code,
                            Indicator.name, ProgressRequest.due_on))
        .where(ProgressRequest.id.in_(request_ids))
    ).all()
    known = {i["request_id"] for i in circular.items}
    added = [
        {"request_id": rid, "period": period, "agency_id": aid, "agency": agency,
         "code": code or icode, "title": title or iname,
         "role": role_label(role), "due_on": due.isoformat()}
        for rid, period, aid, agency, code, title, role, icode, iname, due in rows
        if rid not in known]
    if added:  # rerunning the sweep changes nothing
        circular.items = sorted(list(circular.items) + added,
                                key=lambda i: (i["agency_id"], i["code"] or ""))
    return circular


def circular_list(session: Session, plan_id: int | None = None) -> list[tuple[Circular, str]]:
    """Circulars newest first with their plan's title (one plan's, or every plan's)."""
    query = (select(Circular, Plan.title).join(Plan, Plan.id == Circular.plan_id)
             .order_by(Circular.id.desc()))
    if plan_id is not None:
        query = query.where(Circular.plan_id == plan_id)
    return [(c, title) for c, title in session.execute(query)]


def circular_by_id(session: Session, circular_id: int) -> tuple[Circular, str]:
    """A circular with its plan's title, for its confirmation page. Raises NotFound (404)."""
    row = session.execute(select(Circular, Plan.title).join(Plan, Plan.id == Circular.plan_id)
                          .where(Circular.id == circular_id)).first()
    if row is None:
        raise NotFound(f"没有编号为 {circular_id} 的通报")
    return row[0], row[1]


def still_overdue(session: Session, circular: Circular) -> list[dict[str, Any]]:
    """The circular's items whose requests are still open (answered or waived drop out)."""
    ids = [i["request_id"] for i in circular.items]
    open_ids = set(session.scalars(select(ProgressRequest.id).where(
        ProgressRequest.id.in_(ids), ProgressRequest.state == RequestState.OPEN.value)))
    return [i for i in circular.items if i["request_id"] in open_ids]


def render_docx(circular: Circular, plan: Plan, items: list[dict[str, Any]] | None = None) -> bytes:
    """The draft as a Word document: a title, a lead paragraph, a table per agency."""
    items = circular.items if items is None else items
    doc = Document()
    doc.add_heading(circular.title, level=1)
    agencies = sorted({(i["agency_id"], i["agency"]) for i in items})
    doc.add_paragraph(
        f"根据《{plan.title}》实施工作要求，{plan.supervision_office}对各责任单位报送进展情况进行督办。"
        f"截至{cn_date(circular.key.split(':')[1])}，下列{len(agencies)}个单位共{len(items)}项"
        "任务逾期十个工作日以上仍未报送进展情况，经催办、督办仍未落实，现予通报。"
        f"请各单位认真查找原因，立即报送，并将整改情况报{plan.supervision_office}。")
    table = doc.add_table(rows=1, cols=5)
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, ["责任单位", "报送期", "任务编号", "任务", "截止日期"],
                          strict=True):
        cell.text = text
    for item in items:
        cells = table.add_row().cells
        values = [item["agency"], cn_period(item["period"]), item["code"] or "",
                  item["title"] or "", cn_date(item["due_on"])]
        for cell, text in zip(cells, values, strict=True):
            cell.text = str(text)
    doc.add_paragraph("")
    doc.add_paragraph(plan.supervision_office)
    if circular.signed_at:
        doc.add_paragraph(f"签发：{circular.signed_by}　{cn_date(local_date(circular.signed_at))}")
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def circular_docx(session: Session, circular_id: int) -> bytes:
    """The circular as a Word document: a draft lists only its still-open items (what was
    answered or waived since drops out), a signed one what it was signed with.

    Raises NotFound (404) if there is no such circular.
    """
    circular = session.get(Circular, circular_id)
    if circular is None:
        raise NotFound(f"没有编号为 {circular_id} 的通报")
    items = still_overdue(session, circular) if circular.state == CircularState.DRAFT else None
    return render_docx(circular, session.get_one(Plan, circular.plan_id), items)


def sign_off(session: Session, circular_id: int, *, signed_by: str, now: dt.datetime,
             policy: Policy) -> int:
    """Sign the draft and notify every agency named in it; returns messages queued.

    Raises CircularError if unknown, empty or signed already.
    """
    # locked (PostgreSQL): of two sign-offs at once, the second is told it was signed
    circular = session.get(Circular, circular_id, with_for_update=True, populate_existing=True)
    if circular is None:
        raise CircularError("没有该通报")
    if circular.state != CircularState.DRAFT:
        raise CircularError("该通报已签发")
    # what was answered or waived since the draft was made is not circulated
    circular.items = still_overdue(session, circular)
    if not circular.items:
        raise CircularError("通报所列事项均已报送或免报，无需签发")
    circular.state, circular.signed_by, circular.signed_at = CircularState.SIGNED, signed_by, now
    circular.title = circular.title.removesuffix("（稿）")
    queued = 0
    by_agency = sorted({item["agency_id"] for item in circular.items})
    # the notice lists the agency's own items and carries the signed circular (.docx):
    # notifications.render reads both from the circular named here
    for agency_id in by_agency:
        for role in (ContactRole.LIAISON, ContactRole.DEPUTY_HEAD):
            queued += enqueue_to_agency(
                session, agency_id=agency_id, key_prefix=f"circ:{circular.id}:{role.value}",
                kind=MessageKind.CIRCULAR_ISSUED,
                payload={"circular_id": circular.id, "title": circular.title}, now=now,
                channel=policy.channel, role=role, plan_id=circular.plan_id)
    session.add(AuditEvent(at=now, actor=signed_by, action="circular.sign_off",
                           object_type="circular", object_id=str(circular.id),
                           detail={"agencies": len(by_agency), "items": len(circular.items)}))
    return queued
