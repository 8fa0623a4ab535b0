"""完成时限 as documents write them, read into `schema.Deadline` (issue 13).

Forms read (`parse_deadline`): a date (2018年6月30日, 2018-06-30, 2018.6.30, 2018/6/30),
a month meaning its last day (2018年6月, 2018.6, 2018.06, 2018-06), the end or middle
of a month, half year or year (2018年6月底前, 2018年上半年, 2018年年中, 2020年底前,
2020年年底), a quarter (2018年第三季度, 2018年三季度末), yearly (每年年底前,
每年6月底前, 每年12月31日前), ongoing (长期坚持, 持续推进, 长期, 持续实施); with or without
前/以前/之前/完成. Years and months may be written in Chinese numerals (二〇一八年底前,
二○一八年六月底前). A month without its year (6月底前, 6月前, 年底前) is read in the year of
the document's issue date (成文日期, `issued`): the first such day on or after that date,
so 6月底前 in a document issued on 2019-03-01 is 2019-06-30 (rule chosen for issue 13: a
year-less time limit counts from the document that sets it, as 《党政机关公文处理工作条例》
dates a document by its 成文日期; the plan's period is a range, not a day).

What is not a single day is refused by `parse_deadline` with the reason; `read_deadline`
(the text parser's reader) turns every such reading into a flag for the office with the
original words, never dropping it:
- recurring (每季度末, 每月底前, 每半年): the periodic requests already ask each period;
- relative (3个工作日以内, 及时, 尽快, 立即): no fixed day;
- in stages (2018年底前启动，2020年底前完成): no single day;
- unreadable words.
A date outside the plan's period (first year 1 January to last year 31 December) is kept
and flagged for the office to check.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass

from tracker.catalog.schema import Deadline, Flag

_CN = {c: i for i, c in enumerate("一二三四", start=1)}
_CN_DIGIT = {c: str(i) for i, c in enumerate("〇一二三四五六七八九")} | {"○": "0", "零": "0"}
_CN_MONTH = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
             "十": 10, "十一": 11, "十二": 12}
_TAIL = r"(?:以前|之前|前|完成|底|末|为止)*"
_ONGOING = re.compile(r"^(?:长期坚持|长期|持续推进|持续实施|持续开展|常态化推进|长期推进|持续)$")
RECURRING = re.compile(r"^每(?:个)?(?:季度|季|月|半年|周|旬|双月)")
RELATIVE = re.compile(r"^(?:及时|尽快|立即|随时|适时|定期|按要求|按时|限期)"
                      r"|^(?:\d+|[一二三四五六七八九十两]+)个?(?:工作日|自然日|日|天|周|月|季度)(?:内|以内|之内)")
# where a clause's part is a time limit, not an agency (…负责，2019年底前完成)
DEADLINE_START = re.compile(
    r"^(?:\d{4}|[〇○零一二三四五六七八九]{4})年|^\d{1,2}月|^(?:十[一二]?|[一二三四五六七八九])月(?:底|末|份|前|\d|[一二三四五六七八九十])"
    r"|^\d{4}[.．/\-]\d{1,2}|^年(?:底|末|内|中)|^(?:上|下)半年|^每(?:年|个|季|月|半年|周|旬|双月)|^(?:长期|持续|常态化)"
    r"|^(?:及时|尽快|立即|随时|适时|定期|限期)|^(?:\d+|[一二三四五六七八九十两]+)个?(?:工作日|自然日|日|天|周|月|季度)(?:内|以内|之内)")


class DeadlineError(ValueError):
    """The text is not a deadline this reader knows; the message is Chinese."""


def _end_of_month(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def _clean(text: str) -> str:
    text = text.strip().translate(str.maketrans("０１２３４５６７８９．／－", "0123456789./-"))
    text = re.sub(r"\s+", "", text)
    # 二〇一八年 → 2018年; 六月 / 十二月 → 6月 / 12月
    text = re.sub(r"[〇○零一二三四五六七八九]{4}(?=年)",
                  lambda m: "".join(_CN_DIGIT[c] for c in m[0]), text)
    return re.sub(r"(?<![\d一二三四五六七八九十])(十[一二]?|[一二三四五六七八九])(?=月)",
                  lambda m: str(_CN_MONTH[m[0]]), text)


def parse_deadline(text: str, *, issued: dt.date | None = None) -> Deadline:
    """`text` (a 完成时限 as written) as a `Deadline`.

    A month, quarter, half year or year means its last day (calendar days); 年中 means
    30 June. `issued`: the document's issue date, which dates a 完成时限 written without
    its year (module docstring); without it such a text is refused. Raises DeadlineError
    naming the text when it is empty, unreadable, recurring (每季度末), relative
    (3个工作日以内, 及时) or not a real day.
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
    if RECURRING.match(t):
        raise DeadlineError(f"完成时限“{raw}”按周期重复，不是单一日期")
    if RELATIVE.match(t):
        raise DeadlineError(f"完成时限“{raw}”是相对时限，没有固定日期")
    try:
        due = _dated(t)
        if due is None and (yearless := _yearless(t)) is not None:
            if issued is None:
                raise DeadlineError(f"完成时限“{raw}”未写年份，且不知成文日期，无法确定年份")
            due = yearless(issued.year)
            if due < issued:
                due = yearless(issued.year + 1)
    except ValueError as exc:
        if isinstance(exc, DeadlineError):
            raise
        raise DeadlineError(f"完成时限“{raw}”中的日期无效") from exc
    if due is None:
        raise DeadlineError(f"无法识别完成时限“{raw}”（可写作 2018年6月30日、2018年底前、"
                            "2018年第三季度、每年年底前、长期坚持）")
    return Deadline(text=raw, kind="date", due=due)


