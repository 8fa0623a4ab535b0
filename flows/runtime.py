"""What a flow run needs: settings, a cached engine per URL, the policy, the channels."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

from sqlalchemy.orm import Session, sessionmaker

from notifications.channels import Channel, EmailChannel, FileChannel
from tracker.config import Settings, load_settings
from tracker.dates.workdays import SHANGHAI
from tracker.db import make_engine, migrate, session_factory
from tracker.enums import ChannelKind
from tracker.policy import Policy


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


def resolve(now: str | None, database_url: str | None) -> tuple[Settings, dt.datetime]:
    """Settings (with an optional URL override) and an aware `now` (ISO text or wall clock)."""
    settings = load_settings()
    if database_url:
        settings = Settings(**{**settings.__dict__, "database_url": database_url})
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


def channels_for(settings: Settings) -> dict[ChannelKind, Channel]:
    return {
        ChannelKind.EMAIL: EmailChannel(settings.smtp_host, settings.smtp_port, settings.smtp_from),
        ChannelKind.FILE: FileChannel(settings.outbox_dir, settings.smtp_from),
    }


def link_maker(settings: Settings, now: dt.datetime):  # type: ignore[no-untyped-def]
    """A function liaison -> signed answer link, issued at `now`."""
    from tracker.directory.links import load_secret, make_token

    secret = load_secret(settings.home, settings.secret_key)

    def link_for(liaison):  # type: ignore[no-untyped-def]
        return f"{settings.base_url}/l/{make_token(secret, liaison, now)}"

    return link_for
