"""Profiles: the shapes of published plans the text parser reads (issue 13, build item 2).

A profile names the numbering levels a document uses, from the outermost in, and the
levels whose items are measures. Numbering levels (`LEVELS`):
    第一部分  division    (a plan in parts: 第一部分 总体要求)
    第一章    chapter
    第一条    article     (an 办法 or 实施细则: 第一条 … 第二十一条, numbered on across chapters)
    一、      part        (二十一、 and above are read: 一 … 九十九, 一百)
    （一）    section     (（二十）; half-width brackets too)
    1.        item        (1. 1． 1、 and １． as WPS writes it)
    （1）     sub-item
An item's code is the numbers of its open levels joined by dots (二、（一）1． → 2.1.1),
the document's own numbering read as the ledger sorts it (`codes.code_key`).

Profiles:
- `tianjin`: the Tianjin plan (data/seed/), parsed by `parse.parse_plan_text` with its
  own plan settings and headline indicators, byte for byte as before issue 13;
- `general`: any State Council, provincial, municipal or district document: measures are
  the items, at whatever level, that carry a responsibility clause (`text.py`);
- `parts`, `sections`, `items`: the same, with measures only at 一、, （一） or 1.
`detect_profile` picks `tianjin` only for the Tianjin plan's own text, else `general`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
              "七": 7, "八": 8, "九": 9}
CN_NUMERAL = "一二三四五六七八九十百零〇两"


def cn_to_int(text: str) -> int:
    """A Chinese numeral as written in headings: 一 … 十九, 二十, 二十一, 九十九, 一百, 一百零三.

    Raises ValueError for anything else (一一, 十十).
    """
    rest = text
    total = 0
    if "百" in rest:
        head, rest = rest.split("百", 1)
        total += (_CN_DIGITS[head] if head else 1) * 100
        rest = rest.lstrip("零〇")
    if "十" in rest:
        head, rest = rest.split("十", 1)
        if head and head not in _CN_DIGITS:
            raise ValueError(text)
        total += (_CN_DIGITS[head] if head else 1) * 10
    if rest:
        if len(rest) != 1 or rest not in _CN_DIGITS:
            raise ValueError(text)
        total += _CN_DIGITS[rest]
    if total == 0:
        raise ValueError(text)
    return total


def int_to_cn(n: int) -> str:
    """1 → 一, 20 → 二十, 21 → 二十一, 101 → 一百零一, 110 → 一百一十 (for messages that quote a
    document's numbering, as `cn_to_int` reads it back); 1000 and above as figures."""
    digits = "零一二三四五六七八九"
    if n < 10:
        return digits[n]
    if n < 20:
        return "十" + (digits[n - 10] if n > 10 else "")
    if n < 100:
        return digits[n // 10] + "十" + (digits[n % 10] if n % 10 else "")
    if n < 1000:
        rest = n % 100
        tail = "" if rest == 0 else ("零" + digits[rest] if rest < 10 else
                                     digits[rest // 10] + "十" + (digits[rest % 10] if rest % 10 else ""))
        return digits[n // 100] + "百" + tail
    return str(n)


@dataclass(frozen=True)
class Level:
    """One numbering style: `key` as people name it, how a paragraph starting with it reads,
    and how its number is written back in messages."""

    key: str
    pattern: re.Pattern[str]
    chinese: bool

    def label(self, number: int) -> str:
        """The number written in this style: 3 → 三、 / （三） / 3. / （3）."""
        shown = int_to_cn(number) if self.chinese else str(number)
        return {"第一部分": f"第{shown}部分", "第一章": f"第{shown}章", "第一条": f"第{shown}条",
                "一、": f"{shown}、", "（一）": f"（{shown}）", "1.": f"{shown}.",
                "（1）": f"（{shown}）"}[self.key]


LEVELS: dict[str, Level] = {
    "第一部分": Level("第一部分", re.compile(rf"^第([{CN_NUMERAL}]{{1,4}})部分\s*(.*)$"), True),
    "第一章": Level("第一章", re.compile(rf"^第([{CN_NUMERAL}]{{1,4}})章\s*(.*)$"), True),
    "第一条": Level("第一条", re.compile(rf"^第([{CN_NUMERAL}]{{1,4}})条\s*(.*)$"), True),
    "一、": Level("一、", re.compile(rf"^([{CN_NUMERAL}]{{1,4}})、\s*(.*)$"), True),
    "（一）": Level("（一）", re.compile(rf"^[（(]([{CN_NUMERAL}]{{1,4}})[）)]\s*(.*)$"), True),
    "1.": Level("1.", re.compile(r"^(\d{1,3})(?:[.．](?!\d)|、)\s*(.*)$"), False),
    "（1）": Level("（1）", re.compile(r"^[（(](\d{1,3})[）)]\s*(.*)$"), False),
}


@dataclass(frozen=True)
class Profile:
    """A shape of published plan.

    `levels`: the numbering styles, outermost first (keys of `LEVELS`); `measure_levels`:
    the styles whose items are measures, or None for "every level where an item carries a
    responsibility clause"; `reader`: `general` (text.py) or `tianjin` (parse.py);
    `signature`: text that marks a document as this profile's (for `detect_profile`).
    """

    name: str
    description: str
    levels: tuple[str, ...] = ("第一部分", "第一章", "第一条", "一、", "（一）", "1.", "（1）")
    measure_levels: frozenset[str] | None = None
    reader: str = "general"
    signature: re.Pattern[str] | None = None


PROFILES: dict[str, Profile] = {
    "tianjin": Profile(
        name="tianjin",
        description="天津市“十三五”加快残疾人小康进程规划纲要（data/seed）：二、（一）1．编号，"
                    "句末“（责任单位：…）”，自带规划设置与主要指标",
        levels=("一、", "（一）", "1.", "（1）"),
        measure_levels=frozenset({"（一）", "1."}),
        reader="tianjin",
        # the plan's own issuing notice opening the text: a district's re-issue or a document
        # that cites the plan is another plan, read by `general` with its own settings
        signature=re.compile(r"\A\s*天津市人民政府办公厅关于\s*转发市残联拟定的天津市“十三五”\s*"
                             r"加快\s*残疾人小康进程规划纲要的通知"),
    ),
    "general": Profile(
        name="general",
        description="通用：第一部分/第一章/第一条/一、/（一）/1./（1）各级编号，任务为带责任分工的编号段落；责任分工写在段末"
                    "括号内（责任单位：…／牵头单位：…；配合单位：…／…负责，…参与）或另起一行",
    ),
    # the same reading with the measure level named, for a document that also writes
    # clauses at another level (those are then listed as skipped)
    "parts": Profile(name="parts", description="任务为“一、”级编号段落（如国办发〔2018〕117号）",
                     measure_levels=frozenset({"一、"})),
    "sections": Profile(name="sections", description="任务为“（一）”级编号段落（如国发〔2018〕42号）",
                        measure_levels=frozenset({"（一）"})),
    "items": Profile(name="items", description="任务为“1.”级编号段落",
                     measure_levels=frozenset({"1."})),
}


class ProfileError(ValueError):
    """An unknown profile name; the message is Chinese and lists the known ones."""


def get_profile(name: str) -> Profile:
    """The profile called `name`. Raises ProfileError listing the known names."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ProfileError(f"没有名为“{name}”的模板；可用：{'、'.join(PROFILES)}") from None


def detect_profile(paragraphs: list[str]) -> Profile:
    """The first profile whose signature appears in the document's opening, else `general`."""
    head = "\n".join(paragraphs[:60])
    for profile in PROFILES.values():
        if profile.signature is not None and profile.signature.search(head):
            return profile
    return PROFILES["general"]
