"""Helpers for web tests: an app over the test database with a settable clock."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tracker.directory.links import load_secret, make_token
from tracker.enums import ChannelKind, ContactRole
from tracker.models import Agency, Contact
from tracker.settings import Rules, Settings
from tracker.web.app import create_app


@dataclass
class Clock:
    now: dt.datetime
    history: list[dt.datetime] = field(default_factory=list)

    def __call__(self) -> dt.datetime:
        return self.now


def make_settings(home: Path, url: str, smtp_port: int = 25, base_url: str = "http://testserver") -> Settings:
    return Settings(home=home, database_url=url, rules=Rules(), calendar_overrides=None,
                    smtp_port=smtp_port, outbox_dir=home / "outbox", channel=ChannelKind.EMAIL,
                    base_url=base_url, secret_key="test-secret-key", env="production")


def make_app(factory: sessionmaker[Session], settings: Settings, clock: Clock):  # type: ignore[no-untyped-def]
    return create_app(factory, settings, clock)


def liaison_of(factory: sessionmaker[Session], agency: str) -> Contact:
    with factory() as s:
        return s.scalars(select(Contact).join(Agency, Agency.id == Contact.agency_id)
                         .where(Agency.name == agency, Contact.role == ContactRole.LIAISON)).one()


def token_for(settings: Settings, liaison: Contact, now: dt.datetime) -> str:
    return make_token(load_secret(settings.home, settings.secret_key), liaison, now)
