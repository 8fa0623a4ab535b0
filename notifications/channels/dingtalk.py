"""DingTalk (钉钉) custom robot: POST {base}/robot/send?access_token=T[&timestamp&sign].

Vendor documentation (open.dingtalk.com, 自定义机器人安全设置 / 发送消息): with 加签, sign =
URL-encoded base64 of HMAC-SHA256 over "{timestamp}\\n{secret}" keyed by the secret,
timestamp in milliseconds and within one hour of DingTalk's clock; at most 20 messages a
minute per robot; the body at most 20000 bytes. The answer is HTTP 200 with
{"errcode": 0, "errmsg": "ok"} or: 310000 security check failed (signature, stale
timestamp, keyword missing, IP not allowed), 300001 / 300005 token missing or unknown,
400102 robot disabled, 130101 / 410100 / 660026 sending too fast, 460101 message too long.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from notifications.channels.base import Digest
from notifications.channels.chat import BotChannel, Verdict, code_verdict, http_verdict
from tracker.directory.bots import Endpoint
from tracker.enums import ChannelKind

RETRY = {130101, 410100, 660026, -1}
SETUP = {310000, 300001, 300005, 400102, 400101}
TOO_LONG = {460101}


def sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's 加签 signature (base64; the query encoding adds the URL-encoding)."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()


class DingTalkChannel(BotChannel):
    kind = ChannelKind.DINGTALK
    vendor = "钉钉群机器人"
    max_bytes = 20000  # the whole request body
    rate_limits = ((20, 60.0),)

    def request(self, endpoint: Endpoint, text: str, digest: Digest | None = None
                ) -> tuple[str, dict[str, Any], dict[str, Any]]:
        params: dict[str, Any] = {"access_token": endpoint.token}
        if endpoint.secret:
            ts = int(self.wall_clock() * 1000)
            params |= {"timestamp": str(ts), "sign": sign(endpoint.secret, ts)}
        return (f"{self.base_url}/robot/send", params,
                {"msgtype": "text", "text": {"content": text}})

    def verdict(self, status: int, answer: Any) -> tuple[Verdict, str]:
        decided = http_verdict(status)
        if decided is not None:
            return decided
        if not isinstance(answer, dict):
            return Verdict.RETRY, f"HTTP {status}，应答不是 JSON"
        return code_verdict(answer.get("errcode"), str(answer.get("errmsg", "")), retry=RETRY,
                            setup=SETUP, too_long=TOO_LONG)

    def setup_hint(self, detail: str) -> str:
        return (f"钉钉群机器人拒绝了消息（{detail}）：请核对机器人的 access_token 与加签密钥，"
                "服务器时间是否准确，以及安全设置中的自定义关键词（须出现在通知标题或正文中）"
                "和 IP 地址段")
