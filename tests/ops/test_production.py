"""docs/production.md followed step by step on loopback: PostgreSQL, a .env file, the
catalog and a liaison, `tracker doctor`, `tracker serve` behind nginx (the checked-in
deploy/nginx/plan-tracker.conf) with TRACKER_BASE_URL at the proxy, a real SMTP server,
the jobs, a liaison's link opened through the proxy, and `tracker backup` (pg_dump)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests import smtp_server

ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
TRACKER = [sys.executable, "-c", "from tracker.cli import app; app(prog_name='tracker')"]


def _wait_http(url: str, deadline: float = 90) -> httpx.Response:
    end = time.monotonic() + deadline
    while True:
        try:
            return httpx.get(url, timeout=5)
        except httpx.TransportError:
            if time.monotonic() > end:
                raise
            time.sleep(0.2)


def nginx_conf(prefix: Path, listen: int, upstream: int) -> Path:
    """deploy/nginx/plan-tracker.conf as shipped, with loopback ports and no TLS (the test
    has no certificate), inside a minimal nginx main configuration."""
    site = (ROOT / "deploy" / "nginx" / "plan-tracker.conf").read_text(encoding="utf-8")
    site = site.replace("listen 443 ssl;", f"listen 127.0.0.1:{listen};")
    site = re.sub(r"\n\s*ssl_certificate\S*\s+[^\n]*;", "", site)
    site = site.replace("http://127.0.0.1:8000", f"http://127.0.0.1:{upstream}")
    assert f"127.0.0.1:{listen}" in site and "ssl_certificate" not in site and " 443" not in site
    for d in ("logs", "tmp"):
        (prefix / d).mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(
        "daemon off;\nworker_processes 1;\npid " + str(prefix / "nginx.pid") + ";\n"
        "error_log " + str(prefix / "logs" / "error.log") + ";\n"
        "events { worker_connections 64; }\n"
        "http {\n  access_log " + str(prefix / "logs" / "access.log") + ";\n"
        "  client_body_temp_path " + str(prefix / "tmp") + ";\n"
        "  proxy_temp_path " + str(prefix / "tmp") + ";\n" + site + "\n}\n", encoding="utf-8")
    return conf


def test_the_production_setup_runs_as_documented(fresh_pg_url, tmp_path):
    site = tmp_path / "ducha"
    site.mkdir()
    mail, recorder = smtp_server.start(login=("ducha@tj.gov.cn", "mail-pass"))
    web_port, proxy_port = smtp_server.free_port(), smtp_server.free_port()
    # step 2 of docs/production.md: the .env file beside which every command runs
    (site / ".env").write_text("\n".join([
        "TRACKER_ENV=production",
        f"TRACKER_HOME={site / 'data'}",
        f"TRACKER_DATABASE_URL={fresh_pg_url}",
        "TRACKER_SMTP_HOST=127.0.0.1",
        f"TRACKER_SMTP_PORT={mail.port}",
        "TRACKER_SMTP_USER=ducha@tj.gov.cn",
        "TRACKER_SMTP_PASSWORD=mail-pass",
        "TRACKER_SMTP_FROM=天津市残疾人工作委员会督查室 <ducha@tj.gov.cn>",
        f"TRACKER_BASE_URL=http://127.0.0.1:{proxy_port}",
        "TRACKER_SECRET_KEY=9f3c1e0b7a6d4c2e8f1a3b5c7d9e0f12",
        "",
    ]), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    env["PYTHONPATH"] = str(ROOT)

    def tracker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([*TRACKER, *args], cwd=site, env=env, capture_output=True,
                              text=True, timeout=300)
        if check:
            assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc

    procs: list[subprocess.Popen[bytes]] = []
    try:
        # step 3: schema, plan, contacts
        assert "数据库结构已由 空库 升级至" in tracker("db", "upgrade").stdout
        tracker("catalog", "load")
        tracker("liaison", "add", "市残联", "王联络", "wang@tj.gov.cn")
        # step 4: doctor reaches the database and the mail server with its login
        doc = tracker("doctor")
        assert "正常：已连接，结构为最新版本" in doc.stdout
        assert f"正常：邮件服务器 127.0.0.1:{mail.port} 可连接并已登录" in doc.stdout
        assert "错误" not in doc.stdout.replace("错误 0 项", "")
        # step 5-6: tracker serve behind nginx
        procs.append(subprocess.Popen([*TRACKER, "serve", "--host", "127.0.0.1", "--port",
                                       str(web_port)], cwd=site, env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        conf = nginx_conf(tmp_path / "nginx", proxy_port, web_port)
        procs.append(subprocess.Popen([NGINX, "-p", str(tmp_path / "nginx"), "-c", str(conf)],
                                      stderr=subprocess.DEVNULL))
        _wait_http(f"http://127.0.0.1:{web_port}/login")
        home = _wait_http(f"http://127.0.0.1:{proxy_port}/login")
        assert home.status_code == 200 and "登录" in home.text
        # the jobs (here on demand, at a day of the plan) mail the liaison a link to the proxy
        tracker("jobs", "run", "progress_requests", "--now", "2017-03-17T08:00")
        tracker("jobs", "run", "dispatch", "--now", "2017-03-17T09:00")
        mine = [m for m in recorder.messages if "wang@tj.gov.cn" in str(m["To"])]
        assert len(mine) == 1
        assert str(mine[0]["From"]) == "天津市残疾人工作委员会督查室 <ducha@tj.gov.cn>"
        text_part = mine[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
        [link] = re.findall(rf"http://127\.0\.0\.1:{proxy_port}/l/\S+", text_part)
        # the link was issued on the simulated day and has expired since: the proxy shows so
        assert httpx.get(link, timeout=30).status_code == 410
        [fresh] = re.findall(rf"http://127\.0\.0\.1:{proxy_port}/l/\S+",
                             tracker("liaison", "link", "市残联").stdout)
        page = httpx.get(fresh, timeout=30, follow_redirects=True)
        assert page.status_code == 200 and "市残联" in page.text
        access = (tmp_path / "nginx" / "logs" / "access.log").read_text()
        assert "GET /l/" in access  # it went through the proxy
        # step 8: backups
        out = tracker("backup", "--now", "2017-03-17T18:00").stdout
        dump = site / "data" / "backups" / "tracker-20170317-180000.dump"
        assert f"已备份至 {dump}" in out.replace("\n", "") and dump.read_bytes()[:5] == b"PGDMP"
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        mail.stop()
