"""Working days on the Chinese calendar (statutory holidays and make-up workdays).

Every rule of the product counts working days, in Asia/Shanghai. The `chinese-calendar`
package knows each year's State Council holiday schedule; for a year it does not cover
(it raises NotImplementedError) we fall back to "Monday to Friday", warn once per year,
and let an override file correct it:

    {"workdays": ["2027-02-07"], "holidays": ["2027-02-08", "2027-02-09"]}
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import zoneinfo
from pathlib import Path

import chinese_calendar

from tracker.settings import SettingsError, json_line, parse_json_file

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
log = logging.getLogger(__name__)


class WorkCalendar:
    """Answers "is this a working day" and counts working days.

    `overrides` (dates to force as working days or holidays) win over the package,
    which wins over the weekend fallback.
    """

    def __init__(self, workdays: set[dt.date] | None = None, holidays: set[dt.date] | None = None):
        self._workdays = workdays or set()
        self._holidays = holidays or set()
        self._cache: dict[dt.date, bool] = {}
        self.uncovered_years: set[int] = set()

    @classmethod
    def from_file(cls, path: Path | None) -> WorkCalendar:
        """Load overrides from a JSON file (UTF-8, a BOM allowed); None gives the plain calendar.

        Raises SettingsError naming the file, the key and the bad value if it is malformed.
        """
        if path is None:
            return cls()
        label = "日历调整文件"
        data, text = parse_json_file(path, label)
        if not isinstance(data, dict):
            raise SettingsError(f"{label} {path}：内容应为 JSON 对象"
                                '（{"workdays": [...], "holidays": [...]}）')
        for key in data:
            if key not in ("workdays", "holidays"):
                raise SettingsError(f"{label} {path} 第 {json_line(text, (key,))} 行：键 {key} "
                                    "不是可识别的键（应为 workdays 或 holidays）")
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
        return cls(sets["workdays"], sets["holidays"])

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
                log.warning(
                    "chinese-calendar does not cover %s: counting Monday-Friday as working "
                    "days; add the year's holidays to TRACKER_CALENDAR_OVERRIDES", day.year
                )
            return day.weekday() < 5

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
