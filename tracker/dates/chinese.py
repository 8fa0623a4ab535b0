"""Dates and reporting periods written the way official documents write them.

GB/T 9704-2012 (党政机关公文格式) writes a date with Arabic numerals, no leading zeros:
2017年4月10日. Every notice, page or sheet that shows a date to people uses these helpers.
"""

from __future__ import annotations

import datetime as dt
import re

_NUMERALS = "一二三四"


def cn_date(day: dt.date | str) -> str:
    """`2017-04-10` (a date or ISO text) -> `2017年4月10日`.

    Raises ValueError for text that is not an ISO date.
    """
    if isinstance(day, str):
        day = dt.date.fromisoformat(day)
    return f"{day.year}年{day.month}月{day.day}日"


def cn_period(label: str) -> str:
    """A reporting period's label in words: `2017Q1` -> `2017年第一季度`,
    `2017H1` -> `2017年上半年`, `2017H2` -> `2017年下半年`, `2017` -> `2017年度`, a
    task's own deadline (a milestone, tracker.requests.milestones) `2018-06-30` ->
    `2018年6月30日完成时限`.

    Labels are those of tracker.dates.periods; anything else is returned unchanged (a
    label from an older schema still reads sensibly).
    """
    if m := re.fullmatch(r"(\d{4})Q([1-4])", label):
        return f"{m[1]}年第{_NUMERALS[int(m[2]) - 1]}季度"
    if m := re.fullmatch(r"(\d{4})H([12])", label):
        return f"{m[1]}年{'上' if m[2] == '1' else '下'}半年"
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", label):
        return f"{cn_date(label)}完成时限"
    if re.fullmatch(r"\d{4}", label):
        return f"{label}年度"
    return label
