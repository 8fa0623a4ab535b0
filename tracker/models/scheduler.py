"""The embedded scheduler's state: its job store, the leader lease, and one row per fire."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Float,
    Index,
    LargeBinary,
    String,
    Table,
    Text,
    Unicode,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from tracker.models.base import Base

# APScheduler's SQLAlchemyJobStore table (its own shape: id, next run as a UTC epoch float,
# the pickled job). Declared here so the migration creates it and `alembic` sees it as
# ours; the job store builds its own Table object of the same name on its own MetaData.
SCHEDULER_JOB_TABLE = "scheduler_job"
scheduler_job = Table(
    SCHEDULER_JOB_TABLE,
    Base.metadata,
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)


class SchedulerLease(Base):
    """Who runs the periodic jobs: one row per lease name ("scheduler").

    The holder renews `expires_at` every few seconds; another `tracker serve` process takes
    the lease over once `expires_at` has passed (a holder killed -9 never releases it).
    `acquired_at` is when the current holder took it (unchanged by renewals).
    """

    __tablename__ = "scheduler_lease"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[dt.datetime]
    renewed_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]


class JobFire(Base):
    """One scheduled fire of a job (job name, scheduled fire time), claimed before it runs.

    The unique key makes a fire run at most once, even when two processes both believe
    they lead for a moment. `status`: running, done, failed; `now_at` is the instant the
    run evaluated ("as of now": a catch-up after downtime runs once, at the start time).
    """

    __tablename__ = "job_fire"
    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(64))
    fire_at: Mapped[dt.datetime]
    holder: Mapped[str] = mapped_column(String(200))
    now_at: Mapped[dt.datetime]
    status: Mapped[str] = mapped_column(String(16))
    finished_at: Mapped[dt.datetime | None]
    summary: Mapped[dict[str, Any] | list[Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (UniqueConstraint("job", "fire_at"), Index("ix_job_fire_status", "status"))
