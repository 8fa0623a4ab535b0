"""Pre-due reminders (临期提醒): a few working days before the due day, to the liaisons of
open requests not answered yet (DESIGN.md default rules; issue 8, "What a notice says").

Run by the daily sweep (flows/tracker_flows.sweep_ladder_task, 08:30). Set-based like the
sweep: the open requests due in the next few days are grouped by due day (a handful of
distinct days), and each day's reminders are written by one INSERT … SELECT.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from tracker.dates.workdays import local_date
from tracker.enums import MessageKind, RequestState
from tracker.models import Plan, ProgressRequest, ReportingPeriod
from tracker.outbox import enqueue_for_requests
from tracker.policy import Policy
from tracker.requests.extensions import ladder_live
from tracker.requests.rules import pre_due_day


def queue_pre_due_reminders(session: Session, plan: Plan, now: dt.datetime,
                            policy: Policy) -> int:
    """Queue the 临期提醒 of every open request of `plan` whose pre-due day
    (`rules.pre_due_day`: `Rules.pre_due_working_days` working days before its current due
    day, an extended one included) has come and whose due day has not passed; returns the
    number of messages queued. Does not commit.

    A sweep that missed the day catches up on a later one, up to the due day itself.
    Skipped: answered or waived requests, requests held by a pending extension request
    (their due day is being decided; `Rules.extension_holds_ladder`), and requests issued
    today (their own 报送通知 goes out the same day). Idempotent: one message per
    (request, round, due day, liaison).
    """
    n = policy.rules.pre_due_working_days
    if not n:
        return 0
    today = local_date(now)
    # the last due day whose reminder can be due today: n working days ahead, plus a week
    # of slack for a due day that is itself a rest day (filtered exactly below)
    horizon = policy.calendar.add(today, n) + dt.timedelta(days=7)
    periods = select(ReportingPeriod.id).where(ReportingPeriod.plan_id == plan.id)
    open_ = and_(ProgressRequest.period_id.in_(periods),
                 ProgressRequest.state == RequestState.OPEN.value,
                 ladder_live(policy),  # not held by a pending extension request
                 ProgressRequest.issued_on < today)
    due_days = session.scalars(
        select(ProgressRequest.due_on).distinct()
        .where(open_, ProgressRequest.due_on >= today, ProgressRequest.due_on <= horizon)
    ).all()
    queued = 0
    for due_on in sorted(due_days):
        fires_on = pre_due_day(due_on, policy)
        if fires_on is None or fires_on > today:
            continue
        queued += enqueue_for_requests(
            session, and_(open_, ProgressRequest.due_on == due_on),
            kind=MessageKind.PRE_DUE_REMINDER, level=0, now=now, channel=policy.channel)
    return queued
