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
    final_at: dt.datetime | None  # when the annual checkpoint wrote it (UTC-aware), if it has
    current: bool  # the year `today` falls in: figures still moving


@dataclass(frozen=True)
class PlanScorecards:
    plan_id: int
    title: str
    years: list[ScorecardYear]  # newest first, up to `today`'s year


def scorecard_years(session: Session, today: dt.date) -> list[PlanScorecards]:
    """Every plan with its years that have data (`annual.scorecard.years_with_data`; none
    after `today`'s year, Asia/Shanghai), newest first, each marked final when the
    checkpoint wrote it. Three queries."""
    real = years_with_data(session)
    runs = {(p, y): (at if at is None or at.tzinfo else at.replace(tzinfo=dt.UTC))
            for p, y, at in session.execute(
                select(ScorecardRun.plan_id, ScorecardRun.year, ScorecardRun.written_at))}
    out = []
    for plan in session.scalars(select(Plan).order_by(Plan.id)):
        last = min(plan.last_year, today.year)
        years = [ScorecardYear(y, runs.get((plan.id, y)), y == today.year)
                 for y in range(last, plan.first_year - 1, -1) if (plan.id, y) in real]
        out.append(PlanScorecards(plan.id, plan.title, years))
    return out
