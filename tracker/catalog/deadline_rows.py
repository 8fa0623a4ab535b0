"""The catalog's 完成时限 onto the measure rows (issue 13, build item 5).

Kept apart from `load.py` (`load_rows` compares these values with the rows it reads):
the milestone it becomes is tracked by `tracker.requests.milestones`.
"""

from __future__ import annotations

from collections.abc import Collection

from tracker.catalog.schema import Measure as CatalogMeasure
from tracker.enums import DeadlineKind

DEADLINE_COLUMNS = ("deadline_text", "deadline_kind", "deadline_due", "deadline_month",
                    "deadline_day")


def deadline_values(measure: CatalogMeasure, kept: Collection[str] = ()
                    ) -> dict[str, object] | None:
    """The measure row's deadline columns (`DEADLINE_COLUMNS`) for catalog measure
    `measure` (all None when it writes no 完成时限), or None when the row keeps its own: a
    measure of `kept` (codes whose deadline the office set on the review list,
    `directory.review.set_deadline`) while the catalog writes none."""
    d = measure.deadline
    if d is None and measure.code in kept:
        return None
    return dict(
        deadline_text=d.text if d else None,
        deadline_kind=DeadlineKind(d.kind) if d else None,
        deadline_due=d.due if d and d.kind == "date" else None,
        deadline_month=d.month if d and d.kind == "yearly" else None,
        deadline_day=d.day if d and d.kind == "yearly" else None)

