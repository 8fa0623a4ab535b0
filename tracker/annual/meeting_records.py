"""Executive meetings recorded with their evidence (issue 11, item 4).

A government's liaison records its executive meeting (政府常务会议) from their link: the
date, the meeting's name and number ("和平区人民政府第23次常务会议"), the decisions taken
(研究决定事项) and the minutes (会议纪要, a file checked and stored as evidence files are:
`tracker.requests.evidence.ALLOWED`, `MAX_BYTES`, HOME/evidence/<sha256[:2]>/<sha256>).
The office confirms it (确认) or returns it with a reason (退回, a "会议已退回" notice to the
liaison); only confirmed meetings count for the year's duty (`tracker.annual.meetings`).

Which liaison records for which government (`recordable`): a district government's own
liaison for that district; for the plan's own government, the liaison of the plan's
`meeting_contact` agency (for Tianjin's plan, 市残联). The liaison may correct a record
until the office has confirmed it; the office may correct any (audited, before and after).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.annual.meetings import governments
from tracker.dates.chinese import cn_date
from tracker.dates.workdays import local_date
from tracker.enums import MeetingState, MessageKind
from tracker.errors import Conflict, DomainError, Forbidden, NotFound
from tracker.models import AuditEvent, ExecutiveMeeting, Plan
from tracker.outbox import enqueue_to_agency
from tracker.policy import Policy
from tracker.requests.evidence import (
    ALLOWED,
    MAX_BYTES,
    clean_filename,
    evidence_path,
    store_bytes,
)

NAME_MAX = 200
DECISIONS_MAX = 5000
REASON_MAX = 1000
# a form field's name -> its label in the refusals (the page puts each beside its field)
FIELD_LABELS = {"government": "政府", "held_on": "会议日期", "name": "会议名称及届次",
                "decisions": "研究决定事项", "minutes": "会议纪要", "reason": "退回理由"}


class MeetingFormError(DomainError):
    """A meeting form refused: `fields` are (field name, Chinese text) pairs, every fault
    at once, each naming its field, so the page shows them beside what was typed (422)."""

    def __init__(self, fields: list[tuple[str, str]]):
        self.fields = fields
        super().__init__("；".join(text for _, text in fields))


@dataclass(frozen=True)
class Government:
    """A government a link may record meetings for, in one plan."""

    plan_id: int
    plan_title: str
    name: str
    agency_id: int  # the contact agency: the district itself, or the plan's meeting contact

    @property
    def key(self) -> str:
        """The form's value for this choice ("<plan id>:<government>")."""
        return f"{self.plan_id}:{self.name}"


@dataclass(frozen=True)
class Minutes:
    """An uploaded minutes file as received: its name as given and its bytes."""

    filename: str
    data: bytes


@dataclass
class MeetingInput:
    """A meeting form as typed (text): kept to show again after a refusal."""

    government: str = ""  # Government.key
    held_on: str = ""  # ISO date, as the date input sends it
    name: str = ""
    decisions: str = ""
    problems: list[tuple[str, str]] = field(default_factory=list)


def recordable(session: Session, agencies: Collection[int]) -> list[Government]:
    """The governments whose meetings a link of `agencies` records, in plan then plan
    order (the plan's own government first, then its districts). A few queries per plan
    with a meeting duty (plans are few)."""
    chosen = set(agencies)
    out: list[Government] = []
    for plan in session.scalars(select(Plan).where(Plan.meeting_duty.is_(True)).order_by(Plan.id)):
        out += [Government(plan.id, plan.title, g, a) for g, a in governments(session, plan)
                if a is not None and a in chosen]
    return out


def _check_minutes(minutes: Minutes) -> tuple[str, str] | str:
    """(clean file name, media type) of an acceptable minutes file, else the refusal."""
    name = clean_filename(minutes.filename)
    ext = os.path.splitext(name)[1].lower()
    if ext not in ALLOWED:
        return (f"会议纪要：不支持的文件类型 {ext or '（无扩展名）'}；允许："
                + "、".join(sorted(ALLOWED)))
    if not minutes.data:
        return "会议纪要：文件为空"
    if len(minutes.data) > MAX_BYTES:
        return f"会议纪要：文件超过 {MAX_BYTES // (1024 * 1024)} MB 上限"
    media, magics = ALLOWED[ext]
    if not any(minutes.data.startswith(m) for m in magics):
        return f"会议纪要：文件内容与扩展名 {ext} 不符"
    return name, media


