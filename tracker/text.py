"""Text typed by people, made safe to store: one rule for every form, sheet and command.

Control characters (NUL, BEL, ESC, the C1 range, U+2028/U+2029 line separators) are
removed; a CR-LF or lone CR becomes LF; tabs and line feeds stay. PostgreSQL refuses NUL
in text outright (a 500 before issue 10), and the others break notices, Excel cells and
terminals without being visible to the person who typed them.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")


def clean_text(value: str) -> str:
    """`value` with line ends as LF and control characters other than TAB and LF removed."""
    return _CONTROL.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))


def _clean(value: Any) -> Any:
    return clean_text(value) if isinstance(value, str) else value


# a str field whose value is cleaned before any other check
PlainText = Annotated[str, BeforeValidator(_clean)]
