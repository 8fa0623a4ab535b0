"""A lead agency consolidates its co-agencies' and districts' answers (issue 10, item 1).

On a request of a measure it leads, the lead's liaison presses one button, "汇总配合单位和
各区报送": the lead's own answer is filled from the latest reports of the same measure and
period by its co-responsible agencies and district governments, and saved as the lead's
DRAFT (`requests.drafts`), which the liaison edits before submitting. Nothing is submitted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.enums import RequestState, Role
from tracker.errors import DomainError
from tracker.models import Agency, Assignment, ProgressReport, ProgressRequest, ReportDraft
from tracker.requests.answer_form import latest_reports
from tracker.requests.drafts import DRAFT_FIELDS, save_draft
from tracker.requests.opening import owned_request

SEPARATOR = "："  # between a peer agency's name and its text, one line per agency
BLOCK = "【配合单位和各区报送情况】"  # heads the lines a consolidation writes, on its own line


class ConsolidateError(DomainError):
    """Codes: not-lead (409: not a measure this agency leads), waived (409)."""


@dataclass
class Consolidation:
    """What the draft was made of: the peers that had reported (in the measure's order of
    agencies) and those that had not, and the draft's fields as saved."""

    reported: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)


def _merged(own: str, peers: list[tuple[str, str]]) -> str:
    """The lead's own text up to the block an earlier consolidation wrote (the line `BLOCK`
    and everything after it), then a fresh block: `BLOCK` and one line per peer with
    something to say. Whatever the lead typed above the block is kept as typed, even a
    line that starts with a peer's name."""
    kept = own.splitlines()
    if BLOCK in (line.strip() for line in kept):
        kept = kept[:[line.strip() for line in kept].index(BLOCK)]
    while kept and not kept[-1].strip():
        kept.pop()
    lines = [f"{name}{SEPARATOR}{' '.join(text.split())}" for name, text in peers if text.strip()]
    return "\n".join(kept + ([BLOCK, *lines] if lines else []))


def consolidate(session: Session, *, agencies: Collection[int], request_id: int,
                saved_by: str, now: dt.datetime) -> Consolidation:
    """Fill the lead's answer to `request_id` from its peers' latest reports, as a draft.

    `agencies` are the link's agencies (the request must be one of theirs, else Forbidden,
    403). The request's assignment must be the lead's (else ConsolidateError "not-lead",
    409) and not waived (409). Peers: the same measure's requests of the same period whose
    assignment is co-responsible or a district's, in the measure's order of agencies; each
    one's latest submitted version (any review state).

    The draft (rule of issue 10, item 1):
    - narrative and problems: the lead's own text (its draft, else its latest version) up
      to the block a previous consolidation wrote, then the block: the line
      "【配合单位和各区报送情况】" and one line per peer that wrote something,
      "<agency>：<its text on one line>"; pressing the button twice gives the same draft,
      and a peer's newer report replaces its line;
    - percent: the lead's own if it has one, else the MINIMUM of the peers' percents: a
      shared measure is only as far along as its slowest part, and the lead can raise it
      before submitting; empty when no peer has reported;
    - status, next steps and an indicator's value: the lead's own (empty if none): the
      lead judges the whole measure's status itself.
    Does not commit. Returns the peers that had and had not reported, and the fields.
    """
    req = owned_request(session, agencies, request_id)
    if req.state == RequestState.WAIVED:
        raise ConsolidateError("该事项已免报，无需报送", status=409, code="waived")
    lead = None if req.assignment_id is None else session.get(Assignment, req.assignment_id)
    if lead is None or lead.role != Role.LEAD:
        raise ConsolidateError("只有牵头单位可以汇总配合单位和各区的报送", status=409,
                               code="not-lead")
    peers = session.execute(
        select(ProgressRequest.id, Agency.name)
        .join(Assignment, Assignment.id == ProgressRequest.assignment_id)
        .join(Agency, Agency.id == ProgressRequest.agency_id)
        .where(ProgressRequest.period_id == req.period_id,
               Assignment.measure_id == lead.measure_id,
               Assignment.role != Role.LEAD.value,
               ProgressRequest.state != RequestState.WAIVED.value)
        .order_by(Assignment.position, Agency.name)).all()
    latest = latest_reports(session, [rid for rid, _ in peers] + [request_id])
    reports: list[tuple[str, ProgressReport]] = [(name, latest[rid][0]) for rid, name in peers
                                                  if rid in latest]
    result = Consolidation(reported=[name for name, _ in reports],
                           missing=[name for rid, name in peers if rid not in latest])
    draft = session.scalars(select(ReportDraft).where(ReportDraft.request_id == request_id)).first()
    if draft is not None:
        own = {k: str(draft.fields.get(k) or "") for k in DRAFT_FIELDS}
    elif request_id in latest:
        mine = latest[request_id][0]
        own = {"status": str(mine.status), "percent": str(mine.percent),
               "narrative": mine.narrative, "problems": mine.problems,
               "next_steps": mine.next_steps,
               "value": "" if mine.value is None else f"{mine.value:g}"}
    else:
        own = dict.fromkeys(DRAFT_FIELDS, "")
    fields = dict(own)
    fields["narrative"] = _merged(own["narrative"], [(n, r.narrative) for n, r in reports])
    fields["problems"] = _merged(own["problems"], [(n, r.problems) for n, r in reports])
    if not own["percent"].strip() and reports:
        fields["percent"] = str(min(r.percent for _, r in reports))
    save_draft(session, agency_id=req.agency_id, request_id=request_id, fields=fields,
               saved_by=saved_by, now=now)
    result.fields = fields
    return result
