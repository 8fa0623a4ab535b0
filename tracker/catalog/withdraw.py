"""Tasks and indicators a catalog no longer has (issue 13, F9): withdrawn only when asked.

A catalog loaded over a plan may leave out measures (or indicators) the plan has: a plan
re-issued with fewer tasks, or a file cut short. The rule (decided for issue 13):

- the load lists each one with its open requests (`to_withdraw`) and is refused
  (`WithdrawalError`, the list in Chinese) unless the office says `replace` (the CLI's
  `--replace`), as for another document under a loaded id;
- with `replace`, they are deactivated (kept, with their history) and their open
  requests closed as 免报 with the reason (`close_withdrawn`): not deleted, their reports
  and escalations stay in the record, and nothing chases them any longer (the ladder and
  the pre-due run read open requests only; the opening reads active measures only). No
  notice is sent: the liaison's list shows the item as 免报 with the reason;
- a later catalog that has the measure again reactivates it; its closed requests stay
  closed, the next period asks again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from tracker.catalog.codes import code_key
from tracker.catalog.schema import Catalog
from tracker.dates.chinese import cn_date
from tracker.dates.workdays import local_date
from tracker.enums import ExtensionState, RequestState
from tracker.errors import Conflict
from tracker.models import Agency, Assignment, ExtensionRequest, Indicator, Measure, ProgressRequest

SHOWN = 20  # items named in the refusal's text; the CLI's table lists them all


@dataclass(frozen=True)
class Withdrawn:
    """A measure (`kind` 任务) or indicator (指标) of the plan the catalog no longer has."""

    kind: str
    code: str
    title: str
    open_requests: int


class WithdrawalError(Conflict):
    """The catalog leaves out tasks or indicators of the loaded plan and `replace` was not
    given; `withdrawn` lists them (kind, code, title, open requests)."""

    code = "withdraw"

    def __init__(self, plan_key: str, withdrawn: list[Withdrawn]):
        self.withdrawn = withdrawn
        named = "；".join(f"{w.kind} {w.code}《{w.title[:40]}》（待报送 {w.open_requests} 项）"
                         for w in withdrawn[:SHOWN])
        more = f"等共 {len(withdrawn)} 项" if len(withdrawn) > SHOWN else ""
        opened = sum(w.open_requests for w in withdrawn)
        head = f"本次目录比已载入的规划“{plan_key}”少 {len(withdrawn)} 项任务或指标"
        tail = (f"载入将撤销这些事项，并关闭其 {opened} 项待报送的进展调度（已报送的情况保留，不再催办）。"
                "确认撤销请加 --replace；如是文件不全，请改用完整的目录")
        self.summary = f"{head}，未载入。{tail}"  # without the list (the CLI shows a table)
        super().__init__(f"{head}：{named}{more}。{tail}")


def to_withdraw(session: Session, plan_id: int, catalog: Catalog) -> list[Withdrawn]:
    """The active measures and indicators of plan `plan_id` that `catalog` does not have,
    in code order, each with its open requests. Four queries, whatever the size."""
    codes = {m.code for m in catalog.measures}
    measures = [(c, t) for c, t in session.execute(
        select(Measure.code, Measure.title).where(Measure.plan_id == plan_id,
                                                  Measure.active.is_(True)))
        if c not in codes]
    icodes = {i.code for i in catalog.indicators}
    indicators = [(c, n) for c, n in session.execute(
        select(Indicator.code, Indicator.name).where(Indicator.plan_id == plan_id,
                                                     Indicator.active.is_(True)))
        if c not in icodes]
    if not measures and not indicators:
        return []
    open_ = ProgressRequest.state == RequestState.OPEN.value
    by_measure = dict(session.execute(
        select(Measure.code, func.count(ProgressRequest.id))
        .join(Assignment, Assignment.measure_id == Measure.id)
        .join(ProgressRequest, and_(ProgressRequest.assignment_id == Assignment.id, open_))
        .where(Measure.plan_id == plan_id, Measure.active.is_(True))
        .group_by(Measure.code)).all())
    by_indicator = dict(session.execute(
        select(Indicator.code, func.count(ProgressRequest.id))
        .join(ProgressRequest, and_(ProgressRequest.indicator_id == Indicator.id, open_))
        .where(Indicator.plan_id == plan_id, Indicator.active.is_(True))
        .group_by(Indicator.code)).all())
    return ([Withdrawn("任务", c, t, by_measure.get(c, 0))
             for c, t in sorted(measures, key=lambda r: code_key(r[0]))]
            + [Withdrawn("指标", c, n, by_indicator.get(c, 0))
               for c, n in sorted(indicators, key=lambda r: code_key(r[0]))])


def close_withdrawn(session: Session, plan_id: int, now: dt.datetime) -> int:
    """Close (免报, with the reason) the open requests of plan `plan_id`'s inactive measures
    and indicators, and of the assignments a catalog dropped from a task that stays (an
    agency no longer named for it), and refuse their pending extension requests; returns
    how many were closed. Six UPDATEs whatever the number. Does not commit.

    Source: the rule of issue 13 (F9) above; a dropped agency is not asked or chased any
    longer for a task it no longer answers for, its reports stay in the record."""
    day = cn_date(local_date(now))
    withdrawn_tasks = ProgressRequest.assignment_id.in_(
        select(Assignment.id).join(Measure, Measure.id == Assignment.measure_id)
        .where(Measure.plan_id == plan_id, Measure.active.is_(False)))
    # a merged agency's assignments are inactive too, but its requests stay where they
    # are (directory.renames.move_assignments): only an agency still in the directory
    dropped_agencies = ProgressRequest.assignment_id.in_(
        select(Assignment.id).join(Measure, Measure.id == Assignment.measure_id)
        .join(Agency, Agency.id == Assignment.agency_id)
        .where(Measure.plan_id == plan_id, Measure.active.is_(True),
               Assignment.active.is_(False), Agency.merged_into_id.is_(None)))
    withdrawn_indicators = ProgressRequest.indicator_id.in_(
        select(Indicator.id).where(Indicator.plan_id == plan_id, Indicator.active.is_(False)))
    reasons = (
        (withdrawn_tasks, f"该任务已从规划目录中撤销（{day}载入的目录不再包含），无需再报送；"
                          "已报送的情况保留"),
        (dropped_agencies, f"本单位已不再是该任务的责任单位（{day}载入的目录不再列出），"
                           "无需再报送；已报送的情况保留"),
        (withdrawn_indicators, f"该指标已从规划目录中撤销（{day}载入的目录不再包含），无需再报送；"
                               "已报送的情况保留"),
    )
    closed = 0
    for subject, reason in reasons:
        scope = and_(subject, ProgressRequest.state == RequestState.OPEN.value)
        session.execute(update(ExtensionRequest).where(
            ExtensionRequest.state == ExtensionState.PENDING.value,
            ExtensionRequest.request_id.in_(select(ProgressRequest.id).where(scope)))
            .values(state=ExtensionState.REFUSED.value, decided_at=now,
                    decided_by="system:catalog", decision_note="事项已免报")
            .execution_options(synchronize_session=False))
        done = session.execute(update(ProgressRequest).where(scope).values(
            state=RequestState.WAIVED.value, next_action_on=None, waive_reason=reason)
            .execution_options(synchronize_session=False))
        closed += max(done.rowcount or 0, 0)  # type: ignore[attr-defined]
    session.expire_all()
    return closed
