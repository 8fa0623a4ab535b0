"""Executive meetings: reminder 1 Oct (or the last working day before), warning 15 Nov,
finding on the annual checkpoint's day (the 30th working day of the next year)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from tests.conftest import at
from tracker.annual.meetings import MeetingError, meeting_duty, notice_day, record_meeting
from tracker.dates.periods import ensure_periods
from tracker.db import transaction
from tracker.enums import MessageKind
from tracker.models import MeetingCompliance, OutboxMessage

CITY_GOVERNMENT = "天津市人民政府"


def test_meeting_duty(db, plan, policy):
    with transaction(db) as s:
        # 2016 was never tracked (no reporting periods): no finding for it
        assert meeting_duty(s, plan, at("2017-01-05"), policy).findings == 0
        ensure_periods(s, plan, 2017, policy.rules, policy.calendar)
        for g in [CITY_GOVERNMENT, "和平区人民政府", "河东区人民政府"]:
            assert record_meeting(s, plan, government=g, held_on=dt.date(2017, 5, 4),
                                  topic="研究", recorded_by="t", now=at("2017-05-04"))
        assert not record_meeting(s, plan, government="和平区人民政府",
                                  held_on=dt.date(2017, 5, 4), topic="研究", recorded_by="t",
                                  now=at("2017-05-05"))
        with pytest.raises(MeetingError):
            record_meeting(s, plan, government="火星区人民政府", held_on=dt.date(2017, 5, 4),
                           topic="", recorded_by="t", now=at("2017-05-05"))
        with pytest.raises(MeetingError, match="晚于今天"):
            record_meeting(s, plan, government="河西区人民政府", held_on=dt.date(2017, 6, 4),
                           topic="", recorded_by="t", now=at("2017-05-05"))
    with transaction(db) as s:
        assert meeting_duty(s, plan, at("2017-09-29"), policy).reminders == 0
        # 1 October is National Day: the reminder goes out on the last working day before
        # it, Saturday 30 September 2017 (a make-up working day)
        assert meeting_duty(s, plan, at("2017-09-30"), policy).reminders == 14
        assert meeting_duty(s, plan, at("2017-10-01"), policy).reminders == 0
        r = meeting_duty(s, plan, at("2017-11-15"), policy)
        assert (r.reminders, r.warnings) == (0, 28)  # 14 governments + copy to 督查室 each
    with transaction(db) as s:
        record_meeting(s, plan, government="河西区人民政府", held_on=dt.date(2017, 12, 29),
                       topic="研究", recorded_by="t", now=at("2017-12-29"))
        assert meeting_duty(s, plan, at("2017-12-31"), policy).findings == 0
        # not on the first run after year end: December's meetings may still be confirmed
        assert meeting_duty(s, plan, at("2018-01-02"), policy).findings == 0
        assert meeting_duty(s, plan, at("2018-02-09"), policy).findings == 0
        # the checkpoint's day: the 30th working day of 2018, Sunday 11 February (a make-up
        # working day before the Spring Festival)
        assert meeting_duty(s, plan, at("2018-02-11"), policy).findings == 17
        assert meeting_duty(s, plan, at("2018-02-12"), policy).findings == 0
    with db() as s:
        found = dict(s.execute(select(MeetingCompliance.government,
                                      MeetingCompliance.compliant)).all())
        assert sum(found.values()) == 4
        assert found["河西区人民政府"] and not found["南开区人民政府"]
        kinds = s.scalars(select(OutboxMessage.kind)).all()
        assert kinds.count(MessageKind.MEETING_REMINDER) == 14


@pytest.mark.parametrize(("day", "sent_on"), [
    ("2017-10-01", "2017-09-30"),  # National Day; 30 September 2017 was a make-up Saturday
    ("2016-10-01", "2016-09-30"),  # National Day; Friday before it
    ("2017-11-15", "2017-11-15"),  # a Wednesday: the day itself
    ("2018-10-01", "2018-09-30"),  # Monday of the holiday week; 29-30 Sep 2018 were make-up days
    ("2019-10-01", "2019-09-30"),  # Tuesday; the Monday before
    ("2017-04-02", "2017-04-01"),  # Qingming; 1 April 2017 a make-up Saturday
    ("2017-11-12", "2017-11-10"),  # a Sunday: the Friday before
])
def test_a_meeting_notice_on_a_rest_day_goes_out_on_the_last_working_day_before(day, sent_on):
    from tracker.dates.workdays import WorkCalendar

    assert notice_day(dt.date.fromisoformat(day), WorkCalendar()) == dt.date.fromisoformat(sent_on)
