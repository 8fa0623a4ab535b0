"""Close-out (办结销号): a measure is done, with evidence, and signed off by the office.

A measure is closed out only when its lead's latest report says completed, is not
returned, has evidence (佐证材料) attached, and the supervision office signs it off. A
closed measure gets no further progress requests (tracker.requests.opening).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.enums import ProgressStatus, ReviewState, Role
from tracker.models import Assignment, AuditEvent, Evidence, Measure, ProgressReport, ProgressRequest
from tracker.requests.review import ReviewError


def close_out_refusal(session: Session, measure: Measure) -> tuple[str | None, int | None]:
    """Why `measure` cannot be closed out now (in Chinese, naming the measure's code), or
    None when it can; with the id of the lead's latest report (None if it has none).

    The rule: not closed yet; the lead's latest report (by submission time) says
    completed, is not returned and has evidence attached. Two small queries.
    """
    if measure.closed_at is not None:
        return f"{measure.code} 已办结销号", None
    latest = session.scalars(
        select(ProgressReport)
        .join(ProgressRequest, ProgressRequest.id == ProgressReport.request_id)
        .join(Assignment, Assignment.id == ProgressRequest.assignment_id)
        .where(Assignment.measure_id == measure.id, Assignment.role == Role.LEAD.value)
        .order_by(ProgressReport.submitted_at.desc(), ProgressReport.id.desc()).limit(1)
    ).first()
    if latest is None or latest.status != ProgressStatus.COMPLETED:
        return f"{measure.code}：牵头单位最新报送的状态不是“已完成”", None
    if latest.review_state == ReviewState.RETURNED:
        return f"{measure.code}：牵头单位的完成报告已被退回", latest.id
    has_evidence = session.scalar(select(Evidence.id).where(
        Evidence.report_id == latest.id).limit(1)) is not None
    if not has_evidence:
        return f"{measure.code}：牵头单位的完成报告没有佐证材料", latest.id
    return None, latest.id


def close_out(session: Session, measure_id: int, *, signed_by: str, now: dt.datetime) -> Measure:
    """办结销号: needs the lead's latest report completed, with evidence (`close_out_refusal`).

    Raises ReviewError naming what is missing.
    """
    measure = session.get(Measure, measure_id, with_for_update=True, populate_existing=True)
    if measure is None:
        raise ReviewError(f"没有编号为 {measure_id} 的任务")
    refusal, latest = close_out_refusal(session, measure)
    if refusal is not None:
        raise ReviewError(refusal)
    measure.closed_at, measure.closed_by = now, signed_by
    session.add(AuditEvent(at=now, actor=signed_by, action="measure.close_out",
                           object_type="measure", object_id=measure.code,
                           detail={"report": latest}))
    return measure
