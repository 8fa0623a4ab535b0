"""Reporting periods and their rule dates (DESIGN.md default rules, `Rules` config).

A quarter's request opens `issue_before_quarter_end` working days before the quarter's
last day and is due on the `due_after_quarter_end`-th working day after it. The annual
indicator values (period kind `year`) open with the fourth quarter and are due on the
`indicator_due_working_day_of_january`-th working day of the next January.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.dates.workdays import WorkCalendar
from tracker.enums import Cadence, PeriodKind
from tracker.models import Plan, ReportingPeriod
from tracker.settings import Rules
from tracker.sql import insert_ignore_values


@dataclass(frozen=True)
class PeriodSpec:
    kind: PeriodKind
    label: str
    year: int
    starts_on: dt.date
    ends_on: dt.date
    issue_on: dt.date
    due_on: dt.date
    due_provisional: bool = False  # due_on counted over a year the calendar does not cover


def quarter_end(year: int, q: int) -> dt.date:
    month = 3 * q
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    return nxt - dt.timedelta(days=1)


def period_order(label: str | None) -> tuple[int, str, int, str]:
    """A sort key putting period labels in time order: by the period's last day; on the
    same day a quarter or half year first, then a task's own deadline (a milestone,
    labelled `2017-06-30` by tracker.requests.milestones), then the year (`2017`, the
    indicator values): 2017Q1 < 2017Q2 < 2017-06-30 < 2017Q3 < 2017Q4 < 2017-12-31 < 2017.
    Labels of no known form sort after all, by their text; None or "" among them.
    """
    text = label or ""
    if m := re.fullmatch(r"(\d{4})Q([1-4])", text):
        return (0, quarter_end(int(m[1]), int(m[2])).isoformat(), 0, text)
    if m := re.fullmatch(r"(\d{4})H([12])", text):
        return (0, quarter_end(int(m[1]), 2 * int(m[2])).isoformat(), 0, text)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return (0, text, 1, text)
    if re.fullmatch(r"\d{4}", text):
        return (0, f"{text}-12-31", 2, text)
    return (1, "", 0, text)


def year_specs(year: int, rules: Rules, cal: WorkCalendar,
               cadence: Cadence = Cadence.QUARTER) -> list[PeriodSpec]:
    """The reporting periods of `year` under the plan's cadence (four quarters 2017Q1…, or
    two halves 2017H1, 2017H2) and its annual indicator period, with rule dates.

    Each period's request opens `issue_before_quarter_end` working days before its last day
    and is due the `due_after_quarter_end`-th working day after it (DESIGN.md; the rule is
    the same for a half year as for a quarter). A due day counted over a year the calendar
    does not cover is marked `due_provisional` (WorkCalendar.provisional).
    """
    specs = []
    quarters = range(1, 5) if cadence == Cadence.QUARTER else (2, 4)
    for n, q in enumerate(quarters, start=1):
        end = quarter_end(year, q)
        first_month = 3 * q - 2 if cadence == Cadence.QUARTER else 6 * n - 5
        specs.append(PeriodSpec(
            kind=PeriodKind.QUARTER if cadence == Cadence.QUARTER else PeriodKind.HALF_YEAR,
            label=f"{year}Q{q}" if cadence == Cadence.QUARTER else f"{year}H{n}", year=year,
            starts_on=dt.date(year, first_month, 1), ends_on=end,
            issue_on=cal.add(end, -rules.issue_before_quarter_end),
            due_on=(due := cal.add(end, rules.due_after_quarter_end)),
            due_provisional=cal.provisional(end, due),
        ))
    q4 = specs[-1]
    due = cal.nth_of_month(year + 1, 1, rules.indicator_due_working_day_of_january)
    specs.append(PeriodSpec(
        kind=PeriodKind.YEAR, label=str(year), year=year,
        starts_on=dt.date(year, 1, 1), ends_on=dt.date(year, 12, 31), issue_on=q4.issue_on,
        due_on=due, due_provisional=cal.provisional(dt.date(year, 12, 31), due),
    ))
    return specs


def ensure_periods(
    session: Session, plan: Plan, year: int, rules: Rules, cal: WorkCalendar
) -> list[ReportingPeriod]:
    """Create the year's periods if missing (idempotent); returns them in order.

    Years outside the plan's period get none. Does not commit.
    """
    if not plan.first_year <= year <= plan.last_year:
        return []
    rows = [
        dict(plan_id=plan.id, kind=s.kind.value, label=s.label, year=s.year,
             starts_on=s.starts_on, ends_on=s.ends_on, issue_on=s.issue_on, due_on=s.due_on,
             due_provisional=s.due_provisional)
        for s in year_specs(year, rules, cal, plan.cadence)
    ]
    # ON CONFLICT DO NOTHING: two concurrent runs may both try; the unique key decides.
    insert_ignore_values(session, ReportingPeriod.__table__, rows)  # type: ignore[arg-type]
    return list(session.scalars(
        select(ReportingPeriod)
        .where(ReportingPeriod.plan_id == plan.id, ReportingPeriod.year == year)
        .order_by(ReportingPeriod.issue_on, ReportingPeriod.kind)
    ))
