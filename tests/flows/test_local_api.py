"""The one local Prefect API of embedded mode: reused by a second command, stopped by the
last command using it on SIGTERM, stopping itself when its users were killed outright.

Real subprocesses and a real Prefect API server; waits poll with a deadline."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from flows.local_api import acquire, healthy, read_state, release
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
CLI = "import sys; from tracker.cli import app; sys.argv[0] = 'tracker'; app()"
START = 300.0  # seconds: the local API's start-up on a loaded 2-core machine


def cli_env(home: Path, db_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PYTHONPATH=str(ROOT), TRACKER_HOME=str(home), TRACKER_DATABASE_URL=db_url,
               TRACKER_ENV="test", TRACKER_CHANNEL="file")
    return env


def tracker(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", CLI, *args], env=env, cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")


def api_up(prefect_home: Path, user: int):  # type: ignore[no-untyped-def]
    """The recorded server once `user` holds it and it answers /health."""
    state = read_state(prefect_home)
    if state and user in state["users"] and healthy(state["url"]):
        return state
    return None


@pytest.mark.sqlite_only
def test_second_command_reuses_and_sigterm_stops_the_api(tmp_path, db_url, plan):
    env = cli_env(tmp_path, db_url)
    prefect_home = tmp_path / "prefect"
    serve = tracker("serve", "--no-web", env=env)
    try:
        state = wait_for("the local API", lambda: api_up(prefect_home, serve.pid), START + 60)
        server = state["pid"]
        assert alive(server) and state["started_by"] == serve.pid

        # A second command, while `serve` runs: it reuses the API (no second server).
        job = tracker("jobs", "run", "progress_requests", "--now", "2017-03-17T09:00", env=env)
        out, errors = job.communicate(timeout=START)
        assert job.returncode == 0, errors
        assert "沿用已在运行的服务" not in out  # `jobs run` does not print the API line
        assert "新发出进展调度 798 项（报送期：2017Q1）" in out
        assert "待发通知 798 条" in out
        assert "Traceback" not in out + errors
        after = read_state(prefect_home)
        assert after is not None and after["pid"] == server  # the same server, reused
        assert after["users"] == [serve.pid]  # the job took itself off when it left
        assert alive(server)  # left running: `serve` still uses it

        serve.send_signal(signal.SIGTERM)
        _, serve_errors = serve.communicate(timeout=60)
        assert "Traceback" not in serve_errors
        wait_for("the API server to stop", lambda: not alive(server), 30)
        assert read_state(prefect_home) is None
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()


@pytest.mark.sqlite_only
def test_jobs_run_json_keeps_the_raw_result(tmp_path, db_url, plan):
    env = cli_env(tmp_path, db_url)
    job = tracker("jobs", "run", "progress_requests", "--now", "2017-03-17T09:00", "--json",
                  env=env)
    out, errors = job.communicate(timeout=START)
    assert job.returncode == 0, errors
    import json

    assert json.loads(out) == {"opened": 798, "queued": 798, "periods": ["2017Q1"],
                                "plans": 1, "failed": []}
    assert read_state(tmp_path / "prefect") is None  # it started the API and stopped it


def test_last_user_out_stops_it_and_killed_users_leave_nothing(tmp_path):
    home = tmp_path / "prefect"
    home.mkdir()
    env = {"PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    # two short-lived "commands": processes whose pids hold the lease
    first = subprocess.Popen(["sleep", "600"])
    second = subprocess.Popen(["sleep", "600"])
    try:
        a = acquire(home, env, timeout=START, user=first.pid)
        b = acquire(home, env, timeout=START, user=second.pid)
        assert a.started and not b.started and (a.pid, a.url) == (b.pid, b.url)
        assert read_state(home)["users"] == sorted([first.pid, second.pid])
        assert release(a, user=first.pid) is False  # the second still uses it
        assert alive(a.pid) and healthy(a.url)
        assert release(b, user=second.pid) is True  # the last one out stops it
        assert not alive(a.pid) and read_state(home) is None

        # Killed outright (SIGKILL: no exit handler runs): the server stops itself.
        c = acquire(home, env, timeout=START, user=first.pid)
        assert c.started and c.pid != a.pid
        first.kill()
        first.wait()
        wait_for("the orphaned API server to stop itself", lambda: not alive(c.pid), 60)
        # the next command finds the stale record and starts afresh
        d = acquire(home, env, timeout=START, user=second.pid)
        assert d.started and d.pid != c.pid
        assert release(d, user=second.pid) is True
    finally:
        for p in (first, second):
            p.kill()
            p.wait()


def test_run_flow_tries_again_after_a_503_and_not_after_a_bug():
    """A 503 from the API (as the local API answers under load) is tried again; a 500 or an
    error of the tracker's own is raised at once. A real HTTP server answers."""
    import http.server
    import threading

    import httpx

    from flows.runtime import run_flow

    answers = [503, 503, 200]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(answers.pop(0) if answers else 500)
            self.end_headers()

        def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/"
    calls = []

    def flow(**kwargs):  # type: ignore[no-untyped-def]
        calls.append(kwargs)
        return httpx.get(url).raise_for_status().status_code

    try:
        assert run_flow(flow, now="2017-03-17T09:00") == 200
        assert calls == [{"now": "2017-03-17T09:00"}] * 3
        calls.clear()
        with pytest.raises(httpx.HTTPStatusError):  # 500: not transient
            run_flow(flow)
        assert len(calls) == 1

        def bug(**kwargs):  # type: ignore[no-untyped-def]
            calls.append(kwargs)
            raise ValueError("a bug")

        calls.clear()
        with pytest.raises(ValueError):
            run_flow(bug)
        assert len(calls) == 1
    finally:
        server.shutdown()


