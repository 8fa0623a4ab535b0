"""Turn the plan's published text into a catalog (`tracker catalog parse`).

The seed is the Tianjin plan as published: a header, a table of nine headline indicators,
part 二 (numbered measures under ten subsections) and part 三 (three subsections with no
items). Each measure ends with `（责任单位：A、B，各区县人民政府）`; the first agency is the
lead (牵头单位), the others co-responsible (配合单位), and 各区县人民政府 expands to the
district governments.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal

from tracker.catalog.kinds import guess_agency_kind
from tracker.catalog.profiles import cn_to_int
from tracker.catalog.schema import (
    SCHEMA_VERSION,
    Agency,
    Catalog,
    Indicator,
    Measure,
    PlanInfo,
    Target,
    dump_catalog,
    validate_catalog_text,
)
from tracker.enums import AgencyKind, IndicatorAttribute, IndicatorKind

DISTRICTS_PHRASE = "各区县人民政府"
TargetKind = Literal["percent", "count", "deadline"]

# Tianjin's 16 districts when the plan was issued (DESIGN.md; 蓟县 became 蓟州区 in 2016).
TIANJIN_DISTRICTS = (
    "和平区", "河东区", "河西区", "南开区", "河北区", "红桥区", "东丽区", "西青区",
    "津南区", "北辰区", "武清区", "宝坻区", "滨海新区", "宁河区", "静海区", "蓟州区",
)

CN_NUM = {c: i for i, c in enumerate("一二三四五六七八九十", start=1)}

# Editorial links from each headline indicator to the measures that move it; the first
# is the main one, whose lead agency reports the indicator unless `INDICATOR_OWNERS`
# says otherwise. The plan's table does not state these links; they follow the wording.
INDICATOR_MEASURES: dict[int, list[str]] = {
    1: ["2.5.1", "2.5.2", "2.5.3", "2.5.4", "2.5.5", "2.1.1"],
    2: ["2.1.2"],
    3: ["2.1.2", "2.3.2"],
    4: ["2.1.3"],
    5: ["2.1.3"],
    6: ["2.1.4"],
    7: ["2.2.2", "2.2.3"],
    8: ["2.2.4"],
    9: ["2.4.1", "2.4.2"],
}
INDICATOR_OWNERS: dict[int, str] = {}
# Indicators whose target is an average annual growth (年均增速): the owner reports the
# level each year (name, unit) and the growth is computed from the base year (issue 11).
# The plan's indicator 1 names the level it grows: 残疾人家庭人均可支配收入, in 元.
INDICATOR_LEVELS: dict[int, tuple[str, str]] = {1: ("残疾人家庭人均可支配收入", "元")}

class SeedFormatError(ValueError):
    """The plan text does not have the expected structure; names the line (message in Chinese)."""

    def __init__(self, line_no: int, message: str, line: str = ""):
        self.line_no = line_no
        self.reason = message + (f"：{line.strip()[:60]}" if line else "")
        super().__init__(f"第{line_no}行：{self.reason}")


def district_government_names() -> list[str]:
    return [f"{d}人民政府" for d in TIANJIN_DISTRICTS]


_INDICATOR_ROW = re.compile(
    r"^\s*(\d)．(\S+?)\s+(>|≥)?(\d+(?:\.\d+)?)(%)\s+(预期性|约束性)\s*$"
)
INDICATOR_ROW = _INDICATOR_ROW  # a row of the headline indicators' table (not a measure)
_PART = re.compile(r"^\s*([一二三四五六七八九十])、(\S+)")
_SECTION = re.compile(r"^\s*（([一二三四五六七八九十]+)）([^。]+)。(.*)$")
_ITEM = re.compile(r"^\s*(\d+)．([^。]+)。(.*)$")
_RESP = re.compile(r"（责任单位：([^）]+)）\s*$")


@dataclass
class _State:
    part: int = 0
    section_no: int = 0
    section_title: str = ""


def split_agencies(resp: str) -> tuple[list[str], bool]:
    """`市民政局、市财政局，各区县人民政府` -> (["市民政局", "市财政局"], True)."""
    names = [n.strip() for n in re.split(r"[、，,]", resp) if n.strip()]
    districts = DISTRICTS_PHRASE in names
    return [n for n in names if n != DISTRICTS_PHRASE], districts


_TARGET_PATTERNS: list[tuple[TargetKind, re.Pattern[str]]] = [
    ("percent", re.compile(r"(\d+(?:\.\d+)?)%")),
    ("count", re.compile(r"(?<![\d—〔（(])(\d+)(名|所|个|家|人)(?!次)")),
    ("deadline", re.compile(r"(?<![—〔（(])(20\d\d)年(?!\d|—|）)(?=完成|前|底|全国|实现|达到)")),
]


def extract_targets(text: str) -> list[Target]:
    """Quantitative milestones in a measure's text: percentages, counts, deadline years.

    Each target keeps the clause it came from (the text between punctuation marks).
    """
    clauses = re.split(r"[。；;]", text)
    found: list[Target] = []
    for clause in clauses:
        for kind, pattern in _TARGET_PATTERNS:
            for m in pattern.finditer(clause):
                unit = "%" if kind == "percent" else ("年" if kind == "deadline" else m.group(2))
                found.append(
                    Target(kind=kind, value=float(m.group(1)), unit=unit, text=clause.strip())
                )
    return found


def parse_plan_text(text: str, plan_id: str = "tianjin-disability-2016-2020") -> Catalog:
    """Parse the published plan text into a validated Catalog.

    Raises SeedFormatError (with the line number) when the structure is not recognised,
    and CatalogError if the result breaks a catalog rule.
    """
    lines = text.splitlines()
    state = _State()
    measures: list[Measure] = []
    indicator_rows: list[tuple[int, str, float, Literal[">", ">="], str, str]] = []
    agency_order: list[str] = []
    issued: dt.date | None = None

    def note_agencies(names: list[str]) -> None:
        for n in names:
            if n not in agency_order:
                agency_order.append(n)

    for no, line in enumerate(lines, start=1):
        stripped = line.strip().replace("\u3000", "")
        if not stripped:
            continue
        if issued is None and (m := re.fullmatch(r"(\d{4})年(\d{1,2})月(\d{1,2})日", stripped)):
            issued = dt.date(int(m[1]), int(m[2]), int(m[3]))
            continue
        if m := _INDICATOR_ROW.match(line):
            comparator: Literal[">", ">="] = ">" if m[3] == ">" else ">="
            attr = "binding" if m[6] == "约束性" else "expected"
            indicator_rows.append((int(m[1]), m[2], float(m[4]), comparator, m[5], attr))
            continue
        if m := _PART.match(line):
            state = _State(part=CN_NUM[m[1]])
            continue
        if state.part not in (2, 3):
            continue
        if m := _SECTION.match(line):
            try:
                state.section_no = cn_to_int(m[1])
            except ValueError:
                raise SeedFormatError(no, f"小节编号“（{m[1]}）”不是有效的中文数字", line) from None
            state.section_title = m[2]
            if state.part == 3:
                measures.append(
                    _measure(no, line, f"3.{state.section_no}", m[2], m[2], m[3], note_agencies)
                )
            continue
        if m := _ITEM.match(line):
            if state.part != 2 or not state.section_no:
                raise SeedFormatError(no, "编号条目不在“二、”部分的“（一）”等小节之下", line)
            code = f"2.{state.section_no}.{int(m[1])}"
            measures.append(
                _measure(no, line, code, state.section_title, m[2], m[3], note_agencies)
            )
            continue
    if issued is None:
        raise SeedFormatError(1, "没有找到成文日期（YYYY年M月D日）")
    if not measures:
        raise SeedFormatError(len(lines), "“二、主要任务与措施”之下没有找到任务")

    measure_by_code = {m.code: m for m in measures}
    indicators = []
    for n, name, target, comparator, unit, attr in indicator_rows:
        related = INDICATOR_MEASURES.get(n, [])
        owner = INDICATOR_OWNERS.get(n) or (
            measure_by_code[related[0]].lead if related and related[0] in measure_by_code else ""
        )
        level = INDICATOR_LEVELS.get(n)
        indicators.append(
            Indicator(
                code=f"I{n}", name=name, target=target, comparator=comparator, unit=unit,
                attribute=IndicatorAttribute(attr), measures=related, owner=owner,
                kind=IndicatorKind.GROWTH if level else IndicatorKind.RATE,
                level_name=level[0] if level else None, level_unit=level[1] if level else None,
            )
        )

    districts = district_government_names()
    agencies = [Agency(name=n, kind=guess_agency_kind(n, districts)) for n in agency_order]
    agencies += [Agency(name=n, kind=AgencyKind.DISTRICT_GOVERNMENT) for n in districts]
    title_line = next((i for i, ln in enumerate(lines) if "规划纲要" in ln and "通知" not in ln), 0)
    plan = PlanInfo(
        id=plan_id,
        title=_plan_title(lines, title_line),
        issuer="天津市人民政府办公厅",
        issued=issued,
        period=(2016, 2020),
        source="天津市人民政府办公厅关于转发市残联拟定的天津市“十三五”加快残疾人小康进程规划纲要的通知",
        government="天津市人民政府",
        districts=districts,
        supervision_office="市政府督查室",
        performance_office="市绩效办",
        meeting_contact="市残联",  # 市政府残工委办公室 sits in 市残联
    )
    catalog = Catalog(schema_version=SCHEMA_VERSION, plan=plan, agencies=agencies,
                      measures=measures, indicators=indicators)
    return validate_catalog_text(dump_catalog(catalog))


def _plan_title(lines: list[str], idx: int) -> str:
    # The title is split over two lines in the seed: 天津市“十三五”加快 / 残疾人小康进程规划纲要
    for i in range(len(lines) - 1):
        if lines[i].strip().endswith("加快") and "规划纲要" in "".join(lines[i + 1 : i + 3]):
            rest = next(ln.strip() for ln in lines[i + 1 : i + 3] if ln.strip())
            return lines[i].strip() + rest
    return lines[idx].strip()


def _measure(no, line, code, section, title, body, note_agencies) -> Measure:  # type: ignore[no-untyped-def]
    m = _RESP.search(body)
    if not m:
        raise SeedFormatError(no, f"任务{code}没有“（责任单位：…）”", line)
    names, districts = split_agencies(m[1])
    if not names:
        raise SeedFormatError(no, f"任务{code}未写明牵头单位", line)
    note_agencies(names)
    text = body[: m.start()].strip()
    return Measure(
        code=code, section=section, title=title, text=text, lead=names[0], co=names[1:],
        districts=districts, targets=extract_targets(text),
    )
