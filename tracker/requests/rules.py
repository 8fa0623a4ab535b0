"""The rules of one progress request, next to its data (DESIGN.md default rules).

Every module that needs to know when a request next needs attention, whether it was
answered late, which traffic light it shows or when its ladder rungs fire asks here, in
Python or (for set-based statements) as a SQL expression over `ProgressRequest`.

Working days are those of `Policy.calendar` (the Chinese calendar, Asia/Shanghai); a
report is on time when it arrives by the end of its due day (Asia/Shanghai).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, case

from tracker.dates.workdays import end_of_day, local_date
from tracker.enums import Light, RequestState
from tracker.models import ProgressRequest
from tracker.policy import Policy


def ladder_dates(due_on: dt.date, policy: Policy) -> list[dt.date]:
    """The day each rung fires for a due day: [催办, 督办, 通报].

    Rule: `Rules.ladder` working days after the due day (default 1, 5, 10).
    """
    return [policy.calendar.add(due_on, n) for n in policy.rules.ladder]


def pre_due_day(due_on: dt.date, policy: Policy) -> dt.date | None:
    """The day the pre-due reminder (临期提醒) of a request due on `due_on` is sent, or None
    when `Rules.pre_due_working_days` is 0.

    Rule (DESIGN.md, issue 8): `Rules.pre_due_working_days` working days before the due
    day (default 3): due 2017-04-10 -> 2017-04-05, the Qingming days 2017-04-02..04 not
    counted. A due day that is itself a rest day counts from the day as given.
    """
    n = policy.rules.pre_due_working_days
    return policy.calendar.add(due_on, -n) if n else None


def next_action_day(due_on: dt.date, level: int, policy: Policy, *,
                    after: dt.date | None = None, held: bool = False) -> dt.date | None:
    """The day a request next needs attention (its `next_action_on`), or None.

    `level` is the highest rung reached (0 = none): the next action is the first rung above
    it, and, when `after` is given, the first such rung falling after that day (rungs on or
    before it have been dealt with by the caller). None when the ladder is finished, or
    while the request is `held`: a pending extension request holds the ladder until the
    supervision office decides it (DESIGN.md). The overdue sweep reads only this column.
    """
    if held:
        return None
    for rung_level, day in enumerate(ladder_dates(due_on, policy), start=1):
        if rung_level > level and (after is None or day > after):
            return day
    return None


def is_late(due_on: dt.date, at: dt.datetime) -> bool:
    """Whether an answer at `at` comes after the end of the due day (Asia/Shanghai)."""
    return at > end_of_day(due_on)


def late_sql(at: dt.datetime) -> Any:
    """`is_late` as a SQL expression over `ProgressRequest.due_on`."""
    return case((ProgressRequest.due_on < local_date(at), True), else_=False)


def is_overdue(state: RequestState | str, due_on: dt.date, today: dt.date) -> bool:
    """Open past its due day (red on the board; the ladder may fire)."""
    return state == RequestState.OPEN and due_on < today


def yellow_until(today: dt.date, policy: Policy) -> dt.date:
    """An open request due on or before this day is yellow (`Rules.yellow_within` wd)."""
    return policy.calendar.add(today, policy.rules.yellow_within)


def light(state: RequestState | str, due_on: dt.date, answered_late: bool | None,
          today: dt.date, policy: Policy) -> Light:
    """The board's traffic light of one request on `today` (Asia/Shanghai).

    grey: waived; red: open and past its due day; yellow: open and due within
    `Rules.yellow_within` working days, or answered late; green: otherwise.
    """
    if state == RequestState.WAIVED:
        return Light.GREY
    if is_overdue(state, due_on, today):
        return Light.RED
    if state == RequestState.OPEN and due_on <= yellow_until(today, policy):
        return Light.YELLOW
    return Light.YELLOW if answered_late else Light.GREEN


def light_label(lt: Light | str, state: RequestState | str, *, overdue_word: bool = False) -> str:
    """What a request's light says to a person, given its light and state.

    Yellow means two things (rule `light`): an open request is due within
    `Rules.yellow_within` working days -> "临近截止"; an answered one was answered after its
    due day -> "逾期报送". Red reads "逾期" ("已逾期" with `overdue_word`, the liaison's
    wording), green "正常", grey "已免报". The legend and the filter, which name the
    colour for both cases, keep `Light.label`.
    """
    lt = Light(lt)
    if lt == Light.YELLOW:
        return "临近截止" if state == RequestState.OPEN else "逾期报送"
    if lt == Light.RED and overdue_word:
        return "已逾期"
    return lt.label


def light_sql(today: dt.date, policy: Policy) -> Any:
    """`light` as one SQL CASE over `ProgressRequest` (for filters, counts and sorting)."""
    near = yellow_until(today, policy)
    is_open = ProgressRequest.state == RequestState.OPEN.value
    return case(
        (ProgressRequest.state == RequestState.WAIVED.value, Light.GREY.value),
        (and_(is_open, ProgressRequest.due_on < today), Light.RED.value),
        (and_(is_open, ProgressRequest.due_on <= near), Light.YELLOW.value),
        (ProgressRequest.answered_late.is_(True), Light.YELLOW.value),
        else_=Light.GREEN.value,
    )
