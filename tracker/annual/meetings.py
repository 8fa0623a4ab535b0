"""Executive meetings (政府常务会议): the plan's clause 三（一） asks each government's
executive meeting to study the work at least once a year.

DESIGN.md: the city and each district record ≥ 1 meeting a year; reminder on 1 October
and warning on 15 November to those with none (a date that is a rest day moves to the last
working day before it).

Issue 11, item 4: a government's liaison records its meeting with the minutes and the
office confirms it (`tracker.annual.meeting_records`); only confirmed meetings held in the
year count. Reminders and warnings skip a government with a confirmed or pending meeting.

When the year-end finding is recorded: on the annual checkpoint's day for the year (the
`Rules.checkpoint_working_day`-th working day of the next year, 30th by default), by
`meeting_duty` or `run_checkpoint`, whichever runs first; so the office can still confirm
in January a meeting held in December. The finding counts the meetings held in the year
and confirmed by then; it is written once (`record_findings` inserts or ignores), and a
meeting confirmed after it does not change it. Before the finding, the scorecard's
是否履职 reads 未认定 (`meeting_table`, `compliant_governments`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker.dates.chinese import cn_date
from tracker.dates.workdays import WorkCalendar, local_date
from tracker.directory.agencies import office_id
from tracker.enums import ContactRole, MeetingState, MessageKind
from tracker.errors import DomainError
from tracker.models import (
    Agency,
    AuditEvent,
    ExecutiveMeeting,
    MeetingCompliance,
    Plan,
    ReportingPeriod,
)
from tracker.outbox import enqueue_to_agency
from tracker.policy import Policy
from tracker.sql import insert_ignore_values


class MeetingError(DomainError):
    """A refusal with its reason in Chinese (tracker.errors)."""


def governments(session: Session, plan: Plan) -> list[tuple[str, int | None]]:
    """(government name, agency to contact) for the plan's government and each district
    government of its settings; none when the plan sets no meeting duty.

    The plan's own government is reached through its `meeting_contact` (for Tianjin's plan,
    市残联, where the city's 残工委办公室 sits); a district government is its own contact.
    """
    if not plan.meeting_duty:
        return []
    ids = {name: ensure for name, ensure in session.execute(
        select(Agency.name, Agency.id).where(Agency.government == plan.government,
                                             Agency.name.in_(plan.districts)))}
    city_contact = office_id(session, plan, plan.meeting_contact)
    return [(plan.government, city_contact)] + [(d, ids.get(d)) for d in plan.districts]


def record_meeting(session: Session, plan: Plan, *, government: str, held_on: dt.date,
                   topic: str, recorded_by: str, now: dt.datetime, name: str = "",
                   decisions: str = "") -> bool:
    """The office records that `government`'s executive meeting studied the plan on
    `held_on` (Asia/Shanghai calendar day); confirmed at once (the office is the one that
    confirms). `name` is the meeting's name and number (default: the topic).

    Returns False if that meeting was already recorded (idempotent). Raises MeetingError
    for an unknown government or a meeting in the future. Does not commit.
    """
    if government not in {g for g, _ in governments(session, plan)}:
        raise MeetingError(f"不是本规划的政府：{government}")
    if held_on > local_date(now):
        raise MeetingError(f"会议日期 {held_on} 晚于今天")
    if held_on.year < plan.first_year:
        raise MeetingError(f"会议日期 {held_on} 早于规划期（{plan.first_year}年起）")
    n = insert_ignore_values(session, ExecutiveMeeting.__table__, [dict(  # type: ignore[arg-type]
        plan_id=plan.id, government=government, held_on=held_on, topic=topic,
        recorded_at=now, recorded_by=recorded_by, name=(name or topic)[:200],
        decisions=decisions, state=MeetingState.CONFIRMED.value, decided_at=now,
        decided_by=recorded_by)])
    if n:
        session.add(AuditEvent(at=now, actor=recorded_by, action="meeting.record",
                               object_type="executive_meeting", object_id=government,
                               detail={"held_on": held_on.isoformat(), "topic": topic}))
    return bool(n)


def meeting_counts(session: Session, plan: Plan, year: int,
                   states: tuple[MeetingState, ...] = (MeetingState.CONFIRMED,)
                   ) -> dict[str, int]:
    """{government: meetings held in `year` in one of `states`} (confirmed by default:
    what counts for the duty); governments with none are absent. One query."""
    rows = session.execute(
        select(ExecutiveMeeting.government, func.count())
        .where(ExecutiveMeeting.plan_id == plan.id,
               ExecutiveMeeting.state.in_([s.value for s in states]),
               ExecutiveMeeting.held_on >= dt.date(year, 1, 1),
               ExecutiveMeeting.held_on <= dt.date(year, 12, 31))
        .group_by(ExecutiveMeeting.government)
    ).all()
    return {g: n for g, n in rows}


def finding_day(year: int, policy: Policy) -> dt.date:
    """The day the year-end finding for `year` is recorded: the annual checkpoint's day,
    the `checkpoint_working_day`-th working day after 31 December (Chinese calendar)."""
    return policy.calendar.add(dt.date(year, 12, 31), policy.rules.checkpoint_working_day)


def notice_day(day: dt.date, calendar: WorkCalendar) -> dt.date:
    """The day a meeting reminder or warning set for `day` goes out: `day` itself if it is
    a working day, else the last working day before it (issue 8: the reminder of 1 October
    falls in the National Day holiday, so it goes out on the last working day of September:
    2017-09-30, a make-up Saturday). Working days of the Chinese calendar, Asia/Shanghai.
    """
    return day if calendar.is_workday(day) else calendar.add(day, -1)


@dataclass
class MeetingDutyResult:
    reminders: int = 0
    warnings: int = 0
    findings: int = 0


def meeting_duty(session: Session, plan: Plan, now: dt.datetime, policy: Policy) -> MeetingDutyResult:
    """Remind, warn, and record the year-end finding, as DESIGN.md's dates say. Idempotent."""
    today = local_date(now)
    result = MeetingDutyResult()
    year = today.year
    if plan.first_year <= year <= plan.last_year:
        # a meeting waiting for the office is no reason to remind: the liaison has done it
        counts = meeting_counts(session, plan, year,
                                (MeetingState.CONFIRMED, MeetingState.PENDING))
        missing = [(g, a) for g, a in governments(session, plan) if not counts.get(g)]
        office = office_id(session, plan, plan.supervision_office)
        for kind, (month, day) in ((MessageKind.MEETING_REMINDER, policy.rules.meeting_reminder),
                                   (MessageKind.MEETING_WARNING, policy.rules.meeting_warning)):
            if today < notice_day(dt.date(year, month, day), policy.calendar):
                continue
            n = 0
            for government, agency_id in missing:
                target = agency_id
                if target is None:
                    continue
                payload = {"government": government, "year": year, "plan": plan.title}
                key = f"meet:{plan.id}:{year}:{government}:{kind.value}"
                n += enqueue_to_agency(session, agency_id=target, key_prefix=key, kind=kind,
                                       payload=payload, now=now, channel=policy.channel,
                                       plan_id=plan.id)
                if kind == MessageKind.MEETING_WARNING and office is not None:
                    n += enqueue_to_agency(session, agency_id=office, key_prefix=key + ":cc",
                                           kind=kind, payload=payload, now=now,
                                           channel=policy.channel, role=ContactRole.LIAISON,
                                           is_copy=True, plan_id=plan.id)
            if kind == MessageKind.MEETING_REMINDER:
                result.reminders += n
            else:
                result.warnings += n
    last = year - 1
    if plan.first_year <= last <= plan.last_year and today >= finding_day(last, policy) \
            and tracked(session, plan, last):
        result.findings = record_findings(session, plan, last, now)
    return result


