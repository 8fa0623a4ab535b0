"""External programs run with a bound on their time: one home for "start it in its own
process group, wait, kill the whole group when the time is up".

LibreOffice (`soffice` starts `soffice.bin` and exits through it) and `pdftoppm` are the
programs the product runs; each call gets a folder of its own as HOME and working
directory, so two runs never share a profile or a lock.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path


def run_bounded(command: Sequence[str], *, folder: Path, timeout: float,
                env: Mapping[str, str] | None = None) -> int | None:
    """Run `command` with `folder` as HOME and working directory, standard streams closed,
    in its own process group, and wait at most `timeout` seconds.

    `env` adds to (or overrides) the process's environment. Returns the exit status, or
    None when the time ran out (then the whole process group has been killed and reaped).
    Raises OSError when the program cannot be started.
    """
    process = subprocess.Popen(list(command), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True,
                               env={**os.environ, "HOME": str(folder), **(env or {})}, cwd=folder)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return None
