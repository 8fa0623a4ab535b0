"""Feishu (飞书) custom bot: POST {base}/open-apis/bot/v2/hook/{token}, a text message.

Vendor documentation (open.feishu.cn, 自定义机器人使用指南): with 签名校验 the body carries
"timestamp" (seconds, within one hour) and "sign" = base64 of HMAC-SHA256 keyed by
"{timestamp}\\n{secret}" over an empty message; at most 100 requests a minute and 5 a
second per bot; the request body at most 20 KB. The answer is HTTP 200 with {"code": 0} (or
the older {"StatusCode": 0}) or: 19021 signature mismatch or stale timestamp, 19022 IP not
allowed, 19024 keyword missing, 19001 invalid webhook, 9499 / 11232 too many requests.
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

RETRY = {9499, 11232, 11233}
SETUP = {19021, 19022, 19024, 19001, 19002}
TOO_LONG = {9502}


def sign(secret: str, timestamp_s: int) -> str:
    """Feishu's signature: the key is "{timestamp}\\n{secret}", the message empty."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()


class FeishuChannel(BotChannel):
    kind = ChannelKind.FEISHU
    vendor = "飞书群机器人"
    max_bytes = 20000  # the request body (documented 20 KB; kept under 20,000 bytes)
    rate_limits = ((100, 60.0), (5, 1.0))

    def request(self, endpoint: Endpoint, text: str, digest: Digest | None = None
                ) -> tuple[str, dict[str, Any], dict[str, Any]]:
        body: dict[str, Any] = {"msg_type": "text", "content": {"text": text}}
        if endpoint.secret:
            ts = int(self.wall_clock())
            body = {"timestamp": str(ts), "sign": sign(endpoint.secret, ts), **body}
        return f"{self.base_url}/open-apis/bot/v2/hook/{endpoint.token}", {}, body

    def verdict(self, status: int, answer: Any) -> tuple[Verdict, str]:
        decided = http_verdict(status)
        if decided is not None and not isinstance(answer, dict):
            return decided
        if not isinstance(answer, dict):
            return Verdict.RETRY, f"HTTP {status}，应答不是 JSON"
        code = answer.get("code", answer.get("StatusCode"))
        message = str(answer.get("msg", answer.get("StatusMessage", "")))
        return code_verdict(code, message, retry=RETRY, setup=SETUP, too_long=TOO_LONG)

    def setup_hint(self, detail: str) -> str:
        return (f"飞书群机器人拒绝了消息（{detail}）：请核对机器人的 Webhook 地址与签名校验密钥，"
                "服务器时间是否准确，以及安全设置中的自定义关键词和 IP 白名单")
