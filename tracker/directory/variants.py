"""Names that likely stand for one agency (issue 13, item 4: 市人力社保局 and
市人力资源和社会保障局 in one document), found for the office's review list, never merged.

The rule (decided for issue 13; a hint for the office, never a decision):
- two names are *variants* when their normal forms are equal: full-width forms folded
  (NFKC), spaces and the joining words 和 / 与 / 及 / 、 dropped (not a name's first
  character: 和平区), and the suffixes written
  out in full shortened as offices shorten them (委员会 → 委, 办公室 → 办, 人民政府 → 政府):
  市人力资源社会保障局 = 市人力资源和社会保障局, 和平区政府 = 和平区人民政府;
- or when one is an *abbreviation* of the other: both normal forms start with the same
  character (the level: 市, 区, 县, 省 …) and end with the same one (the kind: 局, 委, 办 …),
  and every character of the shorter (at least three) appears in the longer in the same
  order: 市人力社保局 in 市人力资源和社会保障局, 市教委 in 市教育委员会.
Names of the same length that differ (河东区人民政府, 河西区人民政府) are never variants.
- or when one is written with a second name in brackets (an agency with two plates,
  挂牌: 省旅游文化广电体育厅（省体育局）) and the other is either of the two names, or a
  variant of one of them by the rules above.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

_JOINERS = re.compile(r"[\s和与及、·•]")
_SUFFIXES = (("委员会", "委"), ("办公室", "办"), ("人民政府", "政府"))


def normal_form(name: str) -> str:
    """The name folded for comparison (see the module's rule)."""
    text = re.sub(r"\s", "", unicodedata.normalize("NFKC", name))
    text = text[:1] + _JOINERS.sub("", text[1:])  # 和平区 keeps its 和
    for long, short in _SUFFIXES:
        if text.endswith(long):
            text = text[: -len(long)] + short
    return text


def _subsequence(short: str, long: str) -> bool:
    chars = iter(long)
    return all(c in chars for c in short)


# a name with a second name in brackets at its end: 省旅游文化广电体育厅（省体育局）
_SECOND_NAME = re.compile(r"^(?P<first>.{3,}?)\((?P<second>[^()]{3,})\)$")


def forms(name: str) -> list[str]:
    """The normal forms a name is compared by: its own, and for a name written with a
    second name in brackets, each of the two names' (`normal_form`, the module's rule)."""
    nf = normal_form(name)
    m = _SECOND_NAME.match(nf)
    return [nf] if m is None else [nf, normal_form(m["first"]), normal_form(m["second"])]


def likely_variant(a: str, b: str) -> bool:
    """Whether names `a` and `b` (different strings) likely stand for one agency, by the
    module's rule; symmetric."""
    return a != b and any(_alike(x, y) for x in forms(a) for y in forms(b))


def _alike(na: str, nb: str) -> bool:
    if na == nb:
        return True
    short, long = sorted((na, nb), key=len)
    return (3 <= len(short) < len(long) and short[0] == long[0] and short[-1] == long[-1]
            and _subsequence(short, long))


def variants_to_review(new: list[str], known: Iterable[str],
                       same: dict[str, int] | None = None) -> dict[str, str]:
    """{name: the look-alike it likely repeats} for the names of `new` (in the catalog's
    order) that are variants of another name of `new` or of `known` (names the directory
    has already). Of two new variants the shorter goes to review (the abbreviation, beside
    the name written in full), of two of equal length the later one; a new name beside a
    known one always. `same` ({name: agency id}) leaves out pairs already known to be one
    agency (a catalog's declared alias). Pairwise within groups of names that could be
    variants (same first and last character of the normal form)."""
    same = same or {}
    order = {n: i for i, n in enumerate(new)}
    old = [k for k in dict.fromkeys(known) if k not in order]
    # variants share the first and last character of their normal form: only names of one
    # group are compared (a national plan's thousands of county governments stay fast)
    groups: dict[tuple[str, str], list[tuple[str, str]]] = {}
    made: dict[str, list[str]] = {}  # each name's forms, made once
    for name in [*old, *new]:
        for nf in made.setdefault(name, forms(name)):
            if nf:
                groups.setdefault((nf[0], nf[-1]), []).append((name, nf))
    out: dict[str, str] = {}
    for name in new:
        candidates = [(other, nf, other_nf) for nf in made[name] if nf
                      for other, other_nf in groups.get((nf[0], nf[-1]), [])]
        for other, nf, other_nf in candidates:
            if other == name or (name in same and same.get(other) == same[name]):
                continue
            if not _alike(nf, other_nf):
                continue
            if other in order and (-len(other), order[other]) > (-len(name), order[name]):
                continue  # `name` is the one that stays (the longer, else the earlier)
            out[name] = other
            break
    return out
