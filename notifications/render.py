"""Render claimed outbox messages into one digest per recipient (STYLE.md #7)."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from notifications.channels.base import Digest
from tracker.dates.workdays import WorkCalendar, local_date
from tracker.enums import ChannelKind, ContactRole, Level, MessageKind, role_label
from tracker.models import (
    Agency,
    Assignment,
    Contact,
    Indicator,
    Measure,
    OutboxMessage,
    Plan,
    ProgressRequest,
    ReportingPeriod,
)

LEVEL_LEADS = {
    Level.REMINDER: "以下任务已过截止日期仍未报送进展，请尽快报送。",
    Level.SUPERVISION_NOTICE: "以下任务逾期未报，现予督办，请分管领导督促落实并尽快报送。",
    Level.CIRCULAR: "以下任务逾期十个工作日仍未报送，拟予通报，请督查室审核。",
}

_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True,
)


def message_rows(session: Session, ids: list[int]) -> list[dict[str, Any]]:
    """One query: each message with its request, period, measure or indicator and agency."""
    subject_agency = aliased(Agency)
    rows = session.execute(
        select(OutboxMessage, ReportingPeriod.label, ProgressRequest.due_on, Measure.code,
               Measure.title, Assignment.role, Indicator.code, Indicator.name,
               subject_agency.name, Plan.title, Contact)
        .outerjoin(ProgressRequest, ProgressRequest.id == OutboxMessage.request_id)
        .outerjoin(ReportingPeriod, ReportingPeriod.id == ProgressRequest.period_id)
        .outerjoin(Assignment, Assignment.id == ProgressRequest.assignment_id)
        .outerjoin(Measure, Measure.id == Assignment.measure_id)
        .outerjoin(Indicator, Indicator.id == ProgressRequest.indicator_id)
        .outerjoin(subject_agency, subject_agency.id == OutboxMessage.agency_id)
        .outerjoin(Plan, Plan.id == OutboxMessage.plan_id)
        .outerjoin(Contact, Contact.id == OutboxMessage.contact_id)
        .where(OutboxMessage.id.in_(ids))
        .order_by(OutboxMessage.id)
    ).all()
    out = []
    for msg, period, due_on, mcode, mtitle, role, icode, iname, agency, plan_title, liaison in rows:
        subject = f"{mcode} {mtitle}" if mcode else (f"指标{icode} {iname}（年度数值）" if icode else "")
        out.append(dict(msg=msg, period=period, due_on=due_on, subject=subject,
                        role=role_label(role, long=True) if role or icode else "",
                        agency=agency or "", plan_title=plan_title or "规划纲要", liaison=liaison))
    return out


def render_digests(
    rows: list[dict[str, Any]], *, now: dt.datetime, calendar: WorkCalendar,
    link_for: Any = None,
) -> list[tuple[ChannelKind, Digest | Exception, list[int]]]:
    """Group rows per (channel, address); render one digest each: (channel, digest, ids).

    A recipient whose digest cannot be rendered gets the exception in place of the digest,
    so the dispatcher records that failure for them alone and goes on.
    """
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[(r["msg"].channel, r["msg"].address)].append(r)
    today = local_date(now)
    out: list[tuple[ChannelKind, Digest | Exception, list[int]]] = []
    for (channel, address), items in groups.items():
        try:
            out.append(_render_one(channel, address, items, now=now, today=today,
                                   calendar=calendar, link_for=link_for))
        except Exception as exc:  # one recipient's failure is theirs alone
            out.append((ChannelKind(channel), exc, [i["msg"].id for i in items]))
    return out


def _render_one(channel: str, address: str, items: list[dict[str, Any]], *, now: dt.datetime,
                today: dt.date, calendar: WorkCalendar, link_for: Any
                ) -> tuple[ChannelKind, Digest, list[int]]:
    msgs = [i["msg"] for i in items]
    requests = [i for i in items if i["msg"].kind == MessageKind.PROGRESS_REQUEST]
    escalations = [
        dict(i, level=i["msg"].level, level_label=Level(i["msg"].level).label,
             is_copy=i["msg"].is_copy, days_overdue=calendar.between(i["due_on"], today))
        for i in items if i["msg"].kind == MessageKind.ESCALATION
    ]
    escalations.sort(key=lambda e: -e["level"])
    by_level = [
        dict(label=lvl.label, lead=LEVEL_LEADS[lvl],
             entries=[e for e in escalations if e["level"] == lvl])
        for lvl in sorted(Level, reverse=True)
        if any(e["level"] == lvl for e in escalations)
    ]
    meetings = [{"plan": i["plan_title"], **(i["msg"].payload or {}),
                 "kind": i["msg"].kind, "is_copy": i["msg"].is_copy}
                for i in items if i["msg"].kind.startswith("meeting")]
    notices = [(i["plan_title"], (i["msg"].payload or {}).get("text", "")) for i in items
               if i["msg"].kind in (MessageKind.REPORT_RETURNED, MessageKind.EXTENSION_DECIDED,
                                    MessageKind.CIRCULAR_ISSUED, MessageKind.WAIVED)]
    # Only a liaison's own copy carries the answer link (never a deputy's or a cc).
    answerable = [i for i in items if not i["msg"].is_copy and i["liaison"] is not None
                  and i["liaison"].role == ContactRole.LIAISON
                  and (i["msg"].kind != MessageKind.ESCALATION or i["msg"].level == Level.REMINDER)
                  and not i["msg"].kind.startswith("meeting")]
    link = link_for(answerable[0]["liaison"]) if link_for and answerable else None
    plans = sorted({i["plan_title"] for i in items})
    ctx = dict(recipient_name=msgs[0].recipient_name, requests=requests,
               escalations=escalations, escalations_by_level=by_level, meetings=meetings,
               total=len(items), plan_title=plans[0] if len(plans) == 1 else
               f"{len(plans)}项规划纲要", several_plans=len(plans) > 1, notices=notices,
               link=link)
    digest_id = hashlib.sha256("|".join(sorted(m.key for m in msgs)).encode()).hexdigest()[:32]
    return ChannelKind(channel), Digest(
        digest_id=digest_id, address=address, recipient_name=msgs[0].recipient_name,
        subject=_env.get_template("digest_subject.txt.j2").render(ctx).strip(),
        body=_env.get_template("digest.txt.j2").render(ctx), date=now,
    ), [m.id for m in msgs]
