"""完成时限 as documents write them (issue 13, item 5)."""

from __future__ import annotations

import datetime as dt

import pytest

from tracker.catalog.deadlines import DeadlineError, parse_deadline

D = dt.date.fromisoformat


@pytest.mark.parametrize(("text", "kind", "due", "month_day"), [
    ("2018年6月30日", "date", D("2018-06-30"), None),
    ("2018-06-30", "date", D("2018-06-30"), None),
    ("２０１８．６．３０前", "date", D("2018-06-30"), None),
    ("2018年6月底前", "date", D("2018-06-30"), None),
    ("2019年2月底前完成", "date", D("2019-02-28"), None),
    ("2020年底前", "date", D("2020-12-31"), None),
    ("2020年年底前", "date", D("2020-12-31"), None),
    ("2018年上半年", "date", D("2018-06-30"), None),
    ("2018年年中", "date", D("2018-06-30"), None),
    ("2018年第三季度", "date", D("2018-09-30"), None),
    ("2018年三季度末", "date", D("2018-09-30"), None),
    ("2019年", "date", D("2019-12-31"), None),
    ("每年年底前", "yearly", None, (12, 31)),
    ("每年6月底前", "yearly", None, (6, 30)),
    ("每年3月15日前", "yearly", None, (3, 15)),
    ("长期坚持", "ongoing", None, None),
    ("持续推进", "ongoing", None, None),
])
def test_deadlines_as_documents_write_them(text, kind, due, month_day):
    d = parse_deadline(text)
    assert (d.text, d.kind, d.due) == (text.strip(), kind, due)
    assert (None if d.month is None else (d.month, d.day)) == month_day


@pytest.mark.parametrize(("text", "message"), [
    ("明年", "无法识别完成时限“明年”（可写作 2018年6月30日、2018年底前、2018年第三季度、"
             "每年年底前、长期坚持）"),
    ("2017年2月30日", "完成时限“2017年2月30日”中的日期无效"),
    ("每年13月底前", "完成时限“每年13月底前”中的月份无效"),
    ("  ", "完成时限为空"),
])
def test_unreadable_deadlines_are_refused_with_the_reason(text, message):
    with pytest.raises(DeadlineError) as refused:
        parse_deadline(text)
    assert str(refused.value) == message
