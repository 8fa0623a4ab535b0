"""What every official document shares: its items grouped and counted, the office's names,
and the wording's placeholders.

`counts` is the one function behind every count a page or a document states, so the desk's
list, the preview and the Word file never disagree. Items are the JSON rows circulars and
督办通知单 keep ({request_id, agency_id, agency, code, title, role, period, due_on}).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tracker.catalog.codes import code_key
from tracker.dates.chinese import cn_date
from tracker.dates.periods import period_order
from tracker.documents.content import AnnexGroup
from tracker.errors import DomainError
from tracker.requests.milestones import is_milestone_label
from tracker.settings import DocumentRules, OfficeDocuments

# five columns, so the task keeps room on A4 at the annex's size (the period is the due
# day's: 2017年4月10日 is the first quarter's)
ANNEX_COLUMNS = ["序号", "编号", "任务或指标", "类别", "截止日期"]
# the items keep the short role labels of tracker.enums.role_label; a document writes them out
ROLE_WORDS = {"牵头": "牵头", "配合": "配合", "区": "属地", "指标": "指标"}
# 主送 lists the agencies a document names when they are few, else the usual 各有关单位
ADDRESSEES_LISTED = 5


class WordingError(DomainError):
    """The office's wording or lists cannot be used as typed; the reason in Chinese."""


@dataclass(frozen=True)
class Counts:
    """How many items and agencies a document names, and each agency's items, in the
    document's order (most items first, then the directory's order)."""

    items: int
    agencies: int
    by_agency: list[tuple[str, int]]


def ordered(items: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Items grouped by agency (agencies with most items first, ties by agency id), each
    agency's items by code in natural order (2.2.1 before 2.10.1),
    then by period (`period_order`: a milestone after its day's quarter)."""
    items = list(items)
    per: dict[int, int] = {}
    for i in items:
        per[i["agency_id"]] = per.get(i["agency_id"], 0) + 1
    # a national list repeats a few dozen codes and periods: each key is computed once
    codes = {c: code_key(c) for c in {i.get("code") for i in items}}
    periods = {p: period_order(p) for p in {i.get("period") for i in items}}
    return sorted(items, key=lambda i: (-per[i["agency_id"]], i["agency_id"],
                                        codes[i.get("code")], periods[i.get("period")]))


def counts(items: Iterable[Mapping[str, Any]]) -> Counts:
    """The counts a document states (see the module's docstring)."""
    groups: dict[int, tuple[str, int]] = {}
    for i in ordered(items):
        name, n = groups.get(i["agency_id"], (i["agency"], 0))
        groups[i["agency_id"]] = (name, n + 1)
    by_agency = list(groups.values())
    return Counts(items=sum(n for _, n in by_agency), agencies=len(by_agency),
                  by_agency=by_agency)


def annex_groups(items: Iterable[Mapping[str, Any]]) -> list[AnnexGroup]:
    """The annex table's rows (ANNEX_COLUMNS), one group per agency, numbered 1… overall."""
    groups: dict[int, AnnexGroup] = {}
    for n, i in enumerate(ordered(items), start=1):
        group = groups.setdefault(i["agency_id"], AnnexGroup(agency=i["agency"], rows=[]))
        role = i.get("role") or ""
        group.rows.append([str(n), i.get("code") or "", _task_cell(i),
                           ROLE_WORDS.get(role, role), cn_date(i["due_on"])])
    return list(groups.values())


def _task_cell(item: Mapping[str, Any]) -> str:
    """The annex's 任务或指标: the title; a task's own deadline (a milestone period,
    tracker.requests.milestones) says so after it, since its due day is not a quarter's
    (in the wide column, where it wraps with the title, not in the narrow 截止日期)."""
    title = item.get("title") or ""
    return f"{title}（完成时限）" if is_milestone_label(item.get("period") or "") else title


def default_addressees(c: Counts) -> list[str]:
    """主送 by default: the agencies named, when at most ADDRESSEES_LISTED, else 各有关单位."""
    if c.agencies > ADDRESSEES_LISTED:
        return ["各有关单位"]
    return [name for name, _ in c.by_agency]


def agency_summary(c: Counts, limit: int = 10) -> str:
    """"市民政局5项、市教委3项" for the body: the first `limit` agencies, then 等N个单位."""
    parts = "、".join(f"{name}{n}项" for name, n in c.by_agency[:limit])
    return parts + (f"等{c.agencies}个单位" if c.agencies > limit else "")


def full_office_name(government: str, office: str) -> str:
    """An office's full name for a document's 发文机关标志 and 署名, from the short name a
    plan uses: 市政府督查室 under 天津市人民政府 → 天津市人民政府督查室; 市绩效办 →
    天津市绩效办; a name that is already full is kept."""
    if government.endswith("市人民政府"):
        city = government.removesuffix("人民政府")  # 天津市
        if office.startswith("市政府"):
            return government + office.removeprefix("市政府")
        if office.startswith("市") and not office.startswith(city):
            return city + office.removeprefix("市")
    return office


@dataclass(frozen=True)
class Issuer:
    """Who issues a document: the office's name as plans name it, and how it is printed."""

    office: str  # the sequence's key, e.g. 市政府督查室
    mark: str  # 发文机关标志
    signature: str  # 发文机关署名
    printer: str  # 印发机关
    config: OfficeDocuments

    @property
    def sequence(self) -> str:
        """The key of the 文号 sequence: what the printed number depends on besides year
        and serial (the 机关代字, or for 期 the office's mark), so two offices printing the
        same 代字 share one sequence and never print the same number."""
        return (f"号:{self.config.prefix}" if self.config.style == "号"
                else f"期:{self.mark}")


def plan_issuer(plan: Any, rules: DocumentRules) -> Issuer:
    """The issuer of a plan's documents: its supervision office under its government."""
    return issuer(plan.government, plan.supervision_office,
                  rules.for_office(plan.supervision_office))


def issuer(government: str, office: str, config: OfficeDocuments) -> Issuer:
    """The issuer of the plan's documents (settings.OfficeDocuments, defaults from the name)."""
    full = full_office_name(government, office)
    mark = config.mark or full
    return Issuer(office=office, mark=mark, signature=config.signature or full,
                  printer=config.printer or full, config=config)


_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def fill(text: str, values: Mapping[str, str], field: str) -> list[str]:
    """The wording's paragraphs (split at blank lines or line breaks) with each {名称}
    replaced by its value. Raises WordingError naming `field` and the unknown name."""
    unknown = sorted({m for m in _PLACEHOLDER.findall(text) if m not in values})
    if unknown:
        raise WordingError(f"{field}中的“{{{unknown[0]}}}”不是可用的占位符（可用："
                           + "、".join("{" + k + "}" for k in values) + "）")
    filled = _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)
    return [p.strip() for p in re.split(r"\n+", filled.replace("\r", "")) if p.strip()]


def names(text: str, field: str, limit: int = 200) -> list[str]:
    """A list of agencies typed one per line or separated by 、，, ; (主送, 抄送), in order,
    without repeats. Raises WordingError naming `field` when a name is too long."""
    out: list[str] = []
    for part in re.split(r"[\n\r、，,；;]+", text):
        part = part.strip().rstrip("：:。.")
        if not part:
            continue
        if len(part) > 60:
            raise WordingError(f"{field}中的“{part[:20]}…”过长（每个单位名称最多 60 字）")
        if part not in out:
            out.append(part)
    if len(out) > limit:
        raise WordingError(f"{field}最多 {limit} 个单位")
    return out
