"""Word's automatic numbering rendered as Word shows it (issue 13, finding F8).

A paragraph numbered by Word (a list: 一、 （一） 1. typed by Word, not by the author) holds
no number in its text: python-docx's `paragraph.text` of a 序号 cell is empty and a text
plan's 一、 heading loses its 一、. The number lives in the paragraph's numbering
properties (`w:numPr`: a numbering instance `numId` and a level `ilvl`, on the paragraph or
on its style) and the numbering part's definitions (`w:abstractNum` levels: `w:start`,
`w:numFmt`, `w:lvlText` such as "（%1）" or "%1.%2", `w:lvlRestart`, `w:isLgl`, `w:suff`;
`w:num` instances with `w:lvlOverride`/`w:startOverride`).

`numbering_labels` walks the body's paragraphs in document order (tables included, as
Word counts them) and gives each numbered paragraph its label with the space Word puts
after it. Rule source: ECMA-376 Part 1, §17.9 (Numbering); instances of one abstract
definition continue one count (as Word does) unless an instance overrides a level's start.
A level whose format this module cannot write (a custom format, 序数词 text, a numbering
instance the part does not define) is returned as `Unrendered` with the reason: the caller
refuses that paragraph or cell rather than invent a number. Bullets are not numbers and get
no label.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml.ns import qn

LEVELS = 9  # Word's levels 0…8
_DIGITS = "零一二三四五六七八九"
_LEGAL = "零壹贰叁肆伍陆柒捌玖"
_STEMS = "甲乙丙丁戊己庚辛壬癸"
_BRANCHES = "子丑寅卯辰巳午未申酉戌亥"
_ROMAN = ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
          (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"))


@dataclass(frozen=True)
class Unrendered:
    """A numbered paragraph whose number cannot be written: `reason` says why (Chinese)."""

    reason: str


@dataclass
class _Level:
    start: int = 1
    fmt: str = "decimal"
    text: str | None = None  # lvlText; None: the level shows nothing
    restart: int | None = None  # lvlRestart (None: after any shallower level)
    legal: bool = False  # isLgl: every number in decimal
    suffix: str = "tab"  # suff: tab, space, nothing
    custom: bool = False  # numFmt with w:format (a custom format such as 001, 002)
    style: str | None = None  # pStyle: the paragraph style this level belongs to


@dataclass
class _Instance:
    abstract: str
    levels: dict[int, _Level]
    starts: dict[int, int] = field(default_factory=dict)  # startOverride by level


def _val(element: Any, tag: str) -> str | None:
    child = element.find(qn(tag)) if element is not None else None
    return child.get(qn("w:val")) if child is not None else None


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


def _level(lvl: Any) -> _Level:
    fmt_el = lvl.find(qn("w:numFmt"))
    text_el = lvl.find(qn("w:lvlText"))
    restart = _val(lvl, "w:lvlRestart")
    return _Level(
        start=_int(_val(lvl, "w:start"), 1),
        fmt=(fmt_el.get(qn("w:val")) if fmt_el is not None else None) or "decimal",
        text=text_el.get(qn("w:val")) if text_el is not None else None,
        restart=_int(restart, 0) if restart is not None else None,
        legal=lvl.find(qn("w:isLgl")) is not None
        and lvl.find(qn("w:isLgl")).get(qn("w:val"), "1") not in ("0", "false", "off"),
        suffix=_val(lvl, "w:suff") or "tab",
        custom=fmt_el is not None and fmt_el.get(qn("w:format")) is not None,
        style=_val(lvl, "w:pStyle"))


def _definitions(numbering: Any, styles: Any) -> dict[str, _Instance]:
    """Each numbering instance (numId) with its levels: the abstract definition's, the
    instance's own level overrides on top; a definition that only links to a numbering
    style (numStyleLink) takes that style's definition."""
    abstracts: dict[str, Any] = {a.get(qn("w:abstractNumId")): a
                                 for a in numbering.iterfind(qn("w:abstractNum"))}
    nums = {n.get(qn("w:numId")): n for n in numbering.iterfind(qn("w:num"))}

    def resolved(abstract_id: str, depth: int = 0) -> Any:
        element = abstracts.get(abstract_id)
        link = _val(element, "w:numStyleLink")
        if element is None or link is None or depth > 3:
            return element
        style_num = _style_numbering(styles, link)[0] if styles is not None else None
        num = nums.get(style_num or "")
        target = _val(num, "w:abstractNumId") if num is not None else None
        return resolved(target, depth + 1) if target else element

    out: dict[str, _Instance] = {}
    for num_id, num in nums.items():
        abstract_id = _val(num, "w:abstractNumId") or ""
        abstract = resolved(abstract_id)
        if abstract is None:
            continue
        levels = {_int(lvl.get(qn("w:ilvl")), 0): _level(lvl)
                  for lvl in abstract.iterfind(qn("w:lvl"))}
        instance = _Instance(abstract.get(qn("w:abstractNumId")) or abstract_id, levels)
        for override in num.iterfind(qn("w:lvlOverride")):
            ilvl = _int(override.get(qn("w:ilvl")), 0)
            lvl = override.find(qn("w:lvl"))
            if lvl is not None:
                instance.levels[ilvl] = _level(lvl)
            start = _val(override, "w:startOverride")
            if start is not None:
                instance.starts[ilvl] = _int(start, 1)
        out[num_id] = instance
    return out