def _check(session: Session, plan: Plan, government: str, typed: MeetingInput,
           minutes: Minutes | None, *, today: dt.date, need_minutes: bool,
           meeting_id: int | None) -> tuple[list[tuple[str, str]], dt.date | None,
                                            tuple[str, str] | None]:
    """Every fault of a typed meeting at once: (faults, the date, the minutes' name and type)."""
    faults: list[tuple[str, str]] = []
    held_on: dt.date | None = None
    if not typed.held_on.strip():
        faults.append(("held_on", "会议日期：请填写会议日期"))
    else:
        try:
            held_on = dt.date.fromisoformat(typed.held_on.strip())
        except ValueError:
            faults.append(("held_on", "会议日期：请按“年-月-日”填写有效日期，例如 2017-09-20"))
    if held_on is not None:
        if held_on > today:
            faults.append(("held_on", f"会议日期：{cn_date(held_on)}晚于今天（{cn_date(today)}），"
                                      "请填写已召开会议的日期"))
        elif held_on.year < plan.first_year:
            faults.append(("held_on", f"会议日期：{cn_date(held_on)}早于规划期"
                                      f"（{plan.first_year}年起）"))
        elif held_on.year > plan.last_year:
            faults.append(("held_on", f"会议日期：{cn_date(held_on)}晚于规划期"
                                      f"（至{plan.last_year}年）"))
        else:
            other = session.scalar(select(ExecutiveMeeting.id).where(
                ExecutiveMeeting.plan_id == plan.id, ExecutiveMeeting.government == government,
                ExecutiveMeeting.held_on == held_on))
            if other is not None and other != meeting_id:
                faults.append(("held_on", f"会议日期：{government}{cn_date(held_on)}的常务会议"
                                          "已记录过，请修改原记录"))
    name = typed.name.strip()
    if not name:
        faults.append(("name", "会议名称及届次：请填写，例如“和平区人民政府第23次常务会议”"))
    elif len(name) > NAME_MAX:
        faults.append(("name", f"会议名称及届次：不超过 {NAME_MAX} 字（现为 {len(name)} 字）"))
    decisions = typed.decisions.strip()
    if not decisions:
        faults.append(("decisions", "研究决定事项：请填写会议研究决定的事项"))
    elif len(decisions) > DECISIONS_MAX:
        faults.append(("decisions", f"研究决定事项：不超过 {DECISIONS_MAX} 字"
                                    f"（现为 {len(decisions)} 字）"))
    checked: tuple[str, str] | None = None
    if minutes is None:
        if need_minutes:
            faults.append(("minutes", "会议纪要：请上传会议纪要（PDF、Word、图片或 OFD 文件）"))
    else:
        result = _check_minutes(minutes)
        if isinstance(result, str):
            faults.append(("minutes", result))
        else:
            checked = result
    return faults, held_on, checked


