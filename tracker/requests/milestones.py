"""A task's own 完成时限 as a tracked milestone (issue 13, build item 5).

Design: a milestone is a reporting period of kind `milestone` per (plan, deadline day),
labelled with the day as the document sets it (`2018-06-30`; `cn_period` writes
"2018年6月30日完成时限"). Its requests are ordinary progress requests (one per lead
assignment of the measures whose deadline falls on that day), so everything that reads
requests through their period shows and chases them without a special case: the board
and its filters, the liaison's list and item pages, the ledger, the notices (报送期),
the pre-due reminder (临期提醒), the ladder (催办/督办/通报 by `escalation.sweep`, keyed
on the request's due day), extensions, review and the scorecard. Periods rather than
requests with their own due day were chosen because the (period, assignment) key then
keeps a milestone request apart from the same assignment's quarterly one, and because a
period carries the rule dates that `recompute` moves when the calendar changes.

Rules (DESIGN.md's quarterly rules applied to a one-day period):

- Who owes it: the lead agency (牵头单位) of the task, one 完成情况报告 per milestone: the
  lead answers for the task as a whole ("列第一位者为牵头单位" / 牵头单位负责汇总报送, as
  the task-division documents assign it); co-agencies and districts keep reporting their
  part in the periodic requests, which the lead may consolidate (requests.consolidate).
- Opens `Rules.issue_before_quarter_end` working days before the deadline day, as a
  quarterly request opens before its quarter's last day.
- Due on the deadline day; when that day is a rest day (weekend or holiday of the
  Chinese calendar), on the next working day: 《中华人民共和国民法典》第二百零三条
  ("期间的最后一日是法定休假日的，以法定休假日结束的次日为期间的最后一日").
- The answer: status 已完成, or an explanation (工作进展) of why not and when
  (`requests.reports`).
- Kinds: `date` → one milestone on its day, whether or not inside the plan period (the
  document set it); `yearly` → one each year of the plan period on month/day (29 February
  falls on the 28th in other years); `ongoing` → none. Closed (办结销号) or inactive tasks
  get no new milestone.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from tracker.dates.periods import PeriodSpec
from tracker.dates.workdays import WorkCalendar
from tracker.enums import DeadlineKind, PeriodKind, Role
from tracker.models import Assignment, Measure, Plan, ReportingPeriod
from tracker.settings import Rules
from tracker.sql import insert_ignore_values

LABEL = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


def is_milestone_label(label: str) -> bool:
    """Whether a period label is a milestone's (`2018-06-30`) rather than a quarter's."""
    return LABEL.fullmatch(label) is not None


def milestone_due(deadline: dt.date, cal: WorkCalendar) -> dt.date:
    """The due day of a milestone set for `deadline`: the day itself when it is a working
    day, else the next working day (民法典第二百零三条). 2018-06-30 (Saturday) → 2018-07-02."""
    return deadline if cal.is_workday(deadline) else cal.add(deadline, 1)


def milestone_spec(deadline: dt.date, rules: Rules, cal: WorkCalendar) -> PeriodSpec:
    """The period of the milestone set for `deadline` with its rule dates: opens
    `rules.issue_before_quarter_end` working days before the deadline, due on
    `milestone_due`, marked provisional when either is counted over a year the calendar
    does not cover. `starts_on` = `ends_on` = the deadline as written."""
    issue = cal.add(deadline, -rules.issue_before_quarter_end)
    due = milestone_due(deadline, cal)
    return PeriodSpec(kind=PeriodKind.MILESTONE, label=deadline.isoformat(), year=deadline.year,
                      starts_on=deadline, ends_on=deadline, issue_on=issue, due_on=due,
                      due_provisional=cal.provisional(issue, due))


def yearly_day(year: int, month: int, day: int) -> dt.date:
    """A yearly deadline's day in `year`: month/day, the month's last day when shorter."""
    return dt.date(year, month, min(day, calendar.monthrange(year, month)[1]))


def deadline_days(session: Session, plan: Plan) -> list[dt.date]:
    """Every milestone day of the plan's active, open tasks, in order (one query): each
    dated deadline, and each yearly one in every year of the plan period."""
    rows = session.execute(
        select(Measure.deadline_kind, Measure.deadline_due, Measure.deadline_month,
               Measure.deadline_day).distinct()
        .where(Measure.plan_id == plan.id, Measure.active.is_(True), Measure.closed_at.is_(None),
               Measure.deadline_kind.in_([DeadlineKind.DATE.value, DeadlineKind.YEARLY.value]))
    ).all()
    days: set[dt.date] = set()
    for kind, due, month, day in rows:
        if kind == DeadlineKind.DATE and due is not None:
            days.add(due)
        elif month is not None and day is not None:
            days.update(yearly_day(y, month, day)
                        for y in range(plan.first_year, plan.last_year + 1))
    return sorted(days)


def ensure_milestones(session: Session, plan: Plan, today: dt.date, rules: Rules,
                      cal: WorkCalendar) -> list[str]:
    """Create the milestone periods whose request window (issue day … due day) holds
    `today`, if missing (idempotent: the (plan, label) key decides). Returns their labels.

    Only the open window is created, so the board's period choices list no milestone
    before it opens. Does not commit.
    """
    specs = [s for s in (milestone_spec(d, rules, cal) for d in deadline_days(session, plan))
             if s.issue_on <= today <= s.due_on]
    if specs:
        insert_ignore_values(session, ReportingPeriod.__table__, [  # type: ignore[arg-type]
            dict(plan_id=plan.id, kind=s.kind.value, label=s.label, year=s.year,
                 starts_on=s.starts_on, ends_on=s.ends_on, issue_on=s.issue_on,
                 due_on=s.due_on, due_provisional=s.due_provisional) for s in specs])
    return [s.label for s in specs]


def milestone_assignments(period: ReportingPeriod, plan: Plan) -> Any:
    """The WHERE clause over `Measure` and `Assignment` choosing who owes the milestone
    `period`: the active lead assignments of the plan's active, open tasks whose deadline
    falls on the period's day (a dated one on it; a yearly one on its month and day, a
    29 February also on the 28th of a shorter February)."""
    day = period.ends_on
    last = calendar.monthrange(day.year, day.month)[1]
    days = list(range(day.day, 32)) if day.day == last else [day.day]
    on_day = [and_(Measure.deadline_kind == DeadlineKind.DATE.value, Measure.deadline_due == day)]
    if plan.first_year <= day.year <= plan.last_year:
        on_day.append(and_(Measure.deadline_kind == DeadlineKind.YEARLY.value,
                           Measure.deadline_month == day.month, Measure.deadline_day.in_(days)))
    return and_(
        Measure.plan_id == plan.id, Measure.active.is_(True), Measure.closed_at.is_(None),
        Assignment.active.is_(True), Assignment.role == Role.LEAD.value, or_(*on_day))
