"""A document through its profile into a validated catalog and a report (issue 13, item 2).

`parse_source(source, profile, options)` is what `tracker catalog parse` runs: the
`tianjin` profile gives `parse.parse_plan_text`'s catalog unchanged (plan settings and
indicators of its own; options given override its scalar settings); the `general`
profile builds the catalog from `text.walk` (module docstring there: who leads, districts,
flags, the measure whose clause names no agency). The report lists the skipped paragraphs,
the flags, the lead rule applied and the settings read from the document, for the CLI.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from tracker.catalog.kinds import guess_agency_kind
from tracker.catalog.leads import PENDING_LEAD, lead_of
from tracker.catalog.options import PlanOptions, PlanOptionsError, plan_info_of
from tracker.catalog.parse import (
    INDICATOR_ROW,
    SeedFormatError,
    extract_targets,
    parse_plan_text,
)
from tracker.catalog.phrases import (
    flag_field,
    match_district,
    read_agencies,
)
from tracker.catalog.profiles import PROFILES, Profile, detect_profile
from tracker.catalog.schema import (
    SCHEMA_VERSION,
    Agency,
    Catalog,
    CatalogError,
    Flag,
    Measure,
    describe_problem,
    dump_catalog,
    validate_catalog_text,
)
from tracker.catalog.sources import Source
from tracker.catalog.text import (
    Item,
    Problem,
    Skipped,
    TextParseError,
    Walk,
    read_deadline,
    split_title,
    walk,
)
from tracker.enums import AgencyKind

TIANJIN_PLAN_ID = "tianjin-disability-2016-2020"


@dataclass
class ParseReport:
    """What the parse did, for people: counts, skipped paragraphs, flags, rules applied."""

    source: str
    profile: str
    lead_rule: str
    measures: int
    named_agencies: list[str]
    skipped: list[Skipped] = field(default_factory=list)
    flags: list[tuple[str, Flag]] = field(default_factory=list)  # (measure code, flag)
    stated: dict[str, str] = field(default_factory=dict)  # settings read from the document
    settings_note: str = ""  # where the plan settings came from, when not the options
    warnings: list[str] = field(default_factory=list)


@dataclass
class ParseResult:
    catalog: Catalog
    report: ParseReport


def parse_source(source: Source, profile: Profile | None = None,
                 options: PlanOptions | None = None) -> ParseResult:
    """`source` read through `profile` (None: `profiles.detect_profile`) into a catalog.

    Raises TextParseError listing every problem (line and reason in Chinese).
    """
    profile = profile or detect_profile(source.paragraphs)
    options = options or PlanOptions()
    if profile.reader == "tianjin":
        return _tianjin(source, profile, options)
    return _general(source, profile, options)


def _stated(walked: Walk) -> dict[str, str]:
    s = walked.stated
    shown = {"标题": s.title, "文号": s.doc_number, "印发机关": s.issuer,
             "成文日期": s.issued.isoformat() if s.issued else None}
    return {k: v for k, v in shown.items() if v}


def _lead_rule(walked: Walk) -> str:
    if walked.states_rule:
        return "原文写明“列第一位者为牵头单位”"
    if walked.labelled:
        return "按原文“牵头单位／责任单位”标注，列第一位者为牵头单位"
    return "原文未写明，按列第一位者为牵头单位"


def _general(source: Source, profile: Profile, options: PlanOptions) -> ParseResult:
    walked = walk(source.paragraphs, profile, source.unit)
    problems = list(walked.problems)
    merged = options.merged(walked.stated)
    info = None
    try:
        info = plan_info_of(merged, from_document=True)
    except PlanOptionsError as exc:
        problems += [Problem("命令行", m) for m in exc.problems]
    items = walked.measures()
    if not items and not walked.problems:
        problems.append(Problem("全文", f"没有找到带责任分工的编号任务（模板 {profile.name}："
                                f"{profile.description}）"))
    # a task whose clause names no agency is gathered by the plan's supervision office as
    # the options name it (--supervision-office); no city's office is assumed (issue 13):
    # without one, its lead is the placeholder `PENDING_LEAD`, flagged for the office
    office = merged.supervision_office
    districts = list(merged.districts)
    measures: list[Measure] = []
    order: list[str] = []  # agencies in the order the measures name them
    named: list[str] = []  # the same, without the office standing in for a missing lead
    stand_ins: list[str] = []  # codes of the measures whose lead is the stand-in
    for item in items:
        measure, problem, stand_in = _measure(item, walked, office, districts, merged.issued,
                                              merged.period)
        if problem:
            problems.append(problem)
        if measure is None:
            continue
        measures.append(measure)
        if stand_in:
            stand_ins.append(measure.code)
        for k, name in enumerate([measure.lead, *measure.co]):
            if name in districts:
                continue
            if name not in order:
                order.append(name)
            if name not in named and not (k == 0 and stand_in):
                named.append(name)
    if problems or info is None:
        raise TextParseError(source.name, sorted(problems, key=_line_order))
    agencies = [Agency(name=n, kind=guess_agency_kind(n, districts, merged.government))
                for n in order]
    agencies += [Agency(name=n, kind=AgencyKind.DISTRICT_GOVERNMENT) for n in districts]
    catalog = _validated(source.name, Catalog(schema_version=SCHEMA_VERSION, plan=info,
                                              agencies=agencies, measures=measures))
    named = [n for n in order if n in named]
    report = ParseReport(
        source=source.name, profile=profile.name, lead_rule=_lead_rule(walked),
        measures=len(measures), named_agencies=named, skipped=walked.skipped,
        flags=[(m.code, f) for m in measures for f in m.flags], stated=_stated(walked))
    wanting = [m.code for m in measures if (m.districts or any(
        f.field == "districts" for f in m.flags))]
    if wanting and not districts:
        report.warnings.append(f"{len(wanting)} 项任务由各区县（各省级人民政府等）承担"
                               f"（{'、'.join(wanting)}），但未给出 --districts，载入后不会为区县生成任务")
    if stand_ins:
        held = (f"暂列{office}汇总" if office else
                f"牵头单位暂记为“{PENDING_LEAD}”（可用 --supervision-office 给出督查室名称，由其汇总）")
        report.warnings.append(f"{len(stand_ins)} 项任务原文未写明牵头单位（{'、'.join(stand_ins)}），"
                               f"{held}，请确定牵头单位")
    return ParseResult(catalog, report)


def _line_order(problem: Problem) -> tuple[int, int]:
    digits = "".join(c for c in problem.where if c.isdigit())
    return (0, int(digits)) if digits else (1, 0)


def _validated(name: str, catalog: Catalog) -> Catalog:
    try:
        return validate_catalog_text(dump_catalog(catalog))
    except CatalogError as exc:  # a rule of the catalog the walk did not foresee
        raise TextParseError(name, [Problem("生成的目录", describe_problem(path, None, msg, value))
                                    for path, _, msg, value in exc.problems]) from None


def _measure(item: Item, walked: Walk, office: str | None, districts: list[str],
             issued: dt.date | None, period: tuple[int, int] | None,
             ) -> tuple[Measure | None, Problem | None, bool]:
    """The measure of `item`, or the problem that stops it; and whether its lead stands in
    for one the clause does not name (the office, or `PENDING_LEAD`)."""
    assert item.clause is not None
    lead_read = read_agencies("、".join(item.clause.lead), districts)
    co_read = read_agencies("、".join(item.clause.co), districts)
    flags: list[Flag] = []
    for phrase, reason in lead_read.flags + co_read.flags:
        flags.append(Flag(field=flag_field(phrase) or "co", phrase=phrase, reason=reason))
    found = lead_of(lead_read, co_read, office, item.clause.raw, flags,
                    several_named=item.clause.lead_named, districts=districts)
    lead, flags, stand_in = found.name, found.flags, found.stand_in
    co: list[str] = []
    named_districts: list[str] = []
    for name in lead_read.names + co_read.names:
        district = match_district(name, districts)
        if name == lead or name in co or district in named_districts:
            continue
        if district is not None:
            named_districts.append(district)
        else:
            co.append(name)
    everywhere = "all" in (lead_read.districts, co_read.districts)
    head = item.heading
    title, text = split_title(head) if head else ("", "")
    if item.continuation:
        more = "\n".join(item.continuation)
        if not title:
            title, text = split_title(more)
        else:
            text = f"{text}\n{more}".strip()
    if item.details:
        text = "\n".join([text, *item.details]).strip()
    if not title:
        return None, Problem(item.where, f"任务{item.code}没有标题或内容"), False
    section = title
    if item.parent is not None:
        parent_title, _ = split_title(item.parent.heading or "".join(item.parent.continuation))
        section = parent_title.rstrip("。") or title
    deadline, time_flag = read_deadline(item, issued, period)
    if time_flag is not None:
        flags.append(time_flag)
    measure = Measure(
        code=item.code, section=section, title=title.rstrip("。"), text=text, lead=lead, co=co,
        districts=everywhere, district_names=[] if everywhere else named_districts,
        targets=extract_targets(text), deadline=deadline,
        leader=item.leader, flags=flags)
    return measure, None, stand_in


def _tianjin(source: Source, profile: Profile, options: PlanOptions) -> ParseResult:
    """The Tianjin plan as `parse_plan_text` reads it; options override its settings."""
    text = "\n".join(source.paragraphs)
    if profile.signature is not None and not profile.signature.search("\n".join(source.paragraphs[:60])):
        # its settings (issuer, period, 16 districts) are that plan's: never another's
        raise TextParseError(source.name, [Problem("全文", (
            "不是天津市“十三五”加快残疾人小康进程规划纲要的原文（应以“天津市人民政府办公厅关于转发"
            "市残联拟定的……规划纲要的通知”开头），天津模板只读该文件，并带有该规划的印发机关、规划期和"
            "16个区；其他文件请改用 --profile general（或不写 --profile）"))])
    problems: list[Problem] = []
    if options.districts:
        problems.append(Problem("命令行", "天津模板自带 16 个区人民政府，不接受 --districts；"
                                "如需其他区县，请用 --profile general"))
    try:
        catalog = parse_plan_text(text, plan_id=options.plan_id or TIANJIN_PLAN_ID)
    except SeedFormatError as exc:
        problems.append(Problem(f"第{exc.line_no}{source.unit}",
                                f"不符合天津模板的格式（{exc.reason}），可改用 --profile general"))
    except CatalogError as exc:
        problems.append(Problem("生成的目录", str(exc)))
    if problems:
        raise TextParseError(source.name, problems)
    overrides = {k: getattr(options, k) for k in (
        "title", "issuer", "doc_number", "issued", "period", "government",
        "supervision_office", "performance_office") if getattr(options, k) is not None}
    if overrides:
        plan = catalog.plan.model_copy(update=overrides)
        catalog = _validated(source.name, catalog.model_copy(update={"plan": plan}))
    walked = walk(source.paragraphs, profile, source.unit)
    lines = source.paragraphs
    skipped = [s for s in walked.skipped
               if not INDICATOR_ROW.match(lines[int("".join(c for c in s.where if c.isdigit())) - 1])]
    named = [a.name for a in catalog.agencies if a.kind != AgencyKind.DISTRICT_GOVERNMENT]
    report = ParseReport(
        source=source.name, profile=profile.name, lead_rule="原文“（责任单位：…）”列第一位者为牵头单位",
        measures=len(catalog.measures), named_agencies=named, skipped=skipped,
        flags=[(m.code, f) for m in catalog.measures for f in m.flags],
        settings_note="规划设置由天津模板提供" + ("（命令行给出的设置已替换）" if overrides else ""))
    return ParseResult(catalog, report)


__all__ = ["PROFILES", "ParseReport", "ParseResult", "TextParseError", "parse_source"]
