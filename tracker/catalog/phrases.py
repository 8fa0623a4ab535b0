"""How documents name who is responsible, read into agencies, districts and flags.

A responsibility clause lists agencies separated by 、，；, where brackets may hold
separators of their own (各市、县（区）人民政府). 和, 及 and 以及 separate two agencies only
where the words before them end as an agency's name ends (`AGENCY_END`: …局, …委, …部,
…办, …厅, …政府, …委员会 …) and the words after them are a name or phrase of their own
(市民政局及市财政局, 团市委和市妇联); inside a name they never do (市人力资源和社会保障局,
文化和旅游部, 市国土资源和房屋管理局: 市人力资源 is no agency), nor does 及其
(各级人民政府及其有关部门). Three kinds of phrase are not agencies:
- district phrases (各区县人民政府, 各区人民政府, 各区、县级市, 各市、县（区）人民政府,
  各县（市、区）人民政府, 各街道, 各省级人民政府 …): every district government of the plan
  shares the task (`districts` "all"); 有关区 / 相关区人民政府 leaves the choice to the
  office (`districts` "some", flagged);
- generic phrases (各有关部门和单位, 有关部门, 相关单位, 各地 …): flagged for the office
  to resolve, never made into agencies;
- a trailing 等 / 等有关部门 / 等单位 after a name: the name is kept, the tail is flagged.
A name marked （牵头） (市财政局、市民政局（牵头）) is kept without the mark and recorded as
the lead the document names (`Named.marked_lead`), whatever its place in the list.
Rule source: the published forms of State Council, municipal and district documents
(issue 13); the office resolves every flag before the task is tracked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

Districts = Literal["all", "some", "none"]

_OPEN, _CLOSE = "（(〔[", "）)〕]"
_SEPARATORS = "、，,；;"
DISTRICT_PHRASE = re.compile(
    r"^各(?:区县|区|县|区、县|区、县级市|县级市|市、县（区）|市、县\(区\)|市县（区）|县（市、区）"
    r"|县\(市、区\)|县（区）|县\(区\)|市、区|市（州）|省、自治区、直辖市|省级|省（区、市）"
    r"|省\(区、市\)|乡镇|乡镇（街道）|街道|街道办事处|镇街)"
    r"(?:人民政府|政府|党委和政府|办事处)?$")
SOME_DISTRICTS = re.compile(
    r"^(?:各有关|各相关|有关|相关|涉及的)(?:区县?|县区|区、县|省级|省|省（区、市）|省\(区、市\)|市、县（区）"
    r"|县（市、区）)(?:人民政府|政府)?$")
GENERIC = re.compile(
    r"^(?:各|其他|其它)?(?:有关|相关)?(?:部门|单位|部门和单位|部门、单位|方面|机构|企业)$"
    r"|^各(?:地|地区|部门|单位|级|级政府|有关方面)$|^(?:有关|相关)(?:部门|单位|方面|机构)"
    r"(?:和单位|按职责分工)?$")
# district phrases whose own 、 is not a separator
_JOINED = re.compile(r"各(?:市、县[（(]区[)）]|区、县级市|区、县|市、区|省、自治区、直辖市)")
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
_TAIL = re.compile(r"^(?P<name>.+?)(?P<tail>等(?:有关|相关)?(?:部门|单位|部门和单位|方面)?)$")


@dataclass
class Named:
    """A clause read: agencies in the order written (the lead first where the document's
    rule is 列第一位者为牵头单位), the districts rule, and the phrases flagged."""

    names: list[str] = field(default_factory=list)
    districts: Districts = "none"
    flags: list[tuple[str, str]] = field(default_factory=list)  # (phrase, reason in Chinese)
    district_phrases: list[str] = field(default_factory=list)  # as written (各省级人民政府)
    marked_lead: str | None = None  # the name written with （牵头） after it


def split_clause(text: str) -> list[str]:
    """The parts of a clause, split at 、，,；; outside brackets (and at a 和 that joins a
    phrase starting with 各), stripped of spaces and a final 。; empty parts dropped."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    text = _JOINED.sub(lambda m: m.group(0).replace("、", _KEEP), text)
    text = _AND_EACH.sub("、", text)
    for ch in text.strip().rstrip("。."):
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE and depth:
            depth -= 1
        if ch in _SEPARATORS and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    cleaned = [p.replace(_KEEP, "、") for p in (re.sub(r"\s+", "", p) for p in parts) if p]
    return [name for p in cleaned for name in _split_joined(p)]


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


def read_agencies(text: str) -> Named:
    """Read a clause such as "市人力社保局、市财政局等有关部门，各区人民政府"."""
    out = Named()
    for part in split_clause(text):
        if (m := _LEAD_MARK.match(part)) and out.marked_lead is None:
            part = out.marked_lead = m["name"]
        if DISTRICT_PHRASE.match(part):
            out.districts = "all"
            out.district_phrases.append(part)
        elif SOME_DISTRICTS.match(part):
            out.district_phrases.append(part)
            if out.districts != "all":
                out.districts = "some"
            out.flags.append((part, "未指明具体区县，请督查室选定承担的区县"))
        elif GENERIC.match(part):
            out.flags.append((part, "泛指有关单位，请督查室确定具体单位"))
        elif (m := _TAIL.match(part)) and not part.endswith("等级"):
            name = m["name"]
            if name not in out.names:
                out.names.append(name)
            out.flags.append((m["tail"], f"“{name}”后的“{m['tail']}”泛指其他单位，请督查室确定是否增列"))
        elif part not in out.names:
            out.names.append(part)
    return out
