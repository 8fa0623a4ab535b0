"""An agency's group bots (群机器人): added, listed, removed; credentials encrypted at rest.

Issue 8, build item 2: "an agency may have a group bot, whose token is stored encrypted with
a key from settings; secrets never sit in the catalog or in the database in clear". Tokens
and signing secrets are Fernet tokens (the `cryptography` package: AES-128-CBC + HMAC-SHA256,
authenticated, so a wrong key is detected rather than yielding garbage) under
TRACKER_CHANNEL_KEY. They are decrypted only when a message is sent (`load_endpoint`).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from cryptography.fernet import Fernet, InvalidToken
from pydantic import SecretStr
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tracker.enums import BOT_KINDS, ChannelKind, OutboxStatus
from tracker.errors import DomainError, NotFound
from tracker.models import Agency, ChatEndpoint, OutboxMessage
from tracker.models.outbox import in_claim

ADDRESS_PREFIX = "bot:"  # an outbox row's address for a bot: "bot:{ChatEndpoint.id}"


class BotError(DomainError):
    """A bot cannot be added, used or decrypted; the message says what to fix, in Chinese."""


class KeyMissing(BotError):
    code = "channel-key-missing"


@dataclass(frozen=True)
class Endpoint:
    """A bot ready to send to: credentials in clear, in memory only."""

    id: int
    kind: ChannelKind
    name: str
    agency: str
    token: str
    secret: str | None
    active: bool


def cipher(key: SecretStr | None) -> Fernet:
    """The Fernet cipher of TRACKER_CHANNEL_KEY; KeyMissing (Chinese) when it is not set.

    The key's form is checked when the settings are read (settings.Settings.channel_key).
    """
    if key is None:
        raise KeyMissing("未配置 TRACKER_CHANNEL_KEY：群机器人的令牌和签名密钥须加密保存。请运行 "
                         "tracker bot keygen 生成密钥，写入环境变量或 .env 文件后重试")
    return Fernet(key.get_secret_value().encode())


def new_key() -> str:
    """A fresh key for TRACKER_CHANNEL_KEY (44 URL-safe base64 characters)."""
    return Fernet.generate_key().decode()


def address_of(endpoint_id: int) -> str:
    return f"{ADDRESS_PREFIX}{endpoint_id}"


def endpoint_id_of(address: str) -> int:
    """The ChatEndpoint id in an outbox address "bot:17"; BotError when it is not one."""
    match = re.fullmatch(rf"{ADDRESS_PREFIX}(\d+)", address.strip())
    if match is None:
        raise BotError(f"“{address[:80]}”不是群机器人地址（应为 bot:编号）")
    return int(match.group(1))


def normalise_token(kind: ChannelKind, token: str) -> str:
    """The credential to store: the key / access_token / hook id, also when the whole webhook
    URL the vendor's console shows was pasted (WeCom `…/webhook/send?key=K`, DingTalk
    `…/robot/send?access_token=T`, Feishu `…/bot/v2/hook/H`). A generic webhook keeps its URL,
    which must be http(s). Raises BotError naming the value."""
    text = token.strip()
    if not text:
        raise BotError("令牌不能为空")
    if kind is ChannelKind.WEBHOOK:
        if urlsplit(text).scheme not in ("http", "https") or not urlsplit(text).netloc:
            raise BotError(f"通用 Webhook 的令牌应为以 http:// 或 https:// 开头的完整地址，"
                           f"而不是“{text[:40]}”")
        return text
    if text.startswith(("http://", "https://")):
        url = urlsplit(text)
        query = parse_qs(url.query)
        if kind is ChannelKind.WECOM and query.get("key"):
            return query["key"][0]
        if kind is ChannelKind.DINGTALK and query.get("access_token"):
            return query["access_token"][0]
        if kind is ChannelKind.FEISHU and "/hook/" in url.path:
            return url.path.rsplit("/", 1)[-1]
        raise BotError(f"无法从地址中识别{kind.label}的令牌，请直接填写令牌")
    if re.search(r"[\s/?&]", text):
        raise BotError(f"令牌“{text[:12]}…”含有空白或 / ? & 等字符，请检查是否复制完整")
    return text


def add_bot(session: Session, *, agency_id: int, kind: ChannelKind, name: str, token: str,
            secret: str | None, key: SecretStr | None, now: dt.datetime) -> ChatEndpoint:
    """Add a group bot to an agency, its token and secret encrypted with `key`.

    `kind` must be a bot kind (wecom, dingtalk, feishu, webhook). A DingTalk robot in
    "加签" mode and a Feishu bot with 签名校验 need `secret`. Raises BotError / KeyMissing
    (Chinese). Does not commit.
    """
    if kind not in BOT_KINDS:
        raise BotError(f"不支持的机器人类型：{kind}（应为 wecom、dingtalk、feishu 或 webhook）")
    f = cipher(key)
    clear = normalise_token(kind, token)
    secret = (secret or "").strip() or None
    bot = ChatEndpoint(agency_id=agency_id, kind=kind, name=name.strip() or kind.label,
                       token_encrypted=f.encrypt(clear.encode()).decode(),
                       secret_encrypted=f.encrypt(secret.encode()).decode() if secret else None,
                       active=True, created_at=now)
    session.add(bot)
    session.flush()
    return bot


def list_bots(session: Session) -> list[tuple[ChatEndpoint, str]]:
    """Every bot with its agency's name, active ones first. Credentials stay encrypted."""
    return [(b, name) for b, name in session.execute(
        select(ChatEndpoint, Agency.name).join(Agency, Agency.id == ChatEndpoint.agency_id)
        .order_by(ChatEndpoint.active.desc(), Agency.name, ChatEndpoint.id))]