def submit_meeting(session: Session, root: Path, *, agencies: Collection[int],
                   typed: MeetingInput, minutes: Minutes | None, recorded_by: str,
                   now: dt.datetime, meeting_id: int | None = None) -> ExecutiveMeeting:
    """A liaison records a meeting (`meeting_id` None) or corrects one not yet confirmed;
    either waits for the office's confirmation (state pending). Does not commit.

    `typed.government` is a `Government.key` among `recordable(session, agencies)`;
    `typed.held_on` an ISO date (Asia/Shanghai calendar day, not in the future, inside the
    plan period); the name and decisions are required text; the minutes file is required
    for a new record (a correction keeps the stored one unless another is chosen).
    Raises MeetingFormError naming every faulty field in Chinese (nothing is written, no
    file stored), Forbidden for a government or meeting not the link's, Conflict for a
    meeting the office has confirmed.
    """
    choices = {g.key: g for g in recordable(session, agencies)}
    current: ExecutiveMeeting | None = None
    if meeting_id is not None:
        current = meeting_for_link(session, agencies, meeting_id)
        if current.state == MeetingState.CONFIRMED:
            raise Conflict("督查室已确认该会议记录，不能再修改；如需更正请联系督查室",
                           code="confirmed")
        typed.government = f"{current.plan_id}:{current.government}"
    chosen = choices.get(typed.government)
    if chosen is None:
        if len(choices) == 1 and not typed.government:
            chosen = next(iter(choices.values()))
        elif not choices:
            raise Forbidden("本链接所属单位不负责记录政府常务会议", code="no-government")
        else:
            raise MeetingFormError([("government", "政府：请选择召开会议的政府")])
    plan = session.get(Plan, chosen.plan_id)
    assert plan is not None
    faults, held_on, checked = _check(session, plan, chosen.name, typed, minutes,
                                      today=local_date(now), need_minutes=current is None
                                      or current.minutes_sha256 is None, meeting_id=meeting_id)
    if faults:
        raise MeetingFormError(faults)
    assert held_on is not None
    meeting = current or ExecutiveMeeting(plan_id=plan.id, government=chosen.name,
                                          recorded_at=now, recorded_by=recorded_by, topic="")
    before = _snapshot(meeting) if current is not None else None
    meeting.held_on = held_on
    meeting.name = typed.name.strip()
    meeting.decisions = typed.decisions.strip()
    meeting.state = MeetingState.PENDING
    meeting.updated_at = now
    if checked is not None and minutes is not None:
        meeting.minutes_sha256 = store_bytes(root, minutes.data)
        meeting.minutes_filename, meeting.minutes_media_type = checked
        meeting.minutes_size = len(minutes.data)
    if current is None:
        session.add(meeting)
    session.flush()
    session.add(AuditEvent(at=now, actor=recorded_by,
                           action="meeting.submit" if current is None else "meeting.correct",
                           object_type="executive_meeting", object_id=str(meeting.id),
                           detail={"before": before, "after": _snapshot(meeting)}))
    return meeting


def _snapshot(m: ExecutiveMeeting) -> dict[str, object]:
    return {"government": m.government, "held_on": m.held_on.isoformat() if m.held_on else None,
            "name": m.name, "decisions": m.decisions, "minutes": m.minutes_sha256,
            "minutes_filename": m.minutes_filename,
            "state": MeetingState(m.state).value if m.state else None}


def meeting_for_link(session: Session, agencies: Collection[int], meeting_id: int
                     ) -> ExecutiveMeeting:
    """A meeting of a government the link records for. Raises Forbidden (403) for an
    unknown id or another government's meeting (the same answer: ids are not revealed)."""
    meeting = session.get(ExecutiveMeeting, meeting_id)
    owned = {(g.plan_id, g.name) for g in recordable(session, agencies)}
    if meeting is None or (meeting.plan_id, meeting.government) not in owned:
        raise Forbidden("该会议记录不属于本单位", code="other-agency")
    return meeting


@dataclass(frozen=True)
class MeetingRow:
    """A recorded meeting as the liaison's and the office's pages show it."""

    meeting: ExecutiveMeeting
    plan_title: str

    @property
    def state(self) -> MeetingState:
        return MeetingState(self.meeting.state)

    @property
    def editable(self) -> bool:
        """Whether the liaison may still correct it (not confirmed yet)."""
        return self.state != MeetingState.CONFIRMED


def link_meetings(session: Session, agencies: Collection[int]) -> list[MeetingRow]:
    """Every meeting of the link's governments, newest first (one query for the rows)."""
    govs = recordable(session, agencies)
    if not govs:
        return []
    plans = {g.plan_id: g.plan_title for g in govs}
    names = {g.name for g in govs}
    rows = session.scalars(select(ExecutiveMeeting).where(
        ExecutiveMeeting.plan_id.in_(list(plans)), ExecutiveMeeting.government.in_(names))
        .order_by(ExecutiveMeeting.held_on.desc(), ExecutiveMeeting.id.desc())).all()
    owned = {(g.plan_id, g.name) for g in govs}
    return [MeetingRow(m, plans[m.plan_id]) for m in rows if (m.plan_id, m.government) in owned]


