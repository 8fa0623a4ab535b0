"""`tracker outbox show ID`: one notice, its state, reason and attempts (dead letters)."""

from __future__ import annotations

from sqlalchemy import select
from typer.testing import CliRunner

from notifications.channels import EmailChannel
from notifications.dispatch import dispatch
from tests import smtp_server
from tests.conftest import at
from tests.notifications.outbox_rows import add_notices
from tracker.cli import app
from tracker.enums import ChannelKind
from tracker.models import OutboxMessage

run = CliRunner().invoke


def test_outbox_show_names_the_dead_letter_and_its_attempts(db, db_url, policy, tmp_path,
                                                            monkeypatch):
    monkeypatch.setenv("TRACKER_DATABASE_URL", db_url)
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    add_notices(db, {"good@tj.gov.cn": 1, "nobody@tj.gov.cn": 1}, at("2017-03-17", 9))
    controller, recorder = smtp_server.start()
    recorder.reject["nobody@tj.gov.cn"] = "550 no such mailbox"
    try:
        dispatch(db, {ChannelKind.EMAIL: EmailChannel("127.0.0.1", controller.port,
                                                      "t@example.org")},
                 now=at("2017-03-17", 9, 5), calendar=policy.calendar)
    finally:
        controller.stop()
    with db() as s:
        bad, good = (s.scalar(select(OutboxMessage.id).where(OutboxMessage.address == a))
                     for a in ("nobody@tj.gov.cn", "good@tj.gov.cn"))
    r = run(app, ["outbox", "show", str(bad)])
    assert r.exit_code == 0, r.output
    out = r.output
    assert f"通知编号：{bad}" in out and "类别：免报" in out
    assert "收件人：联络员1 <nobody@tj.gov.cn>（邮件）" in out
    assert "状态：发送失败" in out and "已尝试：1 次" in out
    assert "原因：收件地址被拒收：nobody@tj.gov.cn（SMTP 550：no such mailbox）" in out
    assert "  2017-03-17 09:05:00　失败（不再重试）　Message-ID <" in out
    assert f"tracker outbox retry {bad}" in out
    r = run(app, ["outbox", "show", str(good)])
    assert r.exit_code == 0 and "状态：已发送" in r.output and "　成功　Message-ID <" in r.output
    assert "发送时间：2017-03-17 09:05:00" in r.output
    r = run(app, ["outbox", "show", "99999999"])
    assert r.exit_code == 2 and "没有编号为 99999999 的通知" in r.output
