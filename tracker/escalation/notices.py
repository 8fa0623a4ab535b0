"""督办通知单: the document of the 督办 rung (issue 12).

When the ladder's 督办 rung fires (the sweep, or 立即督办), the notices to the deputy head
go out at once as before; beside them the product drafts one 督办通知单 per plan, agency
and day, listing that agency's requests the rung fired for. The office previews it, edits
its wording, 主送, 抄送 and items, and issues it: it then gets its 文号 from the office's
sequence (`documents.numbering`, shared with circulars) and its Word file is kept as issued,
to print, sign and file. Issuing sends nothing more: the 督办 notices were sent by the rung.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import String, and_, cast, func, literal, select, true
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
from tracker.documents.wording import Counts, Issuer, counts, plan_issuer
from tracker.enums import CircularState, Level, RequestState, role_label
from tracker.errors import DomainError, NotFound
from tracker.models import (
    Agency,
    Assignment,
    AuditEvent,
    Escalation,
    Indicator,
    Measure,
    Plan,
    ProgressRequest,
    ReportingPeriod,
    SupervisionNotice,
)
from tracker.policy import Policy
from tracker.requests.rules import ladder_dates
from tracker.requests.subjects import among, with_subject
from tracker.sql import insert_ignore_from_select

KIND = "supervision_notice"


class NoticeError(DomainError):
    """A refusal with its reason in Chinese (tracker.errors)."""


def draft_notices(session: Session, *, plan_id: int, effective_on: dt.date,
                  requests: Any, now: dt.datetime) -> int:
    """Draft the day's 督办通知单: one per agency among `requests` (a SELECT of distinct
    request ids whose 督办 rung fired on `effective_on`, or a few ids). One INSERT … SELECT;
    idempotent (the key plan:agency:day is unique). Returns notices drafted. Does not commit."""
    agencies = (among(select(ProgressRequest.agency_id.label("agency_id")), requests)
                .distinct().subquery())
    key = (literal(f"{plan_id}:") + cast(agencies.c.agency_id, String)
           + literal(f":{effective_on.isoformat()}"))
    return insert_ignore_from_select(
        session, SupervisionNotice.__table__,  # type: ignore[arg-type]
        ["plan_id", "agency_id", "effective_on", "key", "state", "items", "drafted_at"],
        select(literal(plan_id), agencies.c.agency_id, literal(effective_on), key,
               literal(CircularState.DRAFT.value), literal([], SupervisionNotice.items.type),
               literal(now, SupervisionNotice.drafted_at.type))
        .where(true()))  # SQLite: a WHERE keeps "ON CONFLICT" from reading as a join's ON


def _live_items(session: Session, notice: SupervisionNotice) -> list[dict[str, Any]]:
    """The agency's requests of the notice's plan whose 督办 rung fired on its day and that
    are still open (answered or waived ones drop out), less those the office left out."""
    rows = session.execute(
        with_subject(select(ProgressRequest.id, ReportingPeriod.label, Agency.id, Agency.name,
                            Measure.code, Measure.title, Assignment.role, Indicator.code,
                            Indicator.name, ProgressRequest.due_on))
        .join(Escalation, Escalation.request_id == ProgressRequest.id)
        .where(ReportingPeriod.plan_id == notice.plan_id,
               ProgressRequest.agency_id == notice.agency_id,
               ProgressRequest.state == RequestState.OPEN.value,
               Escalation.level == Level.SUPERVISION_NOTICE.value,
               Escalation.effective_on == notice.effective_on)
        .distinct()).all()
    out = excluded_ids(notice)
    return [{"request_id": rid, "period": period, "agency_id": aid, "agency": agency,
             "code": code or icode, "title": title or iname, "role": role_label(role),
             "due_on": due.isoformat()}
            for rid, period, aid, agency, code, title, role, icode, iname, due in rows
            if rid not in out]


def notice_items(session: Session, notice: SupervisionNotice) -> list[dict[str, Any]]:
    """What the notice lists: as issued, or (a draft) as it stands."""
    if notice.state != CircularState.DRAFT:
        return list(notice.items)
    return _live_items(session, notice)


def _get(session: Session, notice_id: int, *, lock: bool = False) -> SupervisionNotice:
    notice = session.get(SupervisionNotice, notice_id, with_for_update=lock,
                         populate_existing=lock)
    if notice is None:
        raise NotFound(f"没有编号为 {notice_id} 的督办通知单")
    return notice


def _title() -> str:
    return "关于督促报送逾期任务进展情况的督办通知单"


def notice_defaults(notice: SupervisionNotice, plan: Plan, agency: str,
                    items: list[dict[str, Any]], policy: Policy, on: dt.date) -> Defaults:
    """The 督办通知单's default wording: the items' due day(s), the days overdue (the
    ladder's 督办 rung, `Rules.ladder`), and the day before which a report avoids the
    circular (the earliest item's 通报 rung; "立即" once that day is not after `on`, the
    document's date)."""
    dues = sorted({dt.date.fromisoformat(i["due_on"]) for i in items})
    due_text = cn_date(dues[0]) + "前" if len(dues) == 1 else "附件所列截止日期前"
    before = ladder_dates(dues[0], policy)[2] if dues else notice.effective_on
    office = policy.rules.documents.for_office(plan.supervision_office)
    body = (
        "根据《{规划名称}》实施工作要求，你单位承担的下列{事项数}项任务应于{截止日期}报送进展情况。"
        f"截至{{督办日期}}，已逾期{policy.rules.ladder[1]}个工作日，经催办仍未报送。\n"
        "请你单位高度重视，{报送期限}通过填报系统报送进展情况；确有困难的，请说明原因并申请延期。"
        "逾期仍未报送的，将按规定予以通报。\n"
        "联系单位：{督查室}。")
    return Defaults(
        title=_title(), addressees=[agency], body=body, cc=list(office.cc),
        values={"规划名称": plan.title, "督查室": plan.supervision_office,
                "截止日期": due_text, "督办日期": cn_date(notice.effective_on),
                "报送期限": f"于{cn_date(before)}前" if before > on else "立即"},
        annex_title="督办事项清单")


def notice_view(session: Session, notice_id: int, *, policy: Policy,
                now: dt.datetime) -> DocumentView:
    """The 督办通知单 as its preview page shows it and its Word file says it. Raises
    NotFound (404)."""
    notice = _get(session, notice_id)
    plan = session.get_one(Plan, notice.plan_id)
    agency = session.get_one(Agency, notice.agency_id)
    items = notice_items(session, notice)
    draft = notice.state == CircularState.DRAFT
    on = local_date(notice.issued_at) if notice.issued_at else local_date(now)
    defaults = notice_defaults(notice, plan, agency.name, items, policy, on)
    return build_view(session, notice, kind=KIND, document_id=notice.id, editable=draft,
                      items=items, defaults=defaults, title=_title(),
                      issuer=_issuer(plan, policy), on=on)


def _issuer(plan: Plan, policy: Policy) -> Issuer:
    return plan_issuer(plan, policy.rules.documents)


def notice_docx(session: Session, notice_id: int, *, policy: Policy, now: dt.datetime,
                templates_dir: Path | None = None) -> bytes:
    """The 督办通知单 as a Word document: as issued (kept), or a draft as it stands."""
    notice = _get(session, notice_id)
    if notice.document is not None:
        return notice.document
    view = notice_view(session, notice_id, policy=policy, now=now)
    return render_docx(view.document, override_dir=document_templates(templates_dir))


def edit_notice(session: Session, notice_id: int, edits: Edits, *, actor: str,
                now: dt.datetime, policy: Policy) -> None:
    """Store the office's edits of a draft 督办通知单. Does not commit. Raises NotFound,
    NoticeError (issued already) or WordingError (every problem, each naming its field)."""
    notice = _get(session, notice_id, lock=True)
    if notice.state != CircularState.DRAFT:
        raise NoticeError("该督办通知单已印发，不能再修改")
    plan = session.get_one(Plan, notice.plan_id)
    agency = session.get_one(Agency, notice.agency_id)
    items = notice_items(session, notice)
    apply_edits(session, notice, edits, current=items,
                defaults=notice_defaults(notice, plan, agency.name, items, policy,
                                         local_date(now)),
                title_attr=None, office=_issuer(plan, policy).sequence,
                year=local_date(now).year, kind=KIND, document_id=notice.id, actor=actor,
                now=now)


def issue_notice(session: Session, notice_id: int, *, issued_by: str, now: dt.datetime,
                 policy: Policy, templates_dir: Path | None = None,
                 confirmed: str | None = None) -> str:
    """Issue the draft: its 文号 from the office's sequence, its items and Word file kept
    as issued. Returns the number. Does not commit. `confirmed`: the digest of the
    preview the office issued from (`DocumentView.digest`). Raises NoticeError when issued
    already, when nothing is left to list or when it changed since the preview;
    NumberError when the picked serial was taken."""
    notice = _get(session, notice_id, lock=True)
    if notice.state != CircularState.DRAFT:
        raise NoticeError("该督办通知单已印发")
    items = notice_items(session, notice)
    plan = session.get_one(Plan, notice.plan_id)
    notice.number = number_on_issue(
        session, notice, kind=KIND, document_id=notice.id, items=items,
        current=lambda: notice_view(session, notice_id, policy=policy, now=now),
        confirmed=confirmed, issuer=_issuer(plan, policy), actor=issued_by, now=now,
        names=("督办通知单", "督办通知单", "印发"), error=NoticeError)
    notice.items = items
    notice.state, notice.issued_by, notice.issued_at = CircularState.SIGNED, issued_by, now
    view = notice_view(session, notice.id, policy=policy, now=now)
    notice.document = render_docx(view.document, override_dir=document_templates(templates_dir))
    session.add(AuditEvent(at=now, actor=issued_by, action="supervision_notice.issue",
                           object_type=KIND, object_id=str(notice.id),
                           detail={"number": notice.number, "items": len(items)}))
    return notice.number


def notice_heading(session: Session, notice_id: int) -> tuple[str, str]:
    """(the page's heading "市民政局 督办通知单（2017年4月17日）", the plan's title)."""
    notice = _get(session, notice_id)
    agency = session.get_one(Agency, notice.agency_id).name
    plan = session.get_one(Plan, notice.plan_id)
    return f"{agency} 督办通知单（{cn_date(notice.effective_on)}）", plan.title


def notice_list(session: Session, *, plan_id: int | None = None, state: str | None = None,
                limit: int = 200) -> list[tuple[SupervisionNotice, str, str, Counts]]:
    """督办通知单 newest first (by day, then id) with plan title, agency and counts; at
    most `limit`. A draft's counts are of its items as they stand (one query for all the
    drafts listed); `state` "draft" lists only drafts with something left to issue, "empty"
    the drafts whose items were all answered, waived or left out (无需印发)."""
    query = (select(SupervisionNotice, Plan.title, Agency.name)
             .join(Plan, Plan.id == SupervisionNotice.plan_id)
             .join(Agency, Agency.id == SupervisionNotice.agency_id)
             .order_by(SupervisionNotice.effective_on.desc(), SupervisionNotice.id.desc()))
    if plan_id is not None:
        query = query.where(SupervisionNotice.plan_id == plan_id)
    if state:
        query = query.where(SupervisionNotice.state == (
            CircularState.DRAFT.value if state == "empty" else state))
    rows = session.execute(query.limit(limit if state not in ("draft", "empty") else None)).all()
    live = _live_ids(session, plan_id) if any(
        n.state == CircularState.DRAFT for n, *_ in rows) else {}
    out = []
    for n, title, agency in rows:
        if n.state == CircularState.DRAFT:
            ids = live.get(n.id, set()) - excluded_ids(n)
            c = Counts(items=len(ids), agencies=1 if ids else 0,
                       by_agency=[(agency, len(ids))] if ids else [])
        else:
            c = counts(n.items)
        if (state == "draft" and not c.items) or (state == "empty" and c.items):
            continue
        out.append((n, title, agency, c))
    return out[:limit]


def _live_ids(session: Session, plan_id: int | None) -> dict[int, set[int]]:
    """Draft notice id -> its still-open requests (as `_live_items` finds them), for every
    draft (of one plan, or of all), in one query."""
    query = (
        select(SupervisionNotice.id, ProgressRequest.id)
        .join(ReportingPeriod, ReportingPeriod.plan_id == SupervisionNotice.plan_id)
        .join(ProgressRequest, and_(ProgressRequest.period_id == ReportingPeriod.id,
                                    ProgressRequest.agency_id == SupervisionNotice.agency_id))
        .join(Escalation, and_(Escalation.request_id == ProgressRequest.id,
                               Escalation.level == Level.SUPERVISION_NOTICE.value,
                               Escalation.effective_on == SupervisionNotice.effective_on))
        .where(SupervisionNotice.state == CircularState.DRAFT.value,
               ProgressRequest.state == RequestState.OPEN.value))
    if plan_id is not None:
        query = query.where(SupervisionNotice.plan_id == plan_id)
    out: dict[int, set[int]] = {}
    for nid, rid in session.execute(query):
        out.setdefault(nid, set()).add(rid)
    return out


def notice_total(session: Session) -> int:
    """How many 督办通知单 there are (for the list's heading)."""
    return session.scalar(select(func.count()).select_from(SupervisionNotice)) or 0
