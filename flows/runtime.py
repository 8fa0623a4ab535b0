"""What a flow run needs: settings, a cached engine per URL, the policy, the channels.

Also `prefect_context(settings)`: Prefect's own configuration for the commands that run
flows, given through Prefect's settings context rather than os.environ.
"""

from __future__ import annotations

import atexit
import datetime as dt
import logging
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from flows.local_api import DEFAULT_STARTUP_TIMEOUT, Lease, acquire, release
from notifications.channels import (
    Channel,
    DingTalkChannel,
    EmailChannel,
    FeishuChannel,
    FileChannel,
    WebhookChannel,
    WeComChannel,
)
from tracker.dates.workdays import SHANGHAI
from tracker.db import make_engine, migrate, session_factory
from tracker.enums import ChannelKind
from tracker.policy import Policy
from tracker.settings import Settings


@lru_cache(maxsize=8)
def factory_for(url: str) -> sessionmaker[Session]:
    engine = make_engine(url)
    migrate(engine)
    _urls.add(url)
    return session_factory(engine)


def dispose_engines() -> None:
    """Close every cached engine's connections (SQLite folds its WAL back into the file)."""
    for url in list(_urls):
        factory_for(url).kw["bind"].dispose()
    _urls.clear()
    factory_for.cache_clear()


_urls: set[str] = set()
log = logging.getLogger("tracker.channels")
_announced: set[str] = set()


def resolve(now: str | None, settings: Settings | None) -> tuple[Settings, dt.datetime]:
    """The settings given (None: read from the environment) and an aware `now`.

    `now` is ISO text (naive means Asia/Shanghai) or None for the wall clock.
    """
    if settings is None:
        settings = Settings()
    if now is None:
        at = dt.datetime.now(SHANGHAI)
    else:
        at = dt.datetime.fromisoformat(now)
        if at.tzinfo is None:
            at = at.replace(tzinfo=SHANGHAI)
    return settings, at


@lru_cache(maxsize=8)
def _policy(settings: Settings) -> Policy:
    return Policy.from_settings(settings)


def policy_for(settings: Settings) -> Policy:
    return _policy(settings)


def channels_for(settings: Settings, *, announce: bool = True) -> dict[ChannelKind, Channel]:
    """Every channel kind mapped to its channel, as configured by `settings`.

    Outside production (TRACKER_ENV=development, the default, or test) every kind, email
    and group bots alike, writes files to TRACKER_OUTBOX_DIR instead (issue 8: a copied
    database never mails or messages real people); a one-line notice in Chinese is logged.
    """
    file = FileChannel(settings.outbox_dir, settings.smtp_from)
    if settings.env != "production":
        notice = redirect_notice(settings)
        if announce and notice not in _announced:  # once per process, not every 5 minutes
            _announced.add(notice)
            log.warning(notice)
        return dict.fromkeys(ChannelKind, file)
    from notifications.channels.chat import endpoint_lookup
    from tracker.directory.bots import load_endpoints

    def load():  # type: ignore[no-untyped-def]
        with factory_for(settings.database_url)() as session:
            return load_endpoints(session, settings.channel_key)

    lookup = endpoint_lookup(load)
    common: dict[str, Any] = dict(timeout=settings.chat_timeout, max_wait=settings.chat_max_wait,
                                  link_marker=f"{settings.base_url}/l/")
    return {
        ChannelKind.EMAIL: EmailChannel(
            settings.smtp_host, settings.smtp_port, settings.smtp_from, settings.smtp_timeout,
            user=settings.smtp_user, security=settings.smtp_security, ca_file=settings.smtp_ca_file,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None),
        ChannelKind.FILE: file,
        ChannelKind.WECOM: WeComChannel(lookup, base_url=settings.wecom_base_url, **common),
        ChannelKind.DINGTALK: DingTalkChannel(lookup, base_url=settings.dingtalk_base_url, **common),
        ChannelKind.FEISHU: FeishuChannel(lookup, base_url=settings.feishu_base_url, **common),
        ChannelKind.WEBHOOK: WebhookChannel(lookup, **common),
    }


def quiet_redirect_notice(settings: Settings) -> None:
    """Do not log `redirect_notice` in this process (the demo writes files by design and
    says where)."""
    _announced.add(redirect_notice(settings))


