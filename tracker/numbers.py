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