def minutes_file(root: Path, meeting: ExecutiveMeeting) -> bytes:
    """The stored minutes' bytes. Raises NotFound when the record has none."""
    if not meeting.minutes_sha256:
        raise NotFound("该会议记录没有会议纪要文件")
    return evidence_path(root, meeting.minutes_sha256).read_bytes()


# The office ----------------------------------------------------------------------------


def _pending(session: Session, meeting_id: int) -> ExecutiveMeeting:
    meeting = session.get(ExecutiveMeeting, meeting_id)
    if meeting is None:
        raise NotFound(f"没有编号为 {meeting_id} 的会议记录")
    if meeting.state != MeetingState.PENDING:
        raise Conflict(f"该会议记录{MeetingState(meeting.state).label}，无需再处理",
                       code="decided")
    return meeting


def confirm_meeting(session: Session, meeting_id: int, *, by: str, now: dt.datetime
                    ) -> ExecutiveMeeting:
    """The office confirms a pending meeting (确认): it now counts for its year. Does not
    commit. Raises NotFound, or Conflict when it is not pending (confirmed or returned)."""
    meeting = _pending(session, meeting_id)
    meeting.state, meeting.decided_at, meeting.decided_by = MeetingState.CONFIRMED, now, by
    session.add(AuditEvent(at=now, actor=by, action="meeting.confirm",
                           object_type="executive_meeting", object_id=str(meeting.id),
                           detail={"government": meeting.government,
                                   "held_on": meeting.held_on.isoformat()}))
    return meeting


def return_meeting(session: Session, meeting_id: int, *, reason: str, by: str,
                   now: dt.datetime, policy: Policy) -> ExecutiveMeeting:
    """The office returns a pending meeting to the liaison (退回) with a reason; a
    "会议已退回" notice goes to the government's contact agency's liaisons (queued now; the
    dispatcher sends on working days only, so it never goes out on a holiday). Does not
    commit. Raises MeetingFormError (no reason, or one over 1000 characters), NotFound,
    Conflict when it is not pending."""
    text = reason.strip()
    if not text:
        raise MeetingFormError([("reason", "退回理由：请填写退回理由，告知联络员需要修改什么")])
    if len(text) > REASON_MAX:
        raise MeetingFormError([("reason", f"退回理由：不超过 {REASON_MAX} 字")])
    meeting = _pending(session, meeting_id)
    meeting.state, meeting.decided_at, meeting.decided_by = MeetingState.RETURNED, now, by
    meeting.return_reason = text
    plan = session.get(Plan, meeting.plan_id)
    assert plan is not None
    contact = dict(governments(session, plan)).get(meeting.government)
    if contact is not None:
        payload = {"government": meeting.government, "year": meeting.held_on.year,
                   "plan": plan.title, "name": meeting.name,
                   "held_on": meeting.held_on.isoformat(), "reason": text}
        enqueue_to_agency(session, agency_id=contact,
                          key_prefix=f"meetret:{meeting.id}:{now.isoformat()}",
                          kind=MessageKind.MEETING_RETURNED, payload=payload, now=now,
                          channel=policy.channel, plan_id=plan.id)
    session.add(AuditEvent(at=now, actor=by, action="meeting.return",
                           object_type="executive_meeting", object_id=str(meeting.id),
                           detail={"government": meeting.government, "reason": text}))
    return meeting