def redirect_notice(settings: Settings) -> str:
    """The one line saying that notices are written to files, not sent (TRACKER_ENV)."""
    return (f"当前运行环境为 {settings.env}（非 production）：所有通知（邮件、群机器人）均写入 "
            f"{settings.outbox_dir}，不会实际发送；正式使用请设置 TRACKER_ENV=production")


def link_maker(settings: Settings, now: dt.datetime):  # type: ignore[no-untyped-def]
    """A function liaison -> signed answer link, issued at `now`."""
    from tracker.directory.links import load_secret, make_token

    secret = load_secret(settings.home, settings.secret_key)

    def link_for(liaison):  # type: ignore[no-untyped-def]
        return f"{settings.base_url}/l/{make_token(secret, liaison, now)}"

    return link_for


# Prefect's loggers that carry a level of their own in its logging.yml; the others inherit.
PREFECT_LOGGERS = ("prefect", "prefect.extra", "prefect.client", "prefect.infrastructure")

_lease: Lease | None = None
_lease_guard = threading.Lock()


def local_api(settings: Settings) -> Lease:
    """This process's local Prefect API (see `flows.local_api`), started or reused once.

    Call inside `prefect_context`'s defaults (it passes them to the server). The lease is
    given back at exit, on SIGTERM (turned into SystemExit here when nothing else handles
    it) and on Ctrl-C; `stop_local_api()` gives it back earlier. A process keeps one API
    whatever home a later call names (the bookkeeping of flow runs is the only thing in it).
    Raises `LocalApiError` when the API cannot be started.
    """
    global _lease
    from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, get_current_settings

    from flows.local_api import healthy

    with _lease_guard:
        if _lease is not None:
            if healthy(_lease.url, timeout=5.0):
                return _lease
            # the server died under a long-running process (tracker serve): start or reuse
            # another rather than fail every later run (issue 9 attack, finding 4)
            log.warning("本地 Prefect 服务 %s 已停止响应，重新启动", _lease.url)
            _lease = None
        env = get_current_settings().to_environment_variables(exclude_unset=True)
        env.pop("PREFECT_API_URL", None)
        timeout = float(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value())
        _lease = acquire(Path(env.get("PREFECT_HOME", settings.home / "prefect")), env,
                         timeout=timeout)
        atexit.register(stop_local_api)
        if threading.current_thread() is threading.main_thread() and \
                signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _exit_on_sigterm)
        return _lease


def current_lease() -> Lease | None:
    """The local API lease this process holds (None: none yet, or PREFECT_API_URL is used)."""
    return _lease


def api_line() -> str:
    """One line (Chinese) saying which Prefect API the flows of this process use."""
    from prefect.settings import PREFECT_API_URL

    lease = _lease
    if lease is None:
        return f"Prefect 服务：{PREFECT_API_URL.value() or '未配置'}（PREFECT_API_URL）"
    if lease.started:
        return f"本地 Prefect 服务：已启动，用时 {lease.startup_seconds:.1f} 秒（{lease.url}）"
    return f"本地 Prefect 服务：沿用已在运行的服务（{lease.url}）"


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds: finally blocks and atexit give the API back


def stop_local_api() -> bool:
    """Give back this process's local API lease; True if that stopped the server."""
    global _lease
    with _lease_guard:
        lease, _lease = _lease, None
    if lease is None:
        return False
    from prefect._internal.concurrency.services import QueueService

    try:  # send Prefect's queued events while the API still listens
        QueueService.drain_all(timeout=30, at_exit=False)
    except Exception:  # noqa: BLE001 - a lost event must not keep the server running
        pass
    return release(lease)


