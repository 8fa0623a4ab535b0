"""完成时限 as documents write them (issue 13, item 5)."""

from __future__ import annotations

import datetime as dt

import pytest

from tracker.catalog.deadlines import DeadlineError, Reading, parse_deadline, read_deadline
from tracker.catalog.schema import Deadline

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
    ("二〇一八年底前", "date", D("2018-12-31"), None),
    ("二○一九年六月底前", "date", D("2019-06-30"), None),
    ("2019年十二月底前", "date", D("2019-12-31"), None),
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
    ("每季度末", "完成时限“每季度末”按周期重复，不是单一日期"),
    ("3个工作日以内", "完成时限“3个工作日以内”是相对时限，没有固定日期"),
    ("及时", "完成时限“及时”是相对时限，没有固定日期"),
    ("6月底前", "完成时限“6月底前”未写年份，且不知成文日期，无法确定年份"),
    ("2月30日前", "完成时限“2月30日前”中的日期无效"),
])
def test_unreadable_deadlines_are_refused_with_the_reason(text, message):
    with pytest.raises(DeadlineError) as refused:
        parse_deadline(text)
    assert str(refused.value) == message


ISSUED = D("2019-03-01")  # the document's 成文日期 dates a 完成时限 written without its year


@pytest.mark.parametrize(("text", "due"), [
    ("6月底前", D("2019-06-30")),
    ("6月前", D("2019-06-30")),
    ("六月底前完成", D("2019-06-30")),
    ("年底前", D("2019-12-31")),
    ("9月15日前", D("2019-09-15")),
])
def test_a_yearless_deadline_is_read_in_the_issue_year(text, due):
    assert parse_deadline(text, issued=ISSUED) == Deadline(text=text, kind="date", due=due)
    assert read_deadline(text, issued=ISSUED, period=(2019, 2020)) == Reading(
        Deadline(text=text, kind="date", due=due))


RECURRING = "周期性时限，不是单一日期；各期进展由定期调度跟踪，如需另设完成节点请督查室确定"
RELATIVE = "相对时限，没有固定日期，请督查室确定跟踪的时限"


@pytest.mark.parametrize(("text", "reading"), [
    ("每季度末", Reading(None, RECURRING)),
    ("每月底前", Reading(None, RECURRING)),
    ("3个工作日以内", Reading(None, RELATIVE)),
    ("五个工作日内", Reading(None, RELATIVE)),
    ("及时", Reading(None, RELATIVE)),
    ("尽快", Reading(None, RELATIVE)),
    ("2018年底前启动，2020年底前完成", Reading(
        None, "完成时限分阶段或有多处表述，系统未读成单一时限，请督查室确定跟踪的时限")),
    ("明年", Reading(None, "无法识别完成时限“明年”（可写作 2018年6月30日、2018年底前、2018年第三季度、"
                          "每年年底前、长期坚持）；请督查室确定跟踪的时限")),
    # outside the plan's period (2019-2020): kept, and flagged for the office
    ("2018年6月底前", Reading(Deadline(text="2018年6月底前", kind="date", due=D("2018-06-30")),
                             "完成时限 2018-06-30 不在规划期（2019—2020年）内，请督查室核对")),
    ("2021年1月1日", Reading(Deadline(text="2021年1月1日", kind="date", due=D("2021-01-01")),
                            "完成时限 2021-01-01 不在规划期（2019—2020年）内，请督查室核对")),
    ("2020年12月31日", Reading(Deadline(text="2020年12月31日", kind="date", due=D("2020-12-31")))),
    # the month has passed on the issue date: the next year, flagged
    ("2月底前", Reading(Deadline(text="2月底前", kind="date", due=D("2020-02-29")),
                       "原文未写年份，其所指日期在成文日期（2019-03-01）之前，按次年计为 2020-02-29，"
                       "请督查室核对")),
    ("长期坚持", Reading(Deadline(text="长期坚持", kind="ongoing"))),
    ("每年年底前", Reading(Deadline(text="每年年底前", kind="yearly", month=12, day=31))),
])
def test_readings_that_are_no_single_day_are_flagged_with_their_words(text, reading):
    assert read_deadline(text, issued=ISSUED, period=(2019, 2020)) == reading