def _style_numbering(styles: Any, style_id: str) -> tuple[str | None, int | None]:
    """(numId, ilvl) a paragraph style gives, following its basedOn chain."""
    seen: set[str] = set()
    current: str | None = style_id
    while current and current not in seen and styles is not None:
        seen.add(current)
        style = next((s for s in styles.iterfind(qn("w:style"))
                      if s.get(qn("w:styleId")) == current), None)
        if style is None:
            break
        num_pr = style.find(f"{qn('w:pPr')}/{qn('w:numPr')}")
        if num_pr is not None:
            ilvl = _val(num_pr, "w:ilvl")
            return _val(num_pr, "w:numId"), int(ilvl) if ilvl and ilvl.isdigit() else None
        current = _val(style, "w:basedOn")
    return None, None


def _default_style(styles: Any) -> str | None:
    if styles is None:
        return None
    for s in styles.iterfind(qn("w:style")):
        if s.get(qn("w:type")) == "paragraph" and s.get(qn("w:default")) in ("1", "true", "on"):
            return s.get(qn("w:styleId"))
    return None


def chinese_counting(n: int) -> str:
    """1 → 一, 10 → 十, 21 → 二十一, 105 → 一百零五, 110 → 一百一十 (Word's chineseCounting).

    Numbers of 10000 or more are written in figures (no plan numbers its items so far)."""
    if n <= 0 or n >= 10000:
        return str(n)
    if n < 10:
        return _DIGITS[n]
    if n < 20:
        return "十" + (_DIGITS[n - 10] if n > 10 else "")
    out = ""
    zero = False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit = n // value % 10
        if digit:
            out += ("零" if zero and out else "") + _DIGITS[digit] + unit
            zero = False
        elif out:
            zero = True
    return out


def _roman(n: int) -> str:
    out = ""
    for value, letters in _ROMAN:
        while n >= value:
            out, n = out + letters, n - value
    return out


