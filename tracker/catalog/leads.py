"""Who leads a task, from its clause or its 牵头单位 cell as read by `phrases.read_agencies`
(issue 13): one rule for the text parser (`plan_text`) and the table importer (`table`).

The name marked （牵头） leads wherever it is written; else the first name of the lead
part (列第一位者为牵头单位, the rule the documents state or the label 牵头单位 gives);
else, when the lead part names no agency (各区人民政府负责, 有关部门牵头), the supervision
office stands in so the task is tracked at all, and a flag on the words as written asks
the office to name the lead (the office's review list; never a made-up agency).
"""

from __future__ import annotations

from tracker.catalog.phrases import Named
from tracker.catalog.schema import Flag


def lead_of(lead: Named, co: Named, office: str, raw: str, flags: list[Flag]
            ) -> tuple[str, list[Flag]]:
    """The lead of a task whose lead part reads as `lead` and co part as `co`, and its
    flags: `flags` unchanged when a name leads; when none does, `office` (the plan's
    supervision office, e.g. 市政府督查室) with a lead flag first on the phrase written
    (the first flagged or district phrase of the lead part, else of the co part, else
    the first co name, else `raw`, the clause as written), replacing the flag that phrase
    had. Pure; never raises."""
    marked = lead.marked_lead or co.marked_lead  # 市民政局（牵头）
    if marked is not None:
        return marked, flags
    if lead.names:
        return lead.names[0], flags
    phrase = next(iter([p for p, _ in lead.flags] + lead.district_phrases
                       + [p for p, _ in co.flags] + co.names), raw)
    return office, [Flag(field="lead", phrase=phrase,
                         reason=f"原文仅写“{phrase}”，未写明牵头单位；暂列{office}汇总，"
                                "请督查室确定牵头单位"),
                    *(f for f in flags if f.phrase != phrase)]
