"""The plan as data: parse the seed text, validate the catalog, load it into the database."""

from __future__ import annotations

from pathlib import Path

# The checkout's data: the catalog checked in at the repository root, generated from the
# plan text kept in data/seed/ (a test checks that the two agree).
REPOSITORY = Path(__file__).resolve().parents[2]
CHECKED_IN_CATALOG = REPOSITORY / "tasks_catalog.json"
SEED_TEXT = REPOSITORY / "data" / "seed" / "tianjin-disability-plan-2016-2020.txt"


def default_catalog_path() -> Path:
    """`tasks_catalog.json` in the current folder if there is one, else the checked-in one,
    so the installed `tracker` finds its data wherever it is run from."""
    here = Path("tasks_catalog.json")
    return here if here.is_file() else CHECKED_IN_CATALOG
