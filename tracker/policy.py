"""The rules in force for a run: configuration plus the working-day calendar."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from tracker.dates.workdays import WorkCalendar
from tracker.enums import ChannelKind
from tracker.settings import Rules, Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Policy:
    rules: Rules
    calendar: WorkCalendar
    channel: ChannelKind = ChannelKind.EMAIL  # default delivery channel for contacts

    @classmethod
    def from_settings(cls, settings: Settings, channel: ChannelKind | None = None) -> Policy:
        return cls(settings.rules, WorkCalendar.from_file(settings.calendar_overrides),
                   channel or settings.channel)

    def with_session(self, session: Session) -> Policy:
        """This policy with the calendar overrides stored in the database added
        (`tracker calendar load`; tracker.dates.stored). Cheap: one small query, and the
        merged calendar is cached until the stored overrides change."""
        from tracker.dates.stored import with_stored

        calendar = with_stored(self.calendar, session)
        return self if calendar is self.calendar else replace(self, calendar=calendar)
