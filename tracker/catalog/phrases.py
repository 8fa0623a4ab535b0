"""How documents name who is responsible, read into agencies, districts and flags.

A responsibility clause lists agencies separated by 、，；, where brackets may hold
separators of their own (各市、县（区）人民政府). 和, 及 and 以及 separate two agencies only
where the words before them end as an agency's name ends (`AGENCY_END`: …局, …委, …部,
…办, …厅, …政府, …委员会 …) and the words after them are a name or phrase of their own
(市民政局及市财政局, 团市委和市妇联); inside a name they never do (市人力资源和社会保障局,
文化和旅游部, 市国土资源和房屋管理局: 市人力资源 is no agency), nor does 及其
(各级人民政府及其有关部门). A space between two words that each read as a name (a
cell's 区卫健局　区妇联) separates them; inside a name (市 民政局) it does not.

A name starting with 各, or containing 有关, 相关, 成员单位 or 各级 (or 各部门, 各委…: 市政府各部门,
区委各部委办), is never an agency (rule of issue 13). It is one of:
- a district phrase: 各 and the words of the plan's district level, then the government
  (`DISTRICT_PHRASE`: 各区县人民政府, 各区人民政府, 各区、县级市, 各市、县、自治县人民政府,
  各县（市）、区人民政府, 各区（市）县政府（管委会）, 各镇（街道）, 各省级人民政府 …, in any
  punctuation of 、，（）): every district government of the plan shares the task
  (`districts` "all"), never split into pieces. When the plan's districts are known and
  the phrase names another level (各镇（街道） in a plan whose districts are 市 and 县),
  it is flagged for the office instead;
- 有关区 / 相关区人民政府 / 各有关省级人民政府 (`SOME_DISTRICTS`): the office picks the
  districts (`districts` "some", flagged);
- a generic phrase (各有关部门和单位, 市有关部门, 省直有关部门, 各成员单位, 各级人民政府,
  国务院有关部门, 各地, 等有关部门 …): flagged for the office to resolve, never made an agency;
- a trailing 等 / 等有关部门 / 等10个部门 after a name: the name is kept, the tail flagged.
A name marked （牵头） (市财政局、市民政局（牵头）) is kept without the mark and recorded as
the lead the document names (`Named.marked_lead`), whatever its place in the list. A
trailing duty verb (市财政局按职责分工负责, 市发展改革委牵头) is not part of the name.
Names are written one way before the directory sees them (`normal_name`: half-width
brackets as full-width, no spaces), and a name is a district of the plan written with or
without 人民政府 / 政府 (`match_district`: 三沙市人民政府 is the district 三沙市).
Rule source: the published forms of State Council, provincial, municipal and district
documents (issue 13); the office resolves every flag before the task is tracked.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from tracker.catalog.schema import Flag

Districts = Literal["all", "some", "none"]

_OPEN, _CLOSE = "（(〔[", "）)〕]"
_SEPARATORS = "、，,；;"
_SPACE = re.compile(r"[\s\u3000\u00a0\ufeff]+")
# the levels a district phrase names (longer words first) and the government it ends with
_LEVEL = ("自治区|直辖市|省级|省|自治州|州|盟|设区市|县级市|市|自治县|县级|县|自治旗|旗|新区|开发区"
          "|功能区|园区|地区|区|乡镇|民族乡|乡|镇|街道|街镇|镇街")
_GOVERNMENT = "人民政府|政府|党委和政府|党委政府|党委|党工委|办事处|管委会|管理委员会"
_MARKS = r"[、，,（）()\s]*"
_LEVELS_THEN_GOVERNMENT = rf"{_MARKS}(?:(?:{_LEVEL}){_MARKS})+(?:(?:{_GOVERNMENT}){_MARKS})*$"
# 各 and levels, then the government: every district of the plan (各地区 alone is generic)
DISTRICT_PHRASE = re.compile(rf"^各(?!地区$){_LEVELS_THEN_GOVERNMENT}")
SOME_DISTRICTS = re.compile(rf"^(?:各有关|各相关|有关|相关|涉及的?){_LEVELS_THEN_GOVERNMENT}")
GENERIC = re.compile(
    r"^(?:各|其他|其它)?(?:有关|相关)?(?:部门|单位|部门和单位|部门、单位|方面|机构|企业)$"
    r"|^各(?:地|地区|部门|单位|级|级政府|有关方面)$|^(?:有关|相关)(?:部门|单位|方面|机构)"
    r"(?:和单位|按职责分工)?$")
# what makes a part never an agency (rule of issue 13)
_NEVER_AGENCY = re.compile(r"^各|^等|有关|相关|成员单位|各级|各(?:部门|单位|委|部委|直属|人民团体)")
_KEEP = "\u0001"
# 和 joins two parts when a district or generic phrase follows it (…等和各省级人民政府);
# inside names (市人力资源和社会保障局, 文化和旅游部) it is never followed by 各
_AND_EACH = re.compile(r"和(?=各)")
# how an agency's name ends (the usual names of Chinese public bodies)
AGENCY_END = re.compile(
    r"(?:局|委|厅|部|办|署|院|政府|委员会|联合会|工会|商会|协会|总会|银行|分行|支行|中心|公司|集团"
    r"|残联|妇联|侨联|文联|科协|工商联|团[省市区县]?委|督查室|办公室|总队|支队|大队|海关|法院)$")
# 和 / 及 / 以及 between two names (not 及其, 及以上, 及时)
_JOIN = re.compile(r"以及|和|及(?![其以时])")
_LEAD_MARK = re.compile(r"^(?P<name>.+?)[（(]牵头(?:单位|部门)?[）)]$")
_TAIL = re.compile(r"^(?P<name>.+?)(?P<tail>等(?:\d+|[一二三四五六七八九十两]+)?个?(?:有关|相关)?"
                   r"(?:部门|单位|部门和单位|方面|成员单位)?)$")
# a duty written after the names (市财政局、市民政局按职责分工负责): not part of a name
_DUTY = re.compile(r"(?:(?:按职责分工|按职责|分工|分别|共同|牵头)?负责|牵头|配合|参与|协助)$")
_GOVERNMENT_SUFFIX = re.compile(r"(?:人民政府|政府)$")
GENERIC_REASON = "泛指有关单位，请督查室确定具体单位"
SOME_REASON = "未指明具体区县，请督查室选定承担的区县"


@dataclass
class Named:
    """A clause read: agencies in the order written (the lead first where the document's
    rule is 列第一位者为牵头单位), the districts rule, and the phrases flagged."""

    names: list[str] = field(default_factory=list)
    districts: Districts = "none"
    flags: list[tuple[str, str]] = field(default_factory=list)  # (phrase, reason in Chinese)
    district_phrases: list[str] = field(default_factory=list)  # as written (各省级人民政府)
    marked_lead: str | None = None  # the name written with （牵头） after it


def normal_name(name: str) -> str:
    """A name as the directory compares it: half-width brackets written full-width
    (市住房城乡建设局(市人防办) is 市住房城乡建设局（市人防办）), no spaces."""
    return _SPACE.sub("", name).replace("(", "（").replace(")", "）")


def split_clause(text: str) -> list[str]:
    """The parts of a clause, split at 、，,；; outside brackets (and at a 和 that joins a
    phrase starting with 各), never inside a district or generic phrase (各市、县、自治县人民政府,
    有关部门、单位); a space splits two words that each read as a name. Parts are
    `normal_name`d and stripped of a final 。; empty parts dropped."""
    pieces = _protect(_AND_EACH.sub("、", text.strip().rstrip("。.")))
    parts = [p for piece in pieces for p in _split_spaces(piece)]
    cleaned = [normal_name(p.replace(_KEEP, "、")) for p in parts]
    return [name for p in cleaned if p for name in _split_joined(p)]


def _top_pieces(text: str) -> list[tuple[str, str]]:
    """(piece, the separator after it) at bracket depth 0; the last separator is ""."""
    out: list[tuple[str, str]] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE and depth:
            depth -= 1
        if ch in _SEPARATORS and depth == 0:
            out.append(("".join(current), ch))
            current = []
        else:
            current.append(ch)
    out.append(("".join(current), ""))
    return out


def _one_phrase(text: str) -> bool:
    t = _SPACE.sub("", text)
    return bool(DISTRICT_PHRASE.match(t) or SOME_DISTRICTS.match(t) or GENERIC.match(t))


def _protect(text: str) -> list[str]:
    """The pieces of `text` split at its separators, where a run of pieces joined by 、
    that reads as one district or generic phrase stays one piece (the longest such run)."""
    pieces = _top_pieces(text)
    out: list[str] = []
    i = 0
    while i < len(pieces):
        end = i
        if _NEVER_AGENCY.search(pieces[i][0].strip()):
            j = i
            while j + 1 < len(pieces) and pieces[j][1] == "、":
                j += 1
                if _one_phrase("、".join(p for p, _ in pieces[i:j + 1])):
                    end = j
        out.append(_KEEP.join(p for p, _ in pieces[i:end + 1]))
        i = end + 1
    return out


def _reads_as_name(word: str) -> bool:
    """Whether a word between spaces is a name of its own (an agency's ending, or a
    district or generic phrase), a trailing 等 or a （牵头） after it aside."""
    if m := _LEAD_MARK.match(word):
        word = m["name"]
    if m := _TAIL.match(word):
        word = m["name"]
    return (len(word) >= 3 and bool(AGENCY_END.search(word))) or _one_phrase(word)


# where a word ends inside a sentence: punctuation, brackets, a space
_WORD_EDGE = re.compile(r"[\s\u3000\u00a0\ufeff，、：；。,;:！？!?（）()【】\[\]《》“”\"']")


def names_apart(before: str, after: str) -> bool:
    """Whether a space between `before` and `after` (the text on either side of it in a
    sentence) parts two names (…责任单位：市人力社保局 市财政局 市残联）, so that it is kept
    when layout spaces are taken out (`text.clean`); a space inside a word (残 疾人) is not.
    The word before is read back to the last punctuation (a （牵头） after a name set
    aside), the word after up to the next one (a duty after it, 配合/负责, set aside); both
    must read as names (`_reads_as_name`, the rule `_split_spaces` splits by)."""
    m = _LEAD_MARK.match(before.rstrip())
    left = _WORD_EDGE.split(m["name"] if m else before.rstrip())[-1]
    right = _WORD_EDGE.split(after.lstrip(), maxsplit=1)[0]
    right = _DUTY.sub("", right)
    return bool(left) and bool(right) and _reads_as_name(left) and _reads_as_name(right)


def _split_spaces(piece: str) -> list[str]:
    """`区卫健局　区妇联` → the two names; `市 民政局` stays one (rule: both sides of the
    space read as names, `_reads_as_name`)."""
    words = [w for w in _SPACE.split(piece.strip()) if w]
    if not words:
        return []
    out = [words[0]]
    for word in words[1:]:
        if _reads_as_name(out[-1].replace(_KEEP, "")) and _reads_as_name(word):
            out.append(word)
        else:
            out[-1] += word
    return out


def _split_joined(part: str) -> list[str]:
    """`市民政局及市财政局` → the two names; a name with 和 inside stays whole (`phrases`
    docstring: the words before the 和 / 及 must end as an agency's name ends, and at least
    two characters must follow)."""
    out: list[str] = []
    start = 0
    for m in _JOIN.finditer(part):
        left, right = part[start:m.start()], part[m.end():]
        if (len(left) >= 3 and AGENCY_END.search(left) and len(right) >= 2
                and not _inside_brackets(part, m.start())):
            out.append(left)
            start = m.end()
    out.append(part[start:])
    return [p for p in out if p]


def _inside_brackets(text: str, at: int) -> bool:
    depth = 0
    for ch in text[:at]:
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE and depth:
            depth -= 1
    return depth > 0


# a level word as the level it names (省级, 自治区 and 直辖市 are provinces' …)
_LEVEL_OF = {"自治区": "省", "直辖市": "省", "省级": "省", "省": "省", "自治州": "州", "州": "州",
             "盟": "州", "设区市": "市", "县级市": "市", "市": "市", "自治县": "县", "县级": "县",
             "县": "县", "自治旗": "县", "旗": "县", "新区": "区", "开发区": "开发区",
             "功能区": "开发区", "园区": "开发区", "地区": "地区", "区": "区", "乡镇": "乡镇",
             "民族乡": "乡镇", "乡": "乡镇", "镇": "乡镇", "街道": "街道", "街镇": "街道",
             "镇街": "街道"}
_DISTRICT_LEVEL = re.compile(rf"({_LEVEL})(?:{_GOVERNMENT})?$")


def _phrase_levels(phrase: str) -> set[str]:
    words = re.findall(_LEVEL, re.sub(rf"^各|{_GOVERNMENT}", "", phrase))
    levels = {_LEVEL_OF[w] for w in words}
    if "省" in levels:
        levels.add("市")  # a province-level list has 直辖市 (北京市) beside 省
    if "镇街" in words or "街镇" in words:
        levels.add("乡镇")
    return levels


def _district_level(name: str) -> str | None:
    m = _DISTRICT_LEVEL.search(name)
    return _LEVEL_OF[m[1]] if m else None


def _other_level(phrase: str, districts: Sequence[str]) -> bool:
    """Whether a district phrase names a level none of the plan's districts is at (各镇
    in a plan of 市 and 县); False when the districts' levels cannot be told."""
    levels = {lv for d in districts if (lv := _district_level(d)) is not None}
    return bool(levels) and not levels & _phrase_levels(phrase)