def _format(n: int, fmt: str) -> str | None:
    """`n` written in Word's number format `fmt`; None for a format not written here."""
    if fmt in ("decimal", "decimalHalfWidth") or n <= 0:
        return str(n)
    if fmt == "decimalZero":
        return f"{n:02d}"
    if fmt in ("decimalFullWidth", "decimalFullWidth2"):
        return str(n).translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    if fmt in ("decimalEnclosedCircle", "decimalEnclosedCircleChinese"):
        return chr(0x2460 + n - 1) if n <= 20 else str(n)
    if fmt == "decimalEnclosedFullstop":
        return chr(0x2488 + n - 1) if n <= 20 else str(n)
    if fmt == "decimalEnclosedParen":
        return chr(0x2474 + n - 1) if n <= 20 else str(n)
    if fmt in ("chineseCounting", "chineseCountingThousand", "japaneseCounting",
               "taiwaneseCounting", "taiwaneseCountingThousand"):
        return chinese_counting(n)
    if fmt == "chineseLegalSimplified":
        return chinese_counting(n).translate(str.maketrans(_DIGITS + "十百千", _LEGAL + "拾佰仟"))
    if fmt == "ideographTraditional":
        return _STEMS[(n - 1) % 10]
    if fmt == "ideographZodiac":
        return _BRANCHES[(n - 1) % 12]
    if fmt in ("upperLetter", "lowerLetter"):
        letter = chr(ord("A") + (n - 1) % 26) * ((n - 1) // 26 + 1)
        return letter if fmt == "upperLetter" else letter.lower()
    if fmt in ("upperRoman", "lowerRoman"):
        return _roman(n) if fmt == "upperRoman" else _roman(n).lower()
    return None


_FORMAT_NAMES = {"ordinal": "序数（1st）", "cardinalText": "英文数词", "ordinalText": "英文序数词",
                 "hex": "十六进制", "chicago": "芝加哥脚注符号"}


def numbering_labels(document: Any) -> dict[Any, str | Unrendered]:
    """The label of every automatically numbered paragraph of `document` (a python-docx
    Document): paragraph element (`paragraph._p`, the same object python-docx hands out
    while this dict holds it) -> the number as Word shows it followed by the space Word
    puts after it ("一、", "（三）", "2.1 "), or `Unrendered` with the reason. Paragraphs
    without numbering, with numbering removed (numId 0) or with bullets are absent.

    Counts run in document order over the body, tables included; text boxes are skipped
    (python-docx does not read them either). Raises nothing: a broken numbering part
    makes its paragraphs `Unrendered`.
    """
    try:
        numbering = document.part.part_related_by(RT.NUMBERING).element
    except KeyError:
        numbering = None
    styles = document.part.styles.element if document.part is not None else None
    instances = _definitions(numbering, styles) if numbering is not None else {}
    default_style = _default_style(styles)
    by_style: dict[str, tuple[str | None, int | None]] = {}
    counters: dict[str, list[int | None]] = {}
    started: set[str] = set()
    labels: dict[Any, str | Unrendered] = {}
    box = qn("w:txbxContent")
    for p in document.element.body.iter(qn("w:p")):
        if any(a.tag == box for a in p.iterancestors()):
            continue
        p_pr = p.find(qn("w:pPr"))
        num_pr = p_pr.find(qn("w:numPr")) if p_pr is not None else None
        style_id = _val(p_pr, "w:pStyle") or default_style
        num_id, ilvl = _val(num_pr, "w:numId"), _val(num_pr, "w:ilvl")
        if num_id is None or ilvl is None:
            if style_id and style_id not in by_style:
                by_style[style_id] = _style_numbering(styles, style_id)
            style_num, style_lvl = by_style[style_id] if style_id else (None, None)
            num_id = num_id or style_num
            if ilvl is None:
                ilvl = str(style_lvl) if style_lvl is not None else None
        if num_id is None or num_id == "0":
            continue
        instance = instances.get(num_id)
        if instance is None:
            labels[p] = Unrendered(f"编号定义（numId {num_id}）在文档中缺失")
            continue
        level_no = _int(ilvl, 0) if ilvl is not None else next(
            (k for k, lv in sorted(instance.levels.items()) if style_id and lv.style == style_id),
            0)
        level_no = min(max(level_no, 0), LEVELS - 1)
        level = instance.levels.get(level_no)
        if level is None:
            labels[p] = Unrendered(f"编号级别 {level_no + 1} 在文档中未定义")
            continue
        count = counters.setdefault(instance.abstract, [None] * LEVELS)
        if num_id not in started:
            started.add(num_id)
            for k, start in instance.starts.items():
                if 0 <= k < LEVELS:
                    count[k] = start - 1
        current = count[level_no]
        count[level_no] = current + 1 if current is not None else level.start
        for deeper in range(level_no + 1, LEVELS):
            lv = instance.levels.get(deeper)
            restart = lv.restart if lv is not None else None
            if restart is None or (restart != 0 and level_no < restart):
                count[deeper] = None
        if level.fmt == "bullet" or level.text is None:
            continue
        label = _render(instance, level, count)
        if isinstance(label, Unrendered):
            labels[p] = label
        elif label:
            labels[p] = label + ("" if level.suffix == "nothing" else " ")
    return labels


def _render(instance: _Instance, level: _Level, count: list[int | None]) -> str | Unrendered:
    """`level`'s lvlText with each %k replaced by level k's count in its format."""
    problem: list[str] = []

    def number(match: re.Match[str]) -> str:
        k = int(match[1]) - 1
        lv = instance.levels.get(k, _Level())
        value = count[k] if 0 <= k < LEVELS and count[k] is not None else lv.start
        assert value is not None
        fmt = "decimal" if level.legal and lv.fmt not in ("decimalZero",) else lv.fmt
        written = None if lv.custom else _format(value, fmt)
        if written is None:
            problem.append(_FORMAT_NAMES.get(fmt, fmt))
            return ""
        return written

    text = re.sub(r"%([1-9])", number, level.text or "")
    if problem:
        return Unrendered(f"编号格式“{problem[0]}”")
    return text
