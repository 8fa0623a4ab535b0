"""Plan settings given as options to an importer, checked into a `PlanInfo` (issue 13, item 3).

One home for both importers: `tracker catalog parse` (a text document, which may state its
own title, issuer, 文号 and date) and `tracker catalog import` (a 任务分工表, which states
none). A plan's issuer, period and districts are its own: nothing here defaults to any
city's values, and every missing or unreadable setting is reported at once, in Chinese,
naming its option.

- `read_cli_options(...)`: the options as typed -> (`PlanOptions`, problems);
- `plan_info_of(options)`: the `PlanInfo`, or `PlanOptionsError` naming what is missing;
- `plan_info(...)`: both steps for options as typed (what `catalog import` runs).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, replace

from pydantic import ValidationError

from tracker.catalog.phrases import split_clause
from tracker.catalog.schema import PlanInfo

PLAN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,79}$")

# PlanOptions field -> (option, what it is), in the refusal
REQUIRED = {
    "plan_id": ("--plan-id", "规划标识，如 farm-machinery-2018"),
    "title": ("--title", "规划名称"),
    "issuer": ("--issuer", "印发机关"),
    "issued": ("--issued", "印发日期，如 2018-12-12"),
    "period": ("--period", "规划期，如 2018-2020"),
    "government": ("--government", "本级政府，即区县的上级政府"),
}
_STATED = ("title", "issuer", "doc_number", "issued")  # what a document may state about itself


class PlanOptionsError(ValueError):
    """The plan settings are incomplete or unreadable; `problems` are Chinese sentences,
    each naming its option."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class PlanOptions:
    """Plan settings as given (None: not given). `period` is (first year, last year);
    `districts` the district governments 各区（县）人民政府 expands to, in order."""

    plan_id: str | None = None
    title: str | None = None
    issuer: str | None = None
    doc_number: str | None = None
    issued: dt.date | None = None
    period: tuple[int, int] | None = None
    government: str | None = None
    districts: tuple[str, ...] = ()
    supervision_office: str | None = None
    performance_office: str | None = None
    source: str | None = None

    def merged(self, stated: PlanOptions) -> PlanOptions:
        """These options, with what the document states (title, issuer, 文号, issue date)
        filling the ones not given; an option given always wins."""
        filled = {k: getattr(stated, k) for k in _STATED
                  if getattr(self, k) is None and getattr(stated, k) is not None}
        return replace(self, **filled)


def parse_date(text: str) -> dt.date | None:
    """`2018-12-12`, `2018/12/12`, `2018.12.12` or `2018年12月12日` as a date; None when
    the text is none of these or not a real day."""
    m = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?", text.strip())
    if not m:
        return None
    try:
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def parse_period(text: str) -> tuple[int, int] | None:
    """`2018-2020`, `2018—2020年`, `2018至2020` as (first year, last year); None otherwise
    (the order of the two years is not checked here)."""
    m = re.fullmatch(r"(\d{4})年?\s*(?:-|—|–|－|~|～|至|到)+\s*(\d{4})年?", text.strip())
    return (int(m[1]), int(m[2])) if m else None


def _blank(value: str | None) -> str | None:
    return (value.strip() or None) if value is not None else None


def _read(plan_id: str | None, title: str | None, issuer: str | None, doc_number: str | None,
          issued: str | None, period: str | None, government: str | None,
          districts: str | None, supervision_office: str | None,
          performance_office: str | None) -> tuple[PlanOptions, list[str], set[str]]:
    """The options, the problems of unreadable values, and the fields those were for."""
    problems: list[str] = []
    bad: set[str] = set()
    pid = _blank(plan_id)
    if pid is not None and not PLAN_ID.match(pid):
        problems.append(f"--plan-id “{plan_id}”无效：只能用英文字母、数字、点、短横线和下划线，"
                        "不超过80个字符")
        bad.add("plan_id")
        pid = None
    day = None
    if _blank(issued) is not None:
        day = parse_date(str(issued))
        if day is None:
            problems.append(f"--issued “{issued}”不是有效日期（应写作 2018-12-12）")
            bad.add("issued")
    years = None
    if _blank(period) is not None:
        years = parse_period(str(period))
        if years is None:
            problems.append(f"--period “{period}”无效（应写作 2018-2020）")
            bad.add("period")
        elif years[0] > years[1]:
            problems.append(f"--period “{period}”的起始年份晚于终止年份")
            bad.add("period")
            years = None
    names = split_clause(districts) if districts else []
    repeated = sorted({n for n in names if names.count(n) > 1}, key=names.index)
    if repeated:
        problems.append("--districts 中重复列出：" + "、".join(repeated))
    options = PlanOptions(
        plan_id=pid, title=_blank(title), issuer=_blank(issuer), doc_number=_blank(doc_number),
        issued=day, period=years, government=_blank(government), districts=tuple(names),
        supervision_office=_blank(supervision_office),
        performance_office=_blank(performance_office))
    return options, problems, bad


