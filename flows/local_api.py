"""One local Prefect API shared by the tracker's commands (embedded mode, issue 9).

Without `PREFECT_API_URL`, Prefect would start a temporary API subprocess of its own in
every process that runs a flow: on a random port, with a 20 s startup timeout, and left
running when the process is stopped by a signal. Instead, the first command that runs a
flow starts one API server for the tracker's home and records it in
`HOME/prefect/api.json` (pid, port, users), under an exclusive lock `HOME/prefect/api.lock`:

- a second command finds the record, checks `/api/health` and reuses the server (it adds
  itself to `users`) rather than starting another;
- each command takes itself off `users` when it exits normally, on SIGTERM or on SIGINT;
  the last one out stops the server (so a server that a running command still uses is
  left alone);
- if every user is killed outright (SIGKILL), the server sees no live user within
  `WATCH_SECONDS` and stops itself;
- the server keeps its SQLite database (`HOME/prefect/prefect.db`) between runs, so it is
  migrated once, and deletes the flow runs that ended more than `RETENTION_DAYS` ago when
  it starts, so it does not grow for ever.

When `PREFECT_API_URL` is set (a Prefect server of the office's own), nothing is started.

The server side is `python -m flows.local_api --port N --state FILE --owner PID`: it
imports nothing of the tracker, only Prefect and uvicorn.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STATE_FILE = "api.json"
LOCK_FILE = "api.lock"
LOG_FILE = "api.log"
WATCH_SECONDS = 5.0  # how often the server looks for a live user
RETENTION_DAYS = 30  # flow runs that ended earlier are deleted when the server starts
DEFAULT_STARTUP_TIMEOUT = 300.0  # seconds; ~10 s idle, 40 s+ on a loaded 2-core machine
SERVER_MODULE = "flows.local_api"


class LocalApiError(RuntimeError):
    """The local Prefect API could not be started or reached (message in Chinese)."""


@dataclass
class Lease:
    """This process's use of a local Prefect API.

    `url` ends in /api; `pid` is the server process; `started` says whether this process
    started it (False: reused); `startup_seconds` is the time to start it and see it
    healthy (0 when reused).
    """

    home: Path
    url: str
    pid: int
    started: bool
    startup_seconds: float


# ----------------------------------------------------------------------------- helpers


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (an exited child not yet reaped) counts as gone
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def _is_our_server(pid: int) -> bool:
    """True when `pid` runs this module's server (not a recycled pid of another program)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return _alive(pid)  # no /proc: trust the pid
    return SERVER_MODULE.encode() in cmdline


