"""WeCom (企业微信) group bot: POST {base}/cgi-bin/webhook/send?key=KEY, a text message.

Vendor documentation (developer.work.weixin.qq.com/document/path/91770, 群机器人配置说明):
text.content at most 2048 bytes UTF-8; at most 20 messages a minute per bot; the answer is
HTTP 200 with {"errcode": 0, "errmsg": "ok"} or a non-zero errcode: 45009 frequency limit,
93000 invalid webhook URL (wrong or deleted key), 40058 invalid parameter (its errmsg says
"exceed max length" when the content is too long).
"""

from __future__ import annotations

from typing import Any

from notifications.channels.base import Digest
from notifications.channels.chat import BotChannel, Verdict, code_verdict, http_verdict
from tracker.directory.bots import Endpoint
from tracker.enums import ChannelKind

RETRY = {45009, 45033, -1}  # frequency limit, concurrency limit, system busy
SETUP = {93000, 93004, 40001, 40014}  # invalid webhook key / bot disabled / credential
TOO_LONG: set[int] = set()  # 40058 with "exceed max length" in errmsg (code_verdict)


class WeComChannel(BotChannel):
    kind = ChannelKind.WECOM
    vendor = "企业微信群机器人"
    max_bytes = 2048  # text.content, counted alone (see `size`)
    rate_limits = ((20, 60.0),)

    def request(self, endpoint: Endpoint, text: str, digest: Digest | None = None
                ) -> tuple[str, dict[str, Any], dict[str, Any]]:
        return (f"{self.base_url}/cgi-bin/webhook/send", {"key": endpoint.token},
                {"msgtype": "text", "text": {"content": text}})

    def size(self, endpoint: Endpoint, text: str) -> int:
        return len(text.encode())

    def verdict(self, status: int, answer: Any) -> tuple[Verdict, str]:
        decided = http_verdict(status)
        if decided is not None:
            return decided
        if not isinstance(answer, dict):
            return Verdict.RETRY, f"HTTP {status}，应答不是 JSON"
        return code_verdict(answer.get("errcode"), str(answer.get("errmsg", "")), retry=RETRY,
                            setup=SETUP, too_long=TOO_LONG, refused=frozenset({40058}))

    def setup_hint(self, detail: str) -> str:
        return (f"企业微信群机器人拒绝了消息（{detail}）：请在群设置中核对机器人的 Webhook 地址"
                "（key），机器人被移除后须用 tracker bot remove / add 重新配置")
