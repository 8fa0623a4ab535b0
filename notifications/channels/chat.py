"""What the group-bot channels share: reading every answer, splitting, pacing, posting.

Why thin clients of our own rather than apprise (issue 8, build item 2): apprise's DingTalk,
WeCom-bot and Feishu plugins treat HTTP 200 as success without reading the vendor's
`errcode`/`code` (these bots answer 200 when they refuse a message), hard-code the vendors'
hosts (no loopback receivers in tests), and neither split by the vendors' UTF-8 byte limits
nor pace to their rate limits. Each vendor module here is a payload, a signature and a table
of error codes; the sending, splitting and pacing are this module's.

A refusal is sorted into one of four outcomes (`Verdict`):
- RETRY: rate limited, 5xx, timeouts: DeliveryError(permanent=False); the dispatcher retries
  the digest later with its backoff;
- SETUP: bad signature, stale timestamp, keyword missing, invalid token, IP not allowed:
  DeliveryError(permanent=False, setup=True) whose Chinese message says what to fix; the
  messages wait (and end as dead letters that `tracker outbox retry` puts back once fixed);
- TOO_LONG: the part is split in two at a line boundary and both halves are sent;
- REFUSED: anything else a retry cannot fix: DeliveryError(permanent=True).

Parts. A digest longer than the vendor's limit (counted in UTF-8 bytes, as the vendors do)
is sent as numbered parts "（1/3）…" cut at line boundaries, in order. If a part fails, the
digest fails and the dispatcher retries the whole digest: the parts that already went are
posted again. We accept that rather than store per-part progress, because a group chat
shows a repeated numbered part harmlessly, whereas a lost part would be a lost notice
(issue 8: "never by dropping"); each part carries the digest's short id so readers and
tests can tell a repeat from a new notice.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from enum import Enum
from typing import Any

import httpx

from notifications.channels.base import DeliveryError, Digest
from tracker.directory.bots import Endpoint
from tracker.enums import ChannelKind


class Verdict(Enum):
    OK = "ok"
    RETRY = "retry"
    SETUP = "setup"
    TOO_LONG = "too_long"
    REFUSED = "refused"


EndpointLookup = Callable[[int], Endpoint]  # raises DeliveryError itself when it cannot


def endpoint_lookup(load: Callable[[], dict[int, Endpoint]]) -> EndpointLookup:
    """A lookup over the bots `load` returns (one query, on first use, then kept for the
    run). A bot that does not exist fails its message for good; a key that is missing or
    wrong fails the channel as a whole (setup): the messages wait until it is fixed."""
    from tracker.directory.bots import BotError

    cache: dict[int, Endpoint] = {}
    loaded = False

    def lookup(endpoint_id: int) -> Endpoint:
        nonlocal loaded
        if not loaded:
            try:
                cache.update(load())
            except BotError as exc:
                raise DeliveryError(str(exc), permanent=False, setup=True) from exc
            loaded = True
        if endpoint_id not in cache:
            raise DeliveryError(f"群机器人 bot:{endpoint_id} 不存在（可能已被删除）", permanent=True)
        return cache[endpoint_id]

    return lookup


# --- splitting ---------------------------------------------------------------------------

PART_HEADER_RESERVE = "（999/999）\n"  # room kept in every part for its number


def split_text(text: str, fits: Callable[[str], bool]) -> list[str]:
    """Cut `text` into the fewest pieces that each satisfy `fits`, at line boundaries;
    a single line too long on its own is cut between characters (never inside one, so
    every piece is valid UTF-8). Pieces are returned unnumbered; `number_parts` adds
    "（i/n）". `fits` must accept any single character."""
    if fits(text):
        return [text]
    pieces: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        if fits(current + line):
            current += line
            continue
        if current:
            pieces.append(current)
            current = ""
        while not fits(line):  # one over-long line: the longest prefix that fits
            lo, hi = 1, len(line)
            while lo < hi:
                mid = (lo + hi + 1) // 2
                lo, hi = (mid, hi) if fits(line[:mid]) else (lo, mid - 1)
            pieces.append(line[:lo])
            line = line[lo:]
        current = line
    if current:
        pieces.append(current)
    return pieces


def number_parts(pieces: list[str], tag: str = "") -> list[str]:
    """"（i/n）" before each piece when there are several (tag: the digest's short id)."""
    if len(pieces) == 1:
        return pieces
    n = len(pieces)
    return [f"（{i}/{n}{tag}）\n{p}" for i, p in enumerate(pieces, 1)]


# --- pacing ------------------------------------------------------------------------------


class Pacer:
    """Keeps each bot within its documented rate limits by waiting, never by dropping.

    `limits`: (messages, seconds) windows, all applied (Feishu: 100 a minute and 5 a
    second). Before a digest of k parts is posted, `reserve` computes when its last part
    could go; if that is more than `max_wait` seconds away the digest is deferred with a
    non-permanent DeliveryError (the dispatcher's next run sends it), otherwise each part
    waits its turn through `sleep`. `clock` (seconds, monotonic) and `sleep` are injected
    in tests. Per process and channel instance: a second dispatcher at the same moment is
    caught by the vendor's own rate-limit answer (RETRY).
    """

    def __init__(self, limits: Iterable[tuple[int, float]], *, max_wait: float = 60.0,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.limits = tuple(limits)
        self.max_wait, self.clock, self.sleep = max_wait, clock, sleep
        self.sent: dict[int, deque[float]] = defaultdict(deque)

    def _slot(self, history: list[float], t: float) -> float:
        changed = True
        while changed:
            changed = False
            for n, window in self.limits:
                recent = [x for x in history if x > t - window]
                if len(recent) >= n and recent[-n] + window > t:
                    t, changed = recent[-n] + window, True
        return t

    def reserve(self, key: int, count: int) -> None:
        """Raise DeliveryError(permanent=False) if `count` posts to bot `key` cannot all go
        within `max_wait` seconds from now because of this run's earlier posts to it. A
        digest so long that its own parts exceed the limit still goes when the bot is idle
        (paced, part after part): deferring it would find it just as long next time."""
        history, now = list(self.sent[key]), self.clock()
        longest = max((w for _, w in self.limits), default=0)
        if not any(x > now - longest for x in history):
            return
        t = now
        for _ in range(count):
            t = self._slot(history, t)
            history.append(t)
        if t - now > self.max_wait:
            raise DeliveryError(f"群机器人发送频率已达上限，约 {int(t - now) + 1} 秒后方可发完"
                                f"（{count} 条），本次顺延，稍后自动重试", permanent=False)

    def wait_turn(self, key: int) -> None:
        """Sleep until one more post to bot `key` is within every limit, then count it."""
        now = self.clock()
        t = self._slot(list(self.sent[key]), now)
        if t > now:
            self.sleep(t - now)
        history = self.sent[key]
        history.append(max(t, self.clock()))
        longest = max((w for _, w in self.limits), default=0)
        while history and history[0] <= history[-1] - longest:
            history.popleft()


# --- the channel ---------------------------------------------------------------------------


class BotChannel:
    """A group-bot channel: one subclass per vendor supplies `request`, `verdict`, the size
    check and the rate limits. `send(digest)` posts the digest (as numbered parts if
    needed) to the bot named by `digest.address` ("bot:{id}"), or raises DeliveryError.

    `base_url` defaults to the vendor's host (settings.*_base_url) and points at loopback
    receivers in tests; `timeout` (seconds) bounds each HTTP call; `wall_clock` (epoch
    seconds) gives the signature timestamps; `link_marker`, if given, removes every line
    containing it: a group is not a person, so a liaison's signed answer link never goes
    to a group chat, whatever the template rendered.
    """

    kind: ChannelKind
    max_bytes: int | None = None  # vendor's documented limit, UTF-8 bytes (see `size`)
    rate_limits: tuple[tuple[int, float], ...] = ()
    vendor = "群机器人"
    down: DeliveryError | None = None  # the host timed out or refused: the run's others wait

    def __init__(self, endpoints: EndpointLookup, *, base_url: str = "", timeout: float = 10.0,
                 pacer: Pacer | None = None, max_wait: float = 60.0,
                 wall_clock: Callable[[], float] = time.time, link_marker: str | None = None,
                 transport: httpx.BaseTransport | None = None):
        self.endpoints, self.base_url, self.timeout = endpoints, base_url.rstrip("/"), timeout
        self.pacer = pacer or Pacer(self.rate_limits, max_wait=max_wait)
        self.wall_clock, self.link_marker, self.transport = wall_clock, link_marker, transport

    # --- per vendor ---
    def request(self, endpoint: Endpoint, text: str, digest: Digest | None = None
                ) -> tuple[str, dict[str, Any], dict[str, Any]]:
        """(url, query params, JSON body) posting `text` (a part of `digest`) to `endpoint`."""
        raise NotImplementedError

    def headers(self, endpoint: Endpoint, content: bytes) -> dict[str, str]:
        """Extra HTTP headers for a request body (a signature, for the generic webhook)."""
        return {}

    def verdict(self, status: int, answer: Any) -> tuple[Verdict, str]:
        """Sort the vendor's answer (HTTP status, parsed JSON or None): (verdict, detail)."""
        raise NotImplementedError

    def size(self, endpoint: Endpoint, text: str) -> int:
        """The bytes the vendor counts against `max_bytes`: by default the whole JSON body."""
        _, _, body = self.request(endpoint, text)
        return len(json.dumps(body, ensure_ascii=False).encode())

    def setup_hint(self, detail: str) -> str:
        return f"{self.vendor}拒绝了消息（{detail}），请检查机器人的令牌、签名密钥和安全设置"

    # --- shared ---
    def text_of(self, digest: Digest) -> str:
        body = digest.body
        if self.link_marker:
            body = "".join(line for line in body.splitlines(keepends=True)
                           if self.link_marker not in line)
        return f"{digest.subject}\n\n{body.strip()}\n"

    def parts(self, endpoint: Endpoint, digest: Digest) -> list[str]:
        """The digest as the texts to post, each within the vendor's limit."""
        text = self.text_of(digest)
        if self.max_bytes is None:
            return [text]
        limit = self.max_bytes

        def fits(piece: str) -> bool:
            return self.size(endpoint, PART_HEADER_RESERVE + piece) <= limit

        return number_parts(split_text(text, fits), f" {digest.digest_id[:6]}")

    def send(self, digest: Digest) -> None:
        """Post the digest, in parts if needed; DeliveryError as sorted above. Once the
        vendor's host timed out or refused the connection, the rest of this run's digests for
        it fail at once with the same error instead of each waiting `timeout` (the
        dispatcher defers them), so a silent host costs one timeout per run."""
        if self.down is not None:
            raise self.down
        endpoint = self.endpoints(_endpoint_id(digest.address))
        if not endpoint.active:
            raise DeliveryError(f"群机器人“{endpoint.name}”已停用，不再发送", permanent=True)
        if endpoint.kind != self.kind:
            raise DeliveryError(f"群机器人 {digest.address} 的类型为 {endpoint.kind}，"
                                f"与渠道 {self.kind} 不符", permanent=True)
        parts = self.parts(endpoint, digest)
        self.pacer.reserve(endpoint.id, len(parts))
        with httpx.Client(timeout=self.timeout, transport=self.transport) as client:
            for part in parts:
                self._post(client, endpoint, part, digest, depth=0)

    def _post(self, client: httpx.Client, endpoint: Endpoint, text: str, digest: Digest,
              depth: int) -> None:
        self.pacer.wait_turn(endpoint.id)
        url, params, body = self.request(endpoint, text, digest)  # signed after the wait
        content = json.dumps(body, ensure_ascii=False).encode()
        try:
            response = client.post(url, params=params, content=content, headers={
                "Content-Type": "application/json; charset=utf-8",
                **self.headers(endpoint, content)})
        except httpx.TimeoutException as exc:
            self.down = DeliveryError(f"{self.vendor}接口在 {self.timeout:g} 秒内未响应"
                                      f"（{type(exc).__name__}）", permanent=False, setup=True)
            raise self.down from exc
        except httpx.HTTPError as exc:
            self.down = DeliveryError(f"无法连接{self.vendor}接口（{exc}）", permanent=False,
                                      setup=True)
            raise self.down from exc
        try:
            answer = response.json()
        except ValueError:
            answer = None
        verdict, detail = self.verdict(response.status_code, answer)
        if verdict is Verdict.OK:
            return
        if verdict is Verdict.TOO_LONG and depth < 4:
            lines = text.splitlines(keepends=True)
            if len(lines) > 1:
                halves = ["".join(lines[: len(lines) // 2]), "".join(lines[len(lines) // 2:])]
            else:
                halves = [text[: len(text) // 2], text[len(text) // 2:]]
            for i, half in enumerate(halves, 1):
                self._post(client, endpoint, f"（续{i}/2）\n{half}" if i > 1 else half, digest,
                           depth + 1)
            return
        if verdict is Verdict.RETRY:
            raise DeliveryError(f"{self.vendor}暂不接收（{detail}），稍后自动重试", permanent=False)
        if verdict is Verdict.SETUP:
            raise DeliveryError(self.setup_hint(detail), permanent=False, setup=True)
        raise DeliveryError(f"{self.vendor}拒收此消息（{detail}）", permanent=True)


def _endpoint_id(address: str) -> int:
    head, _, tail = address.partition(":")
    if head != "bot" or not tail.isdigit():
        raise DeliveryError(f"“{address[:80]}”不是群机器人地址（应为 bot:编号）", permanent=True)
    return int(tail)


def http_verdict(status: int) -> tuple[Verdict, str] | None:
    """The verdict an HTTP status decides alone (None: read the body)."""
    if status == 429 or status >= 500:
        return Verdict.RETRY, f"HTTP {status}"
    if status == 413:
        return Verdict.TOO_LONG, "HTTP 413"
    if status in (401, 403, 404):
        return Verdict.SETUP, f"HTTP {status}"
    if status >= 400:
        return None
    return None


def code_verdict(code: Any, message: str, *, retry: set[int], setup: set[int],
                 too_long: set[int], refused: frozenset[int] = frozenset()
                 ) -> tuple[Verdict, str]:
    """Sort a vendor's error code: 0 is OK; the sets name the others; an unknown non-zero
    code is RETRY (the dispatcher's backoff ends it as a dead letter if it persists,
    which is safer than dropping a message over a code we did not know)."""
    try:
        value = int(code)
    except (TypeError, ValueError):
        return Verdict.RETRY, f"无法识别的应答：{message[:100]}"
    detail = f"错误码 {value}：{message[:160]}"
    if value == 0:
        return Verdict.OK, ""
    lowered = message.lower()
    if value in too_long or ("exceed" in lowered and ("length" in lowered or "byte" in lowered)):
        return Verdict.TOO_LONG, detail
    if value in retry:
        return Verdict.RETRY, detail
    if value in setup:
        return Verdict.SETUP, detail
    if value in refused:
        return Verdict.REFUSED, detail
    return Verdict.RETRY, detail
