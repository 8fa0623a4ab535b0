"""Executive meetings: reminder 1 Oct, warning 15 Nov, finding after year end."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from tests.conftest import at
from tracker.annual.meetings import MeetingError, meeting_duty, record_meeting
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
        assert meeting_duty(s, plan, at("2017-09-30"), policy).reminders == 0
        assert meeting_duty(s, plan, at("2017-10-01"), policy).reminders == 14
        assert meeting_duty(s, plan, at("2017-10-02"), policy).reminders == 0
        r = meeting_duty(s, plan, at("2017-11-15"), policy)
        assert (r.reminders, r.warnings) == (0, 28)  # 14 governments + copy to 督查室 each
    with transaction(db) as s:
        record_meeting(s, plan, government="河西区人民政府", held_on=dt.date(2017, 12, 29),
                       topic="研究", recorded_by="t", now=at("2017-12-29"))
        assert meeting_duty(s, plan, at("2017-12-31"), policy).findings == 0
        assert meeting_duty(s, plan, at("2018-01-02"), policy).findings == 17
        assert meeting_duty(s, plan, at("2018-01-03"), policy).findings == 0
    with db() as s:
        found = dict(s.execute(select(MeetingCompliance.government,
                                      MeetingCompliance.compliant)).all())
        assert sum(found.values()) == 4
        assert found["河西区人民政府"] and not found["南开区人民政府"]
        kinds = s.scalars(select(OutboxMessage.kind)).all()
        assert kinds.count(MessageKind.MEETING_REMINDER) == 14
