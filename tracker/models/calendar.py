"""Calendar overrides loaded into the database (`tracker calendar load`), seen by every process."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from tracker.models.base import Base


class CalendarDay(Base):
    """A day the State Council's notice (or a later change) makes a working or a rest day,
    overruling chinese-calendar and the fallback (tracker.dates.workdays)."""

    __tablename__ = "calendar_day"
    day: Mapped[dt.date] = mapped_column(primary_key=True)
    workday: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(255))  # the file it was loaded from
    loaded_at: Mapped[dt.datetime]


class CalendarYear(Base):
    """A year whose whole schedule has been loaded: its dates are no longer provisional."""

    __tablename__ = "calendar_year"
    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(String(255))
    loaded_at: Mapped[dt.datetime]
