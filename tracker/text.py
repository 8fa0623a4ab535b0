"""Text typed by people, made safe to store: one rule for every form, sheet and command.

Control characters (NUL, BEL, ESC, the C1 range, U+2028/U+2029 line separators), the
bidirectional controls (U+200E/U+200F marks, U+061C, the U+202A–U+202E embeddings and
overrides, the U+2066–U+2069 isolates) and the zero-width space, word joiner and
mid-text BOM (U+200B, U+2060, U+FEFF) and the noncharacters (U+FDD0–U+FDEF, U+FFFE,
U+FFFF: no XML document, so no Word file, may hold them) are removed; a CR-LF or lone CR becomes LF; tabs
and line feeds stay. PostgreSQL refuses NUL in text outright (a 500 before issue 10); the
others break notices, Excel cells and terminals, or make a text read differently from
what it is ("exe.png" shown for "gnp.exe"), without being visible to the person reading.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator

_INVISIBLE = ("\x7f-\x9f\u2028\u2029\u200b\u200e\u200f\u061c\u202a-\u202e\u2060\u2066-\u2069\ufeff"
              "\ufdd0-\ufdef\ufffe\uffff")
_CONTROL = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f{_INVISIBLE}]")
_CONTROL_IN_NAME = re.compile(f"[\x00-\x1f{_INVISIBLE}]")


def clean_text(value: str) -> str:
    """`value` with line ends as LF and control characters other than TAB and LF removed
    (the module's list)."""
    return _CONTROL.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))


def clean_name(value: str) -> str:
    """A one-line name (a file name): every character of the module's list removed, TAB
    and line ends too."""
    return _CONTROL_IN_NAME.sub("", value)


def _clean(value: Any) -> Any:
    return clean_text(value) if isinstance(value, str) else value


# a str field whose value is cleaned before any other check
PlainText = Annotated[str, BeforeValidator(_clean)]
