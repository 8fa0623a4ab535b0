"""Everything that happened to one request, for the office's item page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.desk.actors import actor_names
from tracker.enums import Role
from tracker.models import (
    Agency,
    Assignment,
    AuditEvent,
    DeliveryAttempt,
    DeliveryReceipt,
    DeliveryReceiptItem,
    Escalation,
    Evidence,
    ExtensionRequest,
    Indicator,
    Measure,
    Note,
    OutboxMessage,
    ProgressReport,
    ProgressRequest,
    ReportingPeriod,
)
from tracker.requests.close_out import close_out_refusal
from tracker.requests.subjects import with_subject


@dataclass
class RequestHistory:
    request: ProgressRequest
    period: str
    agency: str
    role: str | None
    measure: Measure | None
    indicator: Indicator | None
    reports: list[ProgressReport]
    escalations: list[Escalation]
    messages: list[dict[str, Any]]
    extensions: list[ExtensionRequest]
    evidence: list[Evidence]
    notes: list[Note]
    audit: list[AuditEvent]
    names: dict[str, str]  # each actor named here, as people read it (tracker.desk.actors)
    # why 办结销号 is refused now (None: the office may sign it off); only for a lead's measure
    close_out_refusal: str | None = None


def request_history(session: Session, request_id: int) -> RequestHistory | None:
    """The request with its reports (all versions), ladder, deliveries (those archived
    after the retention period from their receipts), extensions, evidence (newest last),
    notes, audit trail, and the names of everyone who acted on it."""
    row = session.execute(
        with_subject(select(ProgressRequest, ReportingPeriod.label, Agency.name, Assignment.role,
                            Measure, Indicator))
        .where(ProgressRequest.id == request_id)
    ).first()
    if row is None:
        return None
    req, period, agency, role, measure, indicator = row
    lines: list[tuple[int, tuple[Any, ...], dict[str, Any]]] = []  # (message, order, line)
    for msg, attempt_id, attempted_at, ok, error in session.execute(
        select(OutboxMessage, DeliveryAttempt.id, DeliveryAttempt.attempted_at, DeliveryAttempt.ok,
               DeliveryAttempt.error)
        .outerjoin(DeliveryAttempt, DeliveryAttempt.message_id == OutboxMessage.id)
        .where(OutboxMessage.request_id == request_id)
    ):
        lines.append((msg.id, (attempt_id or 0,), {
            "kind": msg.kind, "level": msg.level, "to": msg.recipient_name,
            "address": msg.address, "channel": msg.channel, "status": msg.status,
            "is_copy": msg.is_copy, "queued_at": msg.created_at,
            "attempted_at": attempted_at, "ok": ok, "error": error}))
    # messages archived after the retention period: the same lines from their receipts
    # (tracker.outbox.archive_settled), in the same order (message, then attempt)
    for message_id, receipt in session.execute(
        select(DeliveryReceiptItem.message_id, DeliveryReceipt)
        .join(DeliveryReceipt, DeliveryReceipt.id == DeliveryReceiptItem.receipt_id)
        .where(DeliveryReceiptItem.request_id == request_id)
    ):
        lines.append((message_id, (receipt.attempted_at is not None, receipt.attempted_at,
                                   receipt.id), {
            "kind": receipt.kind, "level": receipt.level, "to": receipt.recipient_name,
            "address": receipt.address, "channel": receipt.channel, "status": receipt.status,
            "is_copy": receipt.is_copy, "queued_at": receipt.queued_at,
            "attempted_at": receipt.attempted_at, "ok": receipt.ok, "error": receipt.error}))
    messages = [line for _, _, line in sorted(lines, key=lambda x: (x[0], x[1]))]

    def all_of(model, *where):  # type: ignore[no-untyped-def]
        return list(session.scalars(select(model).where(*where).order_by(model.id)))

    reports = all_of(ProgressReport, ProgressReport.request_id == request_id)
    extensions = all_of(ExtensionRequest, ExtensionRequest.request_id == request_id)
    evidence = all_of(Evidence, Evidence.request_id == request_id)
    notes = all_of(Note, Note.request_id == request_id)
    audit = all_of(AuditEvent, AuditEvent.object_type == "progress_request",
                   AuditEvent.object_id == str(request_id))
    actors = ([r.submitted_by for r in reports] + [r.reviewed_by for r in reports]
              + [e.asked_by for e in extensions] + [e.decided_by for e in extensions]
              + [e.uploaded_by for e in evidence] + [n.author for n in notes]
              + [a.actor for a in audit] + [measure.closed_by if measure else None])
    refusal = None
    if measure is not None and role == Role.LEAD.value and measure.closed_at is None:
        refusal, _ = close_out_refusal(session, measure)
    return RequestHistory(
        request=req, period=period, agency=agency, role=role, measure=measure,
        indicator=indicator, reports=reports,
        escalations=all_of(Escalation, Escalation.request_id == request_id),
        messages=messages, extensions=extensions, evidence=evidence, notes=notes, audit=audit,
        names=actor_names(session, actors), close_out_refusal=refusal,
    )
