"""The annual checkpoint: the year's findings and the issued scorecard for the performance
office (绩效办).

It runs for year Y on or after the `checkpoint_working_day`-th working day of Y+1 (default
30th), once the fourth quarter's ladder and the January indicator deadline have passed.
The first run issues the scorecard: the workbook and the detail CSV are written beside
each other and stored in the database (the CSV gzip-packed) with a copy of the scoring
rules they used. Later
runs change nothing, even when the data or the rules changed since: an issued scorecard is
replaced only by a deliberate regeneration (`regenerate=True`), which says so in the card
and in the audit log (issue 11, items 1 and 5).
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tracker.annual.meetings import record_findings
from tracker.annual.scorecard import years_with_data
from tracker.annual.scorecard.book import FiguresLike
from tracker.annual.scorecard.excel import write_escalation_detail, write_scorecard
from tracker.annual.scorecard.figures import Figures, compute
from tracker.annual.scorecard.five_year import write_five_year
from tracker.annual.scorecard.render import render_pictures
from tracker.dates.chinese import cn_date
from tracker.dates.workdays import local_date
from tracker.errors import DomainError
from tracker.models import AuditEvent, Plan, ScorecardRun
from tracker.policy import Policy
from tracker.settings import ScoringRules
from tracker.sql import insert_ignore_values


@dataclass
class CheckpointResult:
    year: int
    path: Path
    written: bool  # False when the issued card stood as it was
    figures: Figures | None  # None when nothing was computed (issued already)
    detail_path: Path | None = None
    pictures: list[Path] = field(default_factory=list)  # PNGs of the cover and the charts
    pictures_error: str = ""  # why there are none (LibreOffice missing, …); the card stands
    five_year: Path | None = None  # the plan's multi-year summary, with its last year


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


def five_year_path(out_dir: Path, plan: Plan) -> Path:
    """Where the plan's multi-year summary (e.g. 2016–2020) is written with its last year."""
    return out_dir / f"scorecard-{plan.first_year}-{plan.last_year}-{plan.key}-summary.xlsx"


def detail_path(out_dir: Path, plan: Plan, year: int) -> Path:
    """The per-escalation detail (CSV, UTF-8 with BOM) beside the scorecard."""
    return out_dir / f"scorecard-{year}-{plan.key}-escalations.csv"


def figures_hash(figures: Figures) -> str:
    """sha256 of every table of the figures (their content, not the time of writing)."""
    h = hashlib.sha256()
    for df in figures.frames():
        h.update(df.to_json(orient="split", date_format="iso", force_ascii=False).encode())
    return h.hexdigest()


def render_files(figures: Figures, folder: Path) -> tuple[Path, Path]:
    """Write the workbook and the detail CSV of `figures` into `folder` (`card.xlsx`,
    `detail.csv`) and return their paths. The CSV is written row by row from
    `figures.detail_records` (streamed from the database for a large year), so neither
    file is ever held whole in memory here."""
    return (write_scorecard(figures, folder / "card.xlsx"),
            write_escalation_detail(figures, folder / "detail.csv"))


GZIP_MAGIC = b"\x1f\x8b"  # a stored detail CSV that starts so is gzip; plain ones start with a BOM
CHUNK = 1 << 16  # bytes per chunk when a stored CSV is streamed


def pack_csv(path: Path) -> bytes:
    """The detail CSV at `path`, gzip-compressed for `ScorecardRun.detail_csv` (read in
    chunks; `mtime=0`, so the same file always packs to the same bytes). A year's detail
    of a million escalations is about a tenth of its size packed."""
    out = io.BytesIO()
    with path.open("rb") as src, gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as packed:
        shutil.copyfileobj(src, packed, CHUNK)
    return out.getvalue()


def csv_chunks(stored: bytes | None) -> Iterator[bytes]:
    """The detail CSV as stored in `ScorecardRun.detail_csv`, unpacked, in chunks of at most
    `CHUNK` bytes: gzip (`pack_csv`) or, for a card issued before packing, the plain file.
    Nothing for None (a card issued before the detail was stored)."""
    if not stored:
        return
    if stored[:2] == GZIP_MAGIC:
        with gzip.GzipFile(fileobj=io.BytesIO(stored), mode="rb") as packed:
            while chunk := packed.read(CHUNK):
                yield chunk
        return
    for start in range(0, len(stored), CHUNK):
        yield stored[start:start + CHUNK]


