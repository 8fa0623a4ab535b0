"""The group-bot channels against real HTTP receivers on loopback playing each vendor's API.

Each receiver verifies the signature as the vendor does and answers HTTP 200 with the
vendor's error code when it refuses; a refused message must never count as sent.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from notifications.channels import (
    DeliveryError,
    Digest,
    DingTalkChannel,
    FeishuChannel,
    WebhookChannel,
    WeComChannel,
)
from notifications.channels.chat import Pacer, split_text
from tests import chat_receivers
from tests.chat_receivers import Receiver
from tracker.dates.workdays import SHANGHAI
from tracker.directory.bots import Endpoint
from tracker.enums import ChannelKind

T0 = 1_491_800_000.0  # 2017-04-10 13:33:20 +08:00, epoch seconds


class FakeClock:
    """Seconds; `sleep` advances it (and records the waits): time injected, never slept."""

    def __init__(self, t: float = T0):
        self.t, self.sleeps = t, []  # type: ignore[var-annotated]

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 3))
        self.t += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def serve(receiver: Receiver):  # type: ignore[no-untyped-def]
    server, url = chat_receivers.start(receiver)
    return server, url


def endpoint(kind: ChannelKind, token: str = "tok", secret: str | None = None, *,
             active: bool = True, bot_id: int = 7) -> Endpoint:
    return Endpoint(id=bot_id, kind=kind, name="市残联工作群", agency="市残联", token=token,
                    secret=secret, active=active)


def channel(cls, url: str, ep: Endpoint, clock: FakeClock, **kw):  # type: ignore[no-untyped-def]
    pacer = Pacer(cls.rate_limits, max_wait=kw.pop("max_wait", 120.0), clock=clock,
                  sleep=clock.sleep)
    return cls({ep.id: ep}.__getitem__, base_url=url, timeout=2.0, pacer=pacer,
               wall_clock=clock, **kw)


def digest(body: str = "一、请于2017年4月10日前报送进展。\n", subject: str = "【催办通知】市残联",
           digest_id: str = "abcdef0123456789") -> Digest:
    return Digest(digest_id=digest_id, address="bot:7", recipient_name="市残联工作群",
                  subject=subject, body=body, date=dt.datetime(2017, 4, 10, 9, tzinfo=SHANGHAI))


# --- DingTalk -----------------------------------------------------------------------------


def test_dingtalk_signed_message_arrives_as_written(clock):
    rx = Receiver("dingtalk", token="dt-token", secret="SECxyz+/=", keyword="催办", clock=clock)
    server, url = serve(rx)
    ch = channel(DingTalkChannel, url, endpoint(ChannelKind.DINGTALK, "dt-token", "SECxyz+/="),
                 clock)
    ch.send(digest())
    server.shutdown()
    assert len(rx.accepted) == 1 and rx.refused == []
    got = rx.accepted[0]
    assert got.query["timestamp"] == str(int(T0 * 1000))  # milliseconds
    assert got.json == {"msgtype": "text", "text": {
        "content": "【催办通知】市残联\n\n一、请于2017年4月10日前报送进展。\n"}}


@pytest.mark.parametrize("receiver_kw, setup, words", [
    (dict(secret="another-secret"), True, "310000"),  # signature mismatch
    (dict(keyword="通报"), True, "关键词"),  # keyword missing: the hint names keywords
    (dict(token="other"), True, "300001"),  # unknown access_token
    (dict(forced=[{"errcode": 130101, "errmsg": "send too fast"}]), False, "130101"),
])
def test_dingtalk_refusals_are_sorted_and_never_sent(clock, receiver_kw, setup, words):
    rx = Receiver("dingtalk", **{"token": "dt-token", "secret": "SEC1", "clock": clock,
                                 **receiver_kw})
    server, url = serve(rx)
    ch = channel(DingTalkChannel, url, endpoint(ChannelKind.DINGTALK, "dt-token", "SEC1"), clock)
    with pytest.raises(DeliveryError) as caught:
        ch.send(digest())
    server.shutdown()
    assert rx.accepted == [] and len(rx.refused) == 1
    assert (caught.value.permanent, caught.value.setup) == (False, setup)
    assert words in str(caught.value)


def test_dingtalk_stale_timestamp_is_a_setup_error(clock):
    rx = Receiver("dingtalk", token="t", secret="S", clock=lambda: T0 + 3601)  # clocks apart
    server, url = serve(rx)
    ch = channel(DingTalkChannel, url, endpoint(ChannelKind.DINGTALK, "t", "S"), clock)
    with pytest.raises(DeliveryError) as caught:
        ch.send(digest())
    server.shutdown()
    assert caught.value.setup and "服务器时间" in str(caught.value) and rx.accepted == []


def test_dingtalk_too_long_answer_splits_the_part(clock):
    """The receiver's limit is lower than the documented one: its 460101 makes the channel
    send the part in two halves; all text arrives, nothing is lost."""
    rx = Receiver("dingtalk", token="t", clock=clock, max_bytes=600)
    server, url = serve(rx)
    body = "".join(f"{i:02d}. 市残联：加强辅助器具推广和适配服务\n" for i in range(12))
    ch = channel(DingTalkChannel, url, endpoint(ChannelKind.DINGTALK, "t"), clock)
    ch.send(digest(body))
    server.shutdown()
    assert [a["errcode"] for _, a in rx.refused] == [460101]
    texts = [r.json["text"]["content"] for r in rx.accepted]
    assert len(texts) == 2 and all(len(r.body) <= 600 for r in rx.accepted)
    assert texts[1].startswith("（续2/2）\n")
    joined = texts[0] + texts[1].removeprefix("（续2/2）\n")
    assert joined == f"【催办通知】市残联\n\n{body}"


@pytest.mark.parametrize("cls, vendor, limit, code", [
    (WeComChannel, "wecom", 300, 40058),  # errmsg "text.content exceed max length"
    (FeishuChannel, "feishu", 400, 9499),  # msg "request body exceed max length"
])
def test_wecom_and_feishu_too_long_answers_split_too(clock, cls, vendor, limit, code):
    rx = Receiver(vendor, token="t", clock=clock, max_bytes=limit)
    server, url = serve(rx)
    body = "".join(f"{i:02d}. 市残联：加强辅助器具推广和适配服务\n" for i in range(8))
    ch = channel(cls, url, endpoint(cls.kind, "t"), clock)
    ch.send(digest(body))
    server.shutdown()
    answers = [a.get("errcode", a.get("code")) for _, a in rx.refused]
    assert answers == [code] and len(rx.accepted) == 2
    texts = [(r.json.get("text") or r.json["content"])["content" if vendor == "wecom" else "text"]
             for r in rx.accepted]
    assert texts[0] + texts[1].removeprefix("（续2/2）\n") == f"【催办通知】市残联\n\n{body}"


def test_dingtalk_paces_to_twenty_a_minute_with_an_injected_clock(clock):
    rx = Receiver("dingtalk", token="t", clock=clock)
    server, url = serve(rx)
    ch = channel(DingTalkChannel, url, endpoint(ChannelKind.DINGTALK, "t"), clock)
    for i in range(25):
        clock.t += 1  # one digest a second
        ch.send(digest(f"第{i}条\n", digest_id=f"{i:016d}"))
    server.shutdown()
    assert len(rx.accepted) == 25 and rx.refused == []  # never "send too fast"
    # the 21st waits until the 1st has left the 60-second window: 1 + 60 - 21 = 40 s
    assert clock.sleeps == [40.0]
    sent_at = sorted(rx._times)
    assert all(b - a >= 60 for a, b in zip(sent_at, sent_at[20:], strict=False))


def test_pacing_longer_than_allowed_defers_without_sending(clock):
    rx = Receiver("dingtalk", token="t", clock=clock)
    server, url = serve(rx)
    ch = channel(DingTalkChannel, url, endpoint(ChannelKind.DINGTALK, "t"), clock, max_wait=10)
    for i in range(20):
        ch.send(digest(f"第{i}条\n", digest_id=f"{i:016d}"))
    with pytest.raises(DeliveryError) as caught:
        ch.send(digest("第21条\n", digest_id="x" * 16))
    server.shutdown()
    assert len(rx.accepted) == 20 and caught.value.permanent is False
    assert not caught.value.setup and "顺延" in str(caught.value) and clock.sleeps == []


def test_a_digest_longer_than_a_minute_of_posts_goes_when_the_bot_is_idle(clock):
    """25 parts to an idle WeCom bot (20 a minute): not deferred forever, paced instead."""
    rx = Receiver("wecom", token="t", clock=clock)
    server, url = serve(rx)
    ch = channel(WeComChannel, url, endpoint(ChannelKind.WECOM, "t"), clock, max_wait=10)
    body = "".join(f"{i:03d}. " + "加强辅助器具推广和适配服务" * 40 + "\n" for i in range(25))
    ch.send(digest(body))
    server.shutdown()
    assert len(rx.accepted) == 25 and rx.refused == [] and clock.sleeps == [60.0]


# --- WeCom --------------------------------------------------------------------------------


def test_wecom_long_digest_is_split_by_utf8_bytes_into_numbered_parts(clock):
    rx = Receiver("wecom", token="wk", clock=clock)
    server, url = serve(rx)
    lines = [f"{i}. 《天津市残疾人事业发展规划纲要》2.2.{i} 加强辅助器具推广和适配服务（市残联，牵头单位）\n"
             for i in range(60)]
    body = "".join(lines)
    ch = channel(WeComChannel, url, endpoint(ChannelKind.WECOM, "wk"), clock)
    ch.send(digest(body))
    server.shutdown()
    parts = [r.json["text"]["content"] for r in rx.accepted]
    n = len(parts)
    assert len(f"【催办通知】市残联\n\n{body}".encode()) == 7749 and n == 4
    assert rx.refused == [] and all(len(p.encode()) <= 2048 for p in parts)
    assert [p.split("\n", 1)[0] for p in parts] == [f"（{i}/{n} abcdef）" for i in range(1, n + 1)]
    assert "".join(p.split("\n", 1)[1] for p in parts) == f"【催办通知】市残联\n\n{body}"
    assert all(p.endswith("\n") for p in parts)  # cut at line boundaries


def test_wecom_invalid_key_and_rate_limit(clock):
    rx = Receiver("wecom", token="right", clock=clock,
                  forced=[{"errcode": 0, "errmsg": "ok"}, {"errcode": 45009, "errmsg": "freq"}])
    server, url = serve(rx)
    ch = channel(WeComChannel, url, endpoint(ChannelKind.WECOM, "wrong"), clock)
    ch.send(digest())  # forced success first
    with pytest.raises(DeliveryError) as rate:
        ch.send(digest())
    with pytest.raises(DeliveryError) as key:
        ch.send(digest())
    server.shutdown()
    assert (rate.value.permanent, rate.value.setup) == (False, False)
    assert (key.value.permanent, key.value.setup) == (False, True) and "93000" in str(key.value)
    assert len(rx.accepted) == 1 and len(rx.refused) == 2


# --- Feishu -------------------------------------------------------------------------------


def test_feishu_signature_and_five_a_second(clock):
    rx = Receiver("feishu", token="hook-1", secret="fs-secret", clock=clock, keyword="督办")
    server, url = serve(rx)
    ch = channel(FeishuChannel, url, endpoint(ChannelKind.FEISHU, "hook-1", "fs-secret"), clock)
    for i in range(7):
        ch.send(digest(subject="【督办通知】", digest_id=f"{i:016d}"))
    server.shutdown()
    assert len(rx.accepted) == 7 and rx.refused == []
    first = rx.accepted[0].json
    assert first["timestamp"] == str(int(T0)) and first["msg_type"] == "text"
    assert clock.sleeps == [1.0]  # the 6th waits a second; the 7th goes with it


def test_feishu_wrong_secret_and_missing_keyword_are_setup_errors(clock):
    for kw, code in ((dict(secret="other"), "19021"), (dict(keyword="通报"), "19024")):
        rx = Receiver("feishu", token="h", clock=clock, **{"secret": "s", **kw})
        server, url = serve(rx)
        ch = channel(FeishuChannel, url, endpoint(ChannelKind.FEISHU, "h", "s"), clock)
        with pytest.raises(DeliveryError) as caught:
            ch.send(digest())
        server.shutdown()
        assert caught.value.setup and code in str(caught.value) and rx.accepted == []


# --- generic webhook, timeouts, links -----------------------------------------------------


def test_webhook_posts_subject_and_body_signed(clock):
    rx = Receiver("webhook", secret="wh", clock=clock)
    server, url = serve(rx)
    ch = channel(WebhookChannel, url, endpoint(ChannelKind.WEBHOOK, f"{url}/in", "wh"), clock)
    ch.send(digest())
    server.shutdown()
    assert len(rx.accepted) == 1 and rx.accepted[0].path == "/in"
    assert json.loads(rx.accepted[0].body) == {
        "subject": "【催办通知】市残联", "body": "一、请于2017年4月10日前报送进展。\n",
        "digest_id": "abcdef0123456789", "recipient": "市残联工作群", "agency": "市残联",
        "date": "2017-04-10T09:00:00+08:00"}


def test_a_silent_bot_host_costs_one_timeout_per_run(clock):
    rx = Receiver("wecom", token="t", clock=clock, silent=True)
    server, url = serve(rx)
    ch = WeComChannel({7: endpoint(ChannelKind.WECOM, "t")}.__getitem__, base_url=url,
                      timeout=2, pacer=Pacer((), clock=clock, sleep=clock.sleep))
    import time
    started = time.monotonic()
    errors = []
    for _ in range(5):
        with pytest.raises(DeliveryError) as caught:
            ch.send(digest())
        errors.append(caught.value)
    elapsed = time.monotonic() - started
    server.shutdown()
    # one 2 s timeout, then the host is known silent: 5 waits would be 10 s; the margin
    # leaves room for a loaded CI machine
    assert all(e.setup and not e.permanent for e in errors) and elapsed < 7


def test_answer_links_never_reach_a_group(clock):
    rx = Receiver("wecom", token="t", clock=clock)
    server, url = serve(rx)
    ch = channel(WeComChannel, url, endpoint(ChannelKind.WECOM, "t"), clock,
                 link_marker="https://ducha.example.gov.cn/l/")
    ch.send(digest("一、事项\n报送链接：https://ducha.example.gov.cn/l/SIGNED\n二、事项\n"))
    server.shutdown()
    assert rx.accepted[0].json["text"]["content"] == "【催办通知】市残联\n\n一、事项\n二、事项\n"


def test_inactive_or_unknown_bot_fails_for_good(clock):
    ch = WeComChannel({7: endpoint(ChannelKind.WECOM, active=False)}.__getitem__,
                      base_url="http://127.0.0.1:9")
    with pytest.raises(DeliveryError) as inactive:
        ch.send(digest())
    with pytest.raises(DeliveryError) as bad:
        ch.send(digest().model_copy(update={"address": "zhang@example.org"}))
    assert inactive.value.permanent and "已停用" in str(inactive.value)
    assert bad.value.permanent and "bot:编号" in str(bad.value)


def test_split_text_cuts_an_overlong_line_between_characters():
    text = "甲" * 10 + "\n" + "乙" * 3 + "\n"
    pieces = split_text(text, lambda s: len(s.encode()) <= 12)
    assert pieces == ["甲甲甲甲", "甲甲甲甲", "甲甲\n", "乙乙乙\n"]
    assert "".join(pieces) == text
