"""What a flow run needs: settings, a cached engine per URL, the policy, the channels.

Also `prefect_context(settings)`: Prefect's own configuration for the commands that run
flows, given through Prefect's settings context rather than os.environ.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

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


@contextmanager
def prefect_context(settings: Settings) -> Iterator[None]:
    """Prefect configured for our commands: its data under HOME/prefect, quiet, local only.

    Defaults only: a PREFECT_* variable the user did set (PREFECT_HOME, PREFECT_API_URL,
    PREFECT_LOGGING_LEVEL=DEBUG to look into a problem) still wins. The temporary local API
    Prefect starts on the first flow run is a subprocess that receives these settings
    (`get_current_settings().to_environment_variables()`), so its SQLite database lands in
    HOME/prefect too. Its startup timeout is raised from 20 s to 90 s: on a loaded 2-core
    machine it can miss 20 s (DESIGN.md).

    Prefect configured its loggers when it was imported, so they are quieted here
    directly, and stay so for the rest of the process: Prefect's background services
    drain at interpreter exit and would otherwise print their shutdown noise.
    """
    from prefect.settings import (
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
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS: 90,
    }
    with temporary_settings(set_defaults=defaults):
        # Prefect's local API keeps a SQLite file there; it cannot create missing parents.
        PREFECT_HOME.value().mkdir(parents=True, exist_ok=True)
        level = logging.getLevelName(str(PREFECT_LOGGING_LEVEL.value()).upper())
        for name in PREFECT_LOGGERS:
            logging.getLogger(name).setLevel(level)
        yield