def _put(path: Path, chunks: Iterable[bytes]) -> None:
    """Write `chunks` to `path` atomically (a temporary file beside it, then os.replace)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as out:
            for chunk in chunks:
                out.write(chunk)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _same(path: Path, chunks: Iterable[bytes]) -> bool:
    """Whether the file at `path` exists and holds exactly `chunks` (compared by sha256,
    both sides read in chunks)."""
    if not path.is_file():
        return False
    want, have = hashlib.sha256(), hashlib.sha256()
    for chunk in chunks:
        want.update(chunk)
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            have.update(chunk)
    return want.digest() == have.digest()


def issued_run(session: Session, plan_id: int, year: int) -> ScorecardRun | None:
    """The issued scorecard of a plan year, if the checkpoint has issued it."""
    return session.scalar(select(ScorecardRun).where(
        ScorecardRun.plan_id == plan_id, ScorecardRun.year == year,
        ScorecardRun.workbook.is_not(None)))


def run_checkpoint(session: Session, plan: Plan, year: int, now: dt.datetime, policy: Policy,
                   out_dir: Path, *, regenerate: bool = False, stored_rules: bool = False,
                   actor: str = "system:annual_checkpoint", soffice: str = "soffice",
                   render_timeout: float = 120.0) -> CheckpointResult:
    """Record the year's meeting findings and issue the year's scorecard into `out_dir`.

    - Not issued yet: score by the current rules (`policy.rules.scoring`), write
      `scorecard-<year>-<plan>.xlsx` and its `-escalations.csv`, store both with the rules.
    - Issued: leave it as issued (its files are restored from the database if missing).
    - `regenerate=True` (on purpose, by `actor`): score again, by the current rules, or by
      the rules stored with the issued card when `stored_rules` (which reproduces it when
      the data have not changed), replace the stored card, and say so in it.
    A card written also gets PNGs of its cover and charts beside it (LibreOffice `soffice`
    and pdftoppm; none, with the reason in `pictures_error`, when they fail or `soffice` is
    ""), and the plan's last year also the multi-year summary (`five_year_path`).
    Does not commit. Raises DomainError for a year outside the plan's period, before its
    checkpoint day (code "too-early"), or in which no measure was asked for progress
    (code "no-data").
    """
    if not plan.first_year <= year <= plan.last_year:
        raise DomainError(f"{year}年不在《{plan.title}》的规划期（{plan.first_year}—{plan.last_year}年）内")
    due = checkpoint_day(year, policy)
    if local_date(now) < due:
        raise DomainError(f"{year}年度考核记分卡须在年度检查点（{cn_date(due)}，次年第"
                          f"{policy.rules.checkpoint_working_day}个工作日）及以后印发；此前可在"
                          "“考核记分卡”页面下载试算版", code="too-early")
    if (plan.id, year) not in years_with_data(session, plan.id):
        raise DomainError(f"《{plan.title}》{year}年度尚无任务进展调度，没有可印发的考核记分卡",
                          code="no-data")
    # locked (PostgreSQL): a regeneration and the daily run never interleave their files
    previous = session.scalar(
        select(ScorecardRun).where(ScorecardRun.plan_id == plan.id, ScorecardRun.year == year)
        .with_for_update())
    record_findings(session, plan, year, now)
    path, csv_path = scorecard_path(out_dir, plan, year), detail_path(out_dir, plan, year)
    if previous is not None and previous.workbook is not None and not regenerate:
        if not _same(path, [previous.workbook]):
            _put(path, [previous.workbook])
        stored = previous.detail_csv
        if stored is not None and not _same(csv_path, csv_chunks(stored)):
            _put(csv_path, csv_chunks(stored))
        return CheckpointResult(year, path, False, None, csv_path)
    if stored_rules and previous is not None and previous.rules:
        scoring = ScoringRules.model_validate(previous.rules)
    else:
        scoring = policy.rules.scoring
    figures = compute(session, plan, year, scoring, now=now, issued=True)
    if regenerate and previous is not None and previous.workbook is not None:
        before = previous.regenerated_at or previous.written_at
        figures.note = (f"本记分卡于{cn_date(local_date(now))}按考核规则 {scoring.label()} 重新生成；"
                        f"首次印发于{cn_date(local_date(previous.written_at))}；上一版生成于"
                        f"{cn_date(local_date(before))}，所用规则版本 "
                        f"{previous.rules_version or '未记录'}")
    out_dir.mkdir(parents=True, exist_ok=True)
    # the files are written in a folder beside their final place, moved there only once the
    # card is stored; an interrupted run leaves nothing half-written under the final names
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".checkpoint-") as folder:
        book_file, csv_file = render_files(figures, Path(folder))
        book = book_file.read_bytes()
        digest = figures_hash(figures)
        values = dict(path=str(path), figures_hash=digest, rules_version=scoring.version,
                      rules=scoring.model_dump(), workbook=book, detail_csv=pack_csv(csv_file),
                      data_as_of=figures.data_as_of, tables=issued_tables(figures))
        if previous is None:
            inserted = insert_ignore_values(session, ScorecardRun.__table__, [dict(  # type: ignore[arg-type]
                plan_id=plan.id, year=year, written_at=now, **values)])
            if not inserted:  # another run issued it at the same moment: theirs stands
                return CheckpointResult(year, path, False, None, csv_path)
        else:
            extra = dict(regenerated_at=now, regenerated_by=actor) if previous.workbook else \
                dict(written_at=now)
            session.execute(update(ScorecardRun).where(ScorecardRun.id == previous.id)
                            .values(**values, **extra))
        del values, book
        os.replace(book_file, path)
        os.replace(csv_file, csv_path)
    result = CheckpointResult(year, path, True, figures, csv_path)
    if soffice:
        try:
            result.pictures = render_pictures(path, out_dir, soffice=soffice,
                                              timeout=render_timeout)
        except DomainError as exc:
            result.pictures_error = str(exc)
    else:
        result.pictures_error = "未配置 LibreOffice（TRACKER_SOFFICE 为空），未生成图片"
    if year == plan.last_year:
        result.five_year = _five_year(session, plan, now, out_dir, figures)
    action = "scorecard.regenerate" if regenerate and previous is not None else "scorecard.issue"
    session.add(AuditEvent(at=now, actor=actor, action=action, object_type="plan",
                           object_id=plan.key,
                           detail={"year": year, "path": str(path), "hash": digest,
                                   "rules": scoring.version, "digest": scoring.digest(),
                                   "pictures": [str(x) for x in result.pictures],
                                   "pictures_error": result.pictures_error}))
    return result


TABLES = ("summary", "indicators")  # what an issued card keeps for the multi-year summary


def issued_tables(figures: Figures) -> dict[str, str]:
    """The card's tables the multi-year summary reprints, as pandas "split" JSON."""
    return {name: getattr(figures, name).to_json(orient="split", date_format="iso",
                                                 force_ascii=False) for name in TABLES}


