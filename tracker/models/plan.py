"""The plan as tracked: plan, agency, liaison, measure, indicator, assignment."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tracker.enums import AgencyKind, ContactRole, IndicatorAttribute, Role
from tracker.models.base import Base


def enum_column(enum_cls: type) -> Any:
    # Store by value as plain strings: readable in SQL and free of DB enum migrations.
    from sqlalchemy import Enum

    return Enum(enum_cls, native_enum=False, values_callable=lambda e: [m.value for m in e],
                length=32, validate_strings=True)


class Plan(Base):
    __tablename__ = "plan"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(Text)
    issuer: Mapped[str] = mapped_column(String(200))
    issued: Mapped[dt.date]
    first_year: Mapped[int]
    last_year: Mapped[int]
    catalog_hash: Mapped[str] = mapped_column(String(64))


class Agency(Base):
    __tablename__ = "agency"
    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id"))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[AgencyKind] = mapped_column(enum_column(AgencyKind))
    __table_args__ = (UniqueConstraint("plan_id", "name"),)


class Liaison(Base):
    """A contact person of an agency: its liaison (联络员) or deputy head in charge (分管领导)."""

    __tablename__ = "liaison"
    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    role: Mapped[ContactRole] = mapped_column(enum_column(ContactRole), default=ContactRole.LIAISON)
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    token_version: Mapped[int] = mapped_column(default=1)  # bump to revoke signed links
    __table_args__ = (UniqueConstraint("agency_id", "email"),)


class Measure(Base):
    __tablename__ = "measure"
    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id"))
    code: Mapped[str] = mapped_column(String(20))
    section: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    targets: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    position: Mapped[int]  # order in the plan
    active: Mapped[bool] = mapped_column(Boolean, default=True)  # false once dropped from the catalog
    closed_at: Mapped[dt.datetime | None]  # 办结销号: signed off by the supervision office
    closed_by: Mapped[str | None] = mapped_column(String(200))
    __table_args__ = (UniqueConstraint("plan_id", "code"),)


class Indicator(Base):
    __tablename__ = "indicator"
    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id"))
    code: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(Text)
    target: Mapped[float]
    comparator: Mapped[str] = mapped_column(String(2))
    unit: Mapped[str] = mapped_column(String(20))
    attribute: Mapped[IndicatorAttribute] = mapped_column(enum_column(IndicatorAttribute))
    measure_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    owner_agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    __table_args__ = (UniqueConstraint("plan_id", "code"),)

    def meets(self, value: float) -> bool:
        """Whether a reported value meets the target under the indicator's comparator."""
        return value > self.target if self.comparator == ">" else value >= self.target


class Assignment(Base):
    """One (measure, agency, role) row of the task breakdown (任务分解)."""

    __tablename__ = "assignment"
    id: Mapped[int] = mapped_column(primary_key=True)
    measure_id: Mapped[int] = mapped_column(ForeignKey("measure.id"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    role: Mapped[Role] = mapped_column(enum_column(Role))
    position: Mapped[int]  # order within the measure's list
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    __table_args__ = (
        UniqueConstraint("measure_id", "agency_id"),
        Index("ix_assignment_active", "active"),
    )
