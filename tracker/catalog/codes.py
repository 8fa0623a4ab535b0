"""Item codes as people sort them: 2.2.1 before 2.10.1, I2 before I10 (natural order)."""

from __future__ import annotations

import re

_PARTS = re.compile(r"(\d+)")


def code_key(code: str | None) -> tuple[tuple[int, int | str], ...]:
    """A sort key ordering codes naturally: digit runs compare as numbers, the rest as text
    ("2.2.1" < "2.10.1", "I2" < "I10"); None and "" sort first."""
    return tuple((0, int(part)) if part.isdigit() else (1, part)
                 for part in _PARTS.split(code or "") if part)
