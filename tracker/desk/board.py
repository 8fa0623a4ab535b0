"""The supervision office's overdue board: traffic lights, filters, heat table, on-time rate.

The light of a request is `tracker.requests.rules.light` (as SQL: `light_sql`). Days overdue
count working days after the due day. Everything is computed in SQL for the whole filtered
set, never per row: the page of rows by keyset over the requests; the counts per light, the
heat table and the on-time rate from the running tally (`tracker.desk.tally`, kept by
triggers), which answers every filter of the board. `live=True` computes the same figures
from the requests themselves (the definition; the tests compare the two).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, case, func, literal, select, tuple_
from sqlalchemy.orm import Session

from tracker.dates.stored import next_year_warning
from tracker.desk import tally
from tracker.enums import CircularState, Light, RequestState
from tracker.errors import NotFound
from tracker.models import (
    Agency,
    Assignment,
    Circular,
    Indicator,
    Measure,
    Plan,
    ProgressRequest,
    ReportingPeriod,
)
from tracker.policy import Policy
from tracker.requests.rules import light_sql
from tracker.requests.subjects import with_subject

LIGHTS = tuple(light.value for light in Light)
# a row's severity in the board's order (`BoardKey`): its light
SEVERITY_LIGHTS = (Light.RED.value, Light.YELLOW.value, Light.GREEN.value, Light.GREY.value)
SORT_WHOLE = 2000  # the board's page: up to this many filtered requests, one sorted statement
# the board's section of the headline indicators (a request about an indicator has no measure)
INDICATORS = tally.INDICATORS


@dataclass
class BoardFilter:
    plan_id: int | None = None  # None: every loaded plan
    agency_id: int | None = None
    section: str | None = None
    role: str | None = None
    period: str | None = None  # label, e.g. 2017Q2
    level: int | None = None  # minimum ladder level reached
    light: str | None = None
    page: int = 1  # the page's number, shown (the rows are found by `after` / `before`)
    per_page: int = 50
    after: BoardKey | None = None  # keyset: the rows after this sort key (下一页)
    before: BoardKey | None = None  # keyset: the rows before this sort key (上一页)

    @classmethod
    def from_query(cls, q: dict[str, str]) -> BoardFilter:
        def num(key: str) -> int | None:
            try:
                value = int(q[key]) if q.get(key) else None
            except ValueError:
                return None
            return value if value is not None and 0 < value < 2**31 else None

        light = q.get("light") if q.get("light") in LIGHTS else None
        after, before = BoardKey.parse(q.get("after")), BoardKey.parse(q.get("before"))
        return cls(plan_id=num("plan"), agency_id=num("agency"), section=q.get("section") or None,
                   role=q.get("role") if q.get("role") in ("lead", "co", "district") else None,
                   period=q.get("period") or None, level=num("level"), light=light,
                   # a page number means something only beside its cursor
                   page=min(max(num("page") or 1, 1), 100_000) if after or before else 1,
                   after=after, before=None if after else before)


@dataclass(frozen=True)
class BoardKey:
    """A row's place in the board's order: severity (0 red, 1 yellow, 2 green, 3 grey),
    due day, agency id, the measure's position (-1 for an indicator), request id. The
    board pages by this key (keyset: WHERE key > :after ORDER BY key LIMIT n), so a deep
    page costs what the first does and no row is shown twice or skipped while pages turn.
    In the address bar as `after=` / `before=`: "0.2017-04-14.3.12.345"."""

    severity: int
    due_on: dt.date
    agency_id: int
    position: int
    request_id: int

    def text(self) -> str:
        return (f"{self.severity}.{self.due_on.isoformat()}.{self.agency_id}."
                f"{self.position}.{self.request_id}")

    @classmethod
    def parse(cls, text: str | None) -> BoardKey | None:
        """The key of `text()`; anything malformed is None (the first page)."""
        parts = (text or "").split(".")
        if len(parts) != 5:
            return None
        try:
            sev, agency, pos, rid = int(parts[0]), int(parts[2]), int(parts[3]), int(parts[4])
            due = dt.date.fromisoformat(parts[1])
        except ValueError:
            return None
        if not (0 <= sev <= 3 and all(-1 <= n < 2**31 for n in (agency, pos, rid))):
            return None
        return cls(sev, due, agency, pos, rid)


@dataclass
class Board:
    rows: list[dict[str, Any]]
    total: int
    counts: dict[str, int] = field(default_factory=dict)
    # from 1 November, when next year's holiday schedule is not known (tracker.dates.stored)
    calendar_warning: str | None = None
    next_key: BoardKey | None = None  # the last row's key when more rows follow (下一页)
    prev_key: BoardKey | None = None  # the first row's key when rows come before (上一页)


def _base(f: BoardFilter, light: Any, *columns: Any, measure: bool = False,
          today: dt.date | None = None) -> Select[Any]:
    """A SELECT of `columns` (the request id when none) over the requests the filter keeps,
    joining only the tables its conditions need (`measure`: the assignment and measure
    too, outer joins unless a filter needs them). `today`: the light filter also seeks by
    state and due day (`_light_range`)."""
    q = select(*(columns or (ProgressRequest.id,))).select_from(ProgressRequest)
    if f.plan_id or f.period:
        q = q.join(ReportingPeriod, ReportingPeriod.id == ProgressRequest.period_id)
    by_measure = bool(f.section and f.section != INDICATORS)
    if f.role or by_measure:
        q = q.join(Assignment, Assignment.id == ProgressRequest.assignment_id)
    elif measure:
        q = q.outerjoin(Assignment, Assignment.id == ProgressRequest.assignment_id)
    if by_measure:
        q = q.join(Measure, Measure.id == Assignment.measure_id)
    elif measure:
        q = q.outerjoin(Measure, Measure.id == Assignment.measure_id)
    if f.plan_id:
        q = q.where(ReportingPeriod.plan_id == f.plan_id)
    if f.agency_id:
        q = q.where(ProgressRequest.agency_id == f.agency_id)
    if f.section == INDICATORS:
        q = q.where(ProgressRequest.indicator_id.is_not(None))
    elif f.section:
        q = q.where(Measure.section == f.section)
    if f.role:
        q = q.where(Assignment.role == f.role)
    if f.period:
        q = q.where(ReportingPeriod.label == f.period)
    if f.level:
        q = q.where(ProgressRequest.level >= f.level)
    if f.light:
        q = q.where(light == f.light, *(_light_range(f.light, today) if today else ()))
    return q


def _light_range(value: str, today: dt.date) -> tuple[Any, ...]:
    """Conditions implied by a light that an index on (state, due day) can seek by: red is
    an open request due before today, grey a waived one (`requests.rules.light_sql`); the
    light's CASE stays the rule, these only narrow the rows it is computed on."""
    if value == Light.RED.value:
        return (ProgressRequest.state == RequestState.OPEN.value, ProgressRequest.due_on < today)
    if value == Light.GREY.value:
        return (ProgressRequest.state == RequestState.WAIVED.value,)
    return ()


