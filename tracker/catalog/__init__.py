"""The plan as data: parse the seed text, validate the catalog, load it into the database."""

from __future__ import annotations

import sys
from pathlib import Path

# The checkout's data: the catalog checked in at the repository root, generated from the
# plan text kept in data/seed/ (a test checks that the two agree).
REPOSITORY = Path(__file__).resolve().parents[2]
CHECKED_IN_CATALOG = REPOSITORY / "tasks_catalog.json"
SEED_TEXT = REPOSITORY / "data" / "seed" / "tianjin-disability-plan-2016-2020.txt"
# where `pip install .` (not editable) puts the same two files: pyproject's data-files
INSTALLED_DATA = Path(sys.prefix) / "share" / "plan-tracker"


def default_catalog_path() -> Path:
    """`tasks_catalog.json` in the current folder if there is one, else the checkout's, else
    the copy `pip install .` put in <prefix>/share/plan-tracker/, so the installed `tracker`
    finds its data wherever it is run from."""
    here = Path("tasks_catalog.json")
    if here.is_file():
        return here
    if CHECKED_IN_CATALOG.is_file():
        return CHECKED_IN_CATALOG
    return INSTALLED_DATA / "tasks_catalog.json"