def _dated(t: str) -> dt.date | None:
    if m := re.fullmatch(r"(\d{4})[年.\-/](\d{1,2})[月.\-/](\d{1,2})日?" + _TAIL, t):
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    if m := re.fullmatch(r"(\d{4})(?:年(\d{1,2})月(?:份)?|[.\-/](\d{1,2}))(?:底|末|中旬|上旬|下旬)?"
                         + _TAIL, t):  # 2019年6月, 2019.6, 2019.06, 2019-06: the month's end
        return _end_of_month(int(m[1]), int(m[2] or m[3]))
    if m := re.fullmatch(r"(\d{4})年(?:第)?([1-4一二三四])季度(?:末|底)?" + _TAIL, t):
        quarter = int(m[2]) if m[2].isdigit() else _CN[m[2]]
        return _end_of_month(int(m[1]), 3 * quarter)
    if m := re.fullmatch(r"(\d{4})年(上半年|年中|6月底)" + _TAIL, t):
        return dt.date(int(m[1]), 6, 30)
    if m := re.fullmatch(r"(\d{4})年(?:下半年|年底|年末|底|末|内|度)?" + _TAIL, t):
        return dt.date(int(m[1]), 12, 31)
    return None


def _yearless(t: str) -> Callable[[int], dt.date] | None:
    """The day a year-less 完成时限 names, as a function of the year; None if not one."""
    if m := re.fullmatch(r"(\d{1,2})月(\d{1,2})日" + _TAIL, t):
        month, day = int(m[1]), int(m[2])
        dt.date(2000, month, day)  # ValueError: not a real day (29 February is kept)
        return lambda y: dt.date(y, month, min(day, calendar.monthrange(y, month)[1]))
    if m := re.fullmatch(r"(\d{1,2})月(?:份)?(?:底|末|中旬|上旬|下旬)?" + _TAIL, t):
        month = int(m[1])
        dt.date(2000, month, 1)
        return lambda y: _end_of_month(y, month)
    if re.fullmatch(r"(?:上半年|年中)" + _TAIL, t):
        return lambda y: dt.date(y, 6, 30)
    if re.fullmatch(r"(?:下半年|年底|年末|年内)" + _TAIL, t):
        return lambda y: dt.date(y, 12, 31)
    return None


@dataclass(frozen=True)
class Reading:
    """A 完成时限 as the text parser keeps it: the deadline (None when no single day or
    kind could be read) and, when the office must look at it, the reason (Chinese) for a
    flag on the original words."""

    deadline: Deadline | None
    flag: str | None = None


def read_deadline(text: str, *, issued: dt.date | None = None,
                  period: tuple[int, int] | None = None) -> Reading:
    """`text` (a 完成时限 as written, not empty) as a `Reading`; never raises.

    `issued`: the document's issue date (dates a year-less text, module docstring);
    `period`: the plan's (first year, last year), calendar years. Readings that are not a
    single day or a known kind get no deadline and a flag saying why (recurring, relative,
    in stages, unreadable); a date outside the period is kept with a flag.
    """
    raw = text.strip()
    t = _clean(raw)
    if len(re.findall(r"\d{4}年|每年|长期|持续", t)) > 1 or re.search(r"[，,；;、]", t):
        return Reading(None, "完成时限分阶段或有多处表述，系统未读成单一时限，请督查室确定跟踪的时限")
    try:
        deadline = parse_deadline(raw, issued=issued)
    except DeadlineError as exc:
        if RECURRING.match(t):
            return Reading(None, "周期性时限，不是单一日期；各期进展由定期调度跟踪，"
                                 "如需另设完成节点请督查室确定")
        if RELATIVE.match(t):
            return Reading(None, "相对时限，没有固定日期，请督查室确定跟踪的时限")
        return Reading(None, f"{exc}；请督查室确定跟踪的时限")
    if (deadline.kind == "date" and deadline.due is not None and issued is not None
            and _dated(t) is None and deadline.due.year != issued.year):
        return Reading(deadline, f"原文未写年份，其所指日期在成文日期（{issued.isoformat()}）之前，"
                                 f"按次年计为 {deadline.due.isoformat()}，请督查室核对")
    if deadline.kind == "date" and deadline.due is not None and period is not None:
        first, last = period
        if not dt.date(first, 1, 1) <= deadline.due <= dt.date(last, 12, 31):
            return Reading(deadline, f"完成时限 {deadline.due.isoformat()} 不在规划期"
                                     f"（{first}—{last}年）内，请督查室核对")
    return Reading(deadline)


def deadline_and_flag(text: str, *, issued: dt.date | None = None,
                      period: tuple[int, int] | None = None) -> tuple[Deadline | None, Flag | None]:
    """`read_deadline` of `text` (a 完成时限 as written, not empty) as the catalog keeps
    it: the deadline, and the reason as a `Flag` on the words as written (field
    "deadline"), or None. Never raises; arguments as `read_deadline`'s."""
    reading = read_deadline(text, issued=issued, period=period)
    flag = None if reading.flag is None else Flag(field="deadline", phrase=text.strip(),
                                                   reason=reading.flag)
    return reading.deadline, flag
