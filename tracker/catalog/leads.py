"""Who leads a task, from its clause or its 牵头单位 cell as read by `phrases.read_agencies`
(issue 13): one rule for the text parser (`plan_text`) and the table importer (`table`).

The name marked （牵头） leads wherever it is written; else the first name of the lead
part (列第一位者为牵头单位, the rule the documents state or the label 牵头单位 gives; a
lead part that names several agencies under 牵头 is flagged, `phrases.second_lead_flag`);
else, when the lead part names no agency (各区人民政府负责, 有关部门牵头), the supervision
office stands in so the task is tracked at all, and a flag on the words as written asks
the office to name the lead (the office's review list; never a made-up agency). With no
supervision office named (no option, no plan setting), the placeholder `PENDING_LEAD`
stands in, never a city's office.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tracker.catalog.phrases import Named, match_district, second_lead_flag
from tracker.catalog.schema import Flag

PENDING_LEAD = "（待明确）"


@dataclass(frozen=True)
class Lead:
    """The lead found, the task's flags (the lead flag first), and whether the lead
    stands in for one the document does not name (the office or `PENDING_LEAD`)."""

    name: str
    flags: list[Flag]
    stand_in: bool


def lead_of(lead: Named, co: Named, office: str | None, raw: str, flags: list[Flag], *,
            several_named: bool = False, districts: Sequence[str] = ()) -> Lead:
    """The lead of a task whose lead part reads as `lead` and co part as `co`.

    `office` is the plan's supervision office (None: not named); `raw` the clause or cell
    as written; `flags` the task's flags so far (returned with the lead's added);
    `several_named` says the lead part is labelled 牵头 (牵头单位：A、B; A、B牵头; a 牵头单位
    column), so more than one name there is flagged; `districts` the plan's districts, to
    which a lead written 三沙市人民政府 is matched. Pure; never raises."""
    marked = lead.marked_lead or co.marked_lead  # 市民政局（牵头）
    if marked is not None:
        return Lead(match_district(marked, districts) or marked, flags, False)
    if lead.names:
        first = lead.names[0]
        if several_named and len(lead.names) > 1:
            flags = [second_lead_flag("、".join(lead.names), first), *flags]
        return Lead(match_district(first, districts) or first, flags, False)
    phrase = next(iter([p for p, _ in lead.flags] + lead.district_phrases
                       + [p for p, _ in co.flags] + co.names), raw)
    held = (f"暂列{office}汇总" if office else
            f"牵头单位暂记为“{PENDING_LEAD}”（未给出督查室名称）")
    return Lead(office or PENDING_LEAD,
                [Flag(field="lead", phrase=phrase,
                      reason=f"原文仅写“{phrase}”，未写明牵头单位；{held}，请督查室确定牵头单位"),
                 *(f for f in flags if f.phrase != phrase)], True)