def test_doctor_reports_the_local_api(tmp_path, monkeypatch):
    from flows.local_api import doctor_checks
    from tracker.settings import Settings

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.delenv("PREFECT_HOME", raising=False)
    settings = Settings(home=tmp_path)
    home = tmp_path / "prefect"
    assert doctor_checks(settings, None) == [
        ("ok", f"未配置 PREFECT_API_URL：运行任务时自动启动本地 Prefect 服务（数据目录 {home}）")]
    home.mkdir()
    gone = subprocess.Popen(["true"])
    gone.wait()
    (home / "api.json").write_text(
        f'{{"pid": {gone.pid}, "url": "http://127.0.0.1:9/api", "users": []}}')
    assert doctor_checks(settings, None)[0][0] == "warn"
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    assert doctor_checks(settings, None) == []  # the office's server: flows.deploy checks it


def test_a_long_running_process_restarts_a_dead_local_api(tmp_path):
    """The local API killed under a running `tracker serve`: the next run in that process
    starts another instead of failing every later fire; doctor says so meanwhile."""
    from flows import runtime
    from flows.local_api import doctor_checks
    from tracker.settings import Settings

    settings = Settings(home=tmp_path)
    runtime.stop_local_api()  # this test process may hold one from an earlier test
    try:
        with runtime.prefect_context(settings):
            first = runtime.current_lease()
        assert first is not None and healthy(first.url)
        os.kill(first.pid, signal.SIGKILL)
        wait_for("the killed API server to go", lambda: not alive(first.pid), 30)
        [(level, text)] = [c for c in doctor_checks(settings, None) if "Prefect" in c[1]]
        assert level == "warn" and "已意外停止" in text
        with runtime.prefect_context(settings):
            second = runtime.current_lease()
            assert second is not None and second.pid != first.pid and healthy(second.url)
            from prefect.settings import PREFECT_API_URL

            assert PREFECT_API_URL.value() == second.url  # the flows use the new one
    finally:
        runtime.stop_local_api()
