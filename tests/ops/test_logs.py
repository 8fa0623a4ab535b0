"""TRACKER_LOG_FORMAT=json: every record is one JSON object per line, Chinese kept as is."""

from __future__ import annotations

import io
import json
import logging

from tracker.ops.logs import configure_logging
from tracker.settings import Settings


def test_json_lines_carry_time_level_logger_message_and_extras(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKER_LOG_FORMAT", "JSON")
    monkeypatch.setenv("TRACKER_LOG_LEVEL", "info")
    settings = Settings(home=tmp_path)
    stream = io.StringIO()
    handler = configure_logging(settings, stream)
    try:
        logging.getLogger("tracker.dispatch").info("投递完成", extra={"sent": 52, "failed": 0})
        logging.getLogger("uvicorn.error").debug("below the level: not written")
        configure_logging(settings, stream)  # a second call replaces, never doubles, the handler
        logging.getLogger("apscheduler").warning("任务错过运行时间")
    finally:
        for h in [h for h in logging.getLogger().handlers if h.get_name() == handler.get_name()]:
            logging.getLogger().removeHandler(h)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and "投递完成" in lines[0]  # not \u6295 escapes
    first, second = map(json.loads, lines)
    assert {k: first[k] for k in ("level", "logger", "message", "sent", "failed")} == {
        "level": "INFO", "logger": "tracker.dispatch", "message": "投递完成", "sent": 52, "failed": 0}
    assert first["time"][4] == "-" and first["time"][-5] in "+-"  # ISO 8601 with its offset
    assert (second["level"], second["message"]) == ("WARNING", "任务错过运行时间")


def test_text_is_the_default(tmp_path):
    settings = Settings(home=tmp_path)
    assert (settings.log_format, settings.log_level) == ("text", "WARNING")
