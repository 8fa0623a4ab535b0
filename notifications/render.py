"""Render claimed outbox messages into one digest per recipient and notice kind (STYLE.md #7,
issue 8 "Who gets what" and "What a notice says").

A run's messages are grouped by (channel, address, notice kind): a person gets one 报送通知,
one 催办, one 督办 … per run, whatever the number of items, each with its own template and
subject (notifications/templates/notices/<kind>.txt.j2, overridable, see templating.py).
Every item names its plan in 《》, the measure's code and title (never an internal id), the
agency and its role, the period and the due date in Chinese; every notice ends with the
sender office (the plan's supervision office) and a contact line (the office's liaison in
the directory). The supervision office's copies link each item to its page on the desk.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session, aliased, undefer

from notifications.channels.base import Attachment, Digest
from notifications.templating import render_notice
from tracker.dates.chinese import cn_date, cn_period
from tracker.dates.workdays import WorkCalendar, local_date
from tracker.directory.agencies import office_id
from tracker.documents.wording import ordered
from tracker.enums import ChannelKind, ContactRole, Level, MessageKind, NoticeKind, Role, role_label
from tracker.models import (
    Agency,
    Assignment,
    Circular,
    CircularItem,
    Contact,
    Indicator,
    Measure,
    OutboxMessage,
    Plan,
    ProgressRequest,
    ReportingPeriod,
)
from tracker.requests.milestones import is_milestone_label
from tracker.settings import Settings

# a circular's items keep the short role labels of its table (tracker.enums.role_label)
_LONG_ROLE = {"牵头": "牵头单位", "配合": "配合单位", "区": "属地责任单位", "指标": "指标报送单位"}
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@dataclass(frozen=True)
class NoticeConfig:
    """What rendering needs from the settings: the web address the supervision office's
    copies link to (`Settings.base_url`, no trailing slash) and an administrator's folder of
    templates searched before ours (`Settings.templates_dir`, TRACKER_TEMPLATES_DIR)."""

    base_url: str | None = None
    templates_dir: Path | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> NoticeConfig:
        return cls(base_url=settings.base_url, templates_dir=settings.templates_dir)


def message_rows(session: Session, ids: list[int] | ColumnElement[bool]) -> list[dict[str, Any]]:
    """Each message with what its notice names: plan, period, due day, measure or indicator,
    agency, role, the plan's supervision office and contact line, and for a signed circular
    its items and .docx. One query for the messages, one per plan and per circular in the
    batch (a handful), never one per message.

    `ids` are message ids (a short list: a preview, a test), or a SQL condition on
    OutboxMessage such as a dispatcher claim's token, so that a batch of any size travels
    as a condition, never as a list of bound ids.
    """
    where = OutboxMessage.id.in_(ids) if isinstance(ids, list) else ids
    subject_agency = aliased(Agency)
    rows = session.execute(
        select(OutboxMessage, ReportingPeriod.label, ProgressRequest.due_on,
               ProgressRequest.due_provisional, Measure.code,
               Measure.title, Measure.position, Assignment.role, Indicator.code,
               Indicator.name, subject_agency.name, Plan.id, Plan.title, Contact)
        .outerjoin(ProgressRequest, ProgressRequest.id == OutboxMessage.request_id)
        .outerjoin(ReportingPeriod, ReportingPeriod.id == ProgressRequest.period_id)
        .outerjoin(Assignment, Assignment.id == ProgressRequest.assignment_id)
        .outerjoin(Measure, Measure.id == Assignment.measure_id)
        .outerjoin(Indicator, Indicator.id == ProgressRequest.indicator_id)
        .outerjoin(subject_agency, subject_agency.id == OutboxMessage.agency_id)
        .outerjoin(Plan, Plan.id == OutboxMessage.plan_id)
        .outerjoin(Contact, Contact.id == OutboxMessage.contact_id)
        .where(where)
        .order_by(OutboxMessage.id)
    ).all()
    offices = _offices(session, {r[11] for r in rows if r[11] is not None})
    named = [(int(cid), r[0].agency_id) for r in rows
             if (cid := (r[0].payload or {}).get("circular_id")) is not None]
    circulars = _circulars(session, {c for c, _ in named},
                           {a for _, a in named if a is not None})
    out = []
    for (msg, period, due_on, provisional, mcode, mtitle, position, role, icode, iname, agency,
         plan_id, plan_title, recipient) in rows:
        code = mcode or (f"指标{icode}" if icode else "")
        title = mtitle or (f"{iname}（年度数值）" if icode else "")
        office, contact_line = offices.get(plan_id, ("", ""))
        payload = msg.payload or {}
        out.append(dict(
            msg=msg, kind=NoticeKind.of(msg.kind, msg.level), period=period or "",
            due_on=due_on, provisional=bool(provisional), code=code, title=title,
            subject=f"{code} {title}".strip(),
            position=position if position is not None else 0,
            role=_notice_role(role, icode), agency=agency or "",
            plan_title=plan_title or "规划纲要", office=office, contact_line=contact_line,
            liaison=recipient, circular=circulars.get(payload.get("circular_id", -1))))
    return out


def _offices(session: Session, plan_ids: set[int]) -> dict[int, tuple[str, str]]:
    """plan id -> (its supervision office, the contact line ending its notices): the
    office's first active liaison in the directory, with phone and email where known."""
    out: dict[int, tuple[str, str]] = {}
    for plan in session.scalars(select(Plan).where(Plan.id.in_(plan_ids))):
        office = plan.supervision_office
        agency = office_id(session, plan, office)
        person = None if agency is None else session.scalars(
            select(Contact).where(Contact.agency_id == agency, Contact.active.is_(True),
                                  Contact.role == ContactRole.LIAISON.value)
            .order_by(Contact.id).limit(1)).first()
        if person is None:
            line = f"联系单位：{office}"
        else:
            # a contact's name may already say where they work (市政府督查室联络员)
            who = person.name if person.name.startswith(office) else f"{office} {person.name}"
            parts = [f"联系人：{who}"]
            if person.phone:
                parts.append(f"电话：{person.phone}")
            parts.append(f"电子邮箱：{person.email}")
            line = "　".join(parts)
        out[plan.id] = (office, line)
    return out


