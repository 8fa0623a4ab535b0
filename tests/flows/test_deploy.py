"""`tracker deploy` on a real Prefect server (PostgreSQL), two real process workers.

One Prefect server per module (it is heavy on 2 cores), with its own PostgreSQL database,
dropped after; its scheduler service is off, so nothing runs by the wall clock: every run
here is triggered through the API with an ISO `now`. Each test has its own tracker
database (PostgreSQL, the Tianjin catalog loaded) and its own workers, killed after.
"""

from __future__ import annotations

import email
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from email import policy as email_policy
from pathlib import Path
from typing import Any

import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings
from sqlalchemy import create_engine, func, select, text

from tests import smtp_server
from tests.conftest import PG_ADMIN_URL, ROOT, at
from tests.waiting import wait_for

pytestmark = pytest.mark.slow

PG_BASE = PG_ADMIN_URL.rsplit("/", 1)[0]  # postgresql+psycopg://postgres@127.0.0.1:5432
ASYNCPG_BASE = PG_BASE.replace("+psycopg", "+asyncpg")
T0 = at("2017-03-17", 9)  # progress requests of Q1 2017 open
T_SEND = at("2017-03-17", 10)  # a working day, inside the send window


def admin_sql(sql: str) -> None:
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if sql.startswith("DROP DATABASE"):
            name = sql.split('"')[1]
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = :n"), {"n": name})
        conn.execute(text(sql))
    engine.dispose()


def base_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_UI_ENABLED="false",
               PREFECT_LOGGING_LEVEL="INFO")  # the workers log which runs they take
    env.update(extra)
    return env