def match_district(name: str, districts: Sequence[str]) -> str | None:
    """The plan's district `name` is, written with or without 人民政府 / 政府 on either side
    (三沙市人民政府 is 三沙市; 市南区 is 市南区人民政府); None when it is none of them."""
    if name in districts:
        return name
    stem = _GOVERNMENT_SUFFIX.sub("", name)
    if len(stem) < 2:
        return None
    return next((d for d in districts if _GOVERNMENT_SUFFIX.sub("", d) == stem), None)


def read_agencies(text: str, districts: Sequence[str] = ()) -> Named:
    """Read a clause such as "市人力社保局、市财政局等有关部门，各区人民政府".

    `districts`: the plan's district governments (`PlanInfo.districts`), when known: a
    district phrase of another level than theirs is flagged rather than read as all of
    them (module docstring). Rule source: issue 13 and the published forms named above.
    """
    out = Named()
    for part in split_clause(text):
        if (m := _DUTY.search(part)) and m.start() > 0:
            part = part[:m.start()]
        if (m := _LEAD_MARK.match(part)) and out.marked_lead is None:
            part = out.marked_lead = m["name"]
        _read_part(part, districts, out)
    return out


def _read_part(part: str, districts: Sequence[str], out: Named) -> None:
    if DISTRICT_PHRASE.match(part):
        out.district_phrases.append(part)
        if _other_level(part, districts):
            out.flags.append((part, "所指层级与本规划的区县名单不同，未按全部区县承担；"
                                    "请督查室确定承担单位"))
        else:
            out.districts = "all"
    elif SOME_DISTRICTS.match(part):
        out.district_phrases.append(part)
        if out.districts != "all":
            out.districts = "some"
        out.flags.append((part, SOME_REASON))
    elif (m := _TAIL.match(part)) and not part.endswith("等级") and not part.startswith("等"):
        name = m["name"]
        if _NEVER_AGENCY.search(name) or GENERIC.match(name):
            out.flags.append((part, GENERIC_REASON))
            return
        if name not in out.names:
            out.names.append(name)
        out.flags.append((m["tail"], f"“{name}”后的“{m['tail']}”泛指其他单位，请督查室确定是否增列"))
    elif GENERIC.match(part) or _NEVER_AGENCY.search(part):
        out.flags.append((part, GENERIC_REASON))
    elif part not in out.names:
        out.names.append(part)


def flag_field(phrase: str) -> Literal["districts"] | None:
    """"districts" for a flagged phrase about districts (有关区人民政府, 各镇（街道）), else
    None (the caller's field: lead or co)."""
    return "districts" if SOME_DISTRICTS.match(phrase) or DISTRICT_PHRASE.match(phrase) else None


def second_lead_flag(phrase: str, lead: str) -> Flag:
    """The flag on a lead group that names several agencies as 牵头 (牵头单位：A、B;
    A、B牵头; a table's 牵头单位 cell with two names): the first leads, the others are
    co-responsible until the office says otherwise. One wording for the text and table
    importers (issue 13); `phrase` is the group as written."""
    return Flag(field="lead", phrase=phrase,
                reason=f"牵头单位写有多个单位，以第一个“{lead}”为牵头单位，其余列为配合单位；"
                       "如有不同请修改")