def tracked(session: Session, plan: Plan, year: int) -> bool:
    """Whether the product tracked `year` (it had reporting periods): no findings before."""
    return session.scalar(select(ReportingPeriod.id).where(
        ReportingPeriod.plan_id == plan.id, ReportingPeriod.year == year).limit(1)) is not None


def record_findings(session: Session, plan: Plan, year: int, now: dt.datetime) -> int:
    """Record each government's compliance for a finished year: compliant with ≥ 1
    meeting held in the year and confirmed by now. Written once per government (insert or
    ignore); later runs, and meetings confirmed later, change nothing. Returns the rows
    written."""
    counts = meeting_counts(session, plan, year)
    rows = [dict(plan_id=plan.id, year=year, government=g, meetings=counts.get(g, 0),
                 compliant=counts.get(g, 0) >= 1, recorded_at=now)
            for g, _ in governments(session, plan)]
    return insert_ignore_values(session, MeetingCompliance.__table__, rows)  # type: ignore[arg-type]


def compliant_governments(session: Session, plan: Plan, year: int) -> dict[str, bool | None]:
    """{government: True (met the duty) | False (did not) | None (not decided yet: no
    year-end finding recorded)} for the plan's government and each district, for scoring.
    Empty when the plan sets no meeting duty. One query beside `governments`."""
    found = dict(session.execute(
        select(MeetingCompliance.government, MeetingCompliance.compliant)
        .where(MeetingCompliance.plan_id == plan.id, MeetingCompliance.year == year)).all())
    return {g: (bool(found[g]) if g in found else None) for g, _ in governments(session, plan)}


