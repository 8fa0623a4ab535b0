"""The performance office's page (绩效办, issue 10, item 4): each plan's years with their
scorecard (考核记分卡) to download, and whether the annual checkpoint has written the final
one yet."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.annual.scorecard import years_with_data
from tracker.models import Plan, ScorecardRun


@dataclass(frozen=True)
class ScorecardYear:
    year: int
    final_at: dt.datetime | None  # when the annual checkpoint issued it (UTC-aware), if it has
    current: bool  # the year `today` falls in: figures still moving
    rules_version: str = ""  # the scoring rules the issued card used
    regenerated_at: dt.datetime | None = None  # its latest deliberate regeneration


@dataclass(frozen=True)
class PlanScorecards:
    plan_id: int
    title: str
    years: list[ScorecardYear]  # newest first, up to `today`'s year


def scorecard_years(session: Session, today: dt.date) -> list[PlanScorecards]:
    """Every plan with its years that have data (`annual.scorecard.years_with_data`; none
    after `today`'s year, Asia/Shanghai), newest first, each marked final when the
    checkpoint issued it (with its rules' version). Three queries."""
    real = years_with_data(session)
    runs = {(p, y): (_aware(at), version, _aware(again))
            for p, y, at, version, again in session.execute(
        select(ScorecardRun.plan_id, ScorecardRun.year, ScorecardRun.written_at,
               ScorecardRun.rules_version, ScorecardRun.regenerated_at)
        .where(ScorecardRun.workbook.is_not(None)))}
    out = []
    for plan in session.scalars(select(Plan).order_by(Plan.id)):
        last = min(plan.last_year, today.year)
        years = []
        for y in range(last, plan.first_year - 1, -1):
            if (plan.id, y) in real:
                issued, version, again = runs.get((plan.id, y), (None, "", None))
                years.append(ScorecardYear(y, issued, y == today.year, version, again))
        out.append(PlanScorecards(plan.id, plan.title, years))
    return out


def _aware(at: dt.datetime | None) -> dt.datetime | None:
    return at if at is None or at.tzinfo else at.replace(tzinfo=dt.UTC)
