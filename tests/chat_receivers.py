"""Real HTTP servers on loopback playing the group-bot APIs of WeCom, DingTalk and Feishu.

Each answers as the vendor documents: HTTP 200 with {"errcode": 0} / {"code": 0} on
success, and HTTP 200 with the vendor's error code when it refuses (bad key or signature,
stale timestamp, keyword missing, too fast, too long). Signatures are verified exactly as
the vendor does, from the secret the test gives the receiver. The receiver's clock is
injected (the same fake clock the channel's pacer uses). Accepted messages are recorded.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Received:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """One vendor's bot API. `vendor`: wecom | dingtalk | feishu | webhook."""

    vendor: str
    token: str = "tok"
    secret: str | None = None
    keyword: str | None = None
    clock: Callable[[], float] = lambda: 0.0  # epoch seconds, the "vendor's" clock
    max_bytes: int | None = None  # None: the vendor's documented limit
    forced: list[dict[str, Any]] = field(default_factory=list)  # answers to give first
    accepted: list[Received] = field(default_factory=list)  # messages the vendor took
    refused: list[tuple[Received, dict[str, Any]]] = field(default_factory=list)
    silent: bool = False  # accept the connection, never answer
    _times: list[float] = field(default_factory=list)

    # --- the vendors' rules ---
    def answer(self, req: Received) -> dict[str, Any]:
        if self.forced:
            return self.forced.pop(0)
        return getattr(self, f"_{self.vendor}")(req)

    def _rate(self, limits: list[tuple[int, float]]) -> bool:
        now = self.clock()
        for n, window in limits:
            if len([t for t in self._times if t > now - window]) >= n:
                return False
        self._times.append(now)
        return True

    def _wecom(self, req: Received) -> dict[str, Any]:
        if req.path != "/cgi-bin/webhook/send" or req.query.get("key") != self.token:
            return {"errcode": 93000, "errmsg": "invalid webhook url"}
        content = req.json["text"]["content"]
        limit = self.max_bytes or 2048
        if len(content.encode()) > limit:
            return {"errcode": 40058, "errmsg": f"text.content exceed max length {limit}"}
        if not self._rate([(20, 60.0)]):
            return {"errcode": 45009, "errmsg": "api freq out of limit"}
        return {"errcode": 0, "errmsg": "ok"}

    def _dingtalk(self, req: Received) -> dict[str, Any]:
        if req.path != "/robot/send" or req.query.get("access_token") != self.token:
            return {"errcode": 300001, "errmsg": "token is not exist"}
        if self.secret is not None:
            ts = req.query.get("timestamp", "")
            expected = base64.b64encode(hmac.new(
                self.secret.encode(), f"{ts}\n{self.secret}".encode(), hashlib.sha256
            ).digest()).decode()
            if not ts.isdigit() or abs(self.clock() * 1000 - int(ts)) > 3_600_000:
                return {"errcode": 310000, "errmsg": "sign not match, more: timestamp expired"}
            if not hmac.compare_digest(req.query.get("sign", ""), expected):
                return {"errcode": 310000, "errmsg": "sign not match"}
        content = req.json["text"]["content"]
        if self.keyword and self.keyword not in content:
            return {"errcode": 310000, "errmsg": "keywords not in content"}
        if len(req.body) > (self.max_bytes or 20000):
            return {"errcode": 460101, "errmsg": "message too long, exceed 20000 bytes"}
        if not self._rate([(20, 60.0)]):
            return {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}
        return {"errcode": 0, "errmsg": "ok"}

    def _feishu(self, req: Received) -> dict[str, Any]:
        if req.path != f"/open-apis/bot/v2/hook/{self.token}":
            return {"code": 19001, "msg": "param invalid: incoming webhook access token invalid"}
        body = req.json
        if self.secret is not None:
            ts = str(body.get("timestamp", ""))
            expected = base64.b64encode(hmac.new(
                f"{ts}\n{self.secret}".encode(), b"", hashlib.sha256).digest()).decode()
            if (not ts.isdigit() or abs(self.clock() - int(ts)) > 3600
                    or not hmac.compare_digest(str(body.get("sign", "")), expected)):
                return {"code": 19021, "msg": "sign match fail or timestamp is not within one "
                                              "hour from current time"}
        if self.keyword and self.keyword not in body["content"]["text"]:
            return {"code": 19024, "msg": "Key Words Not Found"}
        if len(req.body) > (self.max_bytes or 20480):
            return {"code": 9499, "msg": "request body exceed max length 20480 bytes"}
        if not self._rate([(100, 60.0), (5, 1.0)]):
            return {"code": 11232, "msg": "frequency limited"}
        return {"code": 0, "msg": "success", "data": {}}

    def _webhook(self, req: Received) -> dict[str, Any]:
        if self.secret is not None:
            ts = req.headers.get("x-tracker-timestamp", "")
            mac = hmac.new(self.secret.encode(), ts.encode() + b"." + req.body, hashlib.sha256)
            if not hmac.compare_digest(req.headers.get("x-tracker-signature", ""), mac.hexdigest()):
                return {"errcode": 401, "errmsg": "bad signature"}
        return {"ok": True}


def start(receiver: Receiver) -> tuple[ThreadingHTTPServer, str]:
    """Serve `receiver` on a free loopback port in a thread; (server, base URL)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            req = Received(path=url.path, body=self.rfile.read(length),
                           query={k: v[0] for k, v in parse_qs(url.query).items()},
                           headers={k.lower(): v for k, v in self.headers.items()})
            if receiver.silent:
                threading.Event().wait(5)
                return
            answer = receiver.answer(req)
            code = answer.get("errcode", answer.get("code", 0))
            (receiver.accepted.append(req) if code == 0 else receiver.refused.append((req, answer)))
            data = json.dumps(answer).encode()
            self.send_response(200)  # the vendors refuse with HTTP 200 and an error code
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"
