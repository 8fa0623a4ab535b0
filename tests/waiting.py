"""Waiting for a real subprocess or server in tests: poll with a deadline, never a sleep."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_for(what: str, check: Callable[[], Any], deadline: float = 120.0,
             every: float = 0.2) -> Any:
    """Poll `check` every `every` seconds until it returns something truthy (returned);
    raise AssertionError naming `what` after `deadline` seconds."""
    end = time.monotonic() + deadline
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {deadline:g} s waiting for {what}")
        time.sleep(every)