def stop(proc: subprocess.Popen[Any]) -> None:
    """SIGTERM the process group we started, SIGKILL it if it lingers."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    else:
        try:  # the group's other members (flow runs) if the leader is gone
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.fixture(scope="module")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A `prefect server start` on its own PostgreSQL database; its API URL."""
    import httpx

    name = f"deploy_prefect_{uuid.uuid4().hex[:10]}"
    admin_sql(f'CREATE DATABASE "{name}"')
    home = tmp_path_factory.mktemp("prefect-server")
    port = smtp_server.free_port()
    env = base_env(PREFECT_HOME=str(home / "prefect"),
                   PREFECT_API_DATABASE_CONNECTION_URL=f"{ASYNCPG_BASE}/{name}",
                   PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED="false")
    env.pop("PREFECT_API_URL", None)
    log = (home / "server.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host",
                             "127.0.0.1", "--port", str(port)], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/api"

    def healthy() -> bool:
        assert proc.poll() is None, (home / "server.log").read_text()
        try:
            return httpx.get(f"{url}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for("the Prefect server", healthy, deadline=180)
        yield url
    finally:
        stop(proc)
        log.close()
        admin_sql(f'DROP DATABASE IF EXISTS "{name}"')


@pytest.fixture
def tracker_db() -> Iterator[str]:
    """A PostgreSQL tracker database with the seed's catalog and demo contacts loaded."""
    from tracker.catalog.load import load_catalog
    from tracker.catalog.parse import parse_plan_text
    from tracker.db import make_engine, migrate, session_factory, transaction
    from tracker.directory.contacts import ensure_demo_contacts

    name = f"deploy_tracker_{uuid.uuid4().hex[:10]}"
    admin_sql(f'CREATE DATABASE "{name}"')
    url = f"{PG_BASE}/{name}"
    engine = make_engine(url)
    migrate(engine)
    catalog = parse_plan_text((ROOT / "data/seed/tianjin-disability-plan-2016-2020.txt")
                              .read_text(encoding="utf-8"))
    with transaction(session_factory(engine)) as s:
        plan_id = load_catalog(s, catalog, at("2017-01-03")).plan_id
        ensure_demo_contacts(s, plan_id)
    engine.dispose()
    try:
        yield url
    finally:
        admin_sql(f'DROP DATABASE IF EXISTS "{name}"')


def scalar(url: str, stmt: Any) -> Any:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(stmt).scalar()
    finally:
        engine.dispose()


def tracker(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from tracker.cli import app; app()", *args],
                          env=env, capture_output=True, text=True, timeout=180)


class Workers:
    """`tracker worker` subprocesses, each logging to its own file."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder, self.env = folder, env
        self.procs: dict[str, subprocess.Popen[Any]] = {}

    def start(self, name: str, *extra: str) -> None:
        log = (self.folder / f"{name}.log").open("wb")
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-c", "from tracker.cli import app; app()", "worker", "--name",
             name, *extra], env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")

    def stop(self) -> None:
        for proc in self.procs.values():
            stop(proc)


def online_workers(pool: str) -> set[str]:
    from prefect import get_client

    with get_client(sync_client=True) as client:
        return {w.name for w in client.read_workers_for_work_pool(pool)
                if str(getattr(w.status, "value", w.status)).upper() == "ONLINE"}


def trigger(deployment: str, now: str) -> Any:
    """Create a flow run of `deployment` with parameter `now`; returns it (not waited)."""
    from prefect import get_client

    with get_client(sync_client=True) as client:
        d = client.read_deployment_by_name(deployment)
        return client.create_flow_run_from_deployment(d.id, parameters={"now": now})


def final_state(run_id: Any, deadline: float = 240.0) -> Any:
    from prefect import get_client

    def done() -> Any:
        with get_client(sync_client=True) as client:
            run = client.read_flow_run(run_id)
        return run if run.state is not None and run.state.is_final() else None

    return wait_for(f"flow run {run_id} to finish", done, deadline=deadline).state


def test_deploy_refuses_clearly_without_a_server(tmp_path):
    env = base_env(TRACKER_HOME=str(tmp_path), PREFECT_API_URL="http://127.0.0.1:9/api")
    out = tracker("deploy", env=env)
    assert out.returncode == 2
    assert out.stderr.startswith("错误: 无法连接 Prefect 服务器 http://127.0.0.1:9/api：")
    assert "Traceback" not in out.stderr + out.stdout
    env.pop("PREFECT_API_URL")
    out = tracker("deploy", env=env)
    assert out.returncode == 2
    assert out.stderr.startswith("错误: 未设置 PREFECT_API_URL")


def test_two_workers_run_the_deployed_jobs(prefect_api, tracker_db, tmp_path):
    from prefect import get_client

    from flows.deploy import doctor_checks
    from flows.registry import JOBS
    from tracker.models import OutboxMessage, ProgressRequest
    from tracker.settings import Settings

    pool = f"deploy-{uuid.uuid4().hex[:6]}"
    env = base_env(PREFECT_API_URL=prefect_api, PREFECT_HOME=str(tmp_path / "prefect"),
                   PREFECT_WORKER_QUERY_SECONDS="1", PREFECT_WORKER_PREFETCH_SECONDS="5",
                   TRACKER_HOME=str(tmp_path / "home"), TRACKER_DATABASE_URL=tracker_db,
                   TRACKER_CHANNEL="file", TRACKER_WORK_POOL=pool)
    first = tracker("deploy", env=env)
    assert first.returncode == 0, first.stderr
    again = tracker("deploy", env=env)  # idempotent: updates, never duplicates
    assert again.returncode == 0, again.stderr
    # the jobs and the batch deployment of their plans (flows/plans.py)
    assert again.stdout.count("已更新") == len(JOBS) + 1 and "新建" not in again.stdout

    with temporary_settings(updates={PREFECT_API_URL: prefect_api}):
        with get_client(sync_client=True) as client:
            deployments = [d for d in client.read_deployments() if d.work_pool_name == pool]
            assert client.read_work_pool(pool).type == "process"
        assert sorted((d.name, d.entrypoint, s.slug, s.schedule.cron, s.schedule.timezone,
                       s.active) for d in deployments for s in d.schedules) == sorted(
            (j.name, f"flows.tracker_flows.{j.flow.name}", j.name, j.cron, "Asia/Shanghai",
             True) for j in JOBS.values())
        assert all(d.parameters == {} and d.path is None and not d.pull_steps
                   for d in deployments)

        workers = Workers(tmp_path, env)
        try:
            workers.start("machine-b-1", "--limit", "1")
            workers.start("machine-b-2", "--limit", "1")
            wait_for("two online workers",
                     lambda: online_workers(pool) == {"machine-b-1", "machine-b-2"})
            # two runs of the same job at once: one per worker; the 798 requests open once
            runs = [trigger("progress_request_flow/progress_requests", T0.isoformat())
                    for _ in range(2)]
            states = [final_state(r.id) for r in runs]
            assert [s.type.value for s in states] == ["COMPLETED", "COMPLETED"], states
            assert scalar(tracker_db, select(func.count()).select_from(ProgressRequest)) == 798
            # both workers compete for each run; the server lets one have it (the other's
            # submission is aborted), and the run's own log lines go to that worker's output
            took = {name: [r.name for r in runs
                           if f"Beginning flow run '{r.name}'" in workers.log(name)]
                    for name in workers.procs}
            assert sorted(len(v) for v in took.values()) == [1, 1], took

            run = trigger("dispatch_flow/dispatch", T_SEND.isoformat())
            assert final_state(run.id).type.value == "COMPLETED"
            sent = scalar(tracker_db, select(func.count()).select_from(OutboxMessage)
                          .where(OutboxMessage.status == "sent"))
            assert sent == 798
            files = sorted((tmp_path / "home" / "outbox").glob("*.eml"))
            assert len(files) == 52  # one digest per liaison and notice kind

            checks = doctor_checks(Settings(home=tmp_path / "home", database_url=tracker_db,
                                            work_pool=pool), T_SEND)
            assert ("ok", f"Prefect 服务器 {prefect_api} 可以连接") in checks
            assert ("ok", f"工作池 {pool} 有 2 个在线 worker") in checks
            assert ("ok", f"{len(JOBS)} 个任务均已部署到 Prefect") in checks
            # the server's scheduler is off here: every enabled job lacks an upcoming run
            no_run = [m for lvl, m in checks if lvl == "error" and "没有即将执行的排程" in m]
            assert len(no_run) == len(JOBS), checks
        finally:
            workers.stop()


def test_doctor_reports_an_enabled_job_without_an_upcoming_run(prefect_api, tmp_path):
    import datetime as dt

    from prefect import get_client
    from prefect.states import Scheduled

    from flows.deploy import deploy_jobs, doctor_checks
    from flows.registry import JOBS
    from tracker.settings import Settings

    pool = f"doctor-{uuid.uuid4().hex[:6]}"
    settings = Settings(home=tmp_path, work_pool=pool)
    now = dt.datetime.now(dt.UTC)
    with temporary_settings(updates={PREFECT_API_URL: prefect_api}):
        deploy_jobs(pool)
        with get_client(sync_client=True) as client:
            for job in JOBS.values():  # what the server's scheduler would have made
                if job.name == "dispatch":
                    continue
                d = client.read_deployment_by_name(f"{job.flow.name}/{job.name}")
                client.create_flow_run_from_deployment(
                    d.id, state=Scheduled(scheduled_time=now + dt.timedelta(days=1)))
            dispatch = client.read_deployment_by_name("dispatch_flow/dispatch")
        checks = doctor_checks(settings, now)
        errors = [m for lvl, m in checks if lvl == "error"]
        assert errors == ["任务 dispatch（每5分钟 投递待发通知）已启用，但没有即将执行的排程："
                          "请检查 Prefect 服务器的调度服务（PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED）"]
        assert ("warn", f"工作池 {pool} 当前没有在线的 worker：已排定的任务不会执行；"
                        "请在执行机上运行 tracker worker") in checks
        # switched off by the office: reported as off, not as missing runs; kept off on redeploy
        with get_client(sync_client=True) as client:
            client.update_deployment_schedule(dispatch.id, dispatch.schedules[0].id, active=False)
        deployed = {d.job: d for d in deploy_jobs(pool)}
        assert deployed["dispatch"].active is False and not deployed["dispatch"].created
        checks = doctor_checks(settings, now)
        assert [lvl for lvl, _ in checks].count("error") == 0, checks
        assert ("warn", "任务 dispatch（每5分钟 投递待发通知）已停用：部署已暂停或计划未启用，"
                        "不会自动运行") in checks
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        [(level, message)] = doctor_checks(settings, now)
        assert level == "error" and message.startswith("无法连接 Prefect 服务器 http://127.0.0.1:9/api：")


class KillingRecorder(smtp_server.Recorder):
    """Records messages; on the arrival of message number `kill_at` it SIGKILLs the
    flow-run process (pid from `pid()`) before answering, and does not record that one:
    the dispatcher died mid-batch, between two digests."""

    def __init__(self, kill_at: int, pid: Callable[[], int | None]) -> None:
        super().__init__()
        self.kill_at, self.pid, self.killed = kill_at, pid, None  # type: ignore[assignment]
        self.arrived = 0

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.arrived += 1
        if self.arrived == self.kill_at and self.killed is None:
            pid = wait_for("the flow run's pid", self.pid, deadline=60, every=0.2)
            os.kill(pid, signal.SIGKILL)
            self.killed = pid
            return "451 connection lost"
        return await super().handle_DATA(server, session, envelope)


def test_a_flow_run_killed_mid_batch_is_crashed_and_sends_nothing_twice(
        prefect_api, tracker_db, tmp_path):
    import datetime as dt

    from prefect import get_client

    from flows.deploy import deploy_jobs
    from flows.runtime import prefect_context
    from flows.tracker_flows import progress_request_flow
    from tracker.models import OutboxClaim, OutboxMessage
    from tracker.settings import Settings

    home = tmp_path / "home"
    with prefect_context(Settings(home=home, database_url=tracker_db)):  # opens Q1: 798 queued
        assert progress_request_flow(now=T0.isoformat(),
                                     settings=Settings(home=home, database_url=tracker_db)
                                     )["opened"] == 798

    pool = f"crash-{uuid.uuid4().hex[:6]}"
    pid_box: list[int] = []  # the flow-run process, read from the API by this thread
    recorder = KillingRecorder(kill_at=6, pid=lambda: pid_box[0] if pid_box else None)
    from aiosmtpd.controller import Controller

    controller = Controller(recorder, hostname="127.0.0.1", port=smtp_server.free_port())
    controller.start()
    env = base_env(PREFECT_API_URL=prefect_api, PREFECT_HOME=str(tmp_path / "prefect"),
                   PREFECT_WORKER_QUERY_SECONDS="1", PREFECT_WORKER_PREFETCH_SECONDS="5",
                   TRACKER_HOME=str(home), TRACKER_DATABASE_URL=tracker_db,
                   TRACKER_ENV="production", TRACKER_CHANNEL="email",
                   TRACKER_SMTP_HOST="127.0.0.1", TRACKER_SMTP_PORT=str(controller.port),
                   TRACKER_WORK_POOL=pool)
    workers = Workers(tmp_path, env)
    try:
        with temporary_settings(updates={PREFECT_API_URL: prefect_api}):
            deploy_jobs(pool)
            workers.start("machine-b-1")
            workers.start("machine-b-2")
            wait_for("two online workers", lambda: len(online_workers(pool)) == 2)

            def sent() -> int:
                return scalar(tracker_db, select(func.count()).select_from(OutboxMessage)
                              .where(OutboxMessage.status == "sent"))

            # run 1 at 10:00 claims all 52 recipients; killed as the 6th digest arrives
            run_id = trigger("dispatch_flow/dispatch", T_SEND.isoformat()).id

            def flow_run_pid() -> int | None:
                with get_client(sync_client=True) as client:
                    pid = client.read_flow_run(run_id).infrastructure_pid
                return int(pid.rsplit(":", 1)[-1]) if pid else None

            pid_box.append(wait_for("the flow run's pid", flow_run_pid))
            state = final_state(run_id)
            assert recorder.killed is not None
            # marked by the worker from the exit status (SIGKILL: -9), not left "Running"
            assert state.type.value == "CRASHED", state
            assert "-9" in (state.message or ""), state.message
            assert len(recorder.messages) == 5
            five = sent()  # exactly the messages of the five digests the server accepted
            assert five == scalar(tracker_db, select(func.count()).select_from(OutboxMessage)
                                  .where(OutboxMessage.address.in_(
                                      [m["To"].addresses[0].addr_spec
                                       for m in recorder.messages])))
            # the rest still listed by the dead run's claim, untouched (pending)
            assert scalar(tracker_db, select(func.count()).select_from(OutboxMessage)
                          .join(OutboxClaim, OutboxClaim.message_id == OutboxMessage.id)
                          .where(OutboxMessage.status == "pending")) == 798 - five

            # run 2 five minutes later (the next cron slot): the dead run's claim still holds
            later = trigger("dispatch_flow/dispatch",
                            (T_SEND + dt.timedelta(minutes=5)).isoformat())
            assert final_state(later.id).type.value == "COMPLETED"
            assert len(recorder.messages) == 5 and sent() == five

            # run 3 after the 15-minute lease: it does the rest
            rest = trigger("dispatch_flow/dispatch",
                           (T_SEND + dt.timedelta(minutes=20)).isoformat())
            assert final_state(rest.id).type.value == "COMPLETED"
            assert sent() == 798
            assert len(recorder.messages) == 52
            ids = [m["Message-ID"] for m in recorder.messages]
            assert len(set(ids)) == 52  # no digest twice
            got = [(m["To"], m["Subject"]) for m in
                   (email.message_from_bytes(raw, policy=email_policy.default)
                    for raw in recorder.raw)]
            assert len(set(got)) == 52
    finally:
        workers.stop()
        controller.stop()


@pytest.fixture
def county_db() -> Iterator[str]:
    """A PostgreSQL tracker database with six small plans of one city (county-000 …
    county-005: 9 assignments each, one shared directory)."""
    from tests.factories import small_plan
    from tracker.catalog.load import load_catalog
    from tracker.db import make_engine, migrate, session_factory, transaction
    from tracker.directory.contacts import ensure_demo_contacts

    name = f"deploy_counties_{uuid.uuid4().hex[:10]}"
    admin_sql(f'CREATE DATABASE "{name}"')
    url = f"{PG_BASE}/{name}"
    engine = make_engine(url)
    migrate(engine)
    with transaction(session_factory(engine)) as s:
        for i in range(6):
            plan_id = load_catalog(s, small_plan(plan_id=f"county-{i:03d}",
                                                 title=f"第{i + 1}县残疾人就业促进三年行动方案"),
                                   at("2017-01-05")).plan_id
            ensure_demo_contacts(s, plan_id)
    engine.dispose()
    try:
        yield url
    finally:
        admin_sql(f'DROP DATABASE IF EXISTS "{name}"')


def test_two_workers_share_the_plans_of_a_daily_job(prefect_api, county_db, tmp_path):
    """Issue 14, item 6: a daily job's run hands its batches of plans (two plans each) to
    the batch deployment; both workers take batches; one plan's failure fails its batch
    only, the other plans' results are committed; a second run sends nothing twice."""
    from prefect import get_client

    from tracker.models import Escalation, OutboxMessage, Plan, ProgressRequest, ReportingPeriod

    pool = f"plans-{uuid.uuid4().hex[:6]}"
    env = base_env(PREFECT_API_URL=prefect_api, PREFECT_HOME=str(tmp_path / "prefect"),
                   PREFECT_WORKER_QUERY_SECONDS="1", PREFECT_WORKER_PREFETCH_SECONDS="5",
                   TRACKER_HOME=str(tmp_path / "home"), TRACKER_DATABASE_URL=county_db,
                   TRACKER_CHANNEL="file", TRACKER_WORK_POOL=pool, TRACKER_PLANS_PER_RUN="2")
    deployed = tracker("deploy", env={**env, "COLUMNS": "200"})  # the table's width, not a wrap
    assert deployed.returncode == 0, deployed.stderr
    assert "plan_batch_flow/plan_batch" in deployed.stdout

    def per_plan(stmt: Any) -> dict[str, int]:
        engine = create_engine(county_db)
        try:
            with engine.connect() as conn:
                return dict(conn.execute(stmt).all())
        finally:
            engine.dispose()

    def batch_runs(parent_id: Any) -> list[Any]:
        with get_client(sync_client=True) as client:
            return [r for r in client.read_flow_runs() if r.parent_task_run_id is not None
                    and r.name != "" and _parent_flow(client, r) == parent_id]

    with temporary_settings(updates={PREFECT_API_URL: prefect_api}):
        workers = Workers(tmp_path, env)
        try:
            workers.start("machine-b", "--limit", "1")
            workers.start("machine-c", "--limit", "1")
            wait_for("two online workers",
                     lambda: online_workers(pool) == {"machine-b", "machine-c"})
            opening = trigger("progress_request_flow/progress_requests", T0.isoformat())
            assert final_state(opening.id).type.value == "COMPLETED"
            children = wait_for("three batch runs", lambda: (
                lambda runs: runs if len(runs) == 3 else None)(batch_runs(opening.id)))
            states = [final_state(r.id) for r in children]
            assert [s.type.value for s in states] == ["COMPLETED"] * 3, states
            asked = (select(Plan.key, func.count(ProgressRequest.id))
                     .join(ReportingPeriod, ReportingPeriod.plan_id == Plan.id)
                     .join(ProgressRequest, ProgressRequest.period_id == ReportingPeriod.id)
                     .group_by(Plan.key))
            assert per_plan(asked) == {f"county-{i:03d}": 9 for i in range(6)}
            took = {name: [r.name for r in children
                           if f"Beginning subflow run '{r.name}'" in workers.log(name)]
                    for name in workers.procs}
            assert sorted(r for v in took.values() for r in v) == sorted(r.name for r in children)
            assert all(took.values()), took  # both workers took batches of plans

            # county-003's last request moved to a day the calendar cannot count
            engine = create_engine(county_db)
            with engine.begin() as conn:
                conn.execute(text(
                    "UPDATE progress_request SET due_on = '2107-04-10' WHERE id = ("
                    "SELECT max(r.id) FROM progress_request r JOIN reporting_period p "
                    "ON p.id = r.period_id JOIN plan ON plan.id = p.plan_id "
                    "WHERE plan.key = 'county-003')"))
            engine.dispose()
            sweep = trigger("overdue_sweep_flow/overdue_sweep", at("2017-04-24", 8, 30).isoformat())
            assert final_state(sweep.id).type.value == "COMPLETED"
            batches = wait_for("three batch runs", lambda: (
                lambda runs: runs if len(runs) == 3 else None)(batch_runs(sweep.id)))
            ends = sorted((s.type.value, s.message or "") for s in
                          (final_state(r.id) for r in batches))
            assert [t for t, _ in ends] == ["COMPLETED", "COMPLETED", "FAILED"], ends
            assert "规划 county-003（ladder）：NotImplementedError" in ends[2][1]
            fired = (select(Plan.key, func.count(Escalation.id))
                     .join(ReportingPeriod, ReportingPeriod.plan_id == Plan.id)
                     .join(ProgressRequest, ProgressRequest.period_id == ReportingPeriod.id)
                     .join(Escalation, Escalation.request_id == ProgressRequest.id)
                     .group_by(Plan.key))
            expected = {f"county-{i:03d}": 27 for i in range(6) if i != 3}
            assert per_plan(fired) == expected  # county-002 shared the failed batch
            outbox = scalar(county_db, select(func.count()).select_from(OutboxMessage))

            again = trigger("overdue_sweep_flow/overdue_sweep", at("2017-04-24", 8, 30).isoformat())
            assert final_state(again.id).type.value == "COMPLETED"
            for r in wait_for("three batch runs", lambda: (
                    lambda runs: runs if len(runs) == 3 else None)(batch_runs(again.id))):
                final_state(r.id)
            assert per_plan(fired) == expected
            assert scalar(county_db, select(func.count()).select_from(OutboxMessage)) == outbox
        finally:
            workers.stop()


def _parent_flow(client: Any, run: Any) -> Any:
    """The flow run whose task run started `run` (a subflow run of a deployment)."""
    return client.read_task_run(run.parent_task_run_id).flow_run_id
