"""Responsibility clauses as documents write them, split into lead and co groups (issue 13).

Forms read, at the end of a paragraph in brackets or on a line of their own after the item:
    （责任单位：A、B，各区县人民政府）      the first listed leads
    （责任部门：A、B）
    （牵头单位：A；配合单位：B、C）        by label; 牵头部门/参与单位/协办单位 likewise
    （A、B负责）  （A、B等负责。列第一位者为牵头单位，下同）
    （A负责，B、C参与）  （A牵头，B配合）  （A会同有关部门负责）  （A、B牵头负责）
    （A负责，各区人民政府落实）          落实 / 组织实施 / 指导 close a co group
    （A主责，B配合）
    （A负责，2019年底前完成）  （A负责，持续推进）   a time limit inside the clause
    （责任单位：A；完成时限：2019年6月底前；分管领导：…）
    （A、B，各区人民政府）     names only, each ending as an agency's name ends
                               (`phrases.AGENCY_END`) or a district phrase: the first leads
    牵头单位：A      配合单位：B、C      责任单位：A、B      (own lines)
The lead is the first agency of the lead group (列第一位者为牵头单位, whether the document
states it or not); the rest of the lead group and the co group are co-responsible. A lead
group named as 牵头 (牵头单位：A、B; A、B牵头) that lists several agencies is flagged by the
caller (`Clause.lead_named`, `phrases.second_lead_flag`); a 责任单位 group or 负责 is not.
A part of the clause that is a time limit (`deadlines.DEADLINE_START`: 2019年底前完成,
6月底前, 持续推进, 长期坚持, 每季度末, 3个工作日以内, 及时) is the measure's 完成时限, never an
agency. Who the names are (agencies, district phrases, generic phrases) is
`phrases.read_agencies`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tracker.catalog.deadlines import DEADLINE_START
from tracker.catalog.phrases import AGENCY_END, DISTRICT_PHRASE, split_clause

_OPEN, _CLOSE = "（(", "）)"
LEAD_LABELS = ("牵头单位", "牵头部门", "责任单位", "责任部门", "主办单位", "主责单位", "承办单位")
NAMED_LEAD_LABELS = ("牵头单位", "牵头部门")  # a lead group named as 牵头, not 责任
CO_LABELS = ("配合单位", "配合部门", "参与单位", "参与部门", "协办单位", "协助单位", "协同单位")
DEADLINE_LABELS = ("完成时限", "完成时间", "时间节点", "时限要求")
LEADER_LABELS = ("分管领导", "分管市领导", "分管区领导", "分管县领导", "责任领导")
LABEL = re.compile("(" + "|".join(LEAD_LABELS + CO_LABELS + DEADLINE_LABELS + LEADER_LABELS)
                   + r")\s*[:：]")
OWN_LINE_LABEL = re.compile(
    r"^(" + "|".join(LEAD_LABELS + CO_LABELS + DEADLINE_LABELS + LEADER_LABELS)
    + r")\s*[:：]\s*(.*)$")
# the document's own lead rule, stated once (…列第一位者为牵头单位，下同)
LEAD_RULE = re.compile(r"(?:列|排)在?(?:第一|首)位(?:者|的)?(?:单位|部门)?(?:为|是)牵头(?:单位|部门)")
_RULE_PHRASE = re.compile(r"[，,；;。．]?\s*(?:" + LEAD_RULE.pattern + r"|下同)")
_VERB = re.compile(r"(牵头负责|分别负责|按职责分工负责|按职责负责|分工负责|共同负责|负责落实|负责"
                   r"|牵头|主责|主办|参与|配合|协助|协同|协办|配合落实|配合实施|参与实施|具体落实"
                   r"|抓好落实|组织落实|贯彻落实|落实|组织实施|具体实施|指导|业务指导|督促指导)$")
_CO_VERBS = {"参与", "配合", "协助", "协同", "协办", "配合落实", "配合实施", "参与实施", "具体落实",
             "抓好落实", "组织落实", "贯彻落实", "落实", "组织实施", "具体实施", "指导", "业务指导",
             "督促指导"}
# verbs that make bracketed text a clause on their own; 落实 / 组织实施 close a co group
# only in a clause that has one of these (…（确保政策落实） is the measure's own text)
_CLAUSE_VERB = re.compile(r"(负责|牵头|主责|主办|参与|配合|协助|协同|协办)$")
_TOGETHER = re.compile(r"会同")
_NAMED_LEAD_VERBS = {"牵头", "牵头负责"}


class ClauseError(ValueError):
    """A clause that cannot be read; the message is Chinese (the caller adds the line)."""


@dataclass
class Clause:
    """A clause split into what the lead group and the co group say (texts for
    `phrases.read_agencies`), as written; `states_rule`: it says 列第一位者为牵头单位."""

    lead: list[str] = field(default_factory=list)
    co: list[str] = field(default_factory=list)
    raw: str = ""
    states_rule: bool = False
    labelled: bool = False
    deadline: str | None = None  # a time limit written inside the clause, as written
    leader: str | None = None  # 分管领导 written inside the clause
    lead_named: bool = False  # the lead group is written as 牵头 (牵头单位：… / …牵头)


def _strip_rule(content: str) -> tuple[str, bool]:
    """The clause without the lead rule it states (…负责。列第一位者为牵头单位，下同)."""
    return _RULE_PHRASE.sub("", content), bool(LEAD_RULE.search(content))


def looks_like_clause(content: str) -> bool:
    """Whether bracketed text is a responsibility clause (a label, or ends with 负责/参与…)."""
    core, _ = _strip_rule(content)
    core = core.strip().rstrip("。；;，,")
    if LABEL.search(core):
        return True
    parts = [p for p in _top_level_split(core) if not DEADLINE_START.match(p)]
    return any(_CLAUSE_VERB.search(p) for p in parts) or names_only(core)


_NOT_NAMES = re.compile(r"^(?:以下简称|下称|简称|含|包括|即|如|见|详见|指|不含|其中)")


def names_only(content: str) -> bool:
    """Whether bracketed text is nothing but agency names and district phrases
    (（市发展改革委、市财政局，各区人民政府）), at least one of them an agency's; a time limit
    may follow (（市财政局，2019年底前））. Not （以下简称市残联） or （含市残联）."""
    parts = [p for p in _top_level_split(content) if not DEADLINE_START.match(p)]
    names = split_clause("、".join(parts))
    return (bool(names) and not _NOT_NAMES.match(content.strip())
            and any(AGENCY_END.search(n) for n in names)
            and all(AGENCY_END.search(n) or DISTRICT_PHRASE.match(n) for n in names))


def end_clause(text: str) -> tuple[str, str | None]:
    """Split a paragraph into (body, clause content) when it ends with a bracketed clause
    (nested brackets allowed: （各市、县（区）人民政府负责））; else (text, None).

    Raises ClauseError when the paragraph ends with a clause whose brackets do not pair.
    """
    t = text.rstrip().rstrip("。；;").rstrip()
    if t.endswith(tuple(_CLOSE)):
        depth = 0
        for i in range(len(t) - 1, -1, -1):
            if t[i] in _CLOSE:
                depth += 1
            elif t[i] in _OPEN:
                depth -= 1
                if depth == 0:
                    content = t[i + 1:-1]
                    if looks_like_clause(content):
                        return t[:i].rstrip(), content
                    return text, None
        opener = max(t.rfind("（"), t.rfind("("))
        if looks_like_clause(t[opener + 1:].rstrip(_CLOSE)):
            raise ClauseError(f"段末责任分工的括号不配对（多了右括号）：“{_tail(t)}”")
        return text, None
    opener = max(t.rfind("（"), t.rfind("("))
    if opener >= 0 and not any(c in _CLOSE for c in t[opener:]) and looks_like_clause(t[opener + 1:]):
        raise ClauseError(f"段末责任分工缺少右括号：“{_tail(t[opener:])}”")
    return text, None


def _tail(text: str) -> str:
    return text if len(text) <= 40 else "…" + text[-40:]


def read_clause(content: str) -> Clause:
    """`content` (inside the brackets, or after a label on its own line) as a Clause.

    Raises ClauseError when the clause names nothing, has text before its first label,
    or gives only 配合单位.
    """
    core, states_rule = _strip_rule(content)
    core = core.strip().rstrip("。；;，,")
    out = Clause(raw=content.strip(), states_rule=states_rule)
    if LABEL.search(core):
        out.labelled = True
        labels = split_labels(core)
        for label, part in labels:
            if label in DEADLINE_LABELS:
                out.deadline = part
            elif label in LEADER_LABELS:
                out.leader = part
        out.lead, out.co, out.lead_named = lead_and_co(labels)
    else:
        _read_verbs(core, out)
    if not out.lead and out.co:
        raise ClauseError(f"责任分工“{core}”只写了配合单位，未写明牵头（责任）单位")
    if not out.lead:
        raise ClauseError(f"责任分工“{core}”没有写明任何单位")
    return out


def lead_and_co(labels: list[tuple[str, str]]) -> tuple[list[str], list[str], bool]:
    """(lead texts, co texts, whether the lead is named as 牵头) of a clause's labelled
    parts [(label, text)], time limits and leaders left out. 配合单位 and the like are co;
    where 牵头单位 is written, a 责任单位 / 责任部门 beside it names the co-responsible
    (牵头单位：区市场监管局 / 责任单位：区政务服务局、区税务局, as district documents write it);
    alone, 责任单位 names the lead group (the first leads). Rule source: issue 13, the
    forms of published 任务分工方案."""
    named = any(label in NAMED_LEAD_LABELS for label, _ in labels)
    lead: list[str] = []
    co: list[str] = []
    for label, part in labels:
        if label in DEADLINE_LABELS or label in LEADER_LABELS:
            continue
        if label in CO_LABELS or (named and label not in NAMED_LEAD_LABELS):
            co.append(part)
        else:
            lead.append(part)
    return lead, co, named


def split_labels(text: str) -> list[tuple[str, str]]:
    """`牵头单位：A；配合单位：B、C；完成时限：2019年底前` as [(label, what follows it)], in
    order. Raises ClauseError when text comes before the first label or a label is
    followed by nothing."""
    core = text.strip().rstrip("。；;，,")
    labels = list(LABEL.finditer(core))
    before = core[: labels[0].start()].strip(" ；;，,") if labels else core
    if before:
        raise ClauseError(f"责任分工“{core}”中“{before}”不在任何标注（牵头单位：／配合单位：）之后")
    out: list[tuple[str, str]] = []
    for k, m in enumerate(labels):
        end = labels[k + 1].start() if k + 1 < len(labels) else len(core)
        part = core[m.end():end].strip(" ；;，,。")
        if not part:
            raise ClauseError(f"责任分工“{core}”中“{m[1]}”之后没有写"
                              + ("时限" if m[1] in DEADLINE_LABELS else
                                 "领导" if m[1] in LEADER_LABELS else "单位"))
        out.append((m[1], part))
    return out


def _read_verbs(core: str, out: Clause) -> None:
    """`A负责，B、C参与` / `A会同B负责` / `A、B牵头负责`: groups closed by their verb."""
    groups: list[tuple[str, bool, str]] = []  # (text, is co, verb)
    pending: list[str] = []
    times: list[str] = []
    for segment in _top_level_split(core):
        if DEADLINE_START.match(segment) and not _VERB.search(segment):
            times.append(segment)
            continue
        pending.append(segment)
        if m := _VERB.search(segment):
            text = "，".join(pending)[: -len(m[1])]
            groups.append((text, m[1] in _CO_VERBS, m[1]))
            pending = []
    if pending:  # names after the last verb belong to the group before them
        if groups:
            text, is_co, verb = groups[-1]
            groups[-1] = (text + "，" + "，".join(pending), is_co, verb)
        else:
            groups.append(("，".join(pending), False, ""))
    if times:
        out.deadline = "，".join(times)
    for text, is_co, verb in groups:
        parts = _TOGETHER.split(text, maxsplit=1)
        if is_co:
            out.co.extend(p for p in parts if p.strip())
            continue
        if parts[0].strip():
            out.lead.append(parts[0])
            out.lead_named = out.lead_named or verb in _NAMED_LEAD_VERBS
        if len(parts) > 1 and parts[1].strip():
            out.co.append(parts[1])


def _top_level_split(text: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        if ch in "（(〔[":
            depth += 1
        elif ch in "）)〕]" and depth:
            depth -= 1
        if ch in "，,；;" and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]
