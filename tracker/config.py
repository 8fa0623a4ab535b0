"""Settings: one database URL, a data folder, and the default rules (DESIGN.md).

Environment variables:
  TRACKER_HOME          data folder (default ./var): SQLite file, outbox files, evidence
  TRACKER_DATABASE_URL  SQLAlchemy URL (default sqlite:///$TRACKER_HOME/tracker.db)
  TRACKER_RULES         optional JSON file overriding any field of `Rules`
  TRACKER_CALENDAR_OVERRIDES  optional JSON file of working-day overrides (see workdays.py)
  TRACKER_CHANNEL       email (default) or file: how contacts are notified
  TRACKER_BASE_URL      the web address in liaisons' links (default http://127.0.0.1:8000)
  TRACKER_SECRET_KEY    signs liaisons' links (default: a random key kept in HOME/secret.key)
  TRACKER_SMTP_HOST / TRACKER_SMTP_PORT / TRACKER_SMTP_FROM  the email channel
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from tracker.enums import ChannelKind


class Weights(BaseModel):
    """Scorecard weights out of 100 and deductions (DESIGN.md, tunable by 绩效办)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    on_time: float = 40
    completeness: float = 20
    progress: float = 30
    meetings: float = 10
    per_supervision_notice: float = 2
    per_circular: float = 5


class Rules(BaseModel):
    """The default rules of DESIGN.md; every unit is working days unless named otherwise."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    issue_before_quarter_end: int = Field(10, ge=1)  # request opens N wd before quarter end
    due_after_quarter_end: int = Field(5, ge=1)  # due the Nth wd after quarter end
    indicator_due_working_day_of_january: int = Field(15, ge=1)
    ladder: tuple[int, int, int] = (1, 5, 10)  # wd after due: reminder, notice, circular
    meeting_reminder: tuple[int, int] = (10, 1)  # (month, day): reminder if no meeting yet
    meeting_warning: tuple[int, int] = (11, 15)
    checkpoint_working_day: int = Field(30, ge=1)  # annual checkpoint: Nth wd of next year
    yellow_within: int = 3  # traffic light: due within N wd
    return_working_days: int = Field(3, ge=1)  # a returned report is due again N wd later
    link_max_age_days: int = Field(30, ge=1)  # liaison links expire after N calendar days
    session_idle_minutes: int = Field(30, ge=1)  # a staff session unused this long is stale
    session_max_hours: int = Field(12, ge=1)  # and never lasts longer than this
    login_max_failures: int = Field(5, ge=1)  # consecutive wrong passwords before a lock
    login_lock_minutes: int = Field(15, ge=1)
    city_meeting_contact: str = "市残联"  # 市政府残工委办公室 sits in 市残联
    supervision_office: str = "市政府督查室"
    performance_office: str = "市绩效办"
    weights: Weights = Weights()


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    rules: Rules
    calendar_overrides: Path | None
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_from: str = "plan-tracker@example.gov.cn"
    outbox_dir: Path = field(default=Path("var/outbox"))
    channel: ChannelKind = ChannelKind.EMAIL
    base_url: str = "http://127.0.0.1:8000"  # where liaisons' links point
    secret_key: str | None = None  # TRACKER_SECRET_KEY; else HOME/secret.key is made


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Read settings from the environment (or the mapping given, for tests)."""
    env = dict(os.environ if env is None else env)
    home = Path(env.get("TRACKER_HOME", "var")).resolve()
    url = env.get("TRACKER_DATABASE_URL") or f"sqlite:///{home / 'tracker.db'}"
    rules = Rules()
    if path := env.get("TRACKER_RULES"):
        rules = Rules.model_validate(json.loads(Path(path).read_text(encoding="utf-8")))
    overrides = env.get("TRACKER_CALENDAR_OVERRIDES")
    return Settings(
        home=home,
        database_url=url,
        rules=rules,
        calendar_overrides=Path(overrides) if overrides else None,
        smtp_host=env.get("TRACKER_SMTP_HOST", "127.0.0.1"),
        smtp_port=int(env.get("TRACKER_SMTP_PORT", "25")),
        smtp_from=env.get("TRACKER_SMTP_FROM", "plan-tracker@example.gov.cn"),
        outbox_dir=home / "outbox",
        channel=ChannelKind(env.get("TRACKER_CHANNEL", "email")),
        base_url=env.get("TRACKER_BASE_URL", "http://127.0.0.1:8000").rstrip("/"),
        secret_key=env.get("TRACKER_SECRET_KEY") or None,
    )
