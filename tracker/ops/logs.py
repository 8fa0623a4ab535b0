"""Logging of the `tracker` processes: readable lines, or one JSON object per line.

TRACKER_LOG_FORMAT=json (settings.log_format) makes every record of every logger
(the tracker's, uvicorn's, APScheduler's; Prefect's own handlers aside) one JSON object
on stderr, for a log collector: {"time": ISO 8601 with offset, "level", "logger",
"message", ...extra fields}. The formatter is python-json-logger's.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from tracker.settings import Settings

_HANDLER_NAME = "tracker-root"


def configure_logging(settings: Settings, stream: Any = None) -> logging.Handler:
    """Install one stderr handler on the root logger at settings.log_level (idempotent:
    a second call replaces the first handler). Returns the handler."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    if settings.log_format == "json":
        from pythonjsonlogger.json import JsonFormatter

        handler.setFormatter(JsonFormatter(
            "{asctime}{levelname}{name}{message}", style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            json_ensure_ascii=False, datefmt="%Y-%m-%dT%H:%M:%S%z"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s",
                                               datefmt="%Y-%m-%d %H:%M:%S%z"))
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    return handler


def uvicorn_log_config(settings: Settings) -> dict[str, Any] | None:
    """uvicorn's `log_config`: None (its records go to our root handler) for JSON logs,
    else uvicorn's own default configuration."""
    if settings.log_format == "json":
        return None
    from uvicorn.config import LOGGING_CONFIG

    return LOGGING_CONFIG
