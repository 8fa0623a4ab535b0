"""Plan settings given on the command line, checked into a `PlanInfo` (issue 13, item 3).

Nothing here defaults to any city's values. The text parser reads what a document states
about itself (title, 文号, signing office, date) and an option given overrides it; what is
neither given nor stated is refused, every missing setting at once, in Chinese.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace

from pydantic import ValidationError

from tracker.catalog.schema import PlanInfo

PLAN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


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
        """These options, with what the document states filling the ones not given."""
        filled = {k: getattr(stated, k) for k in ("title", "issuer", "doc_number", "issued")
                  if getattr(self, k) is None and getattr(stated, k) is not None}
        return replace(self, **filled)


@dataclass
class OptionProblems:
    """Bad or missing options, each a Chinese sentence naming the option."""

    problems: list[str] = field(default_factory=list)


def read_cli_options(*, plan_id: str | None, title: str | None, issuer: str | None,
                     doc_number: str | None, issued: str | None, period: str | None,
                     government: str | None, districts: str | None,
                     supervision_office: str | None = None,
                     performance_office: str | None = None) -> tuple[PlanOptions, list[str]]:
    """Options as typed (`--issued 2018-12-21`, `--period 2018-2022`, `--districts A,B`).

    Returns the options read and the problems (Chinese, naming each option); a bad value is
    left out of the options so it is reported once.
    """
    problems: list[str] = []
    day: dt.date | None = None
    if issued is not None:
        try:
            day = dt.date.fromisoformat(issued.strip())
        except ValueError:
            problems.append(f"--issued 的值“{issued}”不是有效日期（应为 YYYY-MM-DD，如 2018-12-21）")
    years: tuple[int, int] | None = None
    if period is not None:
        m = re.fullmatch(r"\s*(\d{4})\s*[-–—~至]\s*(\d{4})\s*(?:年)?", period)
        if not m:
            problems.append(f"--period 的值“{period}”无效（应为 起始年-终止年，如 2018-2022）")
        elif int(m[1]) > int(m[2]):
            problems.append(f"--period 的值“{period}”起始年晚于终止年")
        else:
            years = (int(m[1]), int(m[2]))
    if plan_id is not None and not PLAN_ID.match(plan_id):
        problems.append(f"--plan-id 的值“{plan_id}”无效（只用字母、数字、点、横线和下划线，"
                        "如 gov-2018-42）")
        plan_id = None
    names = tuple(n for n in re.split(r"[,，、\s]+", districts or "") if n)
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        problems.append(f"--districts 中有重复的区县：{'、'.join(dup)}")
    options = PlanOptions(
        plan_id=plan_id, title=_blank(title), issuer=_blank(issuer),
        doc_number=_blank(doc_number), issued=day, period=years, government=_blank(government),
        districts=names, supervision_office=_blank(supervision_office),
        performance_office=_blank(performance_office))
    return options, problems


def _blank(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


_REQUIRED = (("plan_id", "--plan-id（规划标识，如 gov-2018-42）"),
             ("title", "--title（规划名称）"),
             ("issuer", "--issuer（印发机关）"),
             ("issued", "--issued（成文日期，YYYY-MM-DD）"),
             ("period", "--period（规划期，如 2018-2022）"),
             ("government", "--government（各区县所属的人民政府，如 天津市人民政府）"))


_STATED = {"title", "issuer", "issued"}  # what a document may state about itself


def plan_info(options: PlanOptions) -> tuple[PlanInfo | None, list[str]]:
    """The plan settings, or None and the problems: every required setting not given and
    not stated by the document (plan id, title, issuer, issue date, period, government)."""
    missing = [(key, label) for key, label in _REQUIRED if getattr(options, key) is None]
    if missing:
        return None, [f"缺少规划设置 {label}" + ("，原文未写明" if key in _STATED else "")
                      + "，请在命令行给出" for key, label in missing]
    extra = {k: v for k, v in (("supervision_office", options.supervision_office),
                               ("performance_office", options.performance_office)) if v}
    try:
        info = PlanInfo(
            id=options.plan_id, title=options.title, issuer=options.issuer,
            doc_number=options.doc_number, issued=options.issued, period=options.period,
            source=options.source, government=options.government,
            districts=list(options.districts), **extra)  # type: ignore[arg-type]
    except ValidationError as exc:
        return None, [f"规划设置无效：{e['loc'][0] if e['loc'] else ''} {e['msg']}" for e in exc.errors()]
    return info, []
