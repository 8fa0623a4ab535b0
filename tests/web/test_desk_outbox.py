"""Dead letters on the desk (issue 8, item 3): failed notices listed with their reason,
put back in the queue after a confirmation step, office staff only."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from notifications.channels import EmailChannel
from notifications.dispatch import dispatch
from tests import smtp_server
from tests.conftest import at
from tests.web.test_desk import _csrf, login
from tests.web_helpers import Clock, liaison_of, make_app, make_settings
from tracker.enums import ChannelKind
from tracker.models import Assignment, AuditEvent, Measure, OutboxMessage, ProgressRequest


@pytest.fixture
def failed(db, db_url, overdue, policy, tmp_path):  # type: ignore[no-untyped-def]
    """Everything dispatched through a real SMTP server that refuses 市残联's liaison."""
    controller, recorder = smtp_server.start()
    victim = liaison_of(db, "市残联")
    recorder.reject[victim.email] = f"550 5.1.1 <{victim.email}>: Recipient address rejected"
    # the channel's default timeout: under a loaded CI a 5 s one made the local server's
    # slow answer a setup failure, deferring every message (result.failed == 0)
    channels = {ChannelKind.EMAIL: EmailChannel("127.0.0.1", controller.port,
                                                "tracker@example.org")}
    # the run's wall-time budget (240 s) is not this test's subject: under a loaded CI the
    # run could end before the refused liaison's digest, and nothing was a dead letter
    result = dispatch(db, channels, now=at("2017-04-12", 9, 30), calendar=policy.calendar,
                      run_timeout=3600)
    clock = Clock(at("2017-04-12", 10))
    client = TestClient(make_app(db, make_settings(tmp_path, db_url), clock),
                        follow_redirects=False)
    yield client, victim, result, channels, recorder
    controller.stop()


def _dead(db) -> list[int]:  # type: ignore[no-untyped-def]
    with db() as s:
        return list(s.scalars(select(OutboxMessage.id).where(OutboxMessage.status == "failed")
                              .order_by(OutboxMessage.id)))


def test_dead_letters_listed_with_reason_and_requeued_after_confirming(failed, db, policy):
    client, victim, result, channels, recorder = failed
    dead = _dead(db)
    assert result.failed == len(dead) > 1
    login(client)
    board = client.get("/desk")
    assert re.search(r'href="/desk/outbox">发送失败 <span class="count">(\d+)</span>',
                     board.text).group(1) == str(len(dead))
    page = client.get("/desk/outbox")
    assert page.status_code == 200 and f"共 {len(dead)} 条发送失败" in page.text
    assert page.text.count("<tr id=\"m") == len(dead)
    row = page.text[page.text.index(f'<tr id="m{dead[0]}"'):]
    row = row[:row.index("</tr>")]
    assert "市残联联络员" in row and victim.email in row
    assert "进展调度" in row and "《天津市“十三五”加快残疾人小康进程规划纲要》" in page.text
    assert "Recipient address rejected" in row and '<td data-label="尝试次数">1</td>' in row
    assert "2017-04-12</span> <span class=\"nowrap\">09:30" in row
    with db() as s:  # the item the first dead letter is about, by its code and title
        code, title, request_id = s.execute(
            select(Measure.code, Measure.title, ProgressRequest.id)
            .join(Assignment, Assignment.measure_id == Measure.id)
            .join(ProgressRequest, ProgressRequest.assignment_id == Assignment.id)
            .join(OutboxMessage, OutboxMessage.request_id == ProgressRequest.id)
            .where(OutboxMessage.id == dead[0])).one()
    assert f"{code} {title}" in row and f"/desk/requests/{request_id}" in row
    # one: the confirmation page, then the POST with the page's form token
    confirm = client.get("/desk/outbox/retry", params={"message": dead[0]})
    assert confirm.status_code == 200 and "将以下通知重新放入发送队列？" in confirm.text
    assert client.post("/desk/outbox/retry", data={"message": str(dead[0])}).status_code == 403
    r = client.post("/desk/outbox/retry", data={"message": str(dead[0]),
                                                "csrf": _csrf(confirm.text)})
    assert r.status_code == 303 and r.headers["location"].startswith("/desk/outbox?done=")
    assert "已将 1 条通知重新放入发送队列" in client.get(r.headers["location"]).text
    assert 'role="status"' not in client.get("/desk/outbox", params={"done": "forged"}).text
    assert _dead(db) == dead[1:]
    # again for the same one: nothing to do, said so
    again = client.get("/desk/outbox/retry", params={"message": dead[0]})
    assert "不在“发送失败”状态" in again.text
    r = client.post("/desk/outbox/retry", data={"message": str(dead[0]),
                                                "csrf": _csrf(again.text)})
    assert "已不在“发送失败”状态" in client.get(r.headers["location"]).text
    # all of them, once the address is fixed on the server's side
    confirm = client.get("/desk/outbox/retry")
    assert f"将全部 {len(dead) - 1} 条发送失败的通知重新放入发送队列？" in confirm.text
    # a damaged id is refused, never taken for "all"
    r = client.post("/desk/outbox/retry", data={"csrf": _csrf(confirm.text), "message": "x1"})
    assert "请从列表中选择" in client.get(r.headers["location"]).text
    assert len(_dead(db)) == len(dead) - 1
    confirm = client.get("/desk/outbox/retry")
    r = client.post("/desk/outbox/retry", data={"csrf": _csrf(confirm.text), "all": "1"})
    assert f"已将 {len(dead) - 1} 条通知重新放入发送队列" in client.get(r.headers["location"]).text
    assert _dead(db) == [] and "目前没有发送失败的通知" in client.get("/desk/outbox").text
    assert 'href="/desk/outbox">发送失败 <span class="count">0</span>' in client.get("/desk").text
    with db() as s:
        events = s.execute(select(AuditEvent.actor, AuditEvent.object_id, AuditEvent.detail)
                           .where(AuditEvent.action == "outbox_requeue")
                           .order_by(AuditEvent.id)).all()
    assert [tuple(e) for e in events] == [("user:duchashi", str(dead[0]), {"count": 1}),
                                          ("user:duchashi", "all", {"count": len(dead) - 1})]
    recorder.reject.clear()
    before = len(recorder.messages)
    r2 = dispatch(db, channels, now=at("2017-04-12", 10, 5), calendar=policy.calendar)
    with db() as s:  # one digest per notice kind (a progress request, a pre-due reminder)
        kinds = set(s.scalars(select(OutboxMessage.kind).where(OutboxMessage.id.in_(dead))))
    assert r2.sent == len(dead) and r2.digests == len(kinds) == 2
    assert [m["To"] for m in recorder.messages[before:]] == [f"市残联联络员 <{victim.email}>"] * 2
    with db() as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage)
                        .where(OutboxMessage.status.in_(["pending", "sending", "failed"]))) == 0


def test_only_the_supervision_office_sees_dead_letters(failed, db):
    client, *_ = failed
    assert client.get("/desk/outbox").status_code == 303  # not signed in: to the sign-in page
    login(client, username="jixiaoban")
    board = client.get("/desk")
    assert board.status_code == 200 and "/desk/outbox" not in board.text
    assert client.get("/desk/outbox").status_code == 403
    assert client.get("/desk/outbox/retry").status_code == 403
    r = client.post("/desk/outbox/retry", data={"csrf": _csrf(board.text)})
    assert r.status_code == 403
    assert len(_dead(db)) > 1
