"""完成时限 as documents write them, read into `schema.Deadline` (issue 13).

Forms read: a date (2018年6月30日, 2018-06-30, 2018.6.30, 2018/6/30), the end or middle of
a month, half year or year (2018年6月底前, 2018年上半年, 2018年年中, 2020年底前, 2020年年底),
a quarter (2018年第三季度, 2018年三季度末), yearly (每年年底前, 每年6月底前, 每年12月31日前),
ongoing (长期坚持, 持续推进, 长期, 持续实施); with or without 前/以前/之前/完成. Anything
else is refused with the reason, so an importer names the row.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re

from tracker.catalog.schema import Deadline

_CN = {c: i for i, c in enumerate("一二三四", start=1)}
_TAIL = r"(?:以前|之前|前|完成|底|末|为止)*"
_ONGOING = re.compile(r"^(?:长期坚持|长期|持续推进|持续实施|持续开展|常态化推进|长期推进|持续)$")


class DeadlineError(ValueError):
    """The text is not a deadline this reader knows; the message is Chinese."""


def _end_of_month(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def _clean(text: str) -> str:
    text = text.strip().translate(str.maketrans("０１２３４５６７８９．／－", "0123456789./-"))
    return re.sub(r"\s+", "", text)


def parse_deadline(text: str) -> Deadline:
    """`text` as a `Deadline`. Raises DeadlineError naming the text when unreadable.

    A month, quarter, half year or year means its last day; 年中 means 30 June.
    """
    raw = text.strip()
    t = _clean(text)
    if not t:
        raise DeadlineError("完成时限为空")
    if _ONGOING.match(t):
        return Deadline(text=raw, kind="ongoing")
    if m := re.fullmatch(r"每年(?:(\d{1,2})月(?:(\d{1,2})日)?)?(年底|年末|底)?" + _TAIL, t):
        month = int(m[1]) if m[1] else 12
        if not 1 <= month <= 12:
            raise DeadlineError(f"完成时限“{raw}”中的月份无效")
        day = int(m[2]) if m[2] else calendar.monthrange(2001, month)[1]
        if not 1 <= day <= calendar.monthrange(2000, month)[1]:
            raise DeadlineError(f"完成时限“{raw}”中的日期无效")
        return Deadline(text=raw, kind="yearly", month=month, day=day)
    try:
        due = _dated(t)
    except ValueError as exc:
        raise DeadlineError(f"完成时限“{raw}”中的日期无效") from exc
    if due is None:
        raise DeadlineError(f"无法识别完成时限“{raw}”（可写作 2018年6月30日、2018年底前、"
                            "2018年第三季度、每年年底前、长期坚持）")
    return Deadline(text=raw, kind="date", due=due)


def _dated(t: str) -> dt.date | None:
    if m := re.fullmatch(r"(\d{4})[年.\-/](\d{1,2})[月.\-/](\d{1,2})日?" + _TAIL, t):
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    if m := re.fullmatch(r"(\d{4})年(\d{1,2})月(?:份)?(?:底|末|中旬|上旬|下旬)?" + _TAIL, t):
        return _end_of_month(int(m[1]), int(m[2]))
    if m := re.fullmatch(r"(\d{4})年(?:第)?([1-4一二三四])季度(?:末|底)?" + _TAIL, t):
        quarter = int(m[2]) if m[2].isdigit() else _CN[m[2]]
        return _end_of_month(int(m[1]), 3 * quarter)
    if m := re.fullmatch(r"(\d{4})年(上半年|年中|6月底)" + _TAIL, t):
        return dt.date(int(m[1]), 6, 30)
    if m := re.fullmatch(r"(\d{4})年(?:下半年|年底|年末|底|末|内|度)?" + _TAIL, t):
        return dt.date(int(m[1]), 12, 31)
    return None