def _circulars(session: Session, ids: set[int], agencies: set[int]) -> dict[int, dict[str, Any]]:
    """circular id -> its title, number, the .docx kept as signed, and its items naming
    `agencies` (the batch's recipients' agencies; a batch is bounded, so is this set) in
    the documents' order: two queries, never the whole list of a national circular."""
    if not ids:
        return {}
    out: dict[int, dict[str, Any]] = {}
    for circular in session.scalars(select(Circular).where(Circular.id.in_(ids))
                                    .options(undefer(Circular.document))):
        name = f"{circular.number}　{circular.title}" if circular.number else circular.title
        out[circular.id] = dict(
            id=circular.id, title=circular.title, number=circular.number or "", items=[],
            attachments=[] if circular.document is None else [
                Attachment(filename=f"{name}.docx", media_type=DOCX,
                           content=circular.document)])
    for item in session.scalars(select(CircularItem).where(
            CircularItem.circular_id.in_(ids), CircularItem.agency_id.in_(agencies))):
        out[item.circular_id]["items"].append(item.as_item())
    for entry in out.values():
        entry["items"] = ordered(entry["items"])
    return out


def render_digests(
    rows: list[dict[str, Any]], *, now: dt.datetime, calendar: WorkCalendar,
    link_for: Callable[[Contact], str | None] | None = None,
    config: NoticeConfig | None = None,
) -> list[tuple[ChannelKind, Digest | Exception, list[int]]]:
    """Group rows (from `message_rows`) per (channel, address, notice kind) and render one
    digest each: a list of (channel, digest, message ids).

    `now` (aware) dates the notice (Asia/Shanghai) and counts working days overdue on
    `calendar`; `link_for(contact)` makes the liaison's answer link, called once per digest
    with its first answerable contact; `config` gives the desk address and the template
    override folder. A digest that cannot be rendered (a broken override, bad data) is
    returned as the exception in place of the digest, so the dispatcher records that
    failure for its messages alone and goes on.
    """
    config = config or NoticeConfig()
    groups: dict[tuple[str, str, NoticeKind], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[(r["msg"].channel, r["msg"].address, r["kind"])].append(r)
    today = local_date(now)
    out: list[tuple[ChannelKind, Digest | Exception, list[int]]] = []
    for (channel, address, kind), items in groups.items():
        try:
            out.append(_render_one(channel, address, kind, items, now=now, today=today,
                                   calendar=calendar, link_for=link_for, config=config))
        except Exception as exc:  # one recipient's failure is theirs alone
            out.append((ChannelKind(channel), exc, [i["msg"].id for i in items]))
    return out


def _natural(code: str) -> tuple[Any, ...]:
    """Sort key for measure codes: 2.2.10 after 2.2.9."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", code))


def _cn(iso: str | None) -> str:
    return cn_date(iso) if iso else ""


def _item(r: dict[str, Any], *, today: dt.date, calendar: WorkCalendar,
          config: NoticeConfig) -> dict[str, Any]:
    msg, payload = r["msg"], r["msg"].payload or {}
    due_on = r["due_on"]
    desk_url = (f"{config.base_url}/desk/requests/{msg.request_id}"
                if msg.is_copy and config.base_url and msg.request_id is not None else None)
    overdue = calendar.between(due_on, today) if due_on is not None else 0
    return dict(
        plan=r["plan_title"], code=r["code"], title=r["title"], subject=r["subject"],
        agency=r["agency"], role=r["role"], period=cn_period(r["period"]),
        milestone=is_milestone_label(r["period"]),  # a task's own 完成时限: 完成情况报告
        due=cn_date(due_on) if due_on else "", days_overdue=max(overdue, 0),
        provisional=r.get("provisional", False),  # 暂定: counted over an uncovered year
        desk_url=desk_url, is_copy=msg.is_copy,
        # what the office decided, for 延期审批结果 / 退回修改 / 免报
        granted=payload.get("granted"), note=payload.get("note") or "",
        requested_due=_cn(payload.get("requested_due_on")),
        previous_due=_cn(payload.get("previous_due_on")),
        version=payload.get("version"), comment=payload.get("comment") or "",
        reason=payload.get("reason") or "",
        # a meeting reminder or warning
        government=payload.get("government", ""), year=payload.get("year", ""),
        warning=msg.kind == MessageKind.MEETING_WARNING,
        meeting_returned=msg.kind == MessageKind.MEETING_RETURNED,
        meeting_name=payload.get("name", ""), held_on=_cn(payload.get("held_on")),
        text=payload.get("text", ""),  # the wording of a message queued by an older version
        # an indicator off its trajectory (tracker.annual.indicators._payload)
        indicator=payload.get("indicator") or {},
        _sort=(r["plan_title"], due_on or dt.date.min, r["position"], _natural(r["code"]),
               r["agency"]),
    )


def _render_one(channel: str, address: str, kind: NoticeKind, rows: list[dict[str, Any]], *,
                now: dt.datetime, today: dt.date, calendar: WorkCalendar,
                link_for: Callable[[Contact], str | None] | None, config: NoticeConfig,
                ) -> tuple[ChannelKind, Digest, list[int]]:
    msgs = [r["msg"] for r in rows]
    items = sorted((_item(r, today=today, calendar=calendar, config=config) for r in rows),
                   key=lambda i: i["_sort"])
    own = [i for i in items if not i["is_copy"]]
    copies = [i for i in items if i["is_copy"]]
    # a signed circular: the recipient's own agencies' items, the document attached
    circulars: dict[int, dict[str, Any]] = {}
    for r in rows:
        c = r["circular"]
        if c is None:
            continue
        entry = circulars.setdefault(c["id"], dict(title=c["title"], number=c["number"],
                                                   plan=r["plan_title"],
                                                   attachments=c["attachments"], items=[]))
        entry["items"] += [dict(plan=r["plan_title"], code=i["code"], title=i["title"],
                                subject=f"{i['code']} {i['title']}".strip(), agency=i["agency"],
                                role=_LONG_ROLE.get(i.get("role", ""), i.get("role", "")),
                                period=cn_period(i["period"]),
                                due=cn_date(i["due_on"]), days_overdue=0, desk_url=None,
                                text="", provisional=False)
                           for i in c["items"] if i["agency_id"] == r["msg"].agency_id]
    # Only a liaison's own copy carries the answer link (never a deputy's or a cc); a
    # meeting notice carries it too: the liaison records the meeting from the link
    answerable = [r for r in rows if not r["msg"].is_copy and r["liaison"] is not None
                  and r["liaison"].role == ContactRole.LIAISON
                  and (r["msg"].kind != MessageKind.ESCALATION or r["msg"].level == Level.REMINDER)]
    link = link_for(answerable[0]["liaison"]) if link_for and answerable else None
    plans = list(dict.fromkeys(sorted(r["plan_title"] for r in rows)))
    offices = list(dict.fromkeys(r["office"] for r in rows if r["office"]))
    dues = sorted({i["_sort"][1] for i in own} - {dt.date.min})
    ctx = dict(
        kind=kind.value, kind_label=kind.label, recipient_name=msgs[0].recipient_name,
        items=own, copies=copies, circulars=list(circulars.values()),
        total=len(items), agencies=len({i["agency"] for i in items if i["agency"]}),
        plans=plans, several_plans=len(plans) > 1,
        plan_phrase=f"《{plans[0]}》" + (f"等{len(plans)}项规划纲要" if len(plans) > 1 else ""),
        earliest_due=cn_date(dues[0]) if dues else "", one_due=len(dues) == 1,
        link=link, sender="、".join(offices) or "督查室",
        contact_lines=list(dict.fromkeys(r["contact_line"] for r in rows if r["contact_line"])),
        today=cn_date(today),
        reason=next((r["msg"].payload or {}).get("reason", "") for r in rows),
    )
    subject, body = render_notice(f"notices/{kind.value}.txt.j2", ctx,
                                  override_dir=config.templates_dir)
    digest_id = hashlib.sha256("|".join(sorted(m.key for m in msgs)).encode()).hexdigest()[:32]
    return ChannelKind(channel), Digest(
        digest_id=digest_id, address=address, recipient_name=msgs[0].recipient_name,
        subject=subject, body=body, date=now, kind=kind.value,
        attachments=[a for c in circulars.values() for a in c["attachments"]],
    ), [m.id for m in msgs]


def _notice_role(role: str | None, indicator_code: str | None) -> str:
    """The role after the agency's name in a notice: 牵头单位 / 配合单位 / 属地责任单位 (a
    district government's own share of a measure; "河东区人民政府（区人民政府）" said
    nothing) / 指标报送单位; empty for a notice about no request."""
    if role == Role.DISTRICT:
        return "属地责任单位"
    return role_label(role, long=True) if role or indicator_code else ""
