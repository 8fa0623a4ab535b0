"""The annual checkpoint: the year's findings and the scorecard for the performance office.

It runs for year Y on or after the `checkpoint_working_day`-th working day of Y+1 (default
30th), once the fourth quarter's ladder and the January indicator deadline have passed.
Running it again rewrites nothing when the figures have not changed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tracker.annual.meetings import record_findings
from tracker.annual.scorecard.excel import write_scorecard
from tracker.annual.scorecard.figures import Figures, compute
from tracker.dates.workdays import local_date
from tracker.errors import DomainError
from tracker.models import AuditEvent, Plan, ScorecardRun
from tracker.policy import Policy
from tracker.sql import insert_ignore_values


@dataclass
class CheckpointResult:
    year: int
    path: Path
    written: bool
    figures: Figures


def checkpoint_day(year: int, policy: Policy) -> dt.date:
    """The day the checkpoint for `year` becomes due (a working day of the next year)."""
    return policy.calendar.add(dt.date(year, 12, 31), policy.rules.checkpoint_working_day)


def due_year(plan: Plan, now: dt.datetime, policy: Policy) -> int | None:
    """The plan year whose checkpoint is due at `now`, if any (the previous year)."""
    year = local_date(now).year - 1
    if plan.first_year <= year <= plan.last_year and local_date(now) >= checkpoint_day(year, policy):
        return year
    return None


def scorecard_path(out_dir: Path, plan: Plan, year: int) -> Path:
    """Where a plan's scorecard of a year is written: one file per plan and year."""
    return out_dir / f"scorecard-{year}-{plan.key}.xlsx"


def figures_hash(figures: Figures) -> str:
    h = hashlib.sha256()
    for df in (figures.summary, figures.measures, figures.indicators, figures.escalations,
               figures.meetings):
        h.update(df.to_json(orient="split", date_format="iso", force_ascii=False).encode())
    return h.hexdigest()


def run_checkpoint(session: Session, plan: Plan, year: int, now: dt.datetime, policy: Policy,
                   out_dir: Path) -> CheckpointResult:
    """Record the year's meeting findings and write `scorecard-<year>.xlsx` in `out_dir`.

    Does not commit. The file is written only if missing or if the figures changed.
    Raises DomainError for a year outside the plan's period.
    """
    record_findings(session, plan, year, now)
    figures = compute(session, plan, year, policy.rules.weights)
    digest = figures_hash(figures)
    if not plan.first_year <= year <= plan.last_year:
        raise DomainError(f"{year}年不在《{plan.title}》的规划期（{plan.first_year}—{plan.last_year}年）内")
    path = scorecard_path(out_dir, plan, year)
    previous = session.scalar(
        select(ScorecardRun).where(ScorecardRun.plan_id == plan.id, ScorecardRun.year == year)
    )
    if previous is not None and previous.figures_hash == digest and Path(previous.path).exists():
        return CheckpointResult(year, Path(previous.path), False, figures)
    write_scorecard(figures, path, rules=policy.rules, plan_title=plan.title, generated=now)
    row = dict(plan_id=plan.id, year=year, path=str(path), figures_hash=digest, written_at=now)
    if not insert_ignore_values(session, ScorecardRun.__table__, [row]):  # type: ignore[arg-type]
        session.execute(update(ScorecardRun).where(
            ScorecardRun.plan_id == plan.id, ScorecardRun.year == year
        ).values(path=str(path), figures_hash=digest, written_at=now))
    session.add(AuditEvent(at=now, actor="system:annual_checkpoint", action="scorecard.write",
                           object_type="plan", object_id=plan.key,
                           detail={"year": year, "path": str(path), "hash": digest}))
    return CheckpointResult(year, path, True, figures)
