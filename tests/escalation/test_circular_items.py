"""A circular's items are rows of their own (issue 14): the sweep adds a day's items with
one INSERT … SELECT, each a snapshot of its request as drafted, and a sign-off keeps
exactly what it circulates."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import event, func, select

from tests.conftest import at
from tracker.db import transaction
from tracker.documents.wording import counts
from tracker.enums import CircularState, role_label
from tracker.escalation.circulars import add_to_draft, circular_counts, circular_items, sign_off
from tracker.escalation.sweep import sweep_overdue
from tracker.models import (
    Agency,
    Assignment,
    Circular,
    CircularItem,
    Indicator,
    Measure,
    ProgressRequest,
    ReportingPeriod,
)
from tracker.requests.opening import open_due_requests
from tracker.requests.reports import ReportInput, record_reports


def _expected(s) -> dict[int, dict]:  # type: ignore[no-untyped-def]
    """Each open request as the circular should list it, built from the ORM in Python."""
    out = {}
    for req, label, agency, measure, indicator, role in s.execute(
            select(ProgressRequest, ReportingPeriod.label, Agency, Measure, Indicator,
                   Assignment.role)
            .join(ReportingPeriod, ReportingPeriod.id == ProgressRequest.period_id)
            .join(Agency, Agency.id == ProgressRequest.agency_id)
            .outerjoin(Assignment, Assignment.id == ProgressRequest.assignment_id)
            .outerjoin(Measure, Measure.id == Assignment.measure_id)
            .outerjoin(Indicator, Indicator.id == ProgressRequest.indicator_id)):
        out[req.id] = {
            "request_id": req.id, "period": label, "agency_id": agency.id,
            "agency": agency.name,
            "code": measure.code if measure else indicator.code,
            "title": measure.title if measure else indicator.name,
            "role": role_label(role), "due_on": req.due_on.isoformat()}
    return out


def test_the_sweep_lists_each_item_once_as_it_stood(db, small, policy):
    """The fourth quarter's nine assignments and the year's indicator, all overdue: each
    circular item carries its request's period, agency, code, title, role and due day
    (an indicator's code and name, role 指标), exactly as the ORM reads them."""
    with transaction(db) as s:
        assert open_due_requests(s, small, at("2017-12-20"), policy).requests_opened == 10
    with transaction(db) as s:
        assert sweep_overdue(s, small, at("2018-03-01"), policy).fired[3] == 10
    with db() as s:
        expected = _expected(s)
        listed = {i["request_id"]: i for c in s.scalars(select(Circular)) for i in c.items}
        assert listed == expected
        roles = sorted(i["role"] for i in listed.values())
        assert roles.count("指标") == 1 and {"牵头", "配合"} <= set(roles)
        day = s.scalars(select(Circular.key)).first().split(":")[1]  # type: ignore[union-attr]
    statements: list[str] = []
    with transaction(db) as s:  # rerun: nothing new, in three statements whatever the number
        bind = s.connection().engine
        listen = lambda *a: statements.append(a[2])  # noqa: E731
        event.listen(bind, "before_cursor_execute", listen)
        try:
            add_to_draft(s, plan_id=small.id, request_ids=select(ProgressRequest.id),
                         effective_on=dt.date.fromisoformat(day), now=at("2018-03-01"))
        finally:
            event.remove(bind, "before_cursor_execute", listen)
    assert len(statements) == 3 and "SELECT" in statements[-1].upper()
    assert statements[-1].lstrip().upper().startswith(("INSERT", "WITH"))
    with db() as s:  # every request is now on that day's draft too, once
        assert s.scalar(select(func.count()).select_from(CircularItem).join(Circular).where(
            Circular.key == f"{small.id}:{day}")) == 10


def test_a_signed_circular_keeps_exactly_what_it_circulated(db, small, policy):
    """Of nine items drafted, one answered since and one left out by the office: the signed
    circular's rows are the other seven, and so are the items it reads back."""
    with transaction(db) as s:
        open_due_requests(s, small, at("2017-03-17"), policy)
    with transaction(db) as s:
        sweep_overdue(s, small, at("2017-04-24"), policy)
    with db() as s:
        ids = s.scalars(select(ProgressRequest.id).order_by(ProgressRequest.id)).all()
    with transaction(db) as s:  # one answered since, one left out by the office
        record_reports(s, [ReportInput(request_id=ids[0], status="in_progress", percent=10)],
                       submitted_by="t", now=at("2017-04-25"))
        circular = s.scalars(select(Circular)).one()
        circular.excluded = [{"request_id": ids[1], "reason": "已另行处理", "by": "t",
                              "at": "2017-04-25T09:00:00+08:00"}]
    with db() as s:  # the list pages' GROUP BY states what the documents state
        circular = s.scalars(select(Circular)).one()
        assert circular_counts(s, circular) == counts(circular_items(s, circular))
        assert circular_counts(s, circular).items == 7
    with transaction(db) as s:
        circular = s.scalars(select(Circular)).one()
        queued = sign_off(s, circular.id, signed_by="督查室", now=at("2017-04-25"),
                          policy=policy)
        assert queued > 0
    with db() as s:
        circular = s.scalars(select(Circular)).one()
        assert circular.state == CircularState.SIGNED
        kept = set(s.scalars(select(CircularItem.request_id)))
        assert kept == set(ids[2:]) and len(kept) == 7
        assert {i["request_id"] for i in circular.items} == kept
        assert circular_counts(s, circular) == counts(circular_items(s, circular))
