"""Calendar overrides kept in the database, so every process sees the State Council's notice
once `tracker calendar load` stored it (the TRACKER_CALENDAR_OVERRIDES file still works, for
the process that has it; where both name a day, the database wins).

`with_stored(calendar, session)` gives the calendar with the stored overrides, cached per
process until the stored set changes (one small query notices that). `store_overrides`
writes a loaded file's days; `tracker.requests.recompute` moves what they change.
`coverage` and `doctor_checks` say which years are known.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from tracker.dates.workdays import PACKAGE_YEARS, SHANGHAI, WorkCalendar, local_date
from tracker.models import CalendarDay, CalendarYear
from tracker.settings import Settings
from tracker.sql import insert_ignore_values

_lock = threading.Lock()
_cache: dict[tuple[int, object], WorkCalendar] = {}


def _stamp(session: Session) -> object:
    """Changes whenever the stored overrides change: row counts and the latest load."""
    # the number of working days changes when a load only flips stored days, even if it
    # was stamped earlier than the newest row (a --now in the past, a clock behind)
    days = session.execute(select(func.count(), func.max(CalendarDay.loaded_at),
                                  func.sum(case((CalendarDay.workday.is_(True), 1),
                                                else_=0)))).one()
    years = session.execute(select(func.count(), func.max(CalendarYear.loaded_at))).one()
    return (tuple(days), tuple(years))


def stored_overrides(session: Session) -> tuple[set[dt.date], set[dt.date], set[int]]:
    """(working days, rest days, complete years) stored by `tracker calendar load`."""
    work: set[dt.date] = set()
    rest: set[dt.date] = set()
    for day, workday in session.execute(select(CalendarDay.day, CalendarDay.workday)):
        (work if workday else rest).add(day)
    years = set(session.scalars(select(CalendarYear.year)))
    return work, rest, years


def with_stored(calendar: WorkCalendar, session: Session) -> WorkCalendar:
    """`calendar` (chinese-calendar, the fallback and the override file) with the overrides
    stored in the database added; the same object while nothing stored changes."""
    stamp = _stamp(session)
    key = (id(calendar), stamp)
    with _lock:
        hit = _cache.get(key)
    if hit is not None:
        return hit
    merged = calendar.merged(*stored_overrides(session))
    with _lock:
        if len(_cache) > 32:
            _cache.clear()
        _cache[key] = merged
    return merged


@dataclass
class StoreResult:
    """What a load changed: days new or flipped, years newly marked complete."""

    days: list[dt.date] = field(default_factory=list)
    years: list[int] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.days or self.years)


def store_overrides(session: Session, *, workdays: set[dt.date], holidays: set[dt.date],
                    years: set[int], source: str, now: dt.datetime) -> StoreResult:
    """Store a notice's days (a day already stored the same way is left alone; one stored
    the other way is flipped) and mark `years` complete. Does not commit. Idempotent:
    storing the same days again changes nothing and returns an empty result.
    Set-based: one read of the days named, one insert, one update per direction."""
    wanted = {d: True for d in workdays} | {d: False for d in holidays}
    have = dict(session.execute(select(CalendarDay.day, CalendarDay.workday)
                                .where(CalendarDay.day.in_(list(wanted)))).all()) \
        if wanted else {}
    new = [d for d in wanted if d not in have]
    flipped = [d for d in wanted if d in have and have[d] != wanted[d]]
    src = source[-255:]
    if new:
        insert_ignore_values(session, CalendarDay.__table__, [  # type: ignore[arg-type]
            dict(day=d, workday=wanted[d], source=src, loaded_at=now) for d in new])
    for value in (True, False):
        days = [d for d in flipped if wanted[d] is value]
        if days:
            session.execute(update(CalendarDay).where(CalendarDay.day.in_(days))
                            .values(workday=value, source=src, loaded_at=now))
    known = set(session.scalars(select(CalendarYear.year).where(CalendarYear.year.in_(years)))) \
        if years else set()
    added = sorted(years - known)
    if added:
        insert_ignore_values(session, CalendarYear.__table__, [  # type: ignore[arg-type]
            dict(year=y, source=src, loaded_at=now) for y in added])
    session.flush()
    return StoreResult(days=sorted(new + flipped), years=added)


@dataclass(frozen=True)
class YearCoverage:
    """How one year's schedule is known (`tracker calendar show`)."""

    year: int
    source: str  # 日历库 chinese-calendar / 已载入 <file> / 未覆盖（暂定）
    covered: bool
    workdays: list[dt.date]  # overrides in this year
    holidays: list[dt.date]


