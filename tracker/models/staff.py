"""Staff accounts (supervision office, performance office, administrators) and sessions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

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
    state: Mapped[CircularState] = mapped_column(enum_column(CircularState))
    drafted_at: Mapped[dt.datetime]
    signed_by: Mapped[str | None] = mapped_column(String(200))
    signed_at: Mapped[dt.datetime | None]
    rows: Mapped[list[CircularItem]] = relationship(
        order_by="CircularItem.request_id", cascade="all, delete-orphan", passive_deletes=True)

    @property
    def items(self) -> list[dict[str, Any]]:
        """The listed items as dicts (request_id, period, agency_id, agency, code, title,
        role, due_on as ISO date) by request id (`documents.wording.ordered` puts them in a
        document's order). Loads every row: for a page or a document; set-based code reads
        `CircularItem` in SQL."""
        return [r.as_item() for r in self.rows]


class CircularItem(Base):
    """One item a circular lists: the request and, as it stood when the item was added to
    the draft, its period, agency, code, title and role (issue 14: rows of their own, so a
    national day of 1M items is one INSERT … SELECT, never a list held in memory). A draft
    keeps every item ever added (answered ones drop out when read); a signed circular keeps
    exactly what it circulated."""

    __tablename__ = "circular_item"
    __table_args__ = (Index("ix_circular_item_agency", "circular_id", "agency_id"),)
    circular_id: Mapped[int] = mapped_column(
        ForeignKey("circular.id", ondelete="CASCADE"), primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("progress_request.id"), primary_key=True)
    period: Mapped[str] = mapped_column(String(40), default="")
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    agency: Mapped[str] = mapped_column(String(200), default="")
    code: Mapped[str] = mapped_column(String(20), default="")
    title: Mapped[str] = mapped_column(Text, default="")
    role: Mapped[str] = mapped_column(String(20), default="")  # 牵头 / 配合 / 指标
    due_on: Mapped[dt.date | None]

    def as_item(self) -> dict[str, Any]:
        """The item as the documents and notices read it."""
        return {"request_id": self.request_id, "period": self.period,
                "agency_id": self.agency_id, "agency": self.agency, "code": self.code,
                "title": self.title, "role": self.role,
                "due_on": self.due_on.isoformat() if self.due_on else ""}