def healthy(url: str, timeout: float = 5.0) -> bool:
    """True when the Prefect API at `url` (ending in /api) answers /health with 200."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError, ValueError):
        return False


def _free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_taken(port: int) -> bool:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def read_state(home: Path) -> dict[str, Any] | None:
    """The recorded server of `home` (HOME/prefect): {pid, port, url, users, ...}, or None."""
    try:
        data = json.loads((home / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_state(home: Path, state: dict[str, Any] | None) -> None:
    path = home / STATE_FILE
    if state is None:
        path.unlink(missing_ok=True)
        return
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, ensure_ascii=False, indent=1))
    tmp.replace(path)  # atomic: the server's watchdog reads without the lock


@contextlib.contextmanager
def _locked(home: Path) -> Iterator[None]:
    home.mkdir(parents=True, exist_ok=True)
    with open(home / LOCK_FILE, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def stop_server(pid: int, grace: float = 10.0) -> None:
    """SIGTERM the server `pid`, then SIGKILL after `grace` seconds; wait until it is gone."""
    if not _is_our_server(pid):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while _alive(pid) and time.monotonic() < deadline:
        _reap(pid)
        time.sleep(0.05)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        while _alive(pid):
            _reap(pid)
            time.sleep(0.05)
    _reap(pid)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


# ------------------------------------------------------------------------- client side


def acquire(home: Path, env: dict[str, str], *, timeout: float = DEFAULT_STARTUP_TIMEOUT,
            user: int | None = None) -> Lease:
    """Reuse the live local API recorded in `home` (HOME/prefect), or start one.

    `env` holds the PREFECT_* settings the server runs with (its database lands in
    `home`); `timeout` (seconds) bounds the start-up until /api/health answers 200.
    `user` is the pid that holds the lease (default: this process). Raises
    `LocalApiError` when the server exits or does not answer in time (the message quotes
    the end of HOME/prefect/api.log).
    """
    user = os.getpid() if user is None else user
    with _locked(home):
        state = read_state(home)
        if state and _alive(state["pid"]) and _is_our_server(state["pid"]):
            if healthy(state["url"], timeout=30.0):
                state["users"] = sorted({u for u in state["users"] if _alive(u)} | {user})
                _write_state(home, state)
                return Lease(home, state["url"], state["pid"], False, 0.0)
            stop_server(state["pid"])  # alive but not answering: replace it
        _write_state(home, None)
        _rotate_log(home)
        started = time.monotonic()
        pid, url = _start(home, env, timeout, user)
        _write_state(home, {"pid": pid, "port": int(url.split(":")[-1].split("/")[0]),
                            "url": url, "users": [user], "started_by": user,
                            "started_at": time.time()})
        return Lease(home, url, pid, True, time.monotonic() - started)


def _start(home: Path, env: dict[str, str], timeout: float, owner: int) -> tuple[int, str]:
    for attempt in range(3):  # another program may take the port between bind and listen
        port = _free_port()
        url = f"http://127.0.0.1:{port}/api"
        with open(home / LOG_FILE, "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", SERVER_MODULE, "--port", str(port),
                 "--state", str(home / STATE_FILE), "--owner", str(owner)],
                env=_server_env(env), stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C in the terminal reaches only its users
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = proc.poll()
            if code is not None:
                break
            if healthy(url, timeout=5.0):
                return proc.pid, url
            time.sleep(0.2)
        else:
            stop_server(proc.pid)
            raise LocalApiError(f"本地 Prefect 服务在 {timeout:.0f} 秒内未能就绪（日志：{home / LOG_FILE}）"
                                f"{_log_tail(home)}")
        if attempt < 2 and _port_taken(port):  # another program took the port first
            continue
        raise LocalApiError(f"本地 Prefect 服务启动失败，退出码 {code}（日志：{home / LOG_FILE}）"
                            f"{_log_tail(home)}")
    raise LocalApiError("本地 Prefect 服务启动失败：找不到可用端口")


def _server_env(env: dict[str, str]) -> dict[str, str]:
    """The server's environment: ours, `env`, and Prefect's ephemeral profile (the API and
    the services a local run needs, no UI, no event store); never a PREFECT_API_URL."""
    merged = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    merged.update({k: v for k, v in env.items() if k != "PREFECT_API_URL"})
    merged.update(PREFECT__SERVER_EPHEMERAL="1", PREFECT_UI_ENABLED="0")
    # The events table is for Prefect's UI and automations, neither of which runs here;
    # its writer competes with flow-run creation for SQLite's lock (503s under load).
    merged.setdefault("PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED", "false")
    return merged


def _rotate_log(home: Path, limit: int = 5_000_000) -> None:
    log = home / LOG_FILE
    with contextlib.suppress(OSError):
        if log.stat().st_size > limit:
            log.replace(log.with_suffix(".log.1"))


def _log_tail(home: Path, lines: int = 5) -> str:
    try:
        tail = (home / LOG_FILE).read_text(errors="replace").strip().splitlines()[-lines:]
    except OSError:
        return ""
    return "：" + " / ".join(tail) if tail else ""


def release(lease: Lease, user: int | None = None) -> bool:
    """Take `user` (default: this process) off the server's users; the last one stops it.

    Returns True when this call stopped the server. Safe to call twice.
    """
    user = os.getpid() if user is None else user
    with _locked(lease.home):
        state = read_state(lease.home)
        if not state or state["pid"] != lease.pid:
            return False  # already stopped or replaced
        users = [u for u in state["users"] if u != user and _alive(u)]
        if users:
            state["users"] = users
            _write_state(lease.home, state)
            return False
        stop_server(lease.pid)
        _write_state(lease.home, None)
        return True


def doctor_checks(settings: Any, now: Any) -> list[tuple[str, str]]:
    """`tracker doctor`'s lines about the Prefect API the flows use: (level, Chinese text).

    `settings` is the tracker's `Settings` (its home holds HOME/prefect); `now` is unused
    (the checks look at the present state). With PREFECT_API_URL set there is nothing to
    say here (`flows.deploy.doctor_checks` checks that server); otherwise the local API's
    record is read (nothing is started): a server that answers, none (started on the next
    run), or a stale record (a crash; cleaned up by the next run). A local database over
    1 GB is a warning (old runs are pruned after RETENTION_DAYS). Levels: ok, warn, error.
    """
    if os.environ.get("PREFECT_API_URL"):
        return []  # an office's own Prefect server: `flows.deploy.doctor_checks` reports it
    home = Path(os.environ.get("PREFECT_HOME") or Path(settings.home) / "prefect")
    out: list[tuple[str, str]] = []
    state = read_state(home)
    if state is None:
        out.append(("ok", "未配置 PREFECT_API_URL：运行任务时自动启动本地 Prefect 服务"
                          f"（数据目录 {home}）"))
    elif _alive(state["pid"]) and healthy(state["url"], timeout=10.0):
        users = [u for u in state.get("users", []) if _alive(u)]
        out.append(("ok", f"本地 Prefect 服务运行中：{state['url']}（进程 {state['pid']}，"
                          f"{len(users)} 个命令在使用）"))
    elif _alive(state["pid"]):
        out.append(("warn", f"本地 Prefect 服务（进程 {state['pid']}）没有响应；下次运行任务时将重新启动"))
    elif any(_alive(u) for u in state.get("users", [])):
        out.append(("warn", f"本地 Prefect 服务（进程 {state['pid']}）已意外停止；仍在运行的命令"
                            "（如 tracker serve）下次运行任务时将自动重新启动它"))
    else:
        out.append(("warn", "本地 Prefect 服务的运行记录已过期（上次未正常退出）；"
                            "下次运行任务时将自动清理并重新启动"))
    db = home / "prefect.db"
    if db.exists() and db.stat().st_size > 1_000_000_000:
        out.append(("warn", f"本地 Prefect 数据库 {db} 已超过 1 GB；"
                            f"服务启动时会删除 {RETENTION_DAYS} 天前结束的运行记录"))
    return out


# ------------------------------------------------------------------------- server side


def _watch(state_path: Path, owner: int, stop: threading.Event, server: Any) -> None:
    """Stop the server when no user is alive (they were killed) or it was replaced."""
    me = os.getpid()
    born = time.monotonic()
    misses = 0
    while not stop.wait(WATCH_SECONDS):
        state = read_state(state_path.parent)
        if state is not None and state.get("pid") == me:
            users = state.get("users", [])
        elif state is None and time.monotonic() - born < 600 and _alive(owner):
            users = [owner]  # still starting: the record is written once we answer
        else:
            users = []
        misses = 0 if any(_alive(u) for u in users) else misses + 1
        if misses >= 2:
            server.should_exit = True
            return


def _prune(retention_days: int) -> None:
    """Delete flow runs that ended more than `retention_days` ago (Prefect's own vacuum)."""
    import asyncio
    import datetime as dt

    from prefect.server.database import provide_database_interface
    from prefect.server.services import db_vacuum
    from prefect.settings import PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD, temporary_settings

    async def run() -> None:
        db = provide_database_interface()
        await db.create_db()  # migrate first (a no-op on an up-to-date database)
        await db_vacuum.vacuum_old_flow_runs(db=db)

    with temporary_settings(updates={
            PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD: dt.timedelta(days=retention_days)}):
        asyncio.run(run())


RETRY_AFTER = "0.2"  # seconds; the local API's answer to a client it turned away (503)


def app_with_quick_retries() -> Any:
    """Prefect's API app, whose 503 answers carry `Retry-After: 0.2`.

    On SQLite the API answers 503 when a write meets another ("database is locked": its
    task-run recorder flushing, under CPU load more often). Prefect's client then waits
    2 s, 4 s, 8 s ... unless the answer says how long to wait; a lock held for
    milliseconds is better tried again at once. Other answers pass unchanged.
    """
    from prefect.server.api.server import create_app

    app = create_app()

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await app(scope, receive, send)

        async def send_with_hint(message: Any) -> None:
            if message["type"] == "http.response.start" and message["status"] == 503:
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"retry-after"]
                message = {**message, "headers": [*headers, (b"retry-after", RETRY_AFTER.encode())]}
            await send(message)

        return await app(scope, receive, send_with_hint)

    return asgi


def main(argv: list[str] | None = None) -> None:
    """The server process: prune, then serve Prefect's API on 127.0.0.1:PORT until told."""
    parser = argparse.ArgumentParser(prog=f"python -m {SERVER_MODULE}")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--owner", type=int, required=True)
    parser.add_argument("--retention-days", type=int, default=RETENTION_DAYS)
    args = parser.parse_args(argv)
    import uvicorn

    try:
        _prune(args.retention_days)
    except Exception as exc:  # pruning is housekeeping: never stop the API for it
        print(f"prune skipped: {exc!r}", file=sys.stderr)
    config = uvicorn.Config(app_with_quick_retries, factory=True, host="127.0.0.1",
                            port=args.port, log_level="error", lifespan="on")
    server = uvicorn.Server(config)
    stop = threading.Event()
    watcher = threading.Thread(target=_watch, args=(args.state, args.owner, stop, server),
                               daemon=True)
    watcher.start()
    try:
        server.run()
    finally:
        stop.set()
    if not server.started:
        sys.exit(3)  # as uvicorn does when it cannot bind


if __name__ == "__main__":
    main()
