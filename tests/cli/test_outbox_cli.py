"""`tracker outbox failed` and `tracker outbox show`: dead letters in the terminal, from
a real dispatch through a real SMTP server that refuses one address."""

from __future__ import annotations

from sqlalchemy import select
from typer.testing import CliRunner

from notifications.channels import EmailChannel
from notifications.dispatch import dispatch
from tests import smtp_server
from tests.conftest import at
from tests.web_helpers import liaison_of
from tracker.cli import app
from tracker.cli.common import console
from tracker.db import transaction
from tracker.enums import ChannelKind
from tracker.models import OutboxMessage
from tracker.requests.opening import open_due_requests

run = CliRunner().invoke


def test_failed_list_and_show_one(db, db_url, small, policy, tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKER_DATABASE_URL", db_url)
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    monkeypatch.setattr(console, "width", 200)  # a wide terminal: one line per row
    r = run(app, ["outbox", "failed"])
    assert r.exit_code == 0 and "目前没有发送失败的通知" in r.output
    with transaction(db) as s:
        open_due_requests(s, small, at("2017-03-17"), policy)
    victim = liaison_of(db, "市残联")
    controller, recorder = smtp_server.start()
    recorder.reject[victim.email] = "550 5.1.1 no such user"
    try:
        dispatch(db, {ChannelKind.EMAIL: EmailChannel("127.0.0.1", controller.port,
                                                      "tracker@example.org")},
                 now=at("2017-03-17", 9, 5), calendar=policy.calendar)
    finally:
        controller.stop()
    with db() as s:
        dead = list(s.scalars(select(OutboxMessage.id).where(OutboxMessage.status == "failed")
                              .order_by(OutboxMessage.id)))
        sent = s.scalar(select(OutboxMessage.id).where(OutboxMessage.status == "sent").limit(1))
    assert len(dead) == 2
    r = run(app, ["outbox", "failed"])
    assert r.exit_code == 0 and "共 2 条，显示 2 条" in r.output
    assert victim.email in r.output and "no such user" in r.output
    assert "开展残疾人职业技能培训" in r.output and "2017-03-17 09:05" in r.output
    r = run(app, ["outbox", "show", str(dead[0])])
    assert r.exit_code == 0 and "发送失败" in r.output and "失败（不再重试）" in r.output
    assert "《天津市残疾人就业促进三年行动方案》" in r.output and "市残联" in r.output
    r = run(app, ["outbox", "show", str(sent)])
    assert r.exit_code == 0 and "已发送" in r.output and "成功" in r.output
    r = run(app, ["outbox", "show", "999999"])
    assert r.exit_code == 2 and "没有编号为 999999 的通知" in r.output
