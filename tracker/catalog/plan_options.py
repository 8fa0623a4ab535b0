"""Plan settings given as options to an importer (issue 13, build item 3).

A plan's issuer, period and districts are its own: an importer never falls back on any
city's. `plan_info` reads the options as typed on the command line and returns a
`PlanInfo`, or raises `PlanOptionsError` naming every missing or unreadable option at once.
"""

from __future__ import annotations

import datetime as dt
import re

from pydantic import ValidationError

from tracker.catalog.phrases import split_clause
from tracker.catalog.schema import PlanInfo

# option -> what it is, in the refusal
REQUIRED = {
    "--plan-id": "规划标识，如 farm-machinery-2018",
    "--title": "规划名称",
    "--issuer": "印发机关",
    "--issued": "印发日期，如 2018-12-12",
    "--period": "规划期，如 2018-2020",
    "--government": "本级政府，即区县的上级政府",
}
PLAN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,79}$")


class PlanOptionsError(ValueError):
    """The plan settings are incomplete or unreadable; `problems` are Chinese sentences,
    each naming its option."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


def parse_date(text: str) -> dt.date | None:
    """`2018-12-12`, `2018/12/12`, `2018.12.12` or `2018年12月12日` as a date; None when
    the text is none of these or not a real day."""
    t = text.strip()
    m = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?", t)
    if not m:
        return None
    try:
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def parse_period(text: str) -> tuple[int, int] | None:
    """`2018-2020`, `2018—2020年`, `2018至2020` as (first year, last year); None otherwise."""
    m = re.fullmatch(r"(\d{4})年?\s*(?:-|—|–|－|~|～|至|到)+\s*(\d{4})年?", text.strip())
    return (int(m[1]), int(m[2])) if m else None


def plan_info(*, plan_id: str | None, title: str | None, issuer: str | None,
              doc_number: str | None, issued: str | None, period: str | None,
              government: str | None, districts: str | None,
              supervision_office: str | None = None,
              performance_office: str | None = None) -> PlanInfo:
    """The `PlanInfo` of the options (each a string as typed, or None when not given).

    `districts` lists the district governments 各区人民政府 expands to, separated by
    、 ， , or ；(`和平区人民政府,河东区人民政府`); absent: the plan has none. Raises
    `supervision_office` / `performance_office`: the offices that chase and score the plan
    (absent: the schema's 市政府督查室 / 市绩效办). Raises
    PlanOptionsError listing every missing required option (`REQUIRED`) and every
    unreadable value (a date, a period whose first year is after its last, a plan id with
    spaces or Chinese, a district named twice).
    """
    given = {"--plan-id": plan_id, "--title": title, "--issuer": issuer, "--issued": issued,
             "--period": period, "--government": government}
    problems: list[str] = []
    missing = [f"{opt}（{what}）" for opt, what in REQUIRED.items()
               if not (given[opt] or "").strip()]
    if missing:
        problems.append("缺少规划设置：" + "、".join(missing) + "；导入时须给出，系统不代为假定")
    if plan_id and plan_id.strip() and not PLAN_ID.match(plan_id.strip()):
        problems.append(f"--plan-id “{plan_id}”无效：只能用英文字母、数字、点、短横线和下划线，"
                        "不超过80个字符")
    issued_on = parse_date(issued) if issued and issued.strip() else None
    if issued and issued.strip() and issued_on is None:
        problems.append(f"--issued “{issued}”不是有效日期（应写作 2018-12-12）")
    years = parse_period(period) if period and period.strip() else None
    if period and period.strip():
        if years is None:
            problems.append(f"--period “{period}”无效（应写作 2018-2020）")
        elif years[0] > years[1]:
            problems.append(f"--period “{period}”的起始年份晚于终止年份")
            years = None
    names = split_clause(districts) if districts else []
    repeated = sorted({n for n in names if names.count(n) > 1}, key=names.index)
    if repeated:
        problems.append("--districts 中重复列出：" + "、".join(repeated))
    if problems:
        raise PlanOptionsError(problems)
    assert issued_on is not None and years is not None
    offices = {k: v.strip() for k, v in (("supervision_office", supervision_office),
                                         ("performance_office", performance_office))
               if v and v.strip()}
    try:
        return PlanInfo(id=str(plan_id).strip(), title=str(title).strip(),
                        issuer=str(issuer).strip(),
                        doc_number=doc_number.strip() if doc_number and doc_number.strip() else None,
                        issued=issued_on, period=years, government=str(government).strip(),
                        districts=names, **offices)
    except ValidationError as exc:  # every field was checked above; kept as a last guard
        raise PlanOptionsError([f"规划设置无效：{e['msg']}" for e in exc.errors()]) from None