def board_counts(session: Session, f: BoardFilter, today: dt.date, policy: Policy, *,
                 live: bool = False) -> dict[str, int]:
    """Requests per light (`requests.rules.light_sql`) for the filter, the light filter
    included: one GROUP BY over the tally's rows (`tracker.desk.tally.counts`). `live`: one
    GROUP BY over the filtered requests instead, read from the index
    `ix_progress_request_board` (state, due day, answered late, period, agency) without
    visiting the rows unless a filter needs the measure or the assignment."""
    if not live:
        return tally.counts(session, f, today, policy)
    light = light_sql(today, policy)
    return {str(k): int(n) for k, n in session.execute(
        _base(f, light, light, func.count(), today=today).group_by(light))}


def board(session: Session, f: BoardFilter, today: dt.date, policy: Policy, *,
          live: bool = False) -> Board:
    """The filtered, sorted page of requests, with counts per light for the filter.

    `f.plan_id` None covers every loaded plan; each row names its plan. Rows are in
    `BoardKey` order (severity, due day, agency, measure, request); a page is the
    `f.per_page` rows after `f.after` (or before `f.before`), found by keyset, never by
    OFFSET; `next_key` / `prev_key` say whether more rows follow or come before. A row's
    `provisional` says its due day was counted over a year the calendar does not cover;
    `calendar_warning` (from 1 November, next year not covered) is the board's banner.
    `live`: the counts from the requests, not the tally (`board_counts`).
    """
    light = light_sql(today, policy)
    counts = board_counts(session, f, today, policy, live=live)
    total = sum(counts.values())
    position = func.coalesce(Measure.position, -1)
    key = (ProgressRequest.due_on, ProgressRequest.agency_id, position, ProgressRequest.id)
    backwards = f.before is not None and f.after is None
    cursor = f.before if backwards else f.after
    order: list[Any] = [k.desc() for k in key] if backwards else list(key)
    # one severity (light) at a time, in the page's direction, skipping those the counts
    # say are empty: within one light the order is (due day, agency, measure, request),
    # which the index (state, due day, agency, id) nearly gives, so the first page of
    # red rows is read in order, not sorted out of every filtered request
    # (a filter that keeps a few thousand requests at most is sorted whole: one statement
    # to plan instead of up to four)
    # (none when the counts say no request passes the filter: no statement to find none)
    severities: list[int | None] = [] if total == 0 else [None] if total <= SORT_WHOLE else [
        s for s in range(4) if cursor is None
        or (s <= cursor.severity if backwards else s >= cursor.severity)]
    found: list[Any] = []
    for sev in reversed(severities) if backwards else severities:
        value = SEVERITY_LIGHTS[sev] if sev is not None else None
        if len(found) > f.per_page or (value is not None and not counts.get(value)):
            continue
        severity = literal(sev) if sev is not None else case(
            *((light == lt, n) for n, lt in enumerate(SEVERITY_LIGHTS[:3])), else_=3)
        keyed = _base(f, light, ProgressRequest.id.label("id"), severity.label("sev"), *(
            k.label(n) for k, n in zip(key, ("due", "ag", "pos", "rid"), strict=True)),
            measure=True, today=today)
        if value is not None:
            keyed = keyed.where(light == value, *_light_range(value, today))
        if cursor is not None and sev is None:
            mark = tuple_(*(literal(v) for v in (cursor.severity, cursor.due_on,
                                                  cursor.agency_id, cursor.position,
                                                  cursor.request_id)))
            keyed = keyed.where(tuple_(severity, *key) < mark if backwards
                                else tuple_(severity, *key) > mark)
        elif cursor is not None and cursor.severity == sev:
            mark = tuple_(*(literal(v) for v in (cursor.due_on, cursor.agency_id,
                                                  cursor.position, cursor.request_id)))
            keyed = keyed.where(tuple_(*key) < mark if backwards else tuple_(*key) > mark)
        if sev is None:
            order = [severity.desc(), *(k.desc() for k in key)] if backwards else [severity, *key]
        # one more than a page: is there a next one?
        page = keyed.order_by(*order).limit(f.per_page + 1 - len(found)).subquery()
        # one statement: the keys (the keyset query runs once) with each row's subject
        found += session.execute(
            with_subject(select(page.c.sev, page.c.due, page.c.ag, page.c.pos, page.c.rid,
                                ProgressRequest, light.label("light"), ReportingPeriod.label,
                                Plan.title, Agency.name, Assignment.role, Measure.id,
                                Measure.code, Measure.title, Measure.section, Indicator.code,
                                Indicator.name, Plan.id, Assignment.position)
                         .select_from(page).join(ProgressRequest, ProgressRequest.id == page.c.id))
            .join(Plan, Plan.id == ReportingPeriod.plan_id)
        ).all()
    keyed_rows = sorted(
        ((BoardKey(int(r[0]), _as_date(r[1]), int(r[2]), int(r[3]), int(r[4])), tuple(r[5:]))
         for r in found), key=lambda kr: (kr[0].severity, kr[0].due_on, kr[0].agency_id,
                                          kr[0].position, kr[0].request_id))
    more = len(keyed_rows) > f.per_page
    keyed_rows = keyed_rows[-f.per_page:] if backwards else keyed_rows[:f.per_page]
    keys = [k for k, _ in keyed_rows]
    rows = [r for _, r in keyed_rows]
    overdue_days = _overdue_days({r[0].due_on for r in rows}, today, policy)
    out = []
    for (req, lt, period, plan_title, agency, role, mid, code, title, section, icode, iname,
         plan_id, position_in_measure) in rows:
        out.append({
            "id": req.id, "light": lt, "period": period, "plan": plan_title, "plan_id": plan_id,
            "agency": agency, "position": position_in_measure,
            "role": role, "measure_id": mid, "code": code or icode, "title": title or iname,
            "section": INDICATORS if mid is None else section,  # a measure's may be empty
            "due_on": req.due_on, "state": req.state, "level": req.level,
            "answered_at": req.answered_at, "late": req.answered_late,
            "days_overdue": overdue_days[req.due_on] if lt == "red" else 0,
            "provisional": req.due_provisional,
        })
    if backwards:
        next_key, prev_key = (keys[-1] if keys else None), (keys[0] if more and keys else None)
    else:
        next_key = keys[-1] if more and keys else None
        prev_key = keys[0] if cursor is not None and keys else None
    return Board(out, total, counts, next_year_warning(policy.calendar, today),
                 next_key=next_key, prev_key=prev_key)


