"""Group bots through the real dispatcher, and TRACKER_ENV keeping mail away from people."""

from __future__ import annotations

import email
import logging
from email import policy as email_policy

from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import func, select

from flows import runtime
from flows.runtime import channels_for
from notifications.channels import DingTalkChannel, FileChannel, WeComChannel
from notifications.channels.chat import Pacer, endpoint_lookup
from notifications.dispatch import dispatch
from tests import chat_receivers, smtp_server
from tests.chat_receivers import Receiver
from tests.conftest import at
from tracker.db import transaction
from tracker.directory.bots import add_bot, load_endpoints
from tracker.enums import ChannelKind, OutboxStatus
from tracker.models import Agency, OutboxMessage
from tracker.requests.opening import open_due_requests
from tracker.settings import Settings

KEY = SecretStr(Fernet.generate_key().decode())


class Clock:
    def __init__(self, t: float):
        self.t = t

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += s


def _bot(db, agency: str, kind: ChannelKind, token: str, secret: str | None) -> int:  # type: ignore[no-untyped-def]
    with transaction(db) as s:
        agency_id = s.scalar(select(Agency.id).where(Agency.name == agency))
        return add_bot(s, agency_id=agency_id, kind=kind, name=f"{agency}工作群", token=token,
                       secret=secret, key=KEY, now=at("2017-03-01")).id


def _bot_status(db, bot_id: int) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with db() as s:
        return dict(s.execute(select(OutboxMessage.status, func.count())
                              .where(OutboxMessage.address == f"bot:{bot_id}")
                              .group_by(OutboxMessage.status)).all())  # type: ignore[arg-type]


def test_refused_bot_messages_are_never_counted_as_sent(db, small, policy, tmp_path):
    """DingTalk answers 200 + 130101 (too fast) first, then accepts; WeCom's key is wrong
    (200 + 93000). Email goes to files. Each refusal leaves the bot's rows waiting, never
    "sent"; one bot's setup error does not hold back the other bot; once DingTalk accepts,
    its digest arrives once, naming the items, without an answer link."""
    dt_id = _bot(db, "市残联", ChannelKind.DINGTALK, "dt-token", "SEC-1")
    wc_id = _bot(db, "市民政局", ChannelKind.WECOM, "wrong-key", None)
    with transaction(db) as s:
        open_due_requests(s, small, at("2017-03-17"), policy)
    clock = Clock(1_489_712_400.0)  # 2017-03-17 09:00 +08:00
    ding = Receiver("dingtalk", token="dt-token", secret="SEC-1", keyword="进展", clock=clock,
                    forced=[{"errcode": 130101, "errmsg": "send too fast"}])
    wecom = Receiver("wecom", token="right-key", clock=clock)
    (s1, url1), (s2, url2) = chat_receivers.start(ding), chat_receivers.start(wecom)

    def load():  # type: ignore[no-untyped-def]
        with db() as s:
            return load_endpoints(s, KEY)

    def channels():  # type: ignore[no-untyped-def]
        lookup = endpoint_lookup(load)
        pace = dict(clock=clock, sleep=clock.sleep)
        return {
            ChannelKind.EMAIL: FileChannel(tmp_path / "mail"),
            ChannelKind.DINGTALK: DingTalkChannel(
                lookup, base_url=url1, pacer=Pacer(DingTalkChannel.rate_limits, **pace),
                wall_clock=clock, link_marker="http://testserver/l/"),
            ChannelKind.WECOM: WeComChannel(
                lookup, base_url=url2, pacer=Pacer(WeComChannel.rate_limits, **pace),
                wall_clock=clock),
        }

    def link_for(contact):  # type: ignore[no-untyped-def]
        return f"http://testserver/l/token-of-{contact.id}"

    first = dispatch(db, channels(), now=at("2017-03-17", 9, 5), calendar=policy.calendar,
                     link_for=link_for)
    assert ding.accepted == [] and len(ding.refused) == 1
    assert wecom.accepted == [] and [a["errcode"] for _, a in wecom.refused] == [93000]
    n_dt = sum(_bot_status(db, dt_id).values())
    assert _bot_status(db, dt_id) == {OutboxStatus.PENDING: n_dt}
    assert _bot_status(db, wc_id) == {OutboxStatus.PENDING: sum(_bot_status(db, wc_id).values())}
    assert first.failed == 0 and first.retrying == n_dt + sum(_bot_status(db, wc_id).values())
    with db() as s:
        errors = s.scalars(select(OutboxMessage.last_error)
                           .where(OutboxMessage.address == f"bot:{wc_id}")).all()
    assert all("企业微信群机器人拒绝了消息（错误码 93000" in e for e in errors)

    clock.t += 600
    second = dispatch(db, channels(), now=at("2017-03-17", 9, 15), calendar=policy.calendar,
                      link_for=link_for)
    third = dispatch(db, channels(), now=at("2017-03-17", 9, 30), calendar=policy.calendar,
                     link_for=link_for)
    s1.shutdown()
    s2.shutdown()
    assert len(ding.accepted) == 1 and second.digests >= 1 and third.sent == 0
    assert _bot_status(db, dt_id) == {OutboxStatus.SENT: n_dt}
    content = ding.accepted[0].json["text"]["content"]
    assert "/l/" not in content and "市残联" in content and "进展" in content
    mails = list((tmp_path / "mail").glob("*.eml"))
    bodies = [email.message_from_bytes(m.read_bytes(), policy=email_policy.default)
              .get_content() for m in mails]  # type: ignore[attr-defined]
    assert any("http://testserver/l/token-of-" in b for b in bodies)  # people get their links


def test_outside_production_every_channel_writes_files(db, db_url, small, policy, tmp_path,
                                                        caplog):
    """TRACKER_ENV=development (the default): a copied database never mails real people."""
    controller, recorder = smtp_server.start()
    try:
        bot_id = _bot(db, "市残联", ChannelKind.DINGTALK, "real-token", None)
        with transaction(db) as s:
            queued = open_due_requests(s, small, at("2017-03-17"), policy).messages_queued
        settings = Settings(home=tmp_path, database_url=db_url, smtp_port=controller.port,
                            channel="email", channel_key=KEY, _env_file=None)
        assert settings.env == "development"
        runtime._announced.clear()
        with caplog.at_level(logging.WARNING, logger="tracker.channels"):
            channels = channels_for(settings)
            channels_for(settings)  # a second run does not repeat it
        assert set(channels) == set(ChannelKind)
        assert all(isinstance(c, FileChannel) for c in channels.values())
        assert caplog.text.count("TRACKER_ENV=production") == 1
        assert str(tmp_path / "outbox") in caplog.text
        r = dispatch(db, channels, now=at("2017-03-17", 9, 5), calendar=policy.calendar)
        assert r.sent == queued and recorder.messages == []
        files = list((tmp_path / "outbox").glob("*.eml"))
        assert len(files) == r.digests
        assert sum(f"bot:{bot_id}" in f.read_text() for f in files) == 1
        production = Settings(home=tmp_path, database_url=db_url, smtp_port=controller.port,
                              env="production", channel_key=KEY, _env_file=None)
        live = channels_for(production)
        assert isinstance(live[ChannelKind.DINGTALK], DingTalkChannel)
        assert live[ChannelKind.DINGTALK].base_url == "https://oapi.dingtalk.com"
    finally:
        controller.stop()