@contextmanager
def prefect_context(settings: Settings) -> Iterator[None]:
    """Prefect configured for our commands: its data under HOME/prefect, quiet, local only.

    Defaults only: a PREFECT_* variable the user did set (PREFECT_HOME, PREFECT_API_URL,
    PREFECT_LOGGING_LEVEL=DEBUG to look into a problem) still wins. Without
    PREFECT_API_URL, flows run against the one local API of `flows.local_api` (started or
    reused here, its SQLite database in HOME/prefect; startup timeout 300 s, since a
    loaded 2-core machine can miss Prefect's 20 s: DESIGN.md); with it, nothing is
    started. The client retries a 429/502/503 answer 8 times (Prefect's default: 5).

    Prefect configured its loggers when it was imported, so they are quieted here
    directly, and stay so for the rest of the process: Prefect's background services
    drain at interpreter exit and would otherwise print their shutdown noise.
    """
    from prefect.settings import (
        PREFECT_API_SSL_CERT_FILE,
        PREFECT_API_TLS_INSECURE_SKIP_VERIFY,
        PREFECT_API_URL,
        PREFECT_CLIENT_CSRF_SUPPORT_ENABLED,
        PREFECT_CLIENT_MAX_RETRIES,
        PREFECT_HOME,
        PREFECT_LOGGING_LEVEL,
        PREFECT_LOGGING_TO_API_ENABLED,
        PREFECT_SERVER_ANALYTICS_ENABLED,
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
        PREFECT_UI_ENABLED,
        temporary_settings,
    )

    defaults: dict[Any, Any] = {
        PREFECT_HOME: settings.home / "prefect",
        PREFECT_LOGGING_LEVEL: "ERROR",
        PREFECT_LOGGING_TO_API_ENABLED: False,
        PREFECT_SERVER_ANALYTICS_ENABLED: False,
        PREFECT_UI_ENABLED: False,
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS: DEFAULT_STARTUP_TIMEOUT,
        PREFECT_CLIENT_MAX_RETRIES: 8,
    }
    with temporary_settings(set_defaults=defaults):
        # Prefect's local API keeps a SQLite file there; it cannot create missing parents.
        PREFECT_HOME.value().mkdir(parents=True, exist_ok=True)
        level = logging.getLevelName(str(PREFECT_LOGGING_LEVEL.value()).upper())
        for name in PREFECT_LOGGERS:
            logging.getLogger(name).setLevel(level)
        if PREFECT_API_URL.value():
            yield  # the office's own Prefect server
            return
        lease = local_api(settings)
        # the local API has no CSRF protection: asking it for a token is a wasted request
        updates: dict[Any, Any] = {PREFECT_API_URL: lease.url,
                                   PREFECT_CLIENT_CSRF_SUPPORT_ENABLED: False}
        if not PREFECT_API_TLS_INSECURE_SKIP_VERIFY.value():  # plain http: never consulted
            updates[PREFECT_API_SSL_CERT_FILE] = str(loopback_ca_file(lease.home))
        with temporary_settings(updates=updates):
            yield


def transient_api_error(exc: BaseException) -> bool:
    """True for an error of the Prefect API worth another try: 429/502/503/504, a dropped
    or refused connection, a timeout (Prefect's client already retried it a few times;
    under load the local API can answer 503 for longer)."""
    import httpx

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, httpx.HTTPStatusError):
            return current.response.status_code in (429, 502, 503, 504)
        if isinstance(current, httpx.TransportError):
            return True
        current = current.__cause__ or current.__context__
    return False


def run_flow(flow: Any, *, attempts: int = 4, **kwargs: Any) -> Any:
    """`flow(**kwargs)`, run again (up to `attempts` in all, 1-2-4 s apart) when it fails
    on a transient Prefect API error. Only for idempotent flows (every flow of
    `flows.registry.JOBS` is). Other errors are raised at once."""
    import time

    for attempt in range(attempts):
        try:
            return flow(**kwargs)
        except Exception as exc:
            if attempt == attempts - 1 or not transient_api_error(exc):
                raise
            time.sleep(2 ** attempt)
    raise AssertionError("unreachable")


def loopback_ca_file(prefect_home: Path) -> Path:
    """A one-certificate CA bundle for the clients of the local API (HOME/prefect).

    Prefect builds an SSL context from PREFECT_API_SSL_CERT_FILE (default: certifi's ~140
    roots, or the system bundle through SSL_CERT_FILE: ~35-40 ms on a 2-core machine) for
    every client, one per flow run, even for a plain-http URL that never uses it. The
    local API is plain http on 127.0.0.1, so the bundle given is certifi's first root
    alone (~2 ms). Written once.
    """
    path = prefect_home / "loopback-ca.pem"
    if not path.exists():
        import certifi

        pem = Path(certifi.where()).read_text()
        end = "-----END CERTIFICATE-----"
        first = pem[pem.index("-----BEGIN CERTIFICATE-----"):pem.index(end) + len(end)]
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(first + "\n")
        tmp.replace(path)
    return path
