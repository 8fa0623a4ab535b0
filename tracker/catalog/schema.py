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
from typing import Any, Literal

import json_source_map
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import ErrorDetails

from tracker.enums import AgencyKind, Cadence, IndicatorAttribute, IndicatorKind

# 2: plan settings are the document's own (no city's defaults), measures carry their own
# 完成时限, 分管领导, named districts and the phrases the office must resolve (issue 13)
SCHEMA_VERSION = 2
MEASURE_CODE = re.compile(r"^[0-9A-Za-z\u4e00-\u9fff（）().\-]{1,20}$")  # the document's own numbering
INDICATOR_CODE = re.compile(r"^I\d+$")


class CatalogError(ValueError):
    """The catalog is malformed. `problems` lists (json_path, line, message, value), the
    message in Chinese; the error's text names each place in Chinese words with its JSON
    path and line: 第4项任务的牵头单位（measures[3].lead，第57行）：缺少此项（必填）."""

    def __init__(self, problems: list[tuple[str, int | None, str, object]],
                 source: str = "catalog"):
        self.problems = problems
        lines = [describe_problem(path, line, msg, value) for path, line, msg, value in problems]
        head = "任务目录有误" if source == "catalog" else f"任务目录 {source} 有误"
        super().__init__(f"{head}（{len(problems)} 处）：\n  " + "\n  ".join(lines))


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
    # the offices that chase (督查室) and score (绩效办) the plan, as the plan names them;
    # absent: the supervision office comes from the rules (`documents.offices`) at load, or
    # the load is refused naming --supervision-office (tracker.catalog.load); no city's
    # default. The performance office is optional.
    supervision_office: str | None = Field(None, min_length=1)
    performance_office: str | None = Field(None, min_length=1)
    meeting_contact: str | None = None  # the agency told of the government's own meeting
    meeting_duty: bool = True  # each government's executive meeting studies it yearly

    @model_validator(mode="after")
    def _period_ordered(self) -> PlanInfo:
        if self.period[0] > self.period[1]:
            raise ValueError("规划期应写作 [起始年份, 终止年份]，起始年份不得晚于终止年份")
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
            raise ValueError("类别为 date（具体日期）的完成时限须有到期日（due）")
        if self.kind == "yearly" and (self.month is None or self.day is None):
            raise ValueError("类别为 yearly（每年）的完成时限须有月（month）和日（day）")
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
            raise ValueError("districts（全部区县）为 true 时不能再列出 district_names（部分区县）")
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
            raise ValueError("增速类指标（growth）须有水平值名称（level_name）和单位（level_unit）")
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
                problems.append((f"agencies[{i}].name", _DUPLICATE_AGENCY, a.name))
            seen[a.name] = i
        for j, d in enumerate(self.plan.districts):
            if d not in names:
                problems.append((f"plan.districts[{j}]", _UNKNOWN_AGENCY, d))
        codes: set[str] = set()
        for i, m in enumerate(self.measures):
            if m.code in codes:
                problems.append((f"measures[{i}].code", _DUPLICATE_MEASURE, m.code))
            codes.add(m.code)
            if m.lead not in names:
                problems.append((f"measures[{i}].lead", _UNKNOWN_AGENCY, m.lead))
            for j, d in enumerate(m.district_names):
                if d not in self.plan.districts:
                    problems.append((f"measures[{i}].district_names[{j}]", _NOT_A_DISTRICT, d))
            for j, c in enumerate(m.co):
                if c not in names:
                    problems.append((f"measures[{i}].co[{j}]", _UNKNOWN_AGENCY, c))
                elif c == m.lead:
                    problems.append((f"measures[{i}].co[{j}]", _CO_IS_LEAD, c))
        icodes: set[str] = set()
        for i, ind in enumerate(self.indicators):
            if ind.code in icodes:
                problems.append((f"indicators[{i}].code", _DUPLICATE_INDICATOR, ind.code))
            icodes.add(ind.code)
            if ind.owner not in names:
                problems.append((f"indicators[{i}].owner", _UNKNOWN_AGENCY, ind.owner))
            for j, mc in enumerate(ind.measures):
                if mc not in codes:
                    problems.append((f"indicators[{i}].measures[{j}]", _UNKNOWN_MEASURE, mc))
        return problems


# ---------------------------------------------------------------- problems in Chinese

_DUPLICATE_AGENCY = "单位名称重复"
_UNKNOWN_AGENCY = "不在单位列表（agencies）中"
_NOT_A_DISTRICT = "不是本规划的区县（plan.districts）"
_DUPLICATE_MEASURE = "任务编号重复"
_CO_IS_LEAD = "配合单位与牵头单位相同"
_DUPLICATE_INDICATOR = "指标编号重复"
_UNKNOWN_MEASURE = "没有此编号的任务"

# a field as people name it; by its parent where the same key means two things
_FIELD_WORDS = {
    "schema_version": "目录版本", "plan": "规划设置", "agencies": "单位列表", "measures": "任务列表",
    "indicators": "指标列表", "id": "规划标识", "issuer": "印发机关", "doc_number": "文号",
    "issued": "印发日期", "period": "规划期", "source": "来源", "cadence": "报送周期",
    "government": "本级政府", "supervision_office": "督查室", "performance_office": "绩效办",
    "meeting_contact": "常务会议联系单位", "meeting_duty": "常务会议研究义务", "name": "名称",
    "kind": "类别", "aliases": "别名", "parent": "上级单位", "code": "编号", "section": "部分",
    "lead": "牵头单位", "co": "配合单位", "district_names": "部分区县", "targets": "量化目标",
    "deadline": "完成时限", "leader": "分管领导", "flags": "待定表述", "due": "到期日",
    "month": "月", "day": "日", "field": "字段", "phrase": "表述", "reason": "原因",
    "value": "数值", "unit": "单位", "target": "目标值", "comparator": "比较方式",
    "attribute": "属性", "owner": "责任单位", "level_name": "水平值名称", "level_unit": "水平值单位",
    "baseline": "基期值", "baseline_source": "基期值出处",
}
_BY_PARENT = {("plan", "title"): "规划名称", ("measures", "title"): "任务名称",
              ("measures", "text"): "任务内容", ("targets", "text"): "原文",
              ("plan", "districts"): "区县名单", ("measures", "districts"): "全部区县",
              ("indicators", "measures"): "关联任务", ("targets", "kind"): "类别"}
