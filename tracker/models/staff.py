"""Staff accounts (supervision office, performance office, administrators) and sessions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tracker.enums import CircularState, StaffRole
from tracker.models.base import Base
from tracker.models.documents import DocumentEdits
from tracker.models.plan import enum_column


class StaffUser(Base):
    __tablename__ = "staff_user"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[StaffRole] = mapped_column(enum_column(StaffRole))
    password_hash: Mapped[str] = mapped_column(String(255))  # argon2id
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[dt.datetime | None]
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime]


class SignInAddress(Base):
    """Failed sign-ins from one client address in the current window (issue 10, item 8),
    shared by every process through the database; `tracker.directory.staff` reserves and
    counts with conditional UPDATEs."""

    __tablename__ = "sign_in_address"
    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(64), unique=True)
    window_start: Mapped[dt.datetime]
    failures: Mapped[int] = mapped_column(default=0)


class StaffSession(Base):
    """A signed-in browser. Only the SHA-256 of the cookie value is stored."""

    __tablename__ = "staff_session"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"), index=True)
    created_at: Mapped[dt.datetime]
    last_seen_at: Mapped[dt.datetime]
    ended_at: Mapped[dt.datetime | None]


class FormToken(Base):
    """A CSRF token issued with a page, good for one POST of that session."""

    __tablename__ = "form_token"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("staff_session.id"), index=True)
    issued_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]


class Note(Base):
    """A note the office adds to a request or a measure."""

    __tablename__ = "note"
    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("progress_request.id"), index=True)
    measure_id: Mapped[int | None] = mapped_column(ForeignKey("measure.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(200))
    at: Mapped[dt.datetime]


class Circular(DocumentEdits, Base):
    """通报: drafted by the product from the top rung, sent only after the office signs it."""

    __tablename__ = "circular"
    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id"))
    key: Mapped[str] = mapped_column(String(100), unique=True)  # plan:period:effective day
    title: Mapped[str] = mapped_column(Text)
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    state: Mapped[CircularState] = mapped_column(enum_column(CircularState))
    drafted_at: Mapped[dt.datetime]
    signed_by: Mapped[str | None] = mapped_column(String(200))
    signed_at: Mapped[dt.datetime | None]