def correct_meeting(session: Session, root: Path, meeting_id: int, *, typed: MeetingInput,
                    minutes: Minutes | None, by: str, now: dt.datetime) -> ExecutiveMeeting:
    """The office corrects a record (date, name, decisions, minutes), whatever its state;
    the state is kept. Audited with the record before and after. Does not commit.
    Raises NotFound, or MeetingFormError naming every faulty field."""
    meeting = session.get(ExecutiveMeeting, meeting_id)
    if meeting is None:
        raise NotFound(f"没有编号为 {meeting_id} 的会议记录")
    plan = session.get(Plan, meeting.plan_id)
    assert plan is not None
    faults, held_on, checked = _check(session, plan, meeting.government, typed, minutes,
                                      today=local_date(now), need_minutes=False,
                                      meeting_id=meeting.id)
    if faults:
        raise MeetingFormError(faults)
    assert held_on is not None
    before = _snapshot(meeting)
    meeting.held_on, meeting.name = held_on, typed.name.strip()
    meeting.decisions, meeting.updated_at = typed.decisions.strip(), now
    if checked is not None and minutes is not None:
        meeting.minutes_sha256 = store_bytes(root, minutes.data)
        meeting.minutes_filename, meeting.minutes_media_type = checked
        meeting.minutes_size = len(minutes.data)
    session.flush()
    session.add(AuditEvent(at=now, actor=by, action="meeting.office_correct",
                           object_type="executive_meeting", object_id=str(meeting.id),
                           detail={"before": before, "after": _snapshot(meeting)}))
    return meeting


# The office's page ---------------------------------------------------------------------


@dataclass
class GovernmentYear:
    """One government's meetings held in a year, by state, and its year-end finding."""

    name: str
    confirmed: list[ExecutiveMeeting] = field(default_factory=list)
    pending: list[ExecutiveMeeting] = field(default_factory=list)
    returned: list[ExecutiveMeeting] = field(default_factory=list)
    finding: bool | None = None  # None: not recorded yet

    @property
    def state(self) -> str:
        """已确认 | 待确认 | 已退回 | 未召开 (as the scorecard's 状态 reads)."""
        return ("已确认" if self.confirmed else "待确认" if self.pending
                else "已退回" if self.returned else "未召开")


@dataclass
class MeetingsYear:
    """The desk's meetings page for one plan and year."""

    plan: Plan
    year: int
    years: list[int]
    governments: list[GovernmentYear]
    pending: list[MeetingRow]  # every plan's meetings waiting for the office, oldest first
    plans: list[tuple[int, str]] = field(default_factory=list)  # plans with a meeting duty

    @property
    def confirmed_count(self) -> int:
        return sum(1 for g in self.governments if g.confirmed)

    @property
    def pending_count(self) -> int:
        return sum(1 for g in self.governments if not g.confirmed and g.pending)

    @property
    def none(self) -> list[GovernmentYear]:
        """The governments with no confirmed or pending meeting in the year."""
        return [g for g in self.governments if not g.confirmed and not g.pending]


def meeting_plan(session: Session, plan_id: int | None) -> Plan:
    """The plan the desk's meetings page is about: the one asked for, else the first
    loaded plan with a meeting duty. Raises NotFound for an unknown plan or none with a
    meeting duty."""
    plan = (session.get(Plan, plan_id) if plan_id else session.scalars(
        select(Plan).where(Plan.meeting_duty.is_(True)).order_by(Plan.id).limit(1)).first())
    if plan is None:
        raise NotFound(f"没有编号为 {plan_id} 的规划" if plan_id else "没有要求政府常务会议研究的规划")
    return plan