TABLE_COLUMNS = ["政府", "会议次数", "会议日期", "会议名称及届次", "状态", "是否履职"]


def meeting_table(session: Session, plan: Plan, year: int) -> pd.DataFrame:
    """The scorecard's meetings table for `year`, one row per government (the plan's own
    first, then the districts in the plan's order), columns `TABLE_COLUMNS`:

    - 会议次数: confirmed meetings held in the year (calendar year, Asia/Shanghai dates);
    - 会议日期: their dates, "2017年9月20日、2017年11月2日", in date order ("" if none);
    - 会议名称及届次: their names, 、-joined in the same order;
    - 状态: "已确认" with a confirmed meeting, else "待确认" with one waiting for the office,
      else "已退回" with one returned, else "未召开";
    - 是否履职: the year-end finding, "是" | "否", or "未认定" before it is recorded.

    Two queries beside `governments` (the year's meetings, the findings).
    """
    rows = session.execute(
        select(ExecutiveMeeting.government, ExecutiveMeeting.held_on, ExecutiveMeeting.name,
               ExecutiveMeeting.state)
        .where(ExecutiveMeeting.plan_id == plan.id,
               ExecutiveMeeting.held_on >= dt.date(year, 1, 1),
               ExecutiveMeeting.held_on <= dt.date(year, 12, 31))
        .order_by(ExecutiveMeeting.held_on, ExecutiveMeeting.id)).all()
    compliance = compliant_governments(session, plan, year)
    out = []
    for government in compliance:
        mine = [r for r in rows if r.government == government]
        confirmed = [r for r in mine if r.state == MeetingState.CONFIRMED]
        states = {MeetingState(r.state) for r in mine}
        state = ("已确认" if confirmed else "待确认" if MeetingState.PENDING in states
                 else "已退回" if MeetingState.RETURNED in states else "未召开")
        finding = compliance[government]
        out.append([government, len(confirmed), "、".join(cn_date(r.held_on) for r in confirmed),
                    "、".join(r.name for r in confirmed), state,
                    "未认定" if finding is None else "是" if finding else "否"])
    return pd.DataFrame(out, columns=TABLE_COLUMNS).astype({"会议次数": "int64"})
