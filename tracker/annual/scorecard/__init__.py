"""The annual scorecard (考核记分卡): figures from the database, then the Excel workbook."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

from sqlalchemy.orm import Session

from tracker.annual.scorecard.excel import write_scorecard
from tracker.annual.scorecard.figures import compute
from tracker.errors import NotFound
from tracker.models import Plan
from tracker.settings import Rules


def scorecard_as_it_stands(session: Session, plan: Plan, year: int, *, rules: Rules,
                           now: dt.datetime) -> bytes:
    """The plan's scorecard workbook for `year` from the board as it stands at `now` (the
    annual checkpoint writes the final one). Raises NotFound (404) for a year outside the
    plan's years."""
    if not plan.first_year <= year <= plan.last_year:
        raise NotFound(f"{plan.title} 没有 {year} 年度")
    figures = compute(session, plan, year, rules.weights)
    with tempfile.TemporaryDirectory() as folder:
        path = write_scorecard(figures, Path(folder) / "card.xlsx", rules=rules,
                               plan_title=plan.title, generated=now)
        return path.read_bytes()
