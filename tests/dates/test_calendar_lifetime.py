"""Calendar lifetime (issue 9, item 4), without a database: the fallback for a year
chinese-calendar does not cover, the provisional mark, and the November warning."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tracker.dates.periods import year_specs
from tracker.dates.stored import next_year_warning
from tracker.dates.workdays import WorkCalendar, read_overrides, statutory_fixed_holidays
from tracker.settings import Rules, SettingsError

D = dt.date


def test_fixed_date_statutory_holidays_with_make_up_days():
    # 2027: 1 Jan a Friday; 清明 5 April (Monday); 1-2 May a weekend -> 3, 4 May off;
    # 2-3 October a weekend -> 4, 5 October off (Decree 795, articles 2 and 6)
    assert sorted(statutory_fixed_holidays(2027)) == [
        D(2027, 1, 1), D(2027, 4, 5), D(2027, 5, 1), D(2027, 5, 2), D(2027, 5, 3), D(2027, 5, 4),
        D(2027, 10, 1), D(2027, 10, 2), D(2027, 10, 3), D(2027, 10, 4), D(2027, 10, 5)]
    # 2028: 1 January a Saturday -> Monday 3 January off
    assert statutory_fixed_holidays(2028)[D(2028, 1, 3)] == "元旦（补假）"


def test_the_fallback_matches_the_package_on_its_fixed_days():
    # In a covered year the package's rest days include every fixed-date statutory day.
    import chinese_calendar

    for year in (2025, 2026):
        for day, name in statutory_fixed_holidays(year).items():
            if "补假" not in name:
                assert not chinese_calendar.is_workday(day), day


def test_q4_2026_due_day_skips_new_years_day_and_is_provisional():
    cal = WorkCalendar()
    # 2027-01-01 (Fri) holiday, 02-03 weekend: 4 Jan (1), 5, 6, 7, 8 Jan (5)
    assert cal.add(D(2026, 12, 31), 5) == D(2027, 1, 8)
    assert cal.provisional(D(2026, 12, 31), D(2027, 1, 8))
    assert not cal.provisional(D(2026, 9, 30), cal.add(D(2026, 9, 30), 5))
    specs = {s.label: s for s in year_specs(2026, Rules(), cal)}
    assert (specs["2026Q4"].due_on, specs["2026Q4"].due_provisional) == (D(2027, 1, 8), True)
    assert specs["2026Q3"].due_provisional is False
    # indicators: 15th working day of January 2027 = 4-8, 11-15, 18-22 January
    assert (specs["2026"].due_on, specs["2026"].due_provisional) == (D(2027, 1, 22), True)
    # the year's notice loaded (marked complete): no longer provisional
    done = WorkCalendar(complete_years={2027})
    assert not done.provisional(D(2026, 12, 31), D(2027, 1, 8))


def test_next_year_warning_from_first_of_november():
    cal = WorkCalendar()
    assert next_year_warning(cal, D(2026, 10, 31)) is None
    warning = next_year_warning(cal, D(2026, 11, 1))
    assert warning is not None and "2027" in warning and "tracker calendar load" in warning
    assert next_year_warning(cal, D(2025, 11, 1)) is None  # 2026 is in the package
    assert next_year_warning(WorkCalendar(complete_years={2027}), D(2026, 11, 30)) is None


def test_override_file_years_and_errors(tmp_path):
    path = tmp_path / "2027.json"
    path.write_text(json.dumps({"workdays": ["2027-02-06"], "holidays": ["2027-02-05"],
                                "years": [2027]}), encoding="utf-8")
    assert read_overrides(path) == ({D(2027, 2, 6)}, {D(2027, 2, 5)}, {2027})
    assert WorkCalendar.from_file(path).covered(2027)
    path.write_text(json.dumps({"years": ["2027"]}), encoding="utf-8")
    with pytest.raises(SettingsError, match="不是年份列表"):
        read_overrides(path)
    path.write_text(json.dumps({"workdays": ["2027-02-06"], "holidays": ["2027-02-06"]}),
                    encoding="utf-8")
    with pytest.raises(SettingsError, match="同时列为工作日和休息日"):
        read_overrides(path)
    # a file for the wrong year, a complete year without holidays, an empty file
    path.write_text(json.dumps({"holidays": ["2028-02-10"], "years": [2027]}), encoding="utf-8")
    with pytest.raises(SettingsError, match="2028-02-10 不在 years 所列年份（2027）内"):
        read_overrides(path)
    path.write_text(json.dumps({"workdays": ["2027-02-06"], "years": [2027]}), encoding="utf-8")
    with pytest.raises(SettingsError, match="years 列出 2027 年，但没有 2027 年的放假日期"):
        read_overrides(path)
    path.write_text("{}", encoding="utf-8")
    with pytest.raises(SettingsError, match="未列出任何日期"):
        read_overrides(path)