def _as_date(value: Any) -> dt.date:
    """A due day as read back from a labelled SELECT column (SQLite may give text)."""
    if isinstance(value, dt.datetime):
        return value.date()
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def _overdue_days(due_days: set[dt.date], today: dt.date, policy: Policy) -> dict[dt.date, int]:
    # a handful of distinct due days per page: the calendar is asked once per day
    return {d: max(policy.calendar.between(d, today), 0) for d in due_days}


def heat_table(session: Session, f: BoardFilter, today: dt.date, policy: Policy, *,
               live: bool = False) -> tuple[list[str], list[tuple[str, dict[str, int], int]]]:
    """Overdue (red) requests per agency and section: (sections, [(agency, cells, total)]).

    The board's filter applies as it does to the board's rows (plan, agency, section, role,
    period, ladder level, light: a light other than red leaves the table empty), so the
    table's cells add up to the board's red count for the same filter. `sections` are the
    chosen plan's sections in catalog order (every plan's when none is chosen, or only the
    filtered one), then 主要指标; rows are sorted by their total, largest first. Two queries:
    the cells from the tally (`tracker.desk.tally.red_cells`), or with `live` from one pass
    over the filtered red requests.
    """
    cells = tally.red_cells(session, f, today, policy) if not live else _red_cells_live(
        session, f, today, policy)
    return _heat_sections(session, f), _heat_rows(cells)


