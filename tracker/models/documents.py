"""Official documents: the 文号 registry and the 督办通知单 (issue 12).

A document's editable parts (文号 serial, 主送, wording, 抄送, items left out with a reason)
are the columns of `DocumentEdits`, shared by the circular (`models.staff.Circular`) and the
督办通知单; they can change only while the document is a draft.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from tracker.enums import CircularState
from tracker.models.base import Base
from tracker.models.plan import enum_column


class DocumentEdits:
    """The parts of a document the office edits before sign-off (None: the default)."""

    @declared_attr
    def number(cls) -> Mapped[str | None]:  # 文号 as issued, e.g. 津政督〔2017〕3号
        return mapped_column(String(100))

    @declared_attr
    def serial(cls) -> Mapped[int | None]:  # the office's chosen serial before sign-off
        return mapped_column()

    @declared_attr
    def addressees(cls) -> Mapped[list[str] | None]:  # 主送机关
        return mapped_column(JSON)

    @declared_attr
    def body(cls) -> Mapped[str | None]:  # 正文 with placeholders such as {事项数}
        return mapped_column(Text)

    @declared_attr
    def cc(cls) -> Mapped[list[str] | None]:  # 抄送机关
        return mapped_column(JSON)

    @declared_attr
    def document(cls) -> Mapped[bytes | None]:  # the .docx as signed or issued, kept as filed
        return mapped_column(LargeBinary, deferred=True)

    @declared_attr
    def excluded(cls) -> Mapped[list[dict[str, Any]] | None]:  # {request_id, reason, by, at}
        return mapped_column(JSON)


class DocumentNumber(Base):
    """One 文号 taken: one sequence per issuing office and year, shared by every plan and
    every kind of document, so no two documents carry the same number."""

    __tablename__ = "document_number"
    id: Mapped[int] = mapped_column(primary_key=True)
    office: Mapped[str] = mapped_column(String(200))  # the issuing office's name
    year: Mapped[int]
    serial: Mapped[int]
    number: Mapped[str] = mapped_column(String(100))  # as printed
    kind: Mapped[str] = mapped_column(String(32))  # circular | supervision_notice
    document_id: Mapped[int]
    assigned_at: Mapped[dt.datetime]
    assigned_by: Mapped[str] = mapped_column(String(200))
    __table_args__ = (UniqueConstraint("office", "year", "serial"),
                      UniqueConstraint("kind", "document_id"))


class SupervisionNotice(DocumentEdits, Base):
    """督办通知单: one per plan, agency and day a 督办 rung fired for the agency's requests.

    Drafted by the sweep (or 立即督办); its items are those requests while it is a draft, and
    the ones it was issued with once the office issues it (then it has a 文号).
    """

    __tablename__ = "supervision_notice"
    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    effective_on: Mapped[dt.date]  # the 督办 rung's day
    key: Mapped[str] = mapped_column(String(100), unique=True)  # plan:agency:day
    state: Mapped[CircularState] = mapped_column(enum_column(CircularState),
                                                 default=CircularState.DRAFT)
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # as issued
    drafted_at: Mapped[dt.datetime]
    issued_by: Mapped[str | None] = mapped_column(String(200))
    issued_at: Mapped[dt.datetime | None]
