"""The catalog's 完成时限 onto the measure rows (issue 13, build item 5).

Kept apart from `load.py` (one call from there): the milestone it becomes is tracked by
`tracker.requests.milestones`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from tracker.catalog.schema import Catalog
from tracker.catalog.schema import Measure as CatalogMeasure
from tracker.enums import DeadlineKind
from tracker.models import Measure

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


def store_deadlines(catalog: Catalog, measures: dict[str, Measure],
                    bump: Callable[[str], None], kept: Collection[str] = ()) -> None:
    """Write each catalog measure's `deadline` (schema.Deadline, or None: none written)
    onto its row in `measures` (keyed by code; every catalog code must be there), and
    call `bump("deadlines_updated")` once per row that changed. A measure of `kept` (codes
    whose deadline the office set on the review list, `directory.review.set_deadline`)
    keeps its row's deadline while the catalog writes none. No query; does not flush.
    (`tracker.catalog.load` compares `deadline_values` with the rows as read instead.)
    """
    for m in catalog.measures:
        values = deadline_values(m, kept)
        if values is None:
            continue
        row = measures[m.code]
        changed = False
        for k, v in values.items():
            if getattr(row, k) != v:
                setattr(row, k, v)
                changed = True
        if changed:
            bump("deadlines_updated")