def heat_board(session: Session, f: BoardFilter, today: dt.date, policy: Policy, limit: int,
               *, live: bool = False
               ) -> tuple[list[str], list[tuple[str, dict[str, int], int]],
                          tuple[int, dict[str, int], int] | None]:
    """The board's heat table: `heat_table` cut by `heat_top` to its first `limit` rows
    and the rest added up, (sections, rows, rest). From the tally the cut is made by the
    database (`tracker.desk.tally.red_top`), so a national plan's 25,000 agencies are
    ranked where they are counted and only the rows shown are read; `live` cuts the live
    table in the program (the definition; the tests compare the two)."""
    if live:
        sections, rows = heat_table(session, f, today, policy, live=True)
        return (sections, *heat_top(rows, limit))
    cells, rest = tally.red_top(session, f, today, policy, limit)
    return _heat_sections(session, f), _heat_rows(cells), rest


def _heat_sections(session: Session, f: BoardFilter) -> list[str]:
    """The heat table's columns: the filtered section, else the chosen plan's sections
    (every plan's) in catalog order, then 主要指标."""
    if f.section:
        return [f.section]
    section_query = select(Measure.section).group_by(Measure.section).order_by(
        func.min(Measure.plan_id), func.min(Measure.position))
    if f.plan_id:
        section_query = section_query.where(Measure.plan_id == f.plan_id)
    return [*session.scalars(section_query), INDICATORS]


