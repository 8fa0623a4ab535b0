"""The annual scorecard (考核记分卡): figures from the database, then the Excel workbook."""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.annual.scorecard.figures import compute
from tracker.errors import NotFound
from tracker.models import Plan, ProgressRequest, ReportingPeriod, ScorecardRun
from tracker.settings import Rules


def years_with_data(session: Session, plan_id: int | None = None) -> set[tuple[int, int]]:
    """The (plan id, year) pairs that have a scorecard to offer: a year in which some
    measure was asked for progress (a request of an assignment; a year of indicator values
    alone, such as the base year's, scores nobody). One query over the reporting periods,
    each probed for its first request of an assignment along the unique index (period,
    assignment). Rule source: issue 11, item 5 (only real years).

    The probe is a scalar subquery ordered by the index and cut to one row, not an EXISTS:
    with all of a national plan's requests in one period the planner takes EXISTS as a
    hashed semi-join over every request (0.2 s at 1M), or the LIMIT as a sequential scan
    that stops early, which it does not for the periods with no request."""
    first = (select(ProgressRequest.assignment_id)
             .where(ProgressRequest.period_id == ReportingPeriod.id,
                    ProgressRequest.assignment_id.is_not(None))
             .order_by(ProgressRequest.assignment_id).limit(1).scalar_subquery())
    query = (select(ReportingPeriod.plan_id, ReportingPeriod.year).where(first.is_not(None))
             .group_by(ReportingPeriod.plan_id, ReportingPeriod.year))
    if plan_id is not None:
        query = query.where(ReportingPeriod.plan_id == plan_id)
    return {(p, y) for p, y in session.execute(query)}


def scorecard_as_it_stands(session: Session, plan: Plan, year: int, *, rules: Rules,
                           now: dt.datetime) -> bytes:
    """The plan's scorecard workbook for `year`: the issued one, exactly as issued, once the
    annual checkpoint has issued it; before that, a trial (试算) from the board as it stands
    at `now`. Raises NotFound (404) for a year outside the plan's years, or one in which no
    measure was asked for progress (`years_with_data`)."""
    from tracker.annual.scorecard.excel import write_scorecard

    issued = _issued(session, plan, year)
    if issued is not None:
        return issued.workbook  # type: ignore[return-value]
    figures = compute(session, plan, year, rules.scoring, now=now)
    with tempfile.TemporaryDirectory(prefix="tracker-scorecard-") as folder:
        return write_scorecard(figures, Path(folder) / "card.xlsx").read_bytes()


def escalation_detail_csv(session: Session, plan: Plan, year: int, *, rules: Rules,
                          now: dt.datetime) -> Iterator[bytes]:
    """The per-escalation detail CSV (UTF-8 with BOM) beside `scorecard_as_it_stands`'s
    workbook, from the same source (issued or trial), as chunks of bytes to stream: the
    issued one unpacked from its stored gzip, a trial written to a temporary file (removed
    once read or when the iterator is closed). Never held whole in memory. Raises NotFound
    as `scorecard_as_it_stands` does, before the first chunk."""
    from tracker.annual.checkpoint import csv_chunks
    from tracker.annual.scorecard.excel import write_escalation_detail

    issued = _issued(session, plan, year)
    if issued is not None:
        return csv_chunks(issued.detail_csv)  # (read now, while the session is open)
    figures = compute(session, plan, year, rules.scoring, now=now)
    folder = Path(tempfile.mkdtemp(prefix="tracker-detail-"))
    try:
        path = write_escalation_detail(figures, folder / "detail.csv")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return _read_then_remove(path, folder)


def _read_then_remove(path: Path, folder: Path) -> Iterator[bytes]:
    from tracker.annual.checkpoint import CHUNK

    try:
        with path.open("rb") as f:
            while chunk := f.read(CHUNK):
                yield chunk
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _issued(session: Session, plan: Plan, year: int) -> ScorecardRun | None:
    """The issued card of the plan year, or None for a trial; NotFound for a year that has
    no scorecard to offer."""
    from tracker.annual.checkpoint import issued_run  # (imports this package)

    if not plan.first_year <= year <= plan.last_year:
        raise NotFound(f"{plan.title} 没有 {year} 年度")
    if (plan.id, year) not in years_with_data(session, plan.id):
        raise NotFound(f"{year} 年度尚无任务进展调度，没有可生成的考核记分卡", code="no-data")
    issued = issued_run(session, plan.id, year)
    return issued if issued is not None and issued.workbook is not None else None
