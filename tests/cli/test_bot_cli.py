"""`tracker bot …` and `tracker doctor`."""

from __future__ import annotations

import time

from cryptography.fernet import Fernet
from sqlalchemy import text
from typer.testing import CliRunner

from tests import chat_receivers, smtp_server
from tests.chat_receivers import Receiver
from tracker.cli import app

run = CliRunner().invoke


def test_bot_add_list_test_remove_and_doctor(db, db_url, small, tmp_path, monkeypatch):
    # the local Prefect API's state of this test alone: a test before it in the same
    # worker may have left a stale one, which doctor rightly warns about
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect-home"))
    key = Fernet.generate_key().decode()
    for name, value in (("DATABASE_URL", db_url), ("HOME", str(tmp_path)), ("ENV", "production")):
        monkeypatch.setenv(f"TRACKER_{name}", value)
    r = run(app, ["bot", "add", "--agency", "市残联", "--kind", "dingtalk", "--token", "tok-1",
                  "--secret", "SEC-x"])
    assert r.exit_code == 2 and "未配置 TRACKER_CHANNEL_KEY" in r.output
    monkeypatch.setenv("TRACKER_CHANNEL_KEY", key)
    r = run(app, ["bot", "add", "--agency", "市残联", "--kind", "qq", "--token", "t"])
    assert r.exit_code == 2 and "--kind 的值“qq”无效" in r.output
    r = run(app, ["bot", "add", "--agency", "市残联", "--kind", "dingtalk", "--token", "tok-1",
                  "--secret", "SEC-x", "--name", "市残联督办群"])
    assert r.exit_code == 0, r.output
    with db() as s:
        bot_id = s.scalar(text("SELECT id FROM chat_endpoint"))
    assert f"已为市残联添加钉钉群机器人（编号 {bot_id}）" in r.output
    r = run(app, ["bot", "list"])
    assert r.exit_code == 0 and "市残联督办群" in r.output and "已设置" in r.output
    assert "tok-1" not in r.output and "SEC-x" not in r.output

    rx = Receiver("dingtalk", token="tok-1", secret="SEC-x", clock=time.time)
    server, url = chat_receivers.start(rx)
    monkeypatch.setenv("TRACKER_DINGTALK_BASE_URL", url)
    r = run(app, ["bot", "test", str(bot_id)])
    assert r.exit_code == 0, r.output
    assert len(rx.accepted) == 1 and "测试消息" in rx.accepted[0].json["text"]["content"]
    rx.secret = "rotated"  # the group's secret changed: the test says what to fix
    r = run(app, ["bot", "test", str(bot_id)])
    assert r.exit_code == 1 and "测试消息未送达" in r.output and "加签密钥" in r.output

    monkeypatch.setenv("TRACKER_SMTP_FROM", "ducha@tj.gov.cn")  # a real office's setup:
    monkeypatch.setenv("TRACKER_BASE_URL", "https://ducha.tj.gov.cn")  # no mail warnings
    mail, _ = smtp_server.start()  # doctor connects to the mail server in production
    monkeypatch.setenv("TRACKER_SMTP_PORT", str(mail.port))
    r = run(app, ["doctor", "--now", "2026-06-01T09:00"])
    assert f"正常：钉钉群机器人接口 {url} 可连接" in r.output
    server.shutdown()  # the vendor's host out of reach: doctor says so
    r2 = run(app, ["doctor", "--now", "2026-06-01T09:00"])
    assert r2.exit_code == 1 and f"错误：无法连接钉钉群机器人接口 {url}" in r2.output
    mail.stop()
    assert r.exit_code == 0 and "运行环境（TRACKER_ENV）：production" in r.output
    assert "发件地址：ducha@tj.gov.cn　链接地址：https://ducha.tj.gov.cn" in r.output
    assert "钉钉群机器人 1 个" in r.output and "检查完毕：错误 0 项，警告 1 项" in r.output
    assert [line for line in r.output.splitlines() if line.startswith("警告")] == [
        "警告：尚无定时任务调度主节点：tracker serve 尚未在本数据库上运行过，定时任务不会自动执行"]
    monkeypatch.setenv("TRACKER_CHANNEL_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("TRACKER_ENV", "development")
    r = run(app, ["doctor", "--now", "2026-06-01T09:00"])
    assert "TRACKER_ENV 不是 production" in r.output and "密钥不一致" in r.output

    r = run(app, ["bot", "test", str(bot_id)])  # outside production: a file, said so
    assert "密钥不一致" in r.output and r.exit_code == 2
    monkeypatch.setenv("TRACKER_CHANNEL_KEY", key)
    r = run(app, ["bot", "test", str(bot_id), "--now", "2017-04-10T09:00"])
    assert r.exit_code == 0 and "不会实际发送" in r.output
    assert [p.name for p in (tmp_path / "outbox").glob("*.eml")] == [f"test-{bot_id}-1491786000.eml"]
    monkeypatch.delenv("TRACKER_CHANNEL_KEY")
    r = run(app, ["doctor", "--now", "2026-06-01T09:00"])
    assert "警告：未配置 TRACKER_CHANNEL_KEY" in r.output

    r = run(app, ["bot", "remove", str(bot_id)])
    assert r.exit_code == 0 and f"已移除群机器人 {bot_id}" in r.output
    r = run(app, ["bot", "remove", "999"])
    assert r.exit_code == 2 and "没有编号为 999 的群机器人" in r.output


def test_a_malformed_channel_key_is_named_without_its_value(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    monkeypatch.setenv("TRACKER_CHANNEL_KEY", "not-a-fernet-key-secret")
    r = run(app, ["doctor", "--now", "2026-06-01T09:00"])
    assert r.exit_code == 2 and "TRACKER_CHANNEL_KEY 不是有效的 Fernet 密钥" in r.output
    assert "not-a-fernet-key-secret" not in r.output


def test_doctor_warns_about_a_production_mail_setup_that_cannot_work(tmp_path, monkeypatch):
    """Port 465 without SSL, a login without a password, notices only written to files,
    the example sender and links that open only on this machine: each one warned."""
    # the local Prefect API's state of this test alone: a test before it in the same
    # worker may have left a stale one, which doctor rightly warns about
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect-home"))
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    for key, value in (("TRACKER_ENV", "production"), ("TRACKER_SMTP_PORT", "465"),
                       ("TRACKER_SMTP_USER", "ducha"), ("TRACKER_CHANNEL", "file")):
        monkeypatch.setenv(key, value)
    r = run(app, ["doctor", "--now", "2026-06-01T09:00"])
    assert r.exit_code == 0, r.output  # warnings only: the file channel sends no mail
    warned = [line for line in r.output.splitlines() if line.startswith("警告")]
    assert warned == [
        "警告：端口 465 一般为 SSL 加密连接，请设置 TRACKER_SMTP_SECURITY=ssl",
        "警告：已设置 TRACKER_SMTP_USER，但未设置 TRACKER_SMTP_PASSWORD",
        "警告：TRACKER_CHANNEL=file：联系人的通知只写入文件，不发送邮件",
        "警告：TRACKER_SMTP_FROM 仍是示例地址，请设置本单位的发件邮箱",
        "警告：TRACKER_BASE_URL 为 http://127.0.0.1:8000：通知中的填报链接只能在本机打开，"
        "请设置为联络员可访问的网址",
        "警告：数据库为空，尚未建表：首次运行任一 tracker 命令（如 tracker catalog load）时自动建立",
    ]
    monkeypatch.setenv("TRACKER_SMTP_PORT", "25")
    monkeypatch.setenv("TRACKER_SMTP_SECURITY", "ssl")
    r = run(app, ["doctor", "--now", "2026-06-01T09:00"])
    assert "警告：端口 25 一般不使用 SSL 直连，请改用 TRACKER_SMTP_SECURITY=starttls 或端口 465" in r.output


def test_a_bad_sender_address_stops_every_command(tmp_path, monkeypatch):
    """TRACKER_SMTP_FROM that is not one address would fail every mail: refused up front."""
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    monkeypatch.setenv("TRACKER_SMTP_FROM", "bad")
    r = run(app, ["doctor", "--now", "2026-06-01T09:00"])
    assert r.exit_code == 2 and "TRACKER_SMTP_FROM" in r.output and "Traceback" not in r.output
