"""Drafts: a liaison saves an answer without submitting it (one draft per request)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.enums import RequestState
from tracker.errors import DomainError
from tracker.models import AuditEvent, ReportDraft
from tracker.requests.opening import owned_state
from tracker.sql import insert_ignore_values

DRAFT_FIELDS = ("status", "percent", "narrative", "problems", "next_steps", "value", "numerator",
                "denominator", "source")
# an indicator's further fields: kept in a draft only when typed (a measure has none)
INDICATOR_FIELDS = ("numerator", "denominator", "source")


class DraftError(DomainError):
    """Codes: other-agency (403), waived (409)."""


def save_draft(session: Session, *, agency_id: int, request_id: int, fields: dict[str, Any],
               saved_by: str, now: dt.datetime) -> None:
    """Store the form as typed (unvalidated: a draft may be incomplete). Does not commit.

    Raises DraftError if the request is not this agency's.
    """
    state = owned_state(session, agency_id, request_id)
    if state is None:
        raise DraftError("该事项不属于本单位", status=403, code="other-agency")
    if state == RequestState.WAIVED:
        raise DraftError("该事项已免报，无需报送", status=409, code="waived")
    kept = {k: ("" if fields.get(k) is None else str(fields.get(k)))[:20000] for k in DRAFT_FIELDS
            if k not in INDICATOR_FIELDS or fields.get(k) not in (None, "")}
    row = dict(request_id=request_id, fields=kept, saved_at=now, saved_by=saved_by)
    if not insert_ignore_values(session, ReportDraft.__table__, [row]):  # type: ignore[arg-type]
        draft = session.scalars(select(ReportDraft).where(ReportDraft.request_id == request_id)).one()
        draft.fields, draft.saved_at, draft.saved_by = kept, now, saved_by
    session.add(AuditEvent(at=now, actor=saved_by, action="report.draft",
                           object_type="progress_request", object_id=str(request_id),
                           detail={"fields": sorted(k for k, v in kept.items() if v)}))
