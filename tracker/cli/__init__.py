"""The `tracker` command (Typer + Rich). Each command commits once, at its end."""

from tracker.cli import (  # noqa: F401  (each module registers its commands)
    addresses,
    agencies,
    bots,
    calendar,
    catalog_table,
    catalog_text,
    deploy,
    directory,
    office,
    ops,
    publish,
    run,
    synth,
)
from tracker.cli.common import app

__all__ = ["app"]
