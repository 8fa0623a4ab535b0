"""Working days on the Chinese calendar, and the period dates derived from them."""

from __future__ import annotations

import datetime as dt
import json
import logging

import pytest

from tracker.dates.periods import year_specs
from tracker.dates.workdays import WorkCalendar
from tracker.settings import Rules

D = dt.date.fromisoformat


def test_fifth_working_day_after_national_day_2016():
    # 1-7 Oct 2016 holidays; Sat 8 and Sun 9 Oct were make-up working days.
    assert WorkCalendar().add(D("2016-09-30"), 5) == D("2016-10-12")


def test_counts_strictly_after_a_non_working_day():
    cal = WorkCalendar()
    # 2017-01-28 is Spring Festival; the first working day after it is 2017-02-03.
    assert cal.add(D("2017-01-28"), 1) == D("2017-02-03")
    assert cal.add(D("2017-01-22"), 1) == D("2017-01-23")  # Sunday 22 Jan was a make-up day
    assert cal.add(D("2017-04-10"), -1) == D("2017-04-07")
    assert cal.between(D("2016-09-30"), D("2016-10-12")) == 5
    assert cal.between(D("2016-10-12"), D("2016-09-30")) == -5


def test_nth_working_day_of_january():
    assert WorkCalendar().nth_of_month(2018, 1, 15) == D("2018-01-22")


def test_2017_periods():
    specs = {s.label: s for s in year_specs(2017, Rules(), WorkCalendar())}
    assert (specs["2017Q1"].issue_on, specs["2017Q1"].due_on) == (D("2017-03-17"), D("2017-04-10"))
    assert specs["2017Q3"].due_on == D("2017-10-13")  # National Day and Mid-Autumn, 1-8 Oct
    assert (specs["2017Q4"].issue_on, specs["2017Q4"].due_on) == (D("2017-12-18"), D("2018-01-08"))
    assert specs["2017"].due_on == D("2018-01-22")


def test_uncovered_year_falls_back_to_weekends_and_warns(caplog):
    cal = WorkCalendar()
    with caplog.at_level(logging.WARNING):
        assert cal.add(D("2027-01-01"), 1) == D("2027-01-04")  # Fri -> Mon
    assert 2027 in cal.uncovered_years
    assert "does not cover 2027" in caplog.text


def test_override_file(tmp_path):
    path = tmp_path / "cal.json"
    path.write_text(json.dumps({"holidays": ["2027-02-08", "2027-02-09"],
                                "workdays": ["2027-02-07"]}))
    cal = WorkCalendar.from_file(path)
    assert cal.is_workday(D("2027-02-07"))  # a Sunday made a working day
    assert not cal.is_workday(D("2027-02-08"))
    assert cal.add(D("2027-02-05"), 2) == D("2027-02-10")
    path.write_text(json.dumps({"holidays": ["not a date"]}))
    with pytest.raises(ValueError, match="holidays"):
        WorkCalendar.from_file(path)
