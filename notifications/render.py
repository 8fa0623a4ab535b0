"""Render claimed outbox messages into one digest per recipient and notice kind (STYLE.md #7,
issue 8 "Who gets what" and "What a notice says").

A run's messages are grouped by (channel, address, notice kind): a person gets one 报送通知,
one 催办, one 督办 … per run, whatever the number of items, each with its own template and
subject (notifications/templates/notices/<kind>.txt.j2, overridable, see templating.py).
Every item names its plan in 《》, the measure's code and title (never an internal id), the
agency and its role, the period and the due date in Chinese; every notice ends with the
sender office (the plan's supervision office) and a contact line (the office's liaison in
the directory). The supervision office's copies link each item to its page on the desk.

A notice lists at most `NoticeConfig.max_items` items (TRACKER_NOTICE_MAX_ITEMS, default
200); the rest are summarised in one line, “（另有X项未列出，详见督查督办系统。）”, and every
count a notice states is the digest's true total (`Listed.total`, from an aggregate in
SQL). The items beyond the cap are never loaded (a window's row number in SQL), so the
memory of a run does not grow with one recipient's items (issue 14, item 2).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, literal_column, or_, select, text
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
    max_items: int = 200  # items one notice lists (Settings.notice_max_items)

    @classmethod
    def from_settings(cls, settings: Settings) -> NoticeConfig:
        return cls(base_url=settings.base_url, templates_dir=settings.templates_dir,
                   max_items=settings.notice_max_items)


class Listed(list[Any]):
    """The items a notice lists (at most the cap) and how many there are in all (`total`):
    templates state `total`, never the length of the list, and `more` is how many are
    summarised in the line “（另有X项未列出，详见督查督办系统。）”."""

    def __init__(self, items: Any = (), total: int | None = None) -> None:
        super().__init__(items)
        self.total = len(self) if total is None else max(total, len(self))

    @property
    def more(self) -> int:
        return self.total - len(self)


@dataclass
class Group:
    """What one digest (channel, address, notice kind) states about all its messages,
    listed or not: the number of them and of copies among them, distinct subject agencies,
    the plans' titles, the first and last due day of its own (not copied) items, the contact
    whose answer link it carries, and its digest id when not every message was loaded."""

    total: int
    copies: int
    agencies: int
    plans: list[str]
    first_due: dt.date | None
    last_due: dt.date | None
    liaison: Contact | None
    digest_id: str | None = None


class MessageRows(list[dict[str, Any]]):
    """`message_rows`' rows, with `groups`: each digest's `Group` keyed by (channel value,
    address, NoticeKind)."""

    def __init__(self, rows: list[dict[str, Any]], groups: dict[tuple[str, str, NoticeKind], Group]
                 ) -> None:
        super().__init__(rows)
        self.groups = groups


def notice_kind_sql() -> ColumnElement[str]:
    """`NoticeKind.of(kind, level)` as SQL: the notice kind a message is grouped under."""
    rung = {Level.REMINDER.value: NoticeKind.REMINDER.value,
            Level.SUPERVISION_NOTICE.value: NoticeKind.SUPERVISION.value}
    others = {k.value: NoticeKind.of(k).value for k in MessageKind if k != MessageKind.ESCALATION}
    def q(v: object) -> Any:
        return literal_column(str(v) if isinstance(v, int) else f"'{v}'")
    return case(
        (OutboxMessage.kind == q(MessageKind.ESCALATION.value),
         case({q(k): q(v) for k, v in rung.items()}, value=OutboxMessage.level,
              else_=q(NoticeKind.CIRCULAR.value))),
        else_=case({q(k): q(v) for k, v in others.items()}, value=OutboxMessage.kind))


# the message's own columns, read as plain rows (attribute access like the mapped class):
# no ORM object, identity map entry or change tracking per message
_M = OutboxMessage.__table__.c
_MSG = (_M.id, _M.key, _M.kind, _M.level, _M.channel, _M.address, _M.recipient_name,
        _M.payload, _M.is_copy, _M.request_id, _M.agency_id, _M.contact_id, _M.plan_id)
_NO_PLAN = "规划纲要"


def _text_order(session: Session, column: Any) -> Any:
    """A text sort key in code point order, as Python sorts (PostgreSQL's database
    collation may order Chinese otherwise; SQLite's BINARY already is)."""
    return column.collate("C") if session.get_bind().dialect.name == "postgresql" else column


def message_rows(session: Session, ids: list[int] | ColumnElement[bool], *,
                 max_items: int | None = None, drive: Any = None) -> MessageRows:
    """Each message with what its notice names: plan, period, due day, measure or indicator,
    agency, role, the plan's supervision office and contact line, and for a signed circular
    its items and .docx; with `groups`, what each digest states about all its messages (see
    `Group`). A handful of queries for the batch (messages, digests' aggregates, contacts,
    plans, circulars), never one per message.

    `ids` are message ids (a short list: a preview, a test), or a SQL condition on
    OutboxMessage such as a dispatcher claim's token, so that a batch of any size travels
    as a condition, never as a list of bound ids. With `max_items` only the first
    `max_items` messages of each digest (channel, address, notice kind) in the order a
    notice lists them (own items before copies; plan, due day, the measure's position and
    code, agency) are read, by a window's row number in SQL; the digest id of a digest
    with more is computed from its keys streamed in order, none kept.
    """
    where = OutboxMessage.id.in_(ids) if isinstance(ids, list) else ids
    if drive is not None and session.get_bind().dialect.name == "postgresql":
        # the joins in the order written: from the claim's list to each message by its key,
        # then its request, measure, agency; left to its statistics PostgreSQL joined every
        # due message first and kept the listed ones last (1.3 s against 0.13 s a batch)
        session.execute(text("SET LOCAL join_collapse_limit = 1"))
    # plain rows through the session's connection: no ORM loading machinery per row
    core = session.connection()
    subject_agency = aliased(Agency)
    code = func.coalesce(Measure.code, literal("指标") + Indicator.code, "")
    plan_title = func.coalesce(Plan.title, _NO_PLAN)
    query = (
        select(*_MSG, notice_kind_sql().label("notice"), ReportingPeriod.label.label("period"),
               ProgressRequest.due_on, ProgressRequest.due_provisional,
               Measure.code.label("mcode"), Measure.title.label("mtitle"), Measure.position,
               Assignment.role, Indicator.code.label("icode"), Indicator.name.label("iname"),
               subject_agency.name.label("agency"), Plan.title.label("plan_title"))
        .select_from(_source(drive))
        .outerjoin(ProgressRequest, ProgressRequest.id == OutboxMessage.request_id)
        .outerjoin(ReportingPeriod, ReportingPeriod.id == ProgressRequest.period_id)
        .outerjoin(Assignment, Assignment.id == ProgressRequest.assignment_id)
        .outerjoin(Measure, Measure.id == Assignment.measure_id)
        .outerjoin(Indicator, Indicator.id == ProgressRequest.indicator_id)
        .outerjoin(subject_agency, subject_agency.id == OutboxMessage.agency_id)
        .outerjoin(Plan, Plan.id == OutboxMessage.plan_id)
        .where(where))
    if max_items is None:
        rows = core.execute(query.order_by(OutboxMessage.id)).all()
    else:
        # the listing order of `_render_one` (own items first; plan, due day, position,
        # code, agency), so that the first max_items rows are those it would list
        rank = func.row_number().over(
            partition_by=(OutboxMessage.channel, OutboxMessage.address, notice_kind_sql()),
            order_by=(OutboxMessage.is_copy, _text_order(session, plan_title),
                      case((ProgressRequest.due_on.is_(None), 0), else_=1),
                      ProgressRequest.due_on, func.coalesce(Measure.position, 0),
                      func.length(code), _text_order(session, code),
                      _text_order(session, subject_agency.name), OutboxMessage.id))
        ranked = query.add_columns(rank.label("rank")).subquery("ranked")
        rows = core.execute(select(ranked).where(ranked.c.rank <= max_items)
                            .order_by(ranked.c.id)).all()
    contacts = {c.id: c for c in session.scalars(select(Contact).where(Contact.id.in_(
        select(OutboxMessage.contact_id).select_from(_source(drive)).where(where)
        .distinct().scalar_subquery())))}
    groups = _groups(session, where, contacts, drive)
    offices = _offices(session, {r.plan_id for r in rows if r.plan_id is not None})
    named = [(int(cid), r.agency_id) for r in rows
             if (cid := (r.payload or {}).get("circular_id")) is not None]
    circulars = _circulars(session, {c for c, _ in named},
                           {a for _, a in named if a is not None})
    out = []
    loaded: dict[tuple[str, str, NoticeKind], list[str]] = defaultdict(list)
    for r in rows:
        notice = NoticeKind(r.notice)
        loaded[(r.channel, r.address, notice)].append(r.key)
        code_text = r.mcode or (f"指标{r.icode}" if r.icode else "")
        title = r.mtitle or (f"{r.iname}（年度数值）" if r.icode else "")
        office, contact_line = offices.get(r.plan_id, ("", ""))
        payload = r.payload or {}
        out.append(dict(
            msg=r, kind=notice, period=r.period or "",
            due_on=r.due_on, provisional=bool(r.due_provisional), code=code_text, title=title,
            subject=f"{code_text} {title}".strip(),
            position=r.position if r.position is not None else 0,
            role=_notice_role(r.role, r.icode), agency=r.agency or "",
            plan_title=r.plan_title or _NO_PLAN, office=office, contact_line=contact_line,
            liaison=contacts.get(r.contact_id) if r.contact_id is not None else None,
            circular=circulars.get(payload.get("circular_id", -1))))
    for key, keys in loaded.items():
        group = groups.get(key)
        if group is not None and group.total > len(keys):
            group.digest_id = _streamed_digest_id(session, where, *key, drive=drive)
    return MessageRows(out, groups)


def _source(drive: Any) -> Any:
    """The messages' FROM: the table, or the claim's list (`drive`) joined to it by key."""
    return (OutboxMessage if drive is None
            else drive.join(OutboxMessage, OutboxMessage.id == drive.c.message_id))


def _groups(session: Session, where: ColumnElement[bool], contacts: dict[int, Contact],
            drive: Any = None) -> dict[tuple[str, str, NoticeKind], Group]:
    """Each digest's `Group`, by two aggregates over the messages `where` selects."""
    notice = notice_kind_sql()
    own = OutboxMessage.is_copy.is_(False)
    answerable = and_(own, Contact.role == ContactRole.LIAISON.value,
                      or_(OutboxMessage.kind != MessageKind.ESCALATION.value,
                          OutboxMessage.level == Level.REMINDER.value))
    out: dict[tuple[str, str, NoticeKind], Group] = {}
    for channel, address, kind, total, copies, agencies, first, last, liaison in session.connection().execute(
            select(OutboxMessage.channel, OutboxMessage.address, notice, func.count(),
                   func.count(case((OutboxMessage.is_copy.is_(True), 1))),
                   func.count(OutboxMessage.agency_id.distinct()),
                   func.min(case((own, ProgressRequest.due_on))),
                   func.max(case((own, ProgressRequest.due_on))),
                   func.min(case((answerable, OutboxMessage.contact_id))))
            .select_from(_source(drive))
            .outerjoin(ProgressRequest, ProgressRequest.id == OutboxMessage.request_id)
            .outerjoin(Contact, Contact.id == OutboxMessage.contact_id)
            .where(where).group_by(OutboxMessage.channel, OutboxMessage.address, notice)):
        out[(channel, address, NoticeKind(kind))] = Group(
            total=total, copies=copies, agencies=agencies, plans=[], first_due=first,
            last_due=last, liaison=contacts.get(liaison) if liaison is not None else None)
    for channel, address, kind, title in session.connection().execute(
            select(OutboxMessage.channel, OutboxMessage.address, notice,
                   func.coalesce(Plan.title, _NO_PLAN))
            .select_from(_source(drive)).outerjoin(Plan, Plan.id == OutboxMessage.plan_id)
            .where(where).distinct()):
        out[(channel, address, NoticeKind(kind))].plans.append(title)
    for group in out.values():
        group.plans.sort()
    return out


def _streamed_digest_id(session: Session, where: ColumnElement[bool], channel: str,
                        address: str, kind: NoticeKind, drive: Any = None) -> str:
    """The digest id of one digest (see `digest_id`) from its keys read in code point order
    and hashed as they come: a digest of any size, nothing kept but the hash."""
    digest = hashlib.sha256()
    first = True
    for key in session.scalars(
            select(OutboxMessage.key).select_from(_source(drive))
            .where(where, OutboxMessage.channel == channel, OutboxMessage.address == address,
                   notice_kind_sql() == kind.value)
            .order_by(_text_order(session, OutboxMessage.key))
            .execution_options(yield_per=5_000)):
        digest.update(key.encode() if first else b"|" + key.encode())
        first = False
    return digest.hexdigest()[:32]


def digest_id(keys: list[str]) -> str:
    """A digest's id (its Message-ID's local part): a hash of its messages' keys in code
    point order, so that a digest sent again after a crash carries the same id."""
    return hashlib.sha256("|".join(sorted(keys)).encode()).hexdigest()[:32]


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
    digest each: a list of (channel, digest, ids of the messages it lists).

    `now` (aware) dates the notice (Asia/Shanghai) and counts working days overdue on
    `calendar`; `link_for(contact)` makes the liaison's answer link, called once per digest
    with its first answerable contact; `config` gives the desk address, the template
    override folder and the cap on listed items (`max_items`: the first of them in listing
    order, the rest counted in the totals and summarised in one line). A digest that
    cannot be rendered (a broken override, bad data) is returned as the exception in place
    of the digest, so the dispatcher records that failure for its messages alone and goes on.
    """
    config = config or NoticeConfig()
    facts: dict[tuple[str, str, NoticeKind], Group] = getattr(rows, "groups", {})
    groups: dict[tuple[str, str, NoticeKind], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[(r["msg"].channel, r["msg"].address, r["kind"])].append(r)
    today = local_date(now)
    between = lru_cache(maxsize=None)(calendar.between)  # the batch's few due days, counted once
    out: list[tuple[ChannelKind, Digest | Exception, list[int]]] = []
    for key, items in groups.items():
        channel, address, kind = key
        try:
            out.append(_render_one(channel, address, kind, items, facts.get(key) or _group(items),
                                   now=now, today=today, between=between, link_for=link_for,
                                   config=config))
        except Exception as exc:  # one recipient's failure is theirs alone
            out.append((ChannelKind(channel), exc, [i["msg"].id for i in items]))
    return out


def _group(rows: list[dict[str, Any]]) -> Group:
    """A digest's `Group` from all its rows, when they come without one."""
    dues = sorted({r["due_on"] for r in rows if not r["msg"].is_copy and r["due_on"] is not None})
    answerable = [r["liaison"] for r in rows if _answerable(r)]
    return Group(total=len(rows), copies=sum(1 for r in rows if r["msg"].is_copy),
                 agencies=len({r["msg"].agency_id for r in rows if r["msg"].agency_id is not None}),
                 plans=sorted({r["plan_title"] for r in rows}),
                 first_due=dues[0] if dues else None, last_due=dues[-1] if dues else None,
                 liaison=min(answerable, key=lambda c: c.id) if answerable else None)


def _answerable(r: dict[str, Any]) -> bool:
    """Only a liaison's own copy carries the answer link (never a deputy's or a cc); a
    meeting notice carries it too: the liaison records the meeting from the link."""
    msg = r["msg"]
    return (not msg.is_copy and r["liaison"] is not None
            and r["liaison"].role == ContactRole.LIAISON
            and (msg.kind != MessageKind.ESCALATION or msg.level == Level.REMINDER))


def _natural(code: str) -> tuple[Any, ...]:
    """Sort key for measure codes: 2.2.10 after 2.2.9."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", code))


def _cn(iso: str | None) -> str:
    return cn_date(iso) if iso else ""


# a batch's items share a few periods and due days: each is worded and counted once
_cn_period = lru_cache(maxsize=1024)(cn_period)
_cn_date = lru_cache(maxsize=4096)(cn_date)


def _item(r: dict[str, Any], *, today: dt.date, between: Callable[[dt.date, dt.date], int],
          config: NoticeConfig) -> dict[str, Any]:
    msg, payload = r["msg"], r["msg"].payload or {}
    due_on = r["due_on"]
    desk_url = (f"{config.base_url}/desk/requests/{msg.request_id}"
                if msg.is_copy and config.base_url and msg.request_id is not None else None)
    overdue = between(due_on, today) if due_on is not None else 0
    return dict(
        plan=r["plan_title"], code=r["code"], title=r["title"], subject=r["subject"],
        agency=r["agency"], role=r["role"], period=_cn_period(r["period"]),
        milestone=is_milestone_label(r["period"]),  # a task's own 完成时限: 完成情况报告
        due=_cn_date(due_on) if due_on else "", days_overdue=max(overdue, 0),
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


def _render_one(channel: str, address: str, kind: NoticeKind, rows: list[dict[str, Any]],
                group: Group, *, now: dt.datetime, today: dt.date,
                between: Callable[[dt.date, dt.date], int],
                link_for: Callable[[Contact], str | None] | None, config: NoticeConfig,
                ) -> tuple[ChannelKind, Digest, list[int]]:
    msgs = [r["msg"] for r in rows]
    items = sorted((_item(r, today=today, between=between, config=config) for r in rows),
                   key=lambda i: (i["is_copy"], i["_sort"]))
    # the cap: own items first, then copies (the order message_rows ranks them in SQL)
    items = items[:config.max_items]
    own = Listed((i for i in items if not i["is_copy"]), total=group.total - group.copies)
    copies = Listed((i for i in items if i["is_copy"]), total=group.copies)
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
    for entry in circulars.values():
        entry["items"] = Listed(entry["items"][:config.max_items], total=len(entry["items"]))
    link = link_for(group.liaison) if link_for and group.liaison is not None else None
    plans = group.plans
    offices = list(dict.fromkeys(r["office"] for r in rows if r["office"]))
    first, last = group.first_due, group.last_due
    ctx = dict(
        kind=kind.value, kind_label=kind.label, recipient_name=msgs[0].recipient_name,
        items=own, copies=copies, circulars=list(circulars.values()),
        total=group.total, agencies=group.agencies,
        plans=plans, several_plans=len(plans) > 1,
        plan_phrase=f"《{plans[0]}》" + (f"等{len(plans)}项规划纲要" if len(plans) > 1 else ""),
        earliest_due=cn_date(first) if first else "", one_due=first is not None and first == last,
        link=link, sender="、".join(offices) or "督查室",
        contact_lines=list(dict.fromkeys(r["contact_line"] for r in rows if r["contact_line"])),
        today=cn_date(today),
        reason=next((r["msg"].payload or {}).get("reason", "") for r in rows),
    )
    subject, body = render_notice(f"notices/{kind.value}.txt.j2", ctx,
                                  override_dir=config.templates_dir)
    return ChannelKind(channel), Digest(
        digest_id=group.digest_id or digest_id([m.key for m in msgs]), address=address,
        recipient_name=msgs[0].recipient_name, subject=subject, body=body, date=now,
        kind=kind.value, attachments=[a for c in circulars.values() for a in c["attachments"]],
    ), [m.id for m in msgs]


def _notice_role(role: str | None, indicator_code: str | None) -> str:
    """The role after the agency's name in a notice: 牵头单位 / 配合单位 / 属地责任单位 (a
    district government's own share of a measure; "河东区人民政府（区人民政府）" said
    nothing) / 指标报送单位; empty for a notice about no request."""
    if role == Role.DISTRICT:
        return "属地责任单位"
    return role_label(role, long=True) if role or indicator_code else ""