def read_cli_options(*, plan_id: str | None, title: str | None, issuer: str | None,
                     doc_number: str | None, issued: str | None, period: str | None,
                     government: str | None, districts: str | None,
                     supervision_office: str | None = None,
                     performance_office: str | None = None) -> tuple[PlanOptions, list[str]]:
    """Options as typed (each a string, or None when not given): `--issued 2018-12-21`
    (also 2018/12/21, 2018年12月21日), `--period 2018-2022` (first-last year, calendar
    years), `--districts A、B` (separated by 、，,；).

    Returns the options read and the problems (Chinese, naming each option: a plan id with
    spaces or Chinese, a date that is no real day, a period whose first year is after its
    last, a district named twice); a bad value is left out of the options so it is
    reported once. What is missing is not checked here (`plan_info_of`).
    """
    options, problems, _ = _read(plan_id, title, issuer, doc_number, issued, period,
                                 government, districts, supervision_office, performance_office)
    return options, problems


def _missing(options: PlanOptions, skip: set[str], stated: bool) -> list[str]:
    missing = [f"{opt}（{what}" + ("，原文未写明" if stated and key in _STATED else "") + "）"
               for key, (opt, what) in REQUIRED.items()
               if getattr(options, key) is None and key not in skip]
    return ["缺少规划设置：" + "、".join(missing) + "；导入时须给出，系统不代为假定"] if missing else []


def plan_info_of(options: PlanOptions, *, from_document: bool = False) -> PlanInfo:
    """The `PlanInfo` of checked options (the offices stay unset when not given: the load
    takes the supervision office from the rules or refuses, `tracker.catalog.load`).

    `from_document`: the options were merged with what a text document states, so a
    missing title, issuer or issue date is reported as 原文未写明. Raises PlanOptionsError
    naming every required setting missing (`REQUIRED`: plan id, title, issuer, issue date,
    period, government) in one sentence.
    """
    problems = _missing(options, set(), from_document)
    if problems:
        raise PlanOptionsError(problems)
    return _info(options)


def _info(options: PlanOptions) -> PlanInfo:
    offices = {k: v for k, v in (("supervision_office", options.supervision_office),
                                 ("performance_office", options.performance_office)) if v}
    try:
        return PlanInfo(
            id=options.plan_id, title=options.title, issuer=options.issuer,
            doc_number=options.doc_number, issued=options.issued, period=options.period,
            source=options.source, government=options.government,
            districts=list(options.districts), **offices)  # type: ignore[arg-type]
    except ValidationError as exc:  # every field was checked before; kept as a last guard
        raise PlanOptionsError([f"规划设置无效：{e['msg']}" for e in exc.errors()]) from None


def plan_info(*, plan_id: str | None, title: str | None, issuer: str | None,
              doc_number: str | None, issued: str | None, period: str | None,
              government: str | None, districts: str | None,
              supervision_office: str | None = None,
              performance_office: str | None = None) -> PlanInfo:
    """The `PlanInfo` of options as typed (each a string, or None when not given), as
    `tracker catalog import` takes them: `read_cli_options`, then `plan_info_of`.

    `districts` lists the district governments 各区人民政府 expands to, separated by
    、 ， , or ；(`和平区人民政府,河东区人民政府`); absent: the plan has none.
    `supervision_office` / `performance_office`: the offices that chase and score the plan
    (absent: unset, no city's default; the load needs a supervision office from here or
    from the rules, `tracker.catalog.load`). Raises PlanOptionsError listing every
    missing required option first, then every unreadable value, all at once.
    """
    options, problems, bad = _read(plan_id, title, issuer, doc_number, issued, period,
                                   government, districts, supervision_office,
                                   performance_office)
    problems = _missing(options, bad, False) + problems
    if problems:
        raise PlanOptionsError(problems)
    return _info(options)
