"""The rules in force for a run: configuration plus the working-day calendar."""

from __future__ import annotations

from dataclasses import dataclass

from tracker.dates.workdays import WorkCalendar
from tracker.enums import ChannelKind
from tracker.settings import Rules, Settings


@dataclass(frozen=True)
class Policy:
    rules: Rules
    calendar: WorkCalendar
    channel: ChannelKind = ChannelKind.EMAIL  # default delivery channel for contacts

    @classmethod
    def from_settings(cls, settings: Settings, channel: ChannelKind | None = None) -> Policy:
        return cls(settings.rules, WorkCalendar.from_file(settings.calendar_overrides),
                   channel or settings.channel)
