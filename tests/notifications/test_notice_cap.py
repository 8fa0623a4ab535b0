"""The cap on items one notice lists (TRACKER_NOTICE_MAX_ITEMS): the first N listed, every
count stated the true total, the rest summarised in one line, by email and by group bot."""

from __future__ import annotations

import re

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import func, select

from notifications.channels import DingTalkChannel, EmailChannel
from notifications.channels.chat import Pacer, endpoint_lookup
from notifications.dispatch import dispatch
from notifications.render import NoticeConfig, digest_id
from tests import chat_receivers, smtp_server
from tests.chat_receivers import Receiver
from tests.conftest import at
from tracker.db import transaction
from tracker.directory.bots import add_bot, load_endpoints
from tracker.enums import ChannelKind
from tracker.models import Agency, OutboxMessage
from tracker.requests.opening import open_due_requests
from tracker.settings import Settings

CAP = NoticeConfig(max_items=5)
KEY = SecretStr(Fernet.generate_key().decode())


def _listed(text: str) -> list[int]:
    """The item numbers a notice lists ("1. 《…》" at the start of a line)."""
    return [int(n) for n in re.findall(r"^(\d+)\. 《", text, flags=re.M)]


@pytest.fixture
def smtp():  # type: ignore[no-untyped-def]
    controller, recorder = smtp_server.start()
    yield controller, recorder
    controller.stop()


def test_setting_reads_the_environment(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TRACKER_NOTICE_MAX_ITEMS", "7")
    settings = Settings(_env_file=None)
    assert settings.notice_max_items == 7
    assert NoticeConfig.from_settings(settings).max_items == 7
    assert Settings(_env_file=None, notice_max_items=200).notice_max_items == 200


def test_an_email_lists_the_cap_and_states_the_true_total(db, plan, policy, smtp):
    """Each district government is asked for its 38 measures: with a cap of 5 its 报送通知
    lists items 1–5, says 38 in the subject and the body, and ends the list with the
    line for the 33 others; its Message-ID is still the hash of all 38 keys."""
    controller, recorder = smtp
    with transaction(db) as s:
        assert open_due_requests(s, plan, at("2017-03-17"), policy).messages_queued == 798
    r = dispatch(db, {ChannelKind.EMAIL: EmailChannel("127.0.0.1", controller.port,
                                                      "tracker@example.org")},
                 now=at("2017-03-17", 9, 5), calendar=policy.calendar, notices=CAP)
    assert (r.sent, r.digests, r.failed) == (798, 52, 0)
    with db() as s:
        agency_id = s.scalar(select(Agency.id).where(Agency.name == "和平区人民政府"))
        address, = s.scalars(select(OutboxMessage.address).where(OutboxMessage.agency_id == agency_id)
                             .distinct())
        keys = list(s.scalars(select(OutboxMessage.key).where(OutboxMessage.address == address)))
    assert len(keys) == 38
    mail = next(m for m in recorder.messages if address in m["To"])
    body = mail.get_content()
    assert str(mail["Subject"]).startswith("【报送通知】《")
    assert "38项任务请于2017年4月10日前报送进展情况" in str(mail["Subject"])
    assert "报送下列38项任务的进展情况" in body
    assert _listed(body) == [1, 2, 3, 4, 5]
    assert body.count("责任单位：和平区人民政府（属地责任单位）") == 5
    assert "\n（另有33项未列出，详见督查督办系统。）\n" in body
    assert mail["Message-ID"] == f"<{digest_id(keys)}@plan-tracker>"
    # a recipient within the cap: every item listed, no summary line
    small = [m for m in recorder.messages if len(_listed(m.get_content())) < 5]
    assert small and all("另有" not in m.get_content() for m in small)
    assert all(str(len(_listed(m.get_content()))) + "项任务" in str(m["Subject"]) for m in small)


def test_a_group_bot_text_lists_the_cap_and_states_the_true_total(db, plan, policy, smtp):
    """The same cap in a DingTalk group's text: 和平区人民政府's bot gets one text with the
    first 5 of its 38 items, the total and the line for the 33 others."""
    controller, _ = smtp
    with transaction(db) as s:
        agency_id = s.scalar(select(Agency.id).where(Agency.name == "和平区人民政府"))
        bot_id = add_bot(s, agency_id=agency_id, kind=ChannelKind.DINGTALK, name="和平区工作群",
                         token="dt-token", secret=None, key=KEY, now=at("2017-03-01")).id
    with transaction(db) as s:
        open_due_requests(s, plan, at("2017-03-17"), policy)
    with db() as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage)
                        .where(OutboxMessage.address == f"bot:{bot_id}")) == 38
    ding = Receiver("dingtalk", token="dt-token", keyword="进展")
    server, url = chat_receivers.start(ding)

    def load():  # type: ignore[no-untyped-def]
        with db() as s:
            return load_endpoints(s, KEY)

    try:
        r = dispatch(db, {
            ChannelKind.EMAIL: EmailChannel("127.0.0.1", controller.port, "tracker@example.org"),
            ChannelKind.DINGTALK: DingTalkChannel(endpoint_lookup(load), base_url=url,
                                                  pacer=Pacer(DingTalkChannel.rate_limits)),
        }, now=at("2017-03-17", 9, 5), calendar=policy.calendar, notices=CAP)
    finally:
        server.shutdown()
    assert r.failed == 0 and len(ding.accepted) == 1
    text = ding.accepted[0].json["text"]["content"]
    assert "38项任务请于2017年4月10日前报送进展情况" in text and "报送下列38项任务的进展情况" in text
    assert _listed(text) == [1, 2, 3, 4, 5]
    assert "（另有33项未列出，详见督查督办系统。）" in text
