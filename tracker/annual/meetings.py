"""Executive meetings (政府常务会议): the plan's clause 三（一） asks each government's
executive meeting to study the work at least once a year.

DESIGN.md: the city and each district record ≥ 1 meeting a year; reminder on 1 October
and warning on 15 November to those with none (a date that is a rest day moves to the last
working day before it); non-compliance recorded at year end (on the first run after
31 December).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker.dates.workdays import WorkCalendar, local_date
from tracker.directory.agencies import office_id
from tracker.enums import ContactRole, MessageKind
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
                   topic: str, recorded_by: str, now: dt.datetime) -> bool:
    """Record that `government`'s executive meeting studied the plan on `held_on`.

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
        recorded_at=now, recorded_by=recorded_by)])
    if n:
        session.add(AuditEvent(at=now, actor=recorded_by, action="meeting.record",
                               object_type="executive_meeting", object_id=government,
                               detail={"held_on": held_on.isoformat(), "topic": topic}))
    return bool(n)


def meeting_counts(session: Session, plan: Plan, year: int) -> dict[str, int]:
    rows = session.execute(
        select(ExecutiveMeeting.government, func.count())
        .where(ExecutiveMeeting.plan_id == plan.id,
               ExecutiveMeeting.held_on >= dt.date(year, 1, 1),
               ExecutiveMeeting.held_on <= dt.date(year, 12, 31))
        .group_by(ExecutiveMeeting.government)
    ).all()
    return {g: n for g, n in rows}


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
        counts = meeting_counts(session, plan, year)
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
    if plan.first_year <= last <= plan.last_year and _tracked(session, plan, last):
        result.findings = record_findings(session, plan, last, now)
    return result


def _tracked(session: Session, plan: Plan, year: int) -> bool:
    """Whether the product tracked `year` (it had reporting periods): no findings before."""
    return session.scalar(select(ReportingPeriod.id).where(
        ReportingPeriod.plan_id == plan.id, ReportingPeriod.year == year).limit(1)) is not None


def record_findings(session: Session, plan: Plan, year: int, now: dt.datetime) -> int:
    """Record each government's compliance for a finished year (once; later runs no-op)."""
    counts = meeting_counts(session, plan, year)
    rows = [dict(plan_id=plan.id, year=year, government=g, meetings=counts.get(g, 0),
                 compliant=counts.get(g, 0) >= 1, recorded_at=now)
            for g, _ in governments(session, plan)]
    return insert_ignore_values(session, MeetingCompliance.__table__, rows)  # type: ignore[arg-type]