_COUNTED = {"agencies": "第{}个单位", "measures": "第{}项任务", "indicators": "第{}项指标",
            "co": "第{}个配合单位", "district_names": "第{}个区县", "districts": "第{}个区县",
            "aliases": "第{}个别名", "targets": "第{}个量化目标", "flags": "第{}处待定表述"}


def path_words(path: str) -> str:
    """`measures[3].co[1]` -> 第4项任务的第2个配合单位; `plan.issuer` -> 规划设置的印发机关;
    `indicators[0].measures[2]` -> 第1项指标的第3个关联任务 (how the office reads a JSON path)."""
    words: list[str] = []
    parent = ""
    for key, index in re.findall(r"([A-Za-z_]+)(?:\[(\d+)\])?", path):
        if index and parent == "indicators" and key == "measures":
            words.append(f"第{int(index) + 1}个关联任务")
        elif index and key in _COUNTED:
            words.append(_COUNTED[key].format(int(index) + 1))
        elif index and key == "period":
            words.append("规划期的" + ("起始年份" if index == "0" else "终止年份"))
        else:
            words.append(_BY_PARENT.get((parent, key)) or _FIELD_WORDS.get(key, key)
                         + (f"第{int(index) + 1}项" if index else ""))
        parent = key
    return "的".join(words)


def describe_problem(path: str, line: int | None, message: str, value: object) -> str:
    """One problem as the CLI prints it: 第4项任务的牵头单位（measures[3].lead，第57行）：
    不在单位列表（agencies）中（值：“市不存在局”）."""
    where = "，".join(p for p in (path, f"第{line}行" if line else "") if p)
    place = f"{path_words(path)}（{where}）" if path else where
    shown = "" if value is None or isinstance(value, (dict, list)) else f"（值：“{value}”）"
    return f"{place}：{message}{shown}" if place else f"{message}{shown}"


def _chinese(err: ErrorDetails, path: str) -> str:
    """A pydantic validation error as a Chinese sentence (the check it failed)."""
    kind, ctx = err["type"], err.get("ctx", {})
    if kind == "missing":
        return "缺少此项（必填）"
    if kind == "extra_forbidden":
        return "不是任务目录的字段（请删除，或检查拼写）"
    if kind == "string_too_short":
        return "不能为空" if ctx.get("min_length") == 1 else f"至少须有{ctx.get('min_length')}个字"
    if kind == "string_too_long":
        return f"不能超过{ctx.get('max_length')}个字"
    if kind == "too_short":
        return f"至少须有{ctx.get('min_length')}项"
    if kind == "too_long":
        return f"最多{ctx.get('max_length')}项"
    if kind == "string_pattern_mismatch":
        return ("编号只能由数字、字母、汉字、点、短横线和括号组成，不超过20个字"
                if not path.startswith("indicators") else "指标编号应为 I 加数字，如 I1")
    if kind in ("literal_error", "enum"):
        return f"只能是 {ctx.get('expected', '')}".replace(" or ", " 或 ")
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    simple = {"string_type": "应为文字（加引号）", "int_type": "应为整数", "int_parsing": "应为整数",
              "int_from_float": "应为整数", "float_type": "应为数字", "float_parsing": "应为数字",
              "bool_type": "应为 true 或 false", "bool_parsing": "应为 true 或 false",
              "list_type": "应为列表（[…]）", "tuple_type": "应为列表（[…]）",
              "dict_type": "应为对象（{…}）", "model_type": "应为对象（{…}）",
              "model_attributes_type": "应为对象（{…}）", "date_type": "应为日期，如 2018-12-12",
              "date_parsing": "应为日期，如 2018-12-12",
              "date_from_datetime_parsing": "应为日期，如 2018-12-12",
              "date_from_datetime_inexact": "应为日期（不含时间），如 2018-12-12",
              "greater_than_equal": f"不能小于 {ctx.get('ge')}",
              "less_than_equal": f"不能大于 {ctx.get('le')}"}
    return simple.get(kind, f"取值无效（{err['msg']}）")


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
        raise CatalogError([("", exc.lineno, f"第{exc.colno}列附近不是有效的 JSON 格式（请检查引号、"
                                             "逗号和括号是否齐全、成对）", None)], source) from exc
    lines: dict[str, Any] = {}  # the source map, made only for an error (a valid catalog's
    # 1M assignments would spend most of their validation making it)

    def line_of(path: str) -> int | None:
        if not lines:
            lines.update(json_source_map.calculate(text))
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
            loc = tuple(p for p in err["loc"] if not isinstance(p, str) or p in _field_names()
                        or err["type"] == "extra_forbidden")  # the unknown key, named
            path = _dotted(loc)
            problems.append((path, line_of(path), _chinese(err, path), value_at(loc)))
        raise CatalogError(problems, source) from exc
    cross = catalog.cross_check()
    if cross:
        raise CatalogError([(p, line_of(p), msg, v) for p, msg, v in cross], source)
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
