"""The catalog's shape (tasks_catalog.json) and its validation.

Validation errors name the JSON path, the line in the file and the bad value, so an
administrator editing the catalog by hand can find the mistake (brief: "a malformed
catalog names the field and line").
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Literal

import json_source_map
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tracker.enums import AgencyKind, Cadence, IndicatorAttribute, IndicatorKind

# 2: plan settings are the document's own (no city's defaults), measures carry their own
# 完成时限, 分管领导, named districts and the phrases the office must resolve (issue 13)
SCHEMA_VERSION = 2
MEASURE_CODE = re.compile(r"^[0-9A-Za-z\u4e00-\u9fff（）().\-]{1,20}$")  # the document's own numbering
INDICATOR_CODE = re.compile(r"^I\d+$")


class CatalogError(ValueError):
    """The catalog is malformed. `problems` lists (json_path, line, message, value)."""

    def __init__(self, problems: list[tuple[str, int | None, str, object]]):
        self.problems = problems
        lines = [
            f"{path} (line {line}): {msg} (value: {value!r})" if line else f"{path}: {msg}"
            for path, line, msg, value in problems
        ]
        super().__init__("catalog is invalid:\n  " + "\n  ".join(lines))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlanInfo(_Strict):
    """The plan's own settings: nothing about a city lives in code (DESIGN.md, many plans)."""

    id: str = Field(min_length=1)
    title: str = Field(min_length=1)
    issuer: str = Field(min_length=1)
    doc_number: str | None = None  # 文号
    issued: dt.date
    period: tuple[int, int]
    source: str | None = None
    cadence: Cadence = Cadence.QUARTER
    government: str = Field(min_length=1)  # whose districts apply, and whose meeting counts
    districts: list[str] = []  # the district governments 各区（县）人民政府 expands to
    supervision_office: str = Field("市政府督查室", min_length=1)
    performance_office: str = Field("市绩效办", min_length=1)
    meeting_contact: str | None = None  # the agency told of the government's own meeting
    meeting_duty: bool = True  # each government's executive meeting studies it yearly

    @model_validator(mode="after")
    def _period_ordered(self) -> PlanInfo:
        if self.period[0] > self.period[1]:
            raise ValueError("period must be [first year, last year]")
        return self


class Agency(_Strict):
    name: str = Field(min_length=1)
    kind: AgencyKind
    aliases: list[str] = []  # other names of the same agency (市人力社保局)
    parent: str | None = None  # the agency or government it belongs to (a 街道's district)


class Deadline(_Strict):
    """A task's own 完成时限 as the document writes it, and what it means for tracking:
    `date` (due on `due`: 2018年6月底前 → 2018-06-30, 2020年底前 → 2020-12-31), `yearly`
    (due each year on `month`/`day`: 每年年底前 → 12/31) or `ongoing` (长期坚持, 持续推进:
    no milestone; the periodic requests track it)."""

    text: str = Field(min_length=1, max_length=100)
    kind: Literal["date", "yearly", "ongoing"]
    due: dt.date | None = None
    month: int | None = Field(None, ge=1, le=12)
    day: int | None = Field(None, ge=1, le=31)

    @model_validator(mode="after")
    def _complete(self) -> Deadline:
        if self.kind == "date" and self.due is None:
            raise ValueError("a dated deadline needs due")
        if self.kind == "yearly" and (self.month is None or self.day is None):
            raise ValueError("a yearly deadline needs month and day")
        return self


class Flag(_Strict):
    """A phrase of the document the office must resolve before it is tracked: a generic
    one (各有关部门和单位, 等有关部门) or a name the directory does not know."""

    field: Literal["lead", "co", "districts", "deadline", "indicators"]
    phrase: str = Field(min_length=1)
    reason: str = Field(min_length=1)


class Target(_Strict):
    """A quantitative milestone written in a measure's text."""

    kind: Literal["percent", "count", "deadline"]
    value: float
    unit: str
    text: str


class Measure(_Strict):
    code: str = Field(pattern=MEASURE_CODE.pattern)
    section: str  # the 部分 the document puts it in; empty when the document has none
    title: str = Field(min_length=1)
    text: str
    lead: str = Field(min_length=1)
    co: list[str] = []
    districts: bool  # every district government of the plan shares it
    # only these district governments share it (the document names them, or the office
    # picked them for 有关区); empty with `districts` False: none
    district_names: list[str] = []
    targets: list[Target] = []
    deadline: Deadline | None = None  # 完成时限
    leader: str | None = None  # 分管领导 (a post or name as the table writes it)
    flags: list[Flag] = []

    @model_validator(mode="after")
    def _one_district_rule(self) -> Measure:
        if self.districts and self.district_names:
            raise ValueError("districts (all) and district_names (some) exclude each other")
        return self