def _heat_rows(cells: list[tuple[int, str, str, int]]
               ) -> list[tuple[str, dict[str, int], int]]:
    """(agency, cells per section, total) from (agency id, name, section, n) in agency
    order, largest total first (ties keep the cells' order)."""
    # keyed by the agency's id: two cities' 市民政局 are two rows
    table: dict[tuple[int, str], dict[str, int]] = {}
    for agency_id, agency, section, n in cells:
        row = table.setdefault((agency_id, agency), {})
        row[section] = row.get(section, 0) + n
    return sorted(((a, cells, sum(cells.values())) for (_, a), cells in table.items()),
                  key=lambda r: -r[2])


def _red_cells_live(session: Session, f: BoardFilter, today: dt.date, policy: Policy
                    ) -> list[tuple[int, str, str, int]]:
    """(agency id, agency name, section, red requests), computed over the requests."""
    light = light_sql(today, policy)
    # one pass over the filtered red requests (no IN over a subquery of them)
    q = (_base(f, light, Agency.id, Agency.name,
               func.coalesce(Measure.section, literal(INDICATORS)), func.count(), measure=True,
               today=today)
         .join(Agency, Agency.id == ProgressRequest.agency_id)
         .where(light == Light.RED.value, *_light_range(Light.RED.value, today))
         .group_by(Agency.id, Agency.name, Measure.section).order_by(Agency.id))
    return [(int(a), str(name), str(section), int(n)) for a, name, section, n in session.execute(q)]


def heat_top(rows: list[tuple[str, dict[str, int], int]], limit: int
             ) -> tuple[list[tuple[str, dict[str, int], int]], tuple[int, dict[str, int], int] | None]:
    """`heat_table`'s rows cut to the first `limit` (the most overdue), and the rest added
    up as (agencies, cells per section, total), None when nothing was cut: a page stays
    the same size however many agencies are late; its cells still add up to the red count."""
    if len(rows) <= limit:
        return rows, None
    cells: dict[str, int] = {}
    for _agency, row, _total in rows[limit:]:
        for section, n in row.items():
            cells[section] = cells.get(section, 0) + n
    return rows[:limit], (len(rows) - limit, cells, sum(t for _, _, t in rows[limit:]))


def on_time_by_period(session: Session, f: BoardFilter, today: dt.date, policy: Policy, *,
                      live: bool = False) -> list[tuple[str, int, int]]:
    """(period label, answered on time, requests) per period, in due order (waived excluded).

    The board's filter applies as it does to the board's rows (plan, agency, section, role,
    period, ladder level, light); with no plan chosen, periods of the same label in several
    plans are added up. "On time" is `answered_late` false (tracker.requests.rules); an
    open request counts as not on time. One query, over the tally
    (`tracker.desk.tally.on_time`) or with `live` over the requests.
    """
    if not live:
        return tally.on_time(session, f, today, policy)
    light = light_sql(today, policy)
    base = _base(f, light, ReportingPeriod.label,
                 func.sum(case((ProgressRequest.answered_late.is_(False), 1), else_=0)),
                 func.count(ProgressRequest.id), today=today)
    if not (f.plan_id or f.period):  # _base joins the period only for its own filters
        base = base.join(ReportingPeriod, ReportingPeriod.id == ProgressRequest.period_id)
    query = (base.where(ProgressRequest.state != RequestState.WAIVED.value)
             .group_by(ReportingPeriod.label)
             .order_by(func.min(ReportingPeriod.due_on), ReportingPeriod.label))
    return [(label, int(on or 0), n) for label, on, n in session.execute(query)]


