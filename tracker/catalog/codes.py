"""Codes of measures and indicators (`2.1.3`, `3.1`, `I1`) in the order people read them.

Plain text order puts `2.10.1` before `2.2.1` and `I10` before `I2`. Every list that people
read in code order (the ledger, circulars, documents) sorts with `code_key`.
"""

from __future__ import annotations

import re

_RUN = re.compile(r"\d+|[^\W\d_]+")

CodeKey = tuple[int, tuple[tuple[int, int, str], ...], str]


def code_key(code: str | None) -> CodeKey:
    """A sort key that orders codes naturally: numbers by value, part by part.

    The code is read as runs of digits and runs of letters; punctuation (`.`, `-`, `．`,
    brackets) only separates runs. Digit runs compare as integers and before letter runs, so
    `2.2.1` < `2.10.1` < `3.1` < `3.1.1` < `I1` < `I2` < `I10`; letters compare case-blind.
    An empty or missing code sorts after every code. Codes equal by these rules (`2.01`,
    `2.1`) are told apart by their text, so the order is total and repeatable.
    """
    text = (code or "").strip()
    if not text:
        return (1, (), "")
    runs = tuple((0, int(run), "") if run.isdecimal() else (1, 0, run.casefold())
                 for run in _RUN.findall(text))
    return (0, runs, text)