def coverage(session: Session, calendar: WorkCalendar, years: range) -> list[YearCoverage]:
    """Each year of `years` with where its schedule comes from and its override days
    (file and database together, as `calendar` merged with the database sees them)."""
    cal = with_stored(calendar, session)
    work, rest = cal.overrides
    loaded = dict(session.execute(select(CalendarYear.year, CalendarYear.source)).all())
    out = []
    for y in years:
        if y in PACKAGE_YEARS:
            src = "日历库（chinese-calendar）"
        elif y in loaded:
            src = f"已载入（{loaded[y]}）"
        elif y in cal.complete_years:
            src = "日历调整文件（TRACKER_CALENDAR_OVERRIDES）"
        else:
            src = "未覆盖：按周末及固定日期法定节假日推算，结果为暂定"
        out.append(YearCoverage(y, src, cal.covered(y), sorted(d for d in work if d.year == y),
                                sorted(d for d in rest if d.year == y)))
    return out


def next_year_warning(calendar: WorkCalendar, today: dt.date) -> str | None:
    """From 1 November, a Chinese warning when next year's schedule is not known (no data in
    chinese-calendar, no loaded notice marking it complete); None otherwise. `calendar`
    must include the stored overrides (`with_stored`)."""
    nxt = today.year + 1
    if today.month < 11 or calendar.covered(nxt):
        return None
    return (f"日历尚未覆盖 {nxt} 年：{nxt} 年的截止日期按周末及元旦、清明、劳动节、国庆节推算，"
            "未计春节、端午、中秋及调休，均为暂定。国务院办公厅公布放假安排后，请运行 "
            f"tracker calendar load 文件 载入（文件中写明 \"years\": [{nxt}]），"
            "系统将重新计算未报送事项的截止日期并通知相关联络员。")


def doctor_checks(settings: Settings, now: dt.datetime) -> list[tuple[str, str]]:
    """`tracker doctor`'s calendar lines: ("warn", …) from 1 November (Asia/Shanghai) when
    next year is not covered, or this year is not; ("error", …) when the override file is
    unreadable; else ("ok", …). Reads the database of `settings`."""
    from tracker.settings import SettingsError

    today = now.astimezone(SHANGHAI).date() if now.tzinfo else local_date(now)
    try:
        base = WorkCalendar.from_file(settings.calendar_overrides)
    except SettingsError as exc:
        return [("error", str(exc))]
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.orm import Session

    from tracker.db import make_engine

    engine = make_engine(settings.database_url)  # doctor reads; it never migrates
    try:
        with Session(engine) as session:
            cal = with_stored(base, session)
    except DBAPIError:  # no schema yet (or an old one): only the package and the file count
        cal = base
    finally:
        engine.dispose()
    out: list[tuple[str, str]] = []
    if not cal.covered(today.year):
        out.append(("warn", f"日历未覆盖本年（{today.year} 年）：截止日期均为暂定，"
                            "请载入国务院办公厅的放假安排（tracker calendar load）"))
    warning = next_year_warning(cal, today)
    if warning:
        out.append(("warn", warning))
    if not out:
        last = max((y for y in range(today.year, today.year + 3) if cal.covered(y)),
                   default=today.year)
        out.append(("ok", f"日历覆盖至 {last} 年"))
    return out
