"""A generic JSON webhook: POST {"subject", "body", ...} to the bot's URL.

For an office's own message gateway. Success is any 2xx answer whose JSON (if any) carries
no non-zero "errcode" / "code"; 429 and 5xx are retried; 401 / 403 / 404 are setup errors.
With a secret, the request carries X-Tracker-Timestamp (epoch seconds) and
X-Tracker-Signature = hex HMAC-SHA256 over "{timestamp}." + body keyed by the secret, so the
receiver can check where it came from. No size or rate limit of its own; a 413 answer
splits the message.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from notifications.channels.base import Digest
from notifications.channels.chat import BotChannel, Verdict, code_verdict, http_verdict
from tracker.directory.bots import Endpoint
from tracker.enums import ChannelKind


def signature(secret: str, timestamp: str, content: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + content, hashlib.sha256).hexdigest()


class WebhookChannel(BotChannel):
    kind = ChannelKind.WEBHOOK
    vendor = "Webhook 接收方"

    def request(self, endpoint: Endpoint, text: str, digest: Digest | None = None
                ) -> tuple[str, dict[str, Any], dict[str, Any]]:
        subject, _, body = text.partition("\n\n")
        return endpoint.token, {}, {
            "subject": subject, "body": body, "digest_id": digest.digest_id if digest else "",
            "recipient": endpoint.name, "agency": endpoint.agency,
            "date": digest.date.isoformat() if digest else "",
        }

    def headers(self, endpoint: Endpoint, content: bytes) -> dict[str, str]:
        if not endpoint.secret:
            return {}
        ts = str(int(self.wall_clock()))
        return {"X-Tracker-Timestamp": ts,
                "X-Tracker-Signature": signature(endpoint.secret, ts, content)}

    def verdict(self, status: int, answer: Any) -> tuple[Verdict, str]:
        decided = http_verdict(status)
        if decided is not None:
            return decided
        if status >= 400:
            return Verdict.REFUSED, f"HTTP {status}"
        if isinstance(answer, dict) and ("errcode" in answer or "code" in answer):
            code = answer.get("errcode", answer.get("code"))
            return code_verdict(code, str(answer.get("errmsg", answer.get("msg", ""))),
                                retry=set(), setup=set(), too_long=set())
        return Verdict.OK, ""