def meetings_year(session: Session, plan: Plan, year: int) -> MeetingsYear:
    """Every government of `plan` with its meetings held in `year` (confirmed, pending,
    returned) and its finding, every plan's pending meetings (the office's queue) and the
    plans to choose from. Raises NotFound for a year outside the plan period. Five queries
    beside `governments`."""
    from tracker.annual.meetings import compliant_governments

    if not plan.first_year <= year <= plan.last_year:
        raise NotFound(f"{year}年不在《{plan.title}》的规划期（{plan.first_year}—{plan.last_year}年）内")
    findings = compliant_governments(session, plan, year)
    rows = {g: GovernmentYear(g, finding=findings[g]) for g in findings}
    for m in session.scalars(select(ExecutiveMeeting).where(
            ExecutiveMeeting.plan_id == plan.id,
            ExecutiveMeeting.held_on >= dt.date(year, 1, 1),
            ExecutiveMeeting.held_on <= dt.date(year, 12, 31))
            .order_by(ExecutiveMeeting.held_on, ExecutiveMeeting.id)):
        row = rows.get(m.government)
        if row is not None:
            {MeetingState.CONFIRMED: row.confirmed, MeetingState.PENDING: row.pending,
             MeetingState.RETURNED: row.returned}[MeetingState(m.state)].append(m)
    pending = [MeetingRow(m, title) for m, title in session.execute(
        select(ExecutiveMeeting, Plan.title).join(Plan, Plan.id == ExecutiveMeeting.plan_id)
        .where(ExecutiveMeeting.state == MeetingState.PENDING.value)
        .order_by(ExecutiveMeeting.updated_at, ExecutiveMeeting.id))]
    plans = [(p.id, p.title) for p in session.scalars(
        select(Plan).where(Plan.meeting_duty.is_(True)).order_by(Plan.id))]
    return MeetingsYear(plan, year, list(range(plan.first_year, plan.last_year + 1)),
                        list(rows.values()), pending, plans)


def meeting_by_id(session: Session, meeting_id: int) -> MeetingRow:
    """One record with its plan's title, for the office. Raises NotFound (404)."""
    found = session.execute(select(ExecutiveMeeting, Plan.title)
                            .join(Plan, Plan.id == ExecutiveMeeting.plan_id)
                            .where(ExecutiveMeeting.id == meeting_id)).first()
    if found is None:
        raise NotFound(f"没有编号为 {meeting_id} 的会议记录")
    return MeetingRow(found[0], found[1])


@dataclass(frozen=True)
class BoardMeetings:
    """The board's 常务会议 panel: this year's counts by government, and the year-end mark
    of the year before (its finding, or its state while the finding is not recorded)."""

    plan_id: int
    year: int
    confirmed: int  # governments with a confirmed meeting this year
    pending: int  # governments whose only meetings wait for the office
    none: list[str]  # governments with neither
    last_year: int | None  # the previous plan year, if any
    unmet: list[str]  # its governments found without a meeting (or, before the finding, none yet)
    last_found: bool  # whether the previous year's finding is recorded


def board_meetings(session: Session, plan: Plan, today: dt.date) -> BoardMeetings | None:
    """The board's panel for `plan` on `today` (Asia/Shanghai), None when the plan sets no
    meeting duty or `today` is before its period. This year is `today`'s (the plan's last
    year after the period); the previous year's mark is its recorded finding (未履职), or
    before the finding the governments with no confirmed meeting in it (none for a year
    the product did not track)."""
    from tracker.annual.meetings import compliant_governments, meeting_counts, tracked

    if not plan.meeting_duty or today.year < plan.first_year:
        return None
    year = min(today.year, plan.last_year)
    govs = [g for g, _ in governments(session, plan)]
    confirmed = meeting_counts(session, plan, year)
    pending = meeting_counts(session, plan, year, (MeetingState.PENDING,))
    # the year-end mark: of the year before; after the period, of the plan's last year
    last: int | None = year if today.year > plan.last_year else (
        year - 1 if year - 1 >= plan.first_year else None)
    if last is not None and not tracked(session, plan, last):
        last = None  # a year the product never tracked has no mark
    unmet: list[str] = []
    found = False
    if last is not None:
        findings = compliant_governments(session, plan, last)
        found = any(v is not None for v in findings.values())
        if found:
            unmet = [g for g in govs if findings.get(g) is False]
        else:
            had = meeting_counts(session, plan, last)
            unmet = [g for g in govs if not had.get(g)]
    return BoardMeetings(plan.id, year, sum(1 for g in govs if confirmed.get(g)),
                         sum(1 for g in govs if not confirmed.get(g) and pending.get(g)),
                         [g for g in govs if not confirmed.get(g) and not pending.get(g)],
                         last, unmet, found)