def remove_bot(session: Session, endpoint_id: int) -> int:
    """Deactivate a bot at once: nothing more is posted to it. Its messages still waiting
    are dropped with the reason recorded (one UPDATE); returns how many. NotFound if there
    is no such bot. Does not commit."""
    bot = session.get(ChatEndpoint, endpoint_id)
    if bot is None:
        raise NotFound(f"没有编号为 {endpoint_id} 的群机器人")
    bot.active = False
    return max(session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.address == address_of(endpoint_id),
               OutboxMessage.channel == bot.kind.value,
               OutboxMessage.status == OutboxStatus.PENDING.value,
               ~in_claim())  # being sent: its run's re-check drops it
        .values(status=OutboxStatus.DROPPED.value, last_error="群机器人已移除，不再发送")
    ).rowcount or 0, 0)  # type: ignore[attr-defined]


def load_endpoint(session: Session, endpoint_id: int, key: SecretStr | None) -> Endpoint:
    """The bot with its credentials decrypted, for sending.

    Raises NotFound, KeyMissing, or BotError when the key is not the one the credentials
    were encrypted with (Fernet authenticates: a wrong key never yields a wrong token).
    """
    found = load_endpoints(session, key, [endpoint_id])
    if endpoint_id not in found:
        raise NotFound(f"没有编号为 {endpoint_id} 的群机器人")
    return found[endpoint_id]


def load_endpoints(session: Session, key: SecretStr | None,
                   ids: list[int] | None = None) -> dict[int, Endpoint]:
    """Bots by id (all, or those of `ids`), credentials decrypted; one query. Raises as
    `load_endpoint` does."""
    query = (select(ChatEndpoint, Agency.name)
             .join(Agency, Agency.id == ChatEndpoint.agency_id))
    if ids is not None:
        query = query.where(ChatEndpoint.id.in_(ids))
    rows = session.execute(query).all()
    if not rows:
        return {}
    f = cipher(key)
    out = {}
    for bot, agency in rows:
        try:
            token = f.decrypt(bot.token_encrypted.encode()).decode()
            secret = (f.decrypt(bot.secret_encrypted.encode()).decode()
                      if bot.secret_encrypted else None)
        except InvalidToken:
            raise BotError("无法解密群机器人凭据：TRACKER_CHANNEL_KEY 与添加机器人时所用的密钥不一致；"
                           "请恢复原密钥，或用 tracker bot remove 与 tracker bot add 重新添加",
                           code="channel-key-wrong") from None
        out[bot.id] = Endpoint(id=bot.id, kind=bot.kind, name=bot.name, agency=agency,
                               token=token, secret=secret, active=bot.active)
    return out
