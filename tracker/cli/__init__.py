"""The `tracker` command (Typer + Rich). Each command commits once, at its end."""

from tracker.cli import addresses, bots, deploy, directory, office, run  # noqa: F401  (each module registers its commands)
from tracker.cli.common import app

__all__ = ["app"]
