"""The one rounding rule for what people read: half up (四舍五入), as the scorecard has
used since issue 11. Percentages keep one decimal everywhere (scorecard, documents, desk,
the public report); points keep two (`ScoringRules.score_digits`).

Rule source: the office's scoring rules (`settings.ScoringRules.percent_digits`, default 1);
Python's round() and Jinja's round filter round half to even on floats (0.125 → 0.12),
so neither is used for figures people read.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

PERCENT_DIGITS = 1
# printed wherever percentages are explained (documents' notes, the workbook's 说明, the site)
PERCENT_RULE = "百分比按四舍五入保留一位小数。"


def round_half_up(value: float, digits: int) -> float:
    """`value` rounded half up (四舍五入) to `digits` decimals (0.125 → 0.13 at 2)."""
    return float(Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-digits),
                                                      rounding=ROUND_HALF_UP))


def percent(part: float, whole: float, digits: int = PERCENT_DIGITS) -> float | None:
    """`part` of `whole` in percent, rounded half up; None when `whole` is 0 (不适用).

    Computed in decimal from the two counts, so 23 of 80 is exactly 28.75 → 28.8 however
    the division is written (in binary floating point 23 / 80 * 100 is 28.749… → 28.7).
    """
    if not whole:
        return None
    exact = Decimal(repr(float(part))) * 100 / Decimal(repr(float(whole)))
    return float(exact.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def percent_text(part: float, whole: float, digits: int = PERCENT_DIGITS,
                 empty: str = "—") -> str:
    """`percent` as text with its sign, "87.5%" ("100.0%", "0.0%"); `empty` when `whole` is 0."""
    value = percent(part, whole, digits)
    return empty if value is None else f"{value:.{digits}f}%"


def number_text(value: float | int | None, digits: int = 2, empty: str = "—") -> str:
    """A measured value as printed (指标值): half up to `digits` decimals (default 2),
    trailing zeros dropped (34074.46, 35, 0.5); integers as they are; `empty` when missing
    or not a number. One rule for the desk's indicator page and the public report."""
    if value is None or isinstance(value, str) or (isinstance(value, float) and value != value):
        return empty
    if isinstance(value, int):
        return str(value)
    text = f"{round_half_up(float(value), digits):.{digits}f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text
