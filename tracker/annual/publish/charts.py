"""Inline SVG charts of the public report: no script, no external file, no colour-only
meaning (every bar and point carries its value as text; the two lines of a trajectory
differ by dash and marker shape, named in a legend), each an `role="img"` with a title
and a description, and always printed beside the table of its data (WCAG 2.1 AA 1.1.1,
1.4.1, 1.4.11: marks are #0b4f8a and #1b1b1b on white, 8.6:1 and 17:1).

Charts are drawn in a narrow coordinate box (420 units wide) so that at 390 CSS px the
text still reads at about 11 px; the page scales them with `width: 100%`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

from markupsafe import Markup

WIDTH = 420
INK, ACCENT, MUTED, GRID = "#1b1b1b", "#0b4f8a", "#4a4a4a", "#8a96a3"
_ids = itertools.count(1)


def _e(text: object) -> str:
    return escape(str(text), {'"': "&quot;"})


def _num(value: float, digits: int) -> str:
    return f"{value:.{digits}f}"


@dataclass(frozen=True)
class Bar:
    """One bar: its label, its value (None: no bar, `missing` printed instead)."""

    label: str
    value: float | None
    missing: str = "—"


def _open(title: str, desc: str, height: float, prefix: str) -> tuple[str, str]:
    n = next(_ids)
    tid, did = f"{prefix}-t{n}", f"{prefix}-d{n}"
    head = (f'<svg class="chart" viewBox="0 0 {WIDTH} {height:g}" role="img" '
            f'aria-labelledby="{tid} {did}" xmlns="http://www.w3.org/2000/svg" '
            f'font-size="14" focusable="false">'
            f'<title id="{tid}">{_e(title)}</title><desc id="{did}">{_e(desc)}</desc>')
    return head, "</svg>"


def bar_chart(title: str, desc: str, bars: Sequence[Bar], *, maximum: float = 100.0,
              unit: str = "%", digits: int = 1, reference: float | None = None,
              reference_label: str = "", prefix: str = "bar") -> Markup:
    """Horizontal bars, one per row (label above its bar, value after it), on 0..`maximum`.

    `reference` draws a dashed vertical line at that value, named by `reference_label`
    (e.g. the share of the plan period elapsed). Values are printed with `digits`
    decimals and `unit`. Returns SVG markup (text escaped)."""
    left, right = 4.0, WIDTH - 70.0
    row = 40.0
    top = 34.0 if reference is not None else 8.0
    height = top + row * len(bars) + 8
    head, tail = _open(title, desc, height, prefix)
    parts = [head]
    span = right - left
    scale = span / maximum if maximum > 0 else 0.0
    for i, bar in enumerate(bars):
        y = top + i * row
        parts.append(f'<text x="{left:g}" y="{y + 13:g}" fill="{INK}">{_e(bar.label)}</text>')
        if bar.value is None or (isinstance(bar.value, float) and math.isnan(bar.value)):
            parts.append(f'<text x="{left:g}" y="{y + 32:g}" fill="{MUTED}">{_e(bar.missing)}</text>')
            continue
        w = max(min(bar.value, maximum), 0.0) * scale
        parts.append(f'<rect x="{left:g}" y="{y + 19:g}" width="{w:.1f}" height="14" '
                     f'fill="{ACCENT}"/>')
        parts.append(f'<text x="{left + w + 4:.1f}" y="{y + 31:g}" fill="{INK}">'
                     f'{_e(_num(bar.value, digits) + unit)}</text>')
    if reference is not None:
        x = left + max(min(reference, maximum), 0.0) * scale
        parts.append(f'<line x1="{x:.1f}" y1="20" x2="{x:.1f}" y2="{height - 4:g}" stroke="{INK}" '
                     'stroke-width="1.5" stroke-dasharray="5 3"/>')
        anchor = "end" if x > WIDTH / 2 else "start"
        dx = -4 if anchor == "end" else 4
        parts.append(f'<text x="{x + dx:.1f}" y="14" text-anchor="{anchor}" fill="{INK}">'
                     f'{_e(reference_label)}</text>')
    parts.append(tail)
    return Markup("".join(parts))


@dataclass(frozen=True)
class Point:
    """One year of a trajectory: the actual and expected values (None: not shown)."""

    year: int
    actual: float | None
    expected: float | None


def trajectory_chart(title: str, desc: str, points: Sequence[Point], *, unit: str = "",
                     target: float | None = None, target_label: str = "",
                     prefix: str = "line") -> Markup:
    """An indicator's trajectory: the expected values (应达值) as a dashed line with square
    markers, the actual values (实际值) as a solid line with round markers and their values
    printed, the target as a dotted line named `target_label`; a legend names the two lines
    by their dash and marker. Returns SVG markup."""
    left, right, top, bottom = 52.0, WIDTH - 30.0, 40.0, 200.0
    height = bottom + 30
    head, tail = _open(title, desc, height, prefix)
    parts = [head]
    values = [v for p in points for v in (p.actual, p.expected) if v is not None]
    if target is not None:
        values.append(target)
    if not values or not points:
        parts.append(f'<text x="{left:g}" y="{top + 20:g}" fill="{MUTED}">暂无数据</text>')
        parts.append(tail)
        return Markup("".join(parts))
    low, high = min(values), max(values)
    pad = (high - low) * 0.15 or max(abs(high) * 0.1, 1.0)
    low, high = low - pad, high + pad
    years = [p.year for p in points]
    first, last = min(years), max(years)

    def x(year: int) -> float:
        return left + (right - left) * ((year - first) / (last - first) if last > first else 0.5)

    def y(value: float) -> float:
        return bottom - (bottom - top) * (value - low) / (high - low)

    # axes and year labels
    parts.append(f'<line x1="{left:g}" y1="{bottom:g}" x2="{right:g}" y2="{bottom:g}" '
                 f'stroke="{GRID}"/>')
    for year in years:
        parts.append(f'<text x="{x(year):.1f}" y="{bottom + 18:g}" text-anchor="middle" '
                     f'fill="{INK}">{year}</text>')
    for tick in (low + pad, high - pad) if high - pad != low + pad else (low + pad,):
        parts.append(f'<text x="{left - 6:g}" y="{y(tick) + 4:.1f}" text-anchor="end" '
                     f'fill="{MUTED}">{_e(_short(tick))}</text>')
        parts.append(f'<line x1="{left:g}" y1="{y(tick):.1f}" x2="{right:g}" y2="{y(tick):.1f}" '
                     f'stroke="{GRID}" stroke-width="0.5"/>')
    if target is not None:
        parts.append(f'<line x1="{left:g}" y1="{y(target):.1f}" x2="{right:g}" '
                     f'y2="{y(target):.1f}" stroke="{INK}" stroke-dasharray="1 3" '
                     'stroke-width="1.5"/>')
        parts.append(f'<text x="{left + 4:g}" y="{y(target) - 5:.1f}" fill="{INK}">'
                     f'{_e(target_label)}</text>')
    expected = [(p.year, p.expected) for p in points if p.expected is not None]
    actual = [(p.year, p.actual) for p in points if p.actual is not None]
    if len(expected) > 1:
        path = " ".join(f"{x(a):.1f},{y(b):.1f}" for a, b in expected)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{MUTED}" '
                     'stroke-width="2" stroke-dasharray="6 4"/>')
    for a, b in expected:
        parts.append(f'<rect x="{x(a) - 4:.1f}" y="{y(b) - 4:.1f}" width="8" height="8" '
                     f'fill="#ffffff" stroke="{MUTED}" stroke-width="2"/>')
    if len(actual) > 1:
        path = " ".join(f"{x(a):.1f},{y(b):.1f}" for a, b in actual)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{ACCENT}" stroke-width="2.5"/>')
    for a, b in actual:
        parts.append(f'<circle cx="{x(a):.1f}" cy="{y(b):.1f}" r="4.5" fill="{ACCENT}"/>')
        parts.append(f'<text x="{x(a):.1f}" y="{y(b) - 9:.1f}" text-anchor="middle" '
                     f'fill="{INK}" font-weight="bold">{_e(_short(b) + unit)}</text>')
    # legend: line style and marker shape, named
    parts.append(f'<line x1="4" y1="14" x2="34" y2="14" stroke="{ACCENT}" stroke-width="2.5"/>'
                 f'<circle cx="19" cy="14" r="4.5" fill="{ACCENT}"/>'
                 f'<text x="40" y="18" fill="{INK}">实际值（实线、圆点）</text>'
                 f'<line x1="204" y1="14" x2="234" y2="14" stroke="{MUTED}" stroke-width="2" '
                 f'stroke-dasharray="6 4"/><rect x="215" y="10" width="8" height="8" '
                 f'fill="#ffffff" stroke="{MUTED}" stroke-width="2"/>'
                 f'<text x="240" y="18" fill="{INK}">应达值（虚线、方点）</text>')
    parts.append(tail)
    return Markup("".join(parts))


def _short(value: float) -> str:
    """A value as a label: up to 2 decimals, trailing zeros dropped (62.5, 100, 9.02)."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text
