"""One cell of a 任务分工表 read as its field (issue 13, item 1): a 编号, a 部分 heading, a
task written in one cell, names on their own lines, a 区县 cell (a 完成时限 cell is
`deadlines.deadline_and_flag`'s, as in the text plans).

Pure functions of the cell's text (and the plan's districts), used by `table`; the
refusals they return are Chinese sentences the importer attaches to the cell.
"""

from __future__ import annotations

import re

from tracker.catalog.phrases import DISTRICT_PHRASE, SOME_DISTRICTS, match_district, split_clause
from tracker.catalog.schema import Flag

HEADING_NUMBER = re.compile(
    r"^(?:第[一二三四五六七八九十百零〇\d]+(?:部分|章|篇|节)\s*|[一二三四五六七八九十百零〇]+[、.．]\s*"
    r"|[（(][一二三四五六七八九十百零〇\d]+[)）]\s*|\d+[、.．]\s*)")
_NONE_WORDS = {"无", "不涉及", "—", "-", "－", "/", "／", "否", "0"}
_ALL_WORDS = {"全部", "全部区县", "所有区县", "各区", "各区县", "全市各区", "全部区", "各县（市、区）",
              "是", "全部区县政府"}
_SOME_WORDS = {"有关", "相关", "有关区", "相关区", "有关区县", "相关区县", "部分区县", "部分"}
LABELLED = re.compile(
    r"^(?:牵头(?:单位|部门)|责任(?:单位|部门))[:：](?P<lead>.*?)"
    r"(?:[；;，,。\s]*(?:配合|协办|参与|协同)(?:单位|部门)[:：](?P<co>.*))?$", re.S)


def heading(text: str) -> str:
    """一、加快推进农业机械化 -> 加快推进农业机械化 (numbering dropped, as in the text plans)."""
    return HEADING_NUMBER.sub("", text.replace("\n", "")).strip() or text.strip()


def normal_code(text: str) -> str:
    """A 编号 cell as a code: full-width figures and dots made plain, spaces and a final
    、 or . dropped (1． -> 1, ２.３ -> 2.3)."""
    code = text.translate(str.maketrans("０１２３４５６７８９．－", "0123456789.-"))
    code = re.sub(r"\s+", "", code)
    return code.rstrip("、.．,，") if len(code) > 1 else code


def names_clause(text: str) -> str:
    """A lead/co cell as a clause: names on their own lines are separate names."""
    return re.sub(r"\s*\n\s*", "、", text.strip())


def district_cell(cell: str, districts: list[str], plan_known: bool
                  ) -> str | tuple[str, list[str], list[Flag]]:
    """A 区县 cell read: (rule, named districts, flags), or the reason it cannot be read."""
    t = re.sub(r"\s+", "", cell)
    if t in _NONE_WORDS:
        return "none", [], []
    if t in _ALL_WORDS or DISTRICT_PHRASE.match(t):
        return "all", [], []
    if t in _SOME_WORDS or SOME_DISTRICTS.match(t):
        return "some", [], [Flag(field="districts", phrase=t,
                                 reason="未指明具体区县，请督查室选定承担的区县")]
    if not plan_known:
        return "some", [], []
    if not districts:
        return (f"区县列写明“{cell[:30]}”，但未用 --districts 给出本规划的区县名单"
                "（或将此列写为 全部 / 有关 / 无）")
    named: list[str] = []
    unknown: list[str] = []
    for part in split_clause(cell.replace("\n", "、")):
        match = _match_district(part, districts)
        if match is None:
            unknown.append(part)
        elif match not in named:
            named.append(match)
    if unknown:
        return (f"区县“{'、'.join(unknown)}”不在本规划的区县名单（--districts）中；可写 全部、"
                "有关、无，或名单中的区县")
    return "some", named, []


def _match_district(name: str, districts: list[str]) -> str | None:
    """The plan's district a cell names: 甲区 for 甲区人民政府 and back
    (`phrases.match_district`), or the one district that starts with it; None when none or
    several do."""
    if (found := match_district(name, districts)) is not None:
        return found
    starts = [d for d in districts if d.startswith(name)]
    return starts[0] if len(starts) == 1 else None


def split_title(text: str) -> tuple[str, str]:
    """A task written in one cell: its first sentence is the title, the rest the text
    (as the text plans read: 健全残疾人社会保障制度。将…)."""
    first = re.split(r"(?<=[。；;])", text, maxsplit=1)[0]
    return first.rstrip("。；;").strip() or text, text[len(first):].strip()
