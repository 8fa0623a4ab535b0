"""The annual scorecard (考核记分卡): figures from the database, then the Excel workbook."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from tracker.annual.scorecard.excel import write_scorecard
from tracker.annual.scorecard.figures import compute
from tracker.errors import NotFound
from tracker.models import Plan, ProgressRequest, ReportingPeriod
from tracker.settings import Rules


def years_with_data(session: Session, plan_id: int | None = None) -> set[tuple[int, int]]:
    """The (plan id, year) pairs that have a scorecard to offer: a year in which some
    measure was asked for progress (a request of an assignment; a year of indicator values
    alone, such as the base year's, scores nobody). One query over the reporting periods,
    each tested by an indexed EXISTS. Rule source: issue 11, item 5 (only real years)."""
    asked = exists().where(ProgressRequest.period_id == ReportingPeriod.id,
                           ProgressRequest.assignment_id.is_not(None))
    query = (select(ReportingPeriod.plan_id, ReportingPeriod.year).where(asked)
             .group_by(ReportingPeriod.plan_id, ReportingPeriod.year))
    if plan_id is not None:
        query = query.where(ReportingPeriod.plan_id == plan_id)
    return {(p, y) for p, y in session.execute(query)}


def scorecard_as_it_stands(session: Session, plan: Plan, year: int, *, rules: Rules,
                           now: dt.datetime) -> bytes:
    """The plan's scorecard workbook for `year` from the board as it stands at `now` (the
    annual checkpoint writes the final one). Raises NotFound (404) for a year outside the
    plan's years, or one in which no measure was asked for progress (`years_with_data`)."""
    if not plan.first_year <= year <= plan.last_year:
        raise NotFound(f"{plan.title} 没有 {year} 年度")
    if (plan.id, year) not in years_with_data(session, plan.id):
        raise NotFound(f"{year} 年度尚无任务进展调度，没有可生成的考核记分卡", code="no-data")
    figures = compute(session, plan, year, rules.weights)
    with tempfile.TemporaryDirectory() as folder:
        path = write_scorecard(figures, Path(folder) / "card.xlsx", rules=rules,
                               plan_title=plan.title, generated=now)
        return path.read_bytes()