def _as_issued(plan: Plan, run: ScorecardRun, like: Figures) -> Figures:
    """An issued card's figures as stored with it (its summary and indicators, its rules,
    its dates); the tables it does not keep are empty."""
    tables = {name: pd.read_json(io.StringIO(run.tables[name]), orient="split")  # type: ignore[index]
              for name in TABLES}
    empty = {name: getattr(like, name).iloc[0:0] for name in (
        "measures", "escalations_by_agency", "escalations_by_measure", "escalations_by_rung",
        "escalation_detail", "deductions", "meetings")}
    at = run.regenerated_at or run.written_at
    return Figures(plan_key=plan.key, plan_title=plan.title, year=run.year,
                   generated=at if at.tzinfo else at.replace(tzinfo=dt.UTC),
                   data_as_of=run.data_as_of or local_date(at),
                   scoring=ScoringRules.model_validate(run.rules), issued=True,
                   issuer=plan.supervision_office, **tables, **empty)


def _five_year(session: Session, plan: Plan, now: dt.datetime, out_dir: Path,
               last: Figures) -> Path:
    """The plan's multi-year summary: each issued year as it was issued (its stored tables
    and rules), a year with data never issued as a trial by the current rules, the last
    year as just issued."""
    by_year: dict[int, FiguresLike] = {plan.last_year: last}
    runs = {r.year: r for r in session.scalars(
        select(ScorecardRun).where(ScorecardRun.plan_id == plan.id))}
    for _plan, year in sorted(years_with_data(session, plan.id)):
        if year == plan.last_year:
            continue
        run = runs.get(year)
        if run is not None and run.tables and run.rules:
            by_year[year] = _as_issued(plan, run, last)
        else:
            by_year[year] = compute(session, plan, year, last.scoring, now=now)
    return write_five_year(by_year, five_year_path(out_dir, plan))
