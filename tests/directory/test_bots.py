"""Group bots: credentials encrypted at rest, outbox rows for an agency's bots, removal."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import select, text

from tests.conftest import at
from tracker.db import transaction
from tracker.directory.bots import (
    BotError,
    KeyMissing,
    add_bot,
    load_endpoint,
    normalise_token,
    remove_bot,
)
from tracker.enums import ChannelKind, OutboxStatus
from tracker.models import Agency, OutboxMessage, ProgressRequest
from tracker.requests.opening import open_due_requests

KEY = SecretStr(Fernet.generate_key().decode())


def _agency(db, name: str = "市残联") -> int:  # type: ignore[no-untyped-def]
    with db() as s:
        return int(s.scalar(select(Agency.id).where(Agency.name == name)))


def test_tokens_and_secrets_are_encrypted_at_rest(db, small):
    agency_id = _agency(db)
    with transaction(db) as s:
        bot = add_bot(s, agency_id=agency_id, kind=ChannelKind.DINGTALK, name="市残联工作群",
                      token="https://oapi.dingtalk.com/robot/send?access_token=abc123TOKEN",
                      secret="SECsecret-value", key=KEY, now=at("2017-03-01"))
        bot_id = bot.id
    with db() as s:
        raw = s.execute(text("SELECT token_encrypted, secret_encrypted FROM chat_endpoint")).one()
        dumped = " ".join(str(v) for row in s.execute(text("SELECT * FROM chat_endpoint"))
                          for v in row)
        endpoint = load_endpoint(s, bot_id, KEY)
    assert "abc123TOKEN" not in dumped and "SECsecret-value" not in dumped
    assert Fernet(KEY.get_secret_value().encode()).decrypt(raw[0].encode()) == b"abc123TOKEN"
    assert (endpoint.token, endpoint.secret, endpoint.agency) == ("abc123TOKEN",
                                                                   "SECsecret-value", "市残联")
    with db() as s, pytest.raises(BotError) as wrong:
        load_endpoint(s, bot_id, SecretStr(Fernet.generate_key().decode()))
    assert "密钥不一致" in str(wrong.value)
    with db() as s, pytest.raises(KeyMissing) as missing:
        load_endpoint(s, bot_id, None)
    assert "TRACKER_CHANNEL_KEY" in str(missing.value) and "tracker bot keygen" in str(missing.value)


def test_tokens_pasted_as_urls_are_reduced_to_the_token():
    assert normalise_token(ChannelKind.WECOM,
                           "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a-91f6") == "693a-91f6"
    assert normalise_token(ChannelKind.FEISHU,
                           "https://open.feishu.cn/open-apis/bot/v2/hook/c0ffee") == "c0ffee"
    assert normalise_token(ChannelKind.WEBHOOK, " https://gw.example/in ") == "https://gw.example/in"
    with pytest.raises(BotError) as bad:
        normalise_token(ChannelKind.WEBHOOK, "gw.example/in")
    assert "http://" in str(bad.value)
    with pytest.raises(BotError):
        normalise_token(ChannelKind.DINGTALK, "abc def")


def test_agency_notices_also_go_to_its_active_bots_once(db, small, policy):
    agency_id = _agency(db)
    with transaction(db) as s:
        bot = add_bot(s, agency_id=agency_id, kind=ChannelKind.WECOM, name="市残联工作群",
                      token="k1", secret=None, key=KEY, now=at("2017-03-01"))
        gone = add_bot(s, agency_id=agency_id, kind=ChannelKind.FEISHU, name="旧群",
                       token="k2", secret=None, key=KEY, now=at("2017-03-01"))
        remove_bot(s, gone.id)
        bot_id = bot.id
    with transaction(db) as s:
        open_due_requests(s, small, at("2017-03-17"), policy)
    with transaction(db) as s:  # run twice: nothing more
        open_due_requests(s, small, at("2017-03-17"), policy)
    with db() as s:
        requests = s.scalars(select(ProgressRequest.id).where(
            ProgressRequest.agency_id == agency_id).order_by(ProgressRequest.id)).all()
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.address.like("bot:%"))
                         .order_by(OutboxMessage.request_id)).all()
    assert len(requests) >= 1
    assert [(r.request_id, r.channel, r.address, r.contact_id, r.recipient_name) for r in rows] == [
        (i, ChannelKind.WECOM, f"bot:{bot_id}", None, "市残联工作群") for i in requests]
    assert rows[0].key == f"req:{requests[0]}:bot{bot_id}"


def test_removing_a_bot_drops_what_waits_for_it(db, small, policy):
    agency_id = _agency(db)
    with transaction(db) as s:
        bot_id = add_bot(s, agency_id=agency_id, kind=ChannelKind.DINGTALK, name="群",
                         token="t", secret=None, key=KEY, now=at("2017-03-01")).id
    with transaction(db) as s:
        open_due_requests(s, small, at("2017-03-17"), policy)
    with transaction(db) as s:
        dropped = remove_bot(s, bot_id)
    with db() as s:
        states = s.execute(select(OutboxMessage.status, OutboxMessage.last_error)
                           .where(OutboxMessage.address == f"bot:{bot_id}")).all()
    assert dropped == len(states) >= 1
    assert set(states) == {(OutboxStatus.DROPPED, "群机器人已移除，不再发送")}
