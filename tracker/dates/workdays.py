"""Working days on the Chinese calendar (statutory holidays and make-up workdays).

Every rule of the product counts working days, in Asia/Shanghai. The `chinese-calendar`
package knows each year's State Council holiday schedule (国务院办公厅关于某年部分节假日安排
的通知); for a year it does not cover (it raises NotImplementedError) we fall back to
`fallback_is_workday`: weekends plus the statutory holidays whose date the law fixes (see
there), warn once per year, and mark every date computed over such a day provisional
(`WorkCalendar.provisional`). Overrides correct it, from a file (TRACKER_CALENDAR_OVERRIDES)
or loaded into the database (`tracker calendar load`, tracker.dates.stored):

    {"workdays": ["2027-02-07"], "holidays": ["2027-02-08", "2027-02-09"], "years": [2027]}

`years` (optional) names the years whose whole schedule the file gives: they count as
covered, so dates computed in them are no longer provisional.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import zoneinfo
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

import chinese_calendar

from tracker.settings import SettingsError, json_line, parse_json_file

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
log = logging.getLogger(__name__)

# The years chinese-calendar has data for (1.11.0: 2004-2026).
PACKAGE_YEARS = range(min(chinese_calendar.constants.holidays).year,
                      max(chinese_calendar.constants.holidays).year + 1)


@functools.lru_cache(maxsize=64)
def statutory_fixed_holidays(year: int) -> Mapping[dt.date, str]:
    """The statutory holidays of `year` whose dates the law fixes, with their Chinese names.

    Rule: 《全国年节及纪念日放假办法》 as revised by State Council Decree No. 795 (2024-11-10,
    in force 2025-01-01), article 2: 元旦 1 January; 清明节 the day of the solar term 清明
    (from chinese-calendar's solar-term table, 4 or 5 April); 劳动节 1-2 May; 国庆节 1-3
    October. Article 6: a holiday falling on a Saturday or Sunday is made up (补假) on a
    working day; we put each make-up day on the first weekday after the holiday's block, as
    the State Council's notices usually do (e.g. 2022: 元旦 on a Saturday, 3 January off).

    Not derivable, so not here: 春节 (农历除夕 to 初三), 端午节 and 中秋节 follow the lunar
    calendar, and every year's notice also moves days around them (调休: make-up working
    Saturdays, bridged weeks) by a decision no formula reproduces. A year computed from
    this is therefore only provisional until the year's notice is loaded.
    """
    days: dict[dt.date, str] = {dt.date(year, 1, 1): "元旦"}
    qingming = [d for d, name in chinese_calendar.get_solar_terms(
        dt.date(year, 4, 1), dt.date(year, 4, 10)) if name == "清明"]
    days.update({d: "清明节" for d in qingming})
    days.update({dt.date(year, 5, 1): "劳动节", dt.date(year, 5, 2): "劳动节"})
    days.update({dt.date(year, 10, d): "国庆节" for d in (1, 2, 3)})
    for day, name in sorted(days.items()):
        if day.weekday() >= 5:  # 补假: the first weekday after the block not yet taken
            sub = day
            while sub.weekday() >= 5 or sub in days:
                sub += dt.timedelta(days=1)
            days[sub] = f"{name}（补假）"
    return MappingProxyType(days)


def fallback_is_workday(day: dt.date) -> bool:
    """A working day in a year chinese-calendar does not cover: Monday to Friday, except
    the statutory holidays of `statutory_fixed_holidays` (lunar holidays unknown)."""
    return day.weekday() < 5 and day not in statutory_fixed_holidays(day.year)


class WorkCalendar:
    """Answers "is this a working day" and counts working days.

    `overrides` (dates to force as working days or holidays) win over the package,
    which wins over the fallback (`fallback_is_workday`). `complete_years` are years an
    override gives in full (the State Council's notice loaded): they count as covered.
    """

    def __init__(self, workdays: set[dt.date] | None = None, holidays: set[dt.date] | None = None,
                 complete_years: set[int] | None = None):
        self._workdays = workdays or set()
        self._holidays = holidays or set()
        self.complete_years: frozenset[int] = frozenset(complete_years or ())
        self._cache: dict[dt.date, bool] = {}
        self.uncovered_years: set[int] = set()

    def merged(self, workdays: set[dt.date], holidays: set[dt.date],
               complete_years: set[int]) -> WorkCalendar:
        """A new calendar with these overrides added; where both name a day, `self`'s own
        (the TRACKER_CALENDAR_OVERRIDES file) is overruled by the given ones (the database)."""
        return WorkCalendar((self._workdays - holidays) | workdays,
                            (self._holidays - workdays) | holidays,
                            set(self.complete_years) | complete_years)

    @property
    def overrides(self) -> tuple[frozenset[dt.date], frozenset[dt.date]]:
        """(forced working days, forced rest days) of this calendar."""
        return frozenset(self._workdays), frozenset(self._holidays)

    def covered(self, year: int) -> bool:
        """Whether `year`'s schedule is known: chinese-calendar has it (PACKAGE_YEARS), or
        an override marked it complete. Dates computed over an uncovered year are provisional."""
        return year in PACKAGE_YEARS or year in self.complete_years

    def provisional(self, start: dt.date, end: dt.date) -> bool:
        """Whether a count over the days strictly between `start` and `end` and `end` itself
        (either order) touched a day of an uncovered year: e.g. `add(d, n)` is provisional
        iff `provisional(d, add(d, n))`. A quarter ending 2026-12-31 with its due day in
        2027 is provisional until 2027 is covered."""
        lo, hi = (start, end) if start <= end else (end, start)
        first = lo + dt.timedelta(days=1) if start <= end else lo
        last = hi if start <= end else hi - dt.timedelta(days=1)
        return any(not self.covered(y) for y in range(first.year, last.year + 1)) \
            if first <= last else False

    @classmethod
    def from_file(cls, path: Path | None) -> WorkCalendar:
        """Load overrides from a JSON file (UTF-8, a BOM allowed); None gives the plain calendar.

        Raises SettingsError naming the file, the key and the bad value if it is malformed.
        """
        if path is None:
            return cls()
        workdays, holidays, years = read_overrides(path)
        return cls(workdays, holidays, years)

    def is_workday(self, day: dt.date) -> bool:
        hit = self._cache.get(day)
        if hit is None:
            hit = self._cache[day] = self._compute(day)
        return hit

    def _compute(self, day: dt.date) -> bool:
        if day in self._workdays:
            return True
        if day in self._holidays:
            return False
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            if day.year not in self.uncovered_years:
                self.uncovered_years.add(day.year)
                if not self.covered(day.year):
                    log.warning(
                        "chinese-calendar does not cover %s: counting Monday-Friday less the "
                        "fixed-date statutory holidays as working days (provisional); load the "
                        "year's State Council notice with `tracker calendar load`", day.year)
            return fallback_is_workday(day)

    def add(self, day: dt.date, n: int) -> dt.date:
        """The nth working day strictly after `day` (n >= 1); n <= -1 counts backwards.

        E.g. add(2016-09-30, 5) == 2016-10-12 (National Day week, two make-up Saturdays).
        """
        if n == 0:
            raise ValueError("n must not be 0")
        step = 1 if n > 0 else -1
        left = abs(n)
        d = day
        while left:
            d += dt.timedelta(days=step)
            if self.is_workday(d):
                left -= 1
        return d

    def nth_of_month(self, year: int, month: int, n: int) -> dt.date:
        """The nth working day of a month, counting its first day (n >= 1)."""
        return self.add(dt.date(year, month, 1) - dt.timedelta(days=1), n)

    def between(self, start: dt.date, end: dt.date) -> int:
        """Working days in (start, end]: how many working days `end` is past `start`.

        Negative when end is before start; 0 when equal.
        """
        if end < start:
            return -self.between(end, start)
        count, d = 0, start
        while d < end:
            d += dt.timedelta(days=1)
            count += self.is_workday(d)
        return count


def local_date(now: dt.datetime) -> dt.date:
    """The calendar date in Asia/Shanghai of an aware datetime."""
    if now.tzinfo is None:
        raise ValueError("naive datetime: rules need an aware `now`")
    return now.astimezone(SHANGHAI).date()


def end_of_day(day: dt.date) -> dt.datetime:
    """The last instant of `day` in Asia/Shanghai (reports are due by the end of the day)."""
    return dt.datetime.combine(day, dt.time(23, 59, 59, 999999), SHANGHAI)


def start_of_day(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0, 0), SHANGHAI)


def read_overrides(path: Path) -> tuple[set[dt.date], set[dt.date], set[int]]:
    """(working days, rest days, complete years) of an override file: a JSON object with
    "workdays" and "holidays" (lists of YYYY-MM-DD) and optionally "years" (the years whose
    whole schedule it gives, e.g. [2027]). Raises SettingsError (Chinese) naming the file,
    the line and the bad value if it is malformed, or if a day is both."""
    label = "日历调整文件"
    data, text = parse_json_file(path, label)
    if not isinstance(data, dict):
        raise SettingsError(f"{label} {path}：内容应为 JSON 对象"
                            '（{"workdays": [...], "holidays": [...]}）')
    for key in data:
        if key not in ("workdays", "holidays", "years"):
            raise SettingsError(f"{label} {path} 第 {json_line(text, (key,))} 行：键 {key} "
                                "不是可识别的键（应为 workdays、holidays 或 years）")
    sets: dict[str, set[dt.date]] = {}
    for key in ("workdays", "holidays"):
        values = data.get(key, [])
        if not isinstance(values, list):
            raise SettingsError(f"{label} {path} 第 {json_line(text, (key,))} 行：键 {key} 的值"
                                f"“{json.dumps(values, ensure_ascii=False)}”不是日期列表"
                                "（应为 [\"YYYY-MM-DD\", …]）")
        sets[key] = set()
        for i, value in enumerate(values):
            try:
                sets[key].add(dt.date.fromisoformat(value))
            except (TypeError, ValueError):
                shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                raise SettingsError(
                    f"{label} {path} 第 {json_line(text, (key, i))} 行：键 {key} 的值“{shown}”"
                    "不是有效的日期（应为 YYYY-MM-DD，如 2027-02-08）") from None
    years = data.get("years", [])
    if not isinstance(years, list) or not all(
            isinstance(y, int) and not isinstance(y, bool) and 1949 < y < 2200 for y in years):
        raise SettingsError(f"{label} {path} 第 {json_line(text, ('years',))} 行：键 years 的值"
                            f"“{json.dumps(years, ensure_ascii=False)}”不是年份列表"
                            "（应为 [2027, …]）")
    both = sets["workdays"] & sets["holidays"]
    if both:
        raise SettingsError(f"{label} {path}：{min(both).isoformat()} 同时列为工作日和休息日")
    if not sets["workdays"] and not sets["holidays"]:
        raise SettingsError(f"{label} {path}：未列出任何日期（应有 holidays，如国务院办公厅通知中的"
                            "放假日期，及 workdays，即调休上班日）")
    if years:
        # a notice for a year lists that year's days (31 December's make-up day of the year
        # before is the one exception a notice may carry: allowed within 7 days)
        for key in ("workdays", "holidays"):
            for day in sorted(sets[key]):
                if day.year not in years and not any(
                        abs((day - dt.date(y, 1, 1)).days) <= 7 for y in years):
                    i = data[key].index(day.isoformat()) if day.isoformat() in data[key] else 0
                    raise SettingsError(
                        f"{label} {path} 第 {json_line(text, (key, i))} 行：{day.isoformat()} 不在 "
                        f"years 所列年份（{'、'.join(map(str, sorted(years)))}）内；请核对文件年份")
        for y in sorted(years):
            if not any(d.year == y for d in sets["holidays"]):
                raise SettingsError(f"{label} {path}：years 列出 {y} 年，但没有 {y} 年的放假日期；"
                                    "完整的年度安排应列出全年的放假日期")
    return sets["workdays"], sets["holidays"], set(years)