@dataclass
class BoardOptions:
    """What the board's filters and forms offer, for the plan chosen (or all plans)."""

    plans: list[tuple[int, str]]
    periods: list[str]
    years: list[tuple[int, str, int]]  # (plan id, plan title, year) with a scorecard
    has_drafts: bool
    governments: list[str]  # whose executive meetings the chosen plan tracks


def board_options(session: Session, plan_id: int | None) -> BoardOptions:
    """The choices of the desk's filters: plans, periods, scorecard years, and whether a
    circular waits for sign-off. A few small queries (not the agencies: a national plan has
    tens of thousands; the agency filter is a search box, `agencies_matching`)."""
    from tracker.annual.meetings import governments
    from tracker.annual.scorecard import years_with_data

    plans = [(i, t) for i, t in session.execute(select(Plan.id, Plan.title).order_by(Plan.id))]
    period_query = select(ReportingPeriod.label).group_by(ReportingPeriod.label).order_by(
        func.min(ReportingPeriod.due_on))
    drafts = select(Circular.id).where(Circular.state == CircularState.DRAFT)
    if plan_id:
        period_query = period_query.where(ReportingPeriod.plan_id == plan_id)
        drafts = drafts.where(Circular.plan_id == plan_id)
    real = years_with_data(session, plan_id)  # only years some measure was asked about
    titles = dict(plans)
    years = [(pid, titles.get(pid, ""), y) for pid, y in sorted(real)]
    chosen = session.get(Plan, plan_id) if plan_id else (
        session.get(Plan, plans[0][0]) if len(plans) == 1 else None)
    return BoardOptions(
        plans=plans,
        periods=list(session.scalars(period_query)), years=years,
        has_drafts=session.scalar(drafts.limit(1)) is not None,
        governments=[g for g, _ in governments(session, chosen)] if chosen else [])


def agencies_matching(session: Session, plan_id: int | None, name: str, limit: int = 20
                      ) -> list[tuple[int, str]]:
    """The agency filter's search: (id, name) of the plan's agencies (every loaded plan's
    when None) named `name` exactly, else those whose name contains it, in directory order,
    at most `limit`. One query; empty for a blank `name`. Whether an agency is the plan's is
    probed for the agencies the name keeps (`involved_in_plan`)."""
    from tracker.directory.agencies import involved_in_plan

    name = name.strip()
    if not name:
        return []
    involved = involved_in_plan(plan_id)
    exact = list(session.execute(select(Agency.id, Agency.name).where(
        involved, Agency.name == name).order_by(Agency.id).limit(limit)))
    if exact:
        return [(int(i), str(n)) for i, n in exact]
    pattern = "%" + name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return [(int(i), str(n)) for i, n in session.execute(
        select(Agency.id, Agency.name).where(involved, Agency.name.like(pattern, escape="\\"))
        .order_by(Agency.id).limit(limit))]


def agency_name(session: Session, agency_id: int) -> str:
    """The name an `agency=` filter shows in the search box ("" for an unknown id)."""
    return session.scalar(select(Agency.name).where(Agency.id == agency_id)) or ""


def plan_for_page(session: Session, plan_id: int | None) -> Plan | None:
    """The plan a page is about: the one asked for, else the only one loaded (else None)."""
    if plan_id:
        return session.get(Plan, plan_id)
    plans = session.scalars(select(Plan).order_by(Plan.id).limit(2)).all()
    return plans[0] if len(plans) == 1 else None


def chosen_plan(session: Session, plan_id: int | None) -> Plan:
    """As `plan_for_page`, for an action that needs a plan. Raises NotFound (404) when the
    plan asked for is unknown, or when none is asked for and several (or none) are loaded."""
    plan = plan_for_page(session, plan_id)
    if plan is None:
        raise NotFound("请指明规划" if not plan_id else f"没有编号为 {plan_id} 的规划")
    return plan
