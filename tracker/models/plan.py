"""The plan as tracked: plan, the agency directory (agencies, aliases, contacts), measures,
indicators and assignments."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tracker.enums import (
    AgencyKind,
    Cadence,
    ChannelKind,
    ContactRole,
    DeadlineKind,
    IndicatorAttribute,
    IndicatorKind,
    Role,
)
from tracker.models.base import Base


def enum_column(enum_cls: type) -> Any:
    # Store by value as plain strings: readable in SQL and free of DB enum migrations.
    from sqlalchemy import Enum

    return Enum(enum_cls, native_enum=False, values_callable=lambda e: [m.value for m in e],
                length=32, validate_strings=True)


class Plan(Base):
    """One tracked document (规划纲要 or 任务分工方案) with its own settings.

    The settings come from the catalog (`catalog.schema.PlanInfo`): the government whose
    districts apply and their list, the office names, the meeting duty and the cadence;
    no rule reads a city's name from code.
    """

    __tablename__ = "plan"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(Text)
    issuer: Mapped[str] = mapped_column(String(200))
    doc_number: Mapped[str | None] = mapped_column(String(100))  # 文号, e.g. 津政办发〔2016〕99号
    issued: Mapped[dt.date]
    first_year: Mapped[int]
    last_year: Mapped[int]
    cadence: Mapped[Cadence] = mapped_column(enum_column(Cadence), default=Cadence.QUARTER)
    government: Mapped[str] = mapped_column(String(200))  # whose districts apply: 天津市人民政府
    districts: Mapped[list[str]] = mapped_column(JSON, default=list)  # district governments
    supervision_office: Mapped[str] = mapped_column(String(200))  # 市政府督查室
    performance_office: Mapped[str | None] = mapped_column(String(200))  # 市绩效办, if named
    meeting_contact: Mapped[str | None] = mapped_column(String(200))  # told of the city's meetings
    meeting_duty: Mapped[bool] = mapped_column(Boolean, default=True)  # executive meetings yearly
    catalog_hash: Mapped[str] = mapped_column(String(64))


class Agency(Base):
    """An agency of the directory shared by all plans, keyed by its parent government and
    name (every city has a 市民政局). A district government's parent is the city's.

    `parent_id`: the agency it belongs to (a 街道's district government), from the
    catalog's `Agency.parent`. `merged_into_id`/`merged_on`: the agency was merged into
    another (市国税局 and 市地税局 into 国家税务总局天津市税务局, 2018): from `merged_on` its
    name resolves to that agency, and its active assignments moved there
    (`tracker.directory.agencies.merge_agencies`); with `merged_on` empty it was never an
    agency of its own (a name the office mapped to an existing one).
    """

    __tablename__ = "agency"
    id: Mapped[int] = mapped_column(primary_key=True)
    government: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[AgencyKind] = mapped_column(enum_column(AgencyKind))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))
    merged_on: Mapped[dt.date | None]
    __table_args__ = (UniqueConstraint("government", "name"),)


class AgencyAlias(Base):
    """Another name of an agency under the same government (市人力社保局 = 市人力资源和社会保障局),
    valid from `valid_from` (inclusive) until `valid_to` (exclusive); empty: open-ended.
    A renamed agency keeps its old name as an alias up to the renaming day, or for good
    when documents written before it still mean it. One name means one agency under a
    government (unique), whatever the dates."""

    __tablename__ = "agency_alias"
    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    government: Mapped[str] = mapped_column(String(200))
    alias: Mapped[str] = mapped_column(String(200))
    valid_from: Mapped[dt.date | None]
    valid_to: Mapped[dt.date | None]
    __table_args__ = (UniqueConstraint("government", "alias"),)


class DirectoryReview(Base):
    """What the office must resolve after a load (issue 13, item 4): a phrase the catalog
    flagged on a measure (`kind` flag: 各有关部门和单位, 等有关部门, 有关区 …) or a name the
    directory did not know (`kind` name: the loader added it as a new agency, `agency_id`,
    until the office maps it to an existing agency or accepts it).

    One row per (plan, kind, measure code, field, phrase); a reload adds nothing twice.
    `state` open until resolved: mapped (an alias recorded), accepted (a new agency),
    assigned (agencies picked: assignments created, `agency_ids`), dismissed (`note` says
    why). Each resolution is audited.
    """

    __tablename__ = "directory_review"
    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # flag | name
    measure_code: Mapped[str] = mapped_column(String(20), default="")  # "" for a name
    field: Mapped[str] = mapped_column(String(20))  # lead, co, districts, deadline, indicators
    phrase: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))  # a new name's row
    state: Mapped[str] = mapped_column(String(16), default="open")
    agency_ids: Mapped[list[int]] = mapped_column(JSON, default=list)  # picked (assigned)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime]
    resolved_at: Mapped[dt.datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(200))
    __table_args__ = (
        UniqueConstraint("plan_id", "kind", "measure_code", "field", "phrase"),
        Index("ix_directory_review_state", "state"),
    )


class Contact(Base):
    """A contact person of an agency: its liaison (联络员) or deputy head in charge (分管领导).

    Contacts belong to the directory, not to a plan: one liaison answers for every plan of
    their agency from one link.
    """

    __tablename__ = "contact"
    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    role: Mapped[ContactRole] = mapped_column(enum_column(ContactRole), default=ContactRole.LIAISON)
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    token_version: Mapped[int] = mapped_column(default=1)  # bump to revoke signed links
    __table_args__ = (UniqueConstraint("agency_id", "email"),)


class ContactAddress(Base):
    """Another address of a contact besides its primary `Contact.email` (issue 8, item 2: "a
    contact may have several addresses"). Every notice to the contact also goes to each of
    its active addresses, one outbox row each (key: the primary row's key + ":x{id}"). A
    removed address stays, inactive, so the rows that name it keep their meaning and adding
    it again reuses the id (and the keys). Email only for now.
    """

    __tablename__ = "contact_address"
    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id"), index=True)
    channel: Mapped[ChannelKind] = mapped_column(enum_column(ChannelKind),
                                                 default=ChannelKind.EMAIL)
    address: Mapped[str] = mapped_column(String(254))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    __table_args__ = (UniqueConstraint("contact_id", "address"),)


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
    leader: Mapped[str | None] = mapped_column(String(100))  # 分管领导 as the table writes it
    closed_at: Mapped[dt.datetime | None]  # 办结销号: signed off by the supervision office
    closed_by: Mapped[str | None] = mapped_column(String(200))
    # the task's own 完成时限 (catalog.schema.Deadline, issue 13), tracked as a milestone
    # (tracker.requests.milestones): the text as written; kind date (due on deadline_due),
    # yearly (each plan year on deadline_month/deadline_day) or ongoing; NULL: none written
    deadline_text: Mapped[str | None] = mapped_column(String(100))
    deadline_kind: Mapped[DeadlineKind | None] = mapped_column(enum_column(DeadlineKind))
    deadline_due: Mapped[dt.date | None]
    deadline_month: Mapped[int | None]
    deadline_day: Mapped[int | None]
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
    # rate: the value is a rate (%); growth: the owner reports a level (`level_name`, in
    # `level_unit`) and the growth is computed from the base year (tracker.annual.indicators)
    kind: Mapped[IndicatorKind] = mapped_column(enum_column(IndicatorKind),
                                                default=IndicatorKind.RATE, server_default="rate")
    level_name: Mapped[str | None] = mapped_column(Text)
    level_unit: Mapped[str | None] = mapped_column(String(20))
    # the base year's (plan.first_year - 1) value: a rate, or the level of a growth indicator;
    # from the catalog when the plan prints it, else recorded by the office (audited)
    baseline: Mapped[float | None]
    baseline_source: Mapped[str | None] = mapped_column(Text)
    baseline_recorded_at: Mapped[dt.datetime | None]
    baseline_recorded_by: Mapped[str | None] = mapped_column(String(200))
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