class Indicator(_Strict):
    code: str = Field(pattern=INDICATOR_CODE.pattern)
    name: str = Field(min_length=1)
    target: float
    comparator: Literal[">", ">="]
    unit: str
    attribute: IndicatorAttribute
    measures: list[str] = Field(min_length=1)
    owner: str = Field(min_length=1)
    # rate: the owner reports the rate (with numerator and denominator); growth: the owner
    # reports a level (`level_name`, in `level_unit`) and the average annual growth from the
    # base year is computed (tracker.annual.indicators)
    kind: IndicatorKind = IndicatorKind.RATE
    level_name: str | None = None
    level_unit: str | None = None
    # the base year's (period[0] - 1) value when the plan prints it (a growth indicator's:
    # the base level), with where it is printed
    baseline: float | None = None
    baseline_source: str | None = None

    @model_validator(mode="after")
    def _growth_has_a_level(self) -> Indicator:
        if self.kind == IndicatorKind.GROWTH and not (self.level_name and self.level_unit):
            raise ValueError("a growth indicator needs level_name and level_unit")
        return self


class Catalog(_Strict):
    schema_version: int = Field(1, ge=1, le=SCHEMA_VERSION)  # absent: 1 (before issue 13)
    plan: PlanInfo
    agencies: list[Agency]
    measures: list[Measure] = Field(min_length=1)
    indicators: list[Indicator] = []

    def agency_names(self) -> set[str]:
        return {a.name for a in self.agencies}

    def districts(self) -> list[Agency]:
        return [a for a in self.agencies if a.kind == AgencyKind.DISTRICT_GOVERNMENT]

    def cross_check(self) -> list[tuple[str, str, object]]:
        """Referential rules pydantic cannot see: (json path, message, value) per problem."""
        problems: list[tuple[str, str, object]] = []
        names = self.agency_names()
        seen: dict[str, int] = {}
        for i, a in enumerate(self.agencies):
            if a.name in seen:
                problems.append((f"agencies[{i}].name", "duplicate agency name", a.name))
            seen[a.name] = i
        for j, d in enumerate(self.plan.districts):
            if d not in names:
                problems.append((f"plan.districts[{j}]", "unknown agency", d))
        codes: set[str] = set()
        for i, m in enumerate(self.measures):
            if m.code in codes:
                problems.append((f"measures[{i}].code", "duplicate measure code", m.code))
            codes.add(m.code)
            if m.lead not in names:
                problems.append((f"measures[{i}].lead", "unknown agency", m.lead))
            for j, d in enumerate(m.district_names):
                if d not in self.plan.districts:
                    problems.append((f"measures[{i}].district_names[{j}]",
                                     "not a district of the plan", d))
            for j, c in enumerate(m.co):
                if c not in names:
                    problems.append((f"measures[{i}].co[{j}]", "unknown agency", c))
                elif c == m.lead:
                    problems.append((f"measures[{i}].co[{j}]", "co-agency repeats the lead", c))
        icodes: set[str] = set()
        for i, ind in enumerate(self.indicators):
            if ind.code in icodes:
                problems.append((f"indicators[{i}].code", "duplicate indicator code", ind.code))
            icodes.add(ind.code)
            if ind.owner not in names:
                problems.append((f"indicators[{i}].owner", "unknown agency", ind.owner))
            for j, mc in enumerate(ind.measures):
                if mc not in codes:
                    problems.append((f"indicators[{i}].measures[{j}]", "unknown measure", mc))
        return problems


def _pointer(path: str) -> str:
    """`measures[3].co[1]` -> `/measures/3/co/1` (json-source-map keys)."""
    return "/" + re.sub(r"\[(\d+)\]", r".\1", path).replace(".", "/") if path else ""


def _dotted(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def validate_catalog_text(text: str, source: str = "catalog") -> Catalog:
    """Parse and validate catalog JSON text.

    Raises CatalogError naming each bad field by JSON path and line number.
    """
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CatalogError([(source, exc.lineno, f"not valid JSON: {exc.msg}", None)]) from exc
    lines = json_source_map.calculate(text)

    def line_of(path: str) -> int | None:
        ptr = _pointer(path)
        while True:
            entry = lines.get(ptr)
            if entry is not None:
                return entry.value_start.line + 1
            if not ptr:
                return None
            ptr = ptr.rsplit("/", 1)[0]

    def value_at(loc: tuple[int | str, ...]) -> object:
        node: object = raw
        for part in loc:
            try:
                node = node[part]  # type: ignore[index]
            except (KeyError, IndexError, TypeError):
                return None
        return node

    try:
        catalog = Catalog.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not isinstance(p, str) or p in _field_names())
            path = _dotted(loc)
            problems.append((path, line_of(path), err["msg"], value_at(loc)))
        raise CatalogError(problems) from exc
    cross = catalog.cross_check()
    if cross:
        raise CatalogError([(p, line_of(p), msg, v) for p, msg, v in cross])
    return catalog


def _field_names() -> set[str]:
    names: set[str] = set()
    for model in (Catalog, PlanInfo, Agency, Target, Measure, Indicator, Deadline, Flag):
        names.update(model.model_fields)
    return names


def load_catalog(path: Path) -> Catalog:
    """Read and validate a catalog file. Raises CatalogError (see validate_catalog_text)."""
    return validate_catalog_text(path.read_text(encoding="utf-8"), source=str(path))


def dump_catalog(catalog: Catalog) -> str:
    """Serialise a catalog the way it is checked in: UTF-8 Chinese, two-space indent."""
    return json.dumps(catalog.model_dump(mode="json"), ensure_ascii=False, indent=2) + "\n"
