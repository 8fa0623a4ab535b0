"""Published plan documents read through a profile into a catalog (`tracker catalog parse`).

The walk (`walk`) reads paragraphs into numbered items (profiles.LEVELS), each with its
responsibility clause (clauses.py) at the end of its paragraph, at the end of a following
unnumbered paragraph, or on label lines after it (牵头单位：…, 完成时限：…, 分管领导：…).
Measures are the items at the profile's measure levels that carry a clause; every other
item at those levels, every clause outside a numbered item and every clause at another
level is listed as skipped, with the reason, so nothing is dropped silently.

Who is responsible: the lead group's first agency leads, the others are co-responsible
(clauses.py); district phrases set `Measure.districts` ("all") or leave the choice to the
office (flagged, field `districts`); district governments of the plan named one by one go
to `district_names`; generic phrases and a trailing 等 are flagged (field `co`), never
agencies. A clause that names no agency at all (（各省级人民政府负责）, （有关部门负责）)
still makes a task: the document does give it out, and the office must see it. Its lead is
the plan's supervision office as the options name it (--supervision-office), which gathers
the districts' answers until the office names a lead, else the placeholder
`leads.PENDING_LEAD` （待明确）, never a city's office; the phrase is flagged on `lead`
saying so (decision for issue 13; the README of data/plans: every numbered measure with a
clause becomes a task). A lead group written as 牵头 that names several agencies
(牵头单位：A、B; A、B牵头) is flagged as the table importer flags a 牵头单位 cell with two
names (`phrases.second_lead_flag`); 责任单位 and …负责 lists are not (the first leads).

A 完成时限 (a label line, or a time limit inside the clause) that is no single day or
known kind is kept as a flag on its words (`deadlines.read_deadline`), never a refusal.
Every problem (brackets that do not pair, a gap in the numbering, a label line with no
item, a 完成时限 written twice, a missing plan setting) is collected and raised at once in
`TextParseError`, each naming its line (第N行) or Word paragraph (第N段).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from tracker.catalog import deadlines
from tracker.catalog.clauses import (
    CO_LABELS,
    DEADLINE_LABELS,
    LEAD_LABELS,
    OWN_LINE_LABEL,
    Clause,
    ClauseError,
    end_clause,
    lead_and_co,
    read_clause,
    split_labels,
)
from tracker.catalog.options import PlanOptions
from tracker.catalog.phrases import names_apart
from tracker.catalog.profiles import LEVELS, Profile, cn_to_int
from tracker.catalog.schema import Deadline, Flag
from tracker.catalog.titles import own_title

_SPACES = re.compile(r"[\s\u3000\u00a0\ufeff]+")
# layout spaces next to a Chinese character or full-width mark go; others (between Latin
# words, figures) are kept as one
_WIDE_SPACES = re.compile(r"(?<=[^\x00-\x7f])[\s\u3000\u00a0\ufeff]+|[\s\u3000\u00a0\ufeff]+(?=[^\x00-\x7f])")
DOC_NUMBER = re.compile(r"^\S{1,16}[〔［\[（(]\d{4}[〕］\]）)]\d{1,4}号$")
DATE_LINE = re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日$")
# a notice's title on one line, however long (…关于印发成都市深化“放管服”改革…工作要点的通知)
NOTICE_TITLE = re.compile(r"关于\S+的(?:通知|意见|决定|通报|批复|函)$")


@dataclass(frozen=True)
class Problem:
    """What stops the parse, where (第N行 / 第N段 / 命令行)."""

    where: str
    message: str


class TextParseError(ValueError):
    """The document cannot become a catalog; `problems` lists every reason at once."""

    def __init__(self, source: str, problems: list[Problem]):
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source} {p.where}：{p.message}" for p in problems))


@dataclass(frozen=True)
class Skipped:
    """A measure-like paragraph that did not become a measure, and why."""

    where: str
    text: str
    reason: str


@dataclass
class Item:
    """A numbered paragraph with what follows it until the next numbered one."""

    level: str
    number: int
    code: str
    line: int
    where: str
    heading: str  # the paragraph after its number, without its clause
    parent: Item | None
    continuation: list[str] = field(default_factory=list)  # unnumbered paragraphs, before a clause
    clause: Clause | None = None
    clause_where: str = ""
    labels: list[tuple[str, str]] = field(default_factory=list)  # (牵头单位, what follows)
    label_where: str = ""
    deadline: tuple[str, str] | None = None  # (text, where)
    leader: str | None = None
    measure_below: bool = False
    broken: bool = False  # its clause could not be read (a problem says why)
    # numbered paragraphs below a measure with no clause of their own (1．细化…): its text
    details: list[str] = field(default_factory=list)
    written: str = ""  # the paragraph as written, its number included
    number_written: str = ""  # its number as written (2． / （二十一） / 第三条)


@dataclass
class Walk:
    """A document walked: its items in order, what it skipped, its problems and what its
    header states (title, 文号, signing office, date)."""

    items: list[Item]
    skipped: list[Skipped]
    problems: list[Problem]
    stated: PlanOptions
    states_rule: bool = False
    labelled: bool = False
    measure_levels: frozenset[str] = frozenset()

    def measures(self) -> list[Item]:
        return [i for i in self.items if i.clause is not None and i.level in self.measure_levels]


def clean(paragraph: str) -> str:
    """A paragraph without its layout spaces (full-width, non-breaking, a BOM) where they
    touch Chinese text, except one between two names (责任单位：市人力社保局 市财政局: one
    space kept, `phrases.names_apart`, so the clause splits them as a table cell would);
    a run of spaces between Latin words or figures becomes one."""
    text = paragraph.strip().strip("\u3000\u00a0\ufeff")

    def layout(m: re.Match[str]) -> str:
        return " " if names_apart(text[:m.start()], text[m.end():]) else ""

    return _SPACES.sub(" ", _WIDE_SPACES.sub(layout, text)).strip()


def _excerpt(text: str, n: int = 40) -> str:
    return text if len(text) <= n else text[:n] + "…"


def read_header(paragraphs: list[tuple[int, str]]) -> PlanOptions:
    """What the document says about itself: the title (the lines before its 文号 or
    salutation, each at most 40 characters unless it reads 关于…的通知 / 意见, up to 120;
    for a 印发 / 转发 notice the plan's own, `titles.own_title`), the 文号,
    the signing office and the date (the last date on a line of its own, and the line
    above it)."""
    doc_number = None
    head: list[str] = []
    for _, text in paragraphs[:15]:
        if DOC_NUMBER.match(text):
            doc_number = text
            break
        if (text.endswith(("：", ":")) or _numbered(text, tuple(LEVELS))
                or (len(text) > 40 and not (len(text) <= 120 and NOTICE_TITLE.search(text)))
                or OWN_LINE_LABEL.match(text)):
            break
        head.append(text)
    title = own_title("".join(head[:3]), [t for _, t in paragraphs[:40]]) or None
    issued = issuer = None
    for k in range(len(paragraphs) - 1, -1, -1):
        if m := DATE_LINE.match(paragraphs[k][1]):
            try:
                issued = dt.date(int(m[1]), int(m[2]), int(m[3]))
            except ValueError:
                break
            above = paragraphs[k - 1][1] if k else ""
            if above and len(above) <= 30 and not re.search(r"[，。：；,.:;]", above):
                issuer = above
            break
    return PlanOptions(title=title, doc_number=doc_number, issued=issued, issuer=issuer)


def _depth(text: str) -> int:
    """Brackets left open at the end of `text` (（ and ( against ） and ))."""
    depth = 0
    for ch in text:
        if ch in "（(":
            depth += 1
        elif ch in "）)" and depth:
            depth -= 1
    return depth


def _join_broken_clauses(kept: list[tuple[int, str]], profile: Profile,
                         ) -> list[tuple[int, str]]:
    """A clause broken over lines as a copy from PDF or Word leaves it (（市民政局、 / 市财政局
    负责）) joined back: a paragraph whose bracket is left open is joined with the next one
    or two unnumbered paragraphs when they close it and end the paragraph; it keeps the
    first one's line number. Anything else is left for the walk to report."""
    out: list[tuple[int, str]] = []
    k = 0
    while k < len(kept):
        no, text = kept[k]
        joined, used = text, 0
        candidate = text
        for extra in (1, 2) if _depth(text) > 0 else ():
            if k + extra >= len(kept) or _numbered(kept[k + extra][1], profile.levels):
                break
            candidate += kept[k + extra][1]
            if _depth(candidate) == 0 and candidate.rstrip("。；; ").endswith(("）", ")")):
                joined, used = candidate, extra
                break
        out.append((no, joined))
        k += 1 + used
    return out


_FULL_WIDTH_NUMBER = re.compile(r"^[（(]?[０-９]+")


def _numbered(text: str, levels: tuple[str, ...]) -> tuple[str, int, str] | None:
    # １．/（１） as WPS writes them: the number read as ASCII, the text kept as written
    text = _FULL_WIDTH_NUMBER.sub(
        lambda m: m[0].translate(str.maketrans("０１２３４５６７８９", "0123456789")), text)
    for key in levels:
        if m := LEVELS[key].pattern.match(text):
            try:
                number = cn_to_int(m[1]) if LEVELS[key].chinese else int(m[1])
            except ValueError:
                continue
            if number == 0:
                continue
            return key, number, m[2]
    return None


def walk(paragraphs: list[str], profile: Profile, unit: str = "行") -> Walk:
    """Read the paragraphs (as in the file, 1-based positions kept) into items.

    Leading lines starting with `#` are notes about the file (data/plans), not text.
    """
    kept: list[tuple[int, str]] = []
    for no, raw in enumerate(paragraphs, start=1):
        text = clean(raw)
        if text and (kept or not text.startswith("#")):
            kept.append((no, text))
    kept = _join_broken_clauses(kept, profile)
    walker = _Walker(profile, unit)
    for no, text in kept:
        walker.paragraph(no, text)
    return walker.finish(read_header(kept))


class _Walker:
    """The state of one walk: open items by level, the last item under each parent."""

    def __init__(self, profile: Profile, unit: str):
        self.profile = profile
        self.unit = unit
        self.items: list[Item] = []
        self.skipped: list[Skipped] = []
        self.problems: list[Problem] = []
        self.stack: list[Item] = []
        self.order = {k: i for i, k in enumerate(profile.levels)}
        self.last_under: dict[tuple[int, str], Item] = {}
        self.last_any: dict[str, int] = {}
        # (index in problems, item, previous sibling, problem): a numbering gap matters
        # only where it touches a measure (a list in 发展目标 may restart its numbers)
        self.gaps: list[tuple[int, Item, Item | None, Problem]] = []

    def where(self, no: int) -> str:
        return f"第{no}{self.unit}"

    def problem(self, no: int, message: str) -> None:
        self.problems.append(Problem(self.where(no), message))

    def paragraph(self, no: int, text: str) -> None:
        if found := _numbered(text, self.profile.levels):
            self.numbered(no, *found)
            self.items[-1].written = text
            self.items[-1].number_written = text[:len(text) - len(found[2])].rstrip()
        elif m := OWN_LINE_LABEL.match(text):
            try:
                labels = split_labels(text)
            except ClauseError as exc:
                if not m[2].strip():
                    self.label_line(no, m[1], "")
                else:
                    self.problem(no, str(exc))
                return
            for label, value in labels:  # 牵头单位：A；配合单位：B on one line
                self.label_line(no, label, value)
        else:
            self.plain(no, text)

    def numbered(self, no: int, key: str, number: int, rest: str) -> None:
        while self.stack and self.order[self.stack[-1].level] >= self.order[key]:
            self.stack.pop()
        parent = self.stack[-1] if self.stack else None
        slot = (id(parent), key)
        prev = self.last_under.get(slot)
        code = ".".join([*(str(i.number) for i in self.stack), str(number)])
        item = Item(level=key, number=number, code=code, line=no, where=self.where(no),
                    heading=rest, parent=parent)
        level = LEVELS[key]
        if prev is not None and number != prev.number + 1:
            self.gaps.append((len(self.problems), item, prev, Problem(item.where, (
                f"编号不连续：上一项为{level.label(prev.number)}，本项为{level.label(number)}，"
                "请检查是否漏项、重号或断行"))))
        elif prev is None and number not in (1, self.last_any.get(key, 0) + 1):
            self.gaps.append((len(self.problems), item, None, Problem(item.where, (
                f"编号不连续：本级应从{level.label(1)}开始，本项为{level.label(number)}，"
                "请检查是否漏项或断行"))))
        try:
            body, content = end_clause(rest)
            if content is not None:
                item.heading = body
                item.clause = read_clause(content)
                item.clause_where = item.where
        except ClauseError as exc:
            self.problem(no, str(exc))
            item.broken = True
        self.last_under[slot] = item
        self.last_any[key] = number
        self.items.append(item)
        self.stack.append(item)

    def label_line(self, no: int, label: str, value: str) -> None:
        """牵头单位：… / 配合单位：… / 完成时限：… / 分管领导：… after an item."""
        current = self.items[-1] if self.items else None
        if current is None:
            self.problem(no, f"“{label}：”之前没有编号的任务，无法确定它属于哪一项")
        elif not value:
            self.problem(no, f"“{label}：”之后没有内容")
        elif label in LEAD_LABELS or label in CO_LABELS:
            if current.clause is not None:
                self.problem(no, f"{current.where}的任务{current.code}已在段末写明责任分工，"
                                 f"又另起一行写“{label}：”，请只保留一处")
                return
            current.labels.append((label, value))
            current.label_where = current.label_where or self.where(no)
        elif label in DEADLINE_LABELS:
            current.deadline = (value, self.where(no))
        else:
            current.leader = value

    def plain(self, no: int, text: str) -> None:
        """An unnumbered paragraph: more of the current item's text, the clause it ends
        with, or a clause outside any item (skipped)."""
        current = self.items[-1] if self.items else None
        try:
            body, content = end_clause(text)
        except ClauseError as exc:
            self.problem(no, str(exc))
            return
        open_item = current is not None and current.clause is None and not current.label_where
        if content is None:
            if open_item and current is not None:
                current.continuation.append(text)
            return
        if open_item and current is not None:
            try:
                current.clause = read_clause(content)
            except ClauseError as exc:
                self.problem(no, str(exc))
                current.broken = True
                return
            current.continuation.append(body)
            current.clause_where = self.where(no)
            return
        self.skipped.append(Skipped(self.where(no), _excerpt(text),
                                    "写有责任分工但不在编号的任务之下，无法确定任务编号"))

    def finish(self, stated: PlanOptions) -> Walk:
        """Label lines become clauses; measures, gaps that matter and skipped items."""
        for item in self.items:
            if not item.label_where:
                continue
            lead, co, named = lead_and_co(item.labels)
            if not lead:
                self.problems.append(Problem(item.label_where, f"任务{item.code}只写了配合单位，"
                                             "未写明牵头（责任）单位"))
                item.broken = True
                continue
            item.clause = Clause(lead=lead, co=co, labelled=True, raw="；".join(lead + co),
                                 lead_named=named)
            item.clause_where = item.label_where
        for item in self.items:  # a time limit or leader written inside the clause
            clause = item.clause
            if clause is None:
                continue
            if clause.deadline is not None:
                if item.deadline is not None:
                    self.problems.append(Problem(item.deadline[1], (
                        f"任务{item.code}已在责任分工中写明时限“{clause.deadline}”，又另写"
                        f"完成时限“{item.deadline[0]}”，请只保留一处")))
                    item.broken = True
                else:
                    item.deadline = (clause.deadline, item.clause_where)
            if clause.leader is not None:
                item.leader = item.leader or clause.leader
        clauses = [i.clause for i in self.items if i.clause is not None]
        levels = self.profile.measure_levels or frozenset(
            i.level for i in self.items if i.clause is not None)
        for item in self.items:
            if item.clause is not None and item.level in levels:
                parent = item.parent
                while parent is not None:
                    parent.measure_below = True
                    parent = parent.parent
        for at, item, prev, problem in reversed(self.gaps):
            if any(i is not None and (i.clause is not None or i.measure_below or i.broken)
                   for i in (item, prev)):
                self.problems.insert(at, problem)
        for item in self.items:  # sub-items without a clause are their measure's text
            if item.clause is not None or item.broken:
                continue
            owner = item.parent
            while owner is not None and not (owner.clause is not None and owner.level in levels):
                owner = owner.parent
            if owner is not None:
                owner.details.append("".join([item.written, *item.continuation]))
        for item in self.items:
            shown = item.number_written + _excerpt(item.heading or "".join(item.continuation))
            if item.clause is not None and item.level not in levels:
                self.skipped.append(Skipped(item.where, shown, (
                    f"写有责任分工，但“{item.level}”不是本模板的任务层级（{'、'.join(sorted(levels))}）")))
            elif item.clause is None and not item.measure_below and item.level in levels:
                tail = re.search(r"[（(]([^（）()]{1,40})[）)][。；;]?$", item.heading)
                self.skipped.append(Skipped(item.where, shown, NO_CLAUSE if not tail else (
                    f"段末括号内“{tail[1]}”未读作责任分工（其中没有“负责”“牵头”“责任单位：”等字样，"
                    "也不全是单位名称）")))
        self.skipped.sort(key=lambda s: int(re.sub(r"\D", "", s.where)))
        return Walk(items=self.items, skipped=self.skipped, problems=self.problems,
                    stated=stated, states_rule=any(c.states_rule for c in clauses),
                    labelled=any(c.labelled for c in clauses), measure_levels=levels)


NO_CLAUSE = ("未写明责任单位（段末无“（…负责）”或“（责任单位：…）”，其后也无“牵头单位：”行）")


def split_title(text: str) -> tuple[str, str]:
    """(title, text) of a measure's paragraph: `完善农机装备创新体系。瞄准…` → the heading
    sentence and the rest; a single sentence (`对…的省（区、市），给予…。`) → its first
    phrase as the title (at most 60 characters) and the whole sentence as the text."""
    head, sep, rest = text.partition("。")
    if sep and rest.strip():
        return head.strip(), rest.strip()
    depth = 0
    for i, ch in enumerate(text):
        if ch in "（(":
            depth += 1
        elif ch in "）)" and depth:
            depth -= 1
        elif ch in "，；：,;:" and depth == 0:
            return _excerpt(text[:i], 60), text.strip()
    title = text.strip().rstrip("。")
    return _excerpt(title, 60), (text.strip() if len(title) > 60 else "")


def read_deadline(item: Item, issued: dt.date | None,
                  period: tuple[int, int] | None) -> tuple[Deadline | None, Flag | None]:
    """The item's 完成时限 (a label line, or a time limit inside its clause) as a
    schema.Deadline and, when the office must look at it, a flag on the words as written
    (`deadlines.read_deadline`: recurring, relative, in stages, unreadable, or outside the
    plan's `period`; a year-less one dated from `issued`, the document's issue date).
    Nothing is dropped: a reading that is no date keeps its words in the flag."""
    if item.deadline is None:
        return None, None
    text, _ = item.deadline
    reading = deadlines.read_deadline(text, issued=issued, period=period)
    flag = None if reading.flag is None else Flag(field="deadline", phrase=text.strip(),
                                                   reason=reading.flag)
    return reading.deadline, flag
