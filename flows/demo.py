"""`tracker demo`: reporting year 2017 of the Tianjin plan through the real flows.

A simulated clock walks the year's event days (issue days, liaisons' answer days, ladder
days, meeting dates, the annual checkpoint) and runs the same Prefect tasks production
runs, in the same order a day would: requests 08:00, sweep 08:30, answers during the
day, dispatch 17:00; each day is one Prefect task run, each month one flow run (a flow run
costs far more bookkeeping than a task run, a task run more than an average day's work:
see `_simulate`). Days on which nothing is due are skipped: the flows would no-op.
Liaisons' behaviour is seeded, so two runs give the same figures.
"""

from __future__ import annotations

import datetime as dt
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
from sqlalchemy import case, func, select

from flows.runtime import dispose_engines, quiet_redirect_notice, transient_api_error
from tracker.annual.checkpoint import checkpoint_day
from tracker.annual.indicators import record_baseline
from tracker.annual.meeting_records import (
    MeetingInput,
    Minutes,
    confirm_meeting,
    return_meeting,
    submit_meeting,
)
from tracker.annual.meetings import governments, notice_day
from tracker.catalog.load import load_catalog
from tracker.catalog.schema import Catalog
from tracker.dates.periods import year_specs
from tracker.dates.workdays import SHANGHAI
from tracker.db import make_engine, migrate, session_factory, transaction
from tracker.directory.contacts import ensure_demo_contacts
from tracker.directory.staff import create_user
from tracker.enums import (
    ChannelKind,
    IndicatorKind,
    MessageKind,
    PeriodKind,
    ProgressStatus,
    RequestState,
    StaffRole,
)
from tracker.models import (
    Assignment,
    Escalation,
    ExecutiveMeeting,
    Indicator,
    OutboxMessage,
    Plan,
    ProgressRequest,
    ReportingPeriod,
)
from tracker.ops.backup import remove_sqlite
from tracker.policy import Policy
from tracker.requests.reports import ReportInput, record_reports
from tracker.requests.rules import ladder_dates
from tracker.settings import Settings

NARRATIVES = {
    ProgressStatus.IN_PROGRESS: "已制定年度工作方案，按计划推进，本季度完成阶段性任务。",
    ProgressStatus.COMPLETED: "年度任务已全部完成，相关佐证材料已归档。",
    ProgressStatus.DELAYED: "受资金拨付进度影响，部分工作滞后于计划，正协调加快推进。",
    ProgressStatus.BLOCKED: "需市级部门协调政策口径，工作暂时受阻，已报请协调。",
    ProgressStatus.NOT_STARTED: "",
}


# The demo's 2015 baselines (基期值): invented, plausible figures; I1's is the base level of
# 残疾人家庭人均可支配收入 in 元, whose growth the demo's liaison reports as a level.
DEMO_BASELINES: dict[str, tuple[float, str]] = {
    "I1": (20000.0, "2015年天津市残疾人状况监测（演示数据）"),
    "I2": (92.0, "2015年民政统计年报（演示数据）"),
    "I3": (90.0, "2015年民政统计年报（演示数据）"),
    "I4": (82.0, "2015年社会保险统计年报（演示数据）"),
    "I5": (90.0, "2015年社会保险统计年报（演示数据）"),
    "I6": (60.0, "2015年农村危房改造统计（演示数据）"),
    "I7": (65.0, "2015年残疾人康复服务统计（演示数据）"),
    "I8": (60.0, "2015年辅助器具适配统计（演示数据）"),
    "I9": (90.0, "2015年教育统计年报（演示数据）"),
}


@dataclass
class DemoResult:
    db_path: Path
    scorecard: Path | None
    outbox_dir: Path
    per_period: list[dict[str, Any]] = field(default_factory=list)
    escalations: dict[int, int] = field(default_factory=dict)
    messages_sent: int = 0
    pre_due_sent: int = 0  # 临期提醒 sent (messages, one per liaison and request)
    pre_due_dropped: int = 0  # queued, then answered before the dispatcher's turn
    files_written: int = 0
    days: int = 0


# The office account the demo creates, so its year can be explored in the browser with
# `tracker serve --as-of DAY` (never in production: the demo database is a fresh file)
DEMO_USER, DEMO_PASSWORD = "duchashi", "demo-2017-duchashi"
# and a performance office (绩效办) account, which lands on the scorecards
DEMO_PERF_USER, DEMO_PERF_PASSWORD = "jixiaoban", "demo-2017-jixiaoban"
EXPLORE_DAY = "2017-10-20"  # after Q3's due day: the ladder at work, circulars to sign
# `serve --as-of DAY` fixes the pages' clock at this hour (Asia/Shanghai): after the demo's
# last action of a day (the dispatch at 17:00), as the snapshot stands that evening
EXPLORE_HOUR = 18

RETRIES = 10  # a day's flow run after a transient API error (~50 s of waiting in all)


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), SHANGHAI)


def _plan_answers(rng: random.Random, policy: Policy, issue_on: dt.date, due_on: dt.date) -> dt.date | None:
    """When a simulated liaison answers: mostly on time, some late, a few never."""
    cal = policy.calendar
    roll = rng.random()
    if roll < 0.80:
        return rng.choice([cal.add(issue_on, 3), cal.add(due_on, -1), due_on])
    if roll < 0.93:
        return cal.add(due_on, rng.choice([2, 3, 7, 12]))
    return None


def demo_settings(out: Path) -> Settings:
    """The demo's settings: home is `out`, its own SQLite file, notifications as .eml files.

    Everything else (rules, calendar overrides, SMTP sender) comes from the environment.
    """
    out = out.resolve()
    return Settings(home=out, database_url=f"sqlite:///{out / 'tracker.db'}",
                    outbox_dir=out / "outbox", channel=ChannelKind.FILE)


def run_demo(
    catalog: Catalog,
    settings: Settings,
    *,
    year: int = 2017,
    seed: int = 2017,
    policy: Policy,
    on_day: Callable[[dt.date, int, int], None] | None = None,
    through_prefect: bool = True,
) -> DemoResult:
    """Simulate `year` on a fresh SQLite file in `settings.home` (see `demo_settings`).

    Every flow runs with `settings`; call this inside `prefect_context(settings)`.
    `on_day(day, index, total)` is called for each simulated day (progress display).
    `through_prefect=False` calls the same task bodies directly (the benchmark's baseline).
    """
    quiet_redirect_notice(settings)
    out = settings.home
    out.mkdir(parents=True, exist_ok=True)
    db_path = out / "tracker.db"
    remove_sqlite(db_path)
    shutil.rmtree(settings.outbox_dir, ignore_errors=True)
    # Prefect's local API keeps its database (OUT/prefect/prefect.db) from run to run: a
    # fresh one costs a migration at every start; the server prunes old runs itself.
    for stale_card in out.glob(f"scorecard-{year}-*"):  # the card, its CSV and pictures
        stale_card.unlink()
    remove_sqlite(snapshot_path(settings, dt.date.fromisoformat(EXPLORE_DAY)))
    url = settings.database_url
    engine = make_engine(url)
    migrate(engine)
    factory = session_factory(engine)
    rng = random.Random(seed)
    cal = policy.calendar
    start = _at(dt.date(year, 1, 3), 9)
    with transaction(factory) as s:
        plan_id = load_catalog(s, catalog, start).plan_id
        ensure_demo_contacts(s, plan_id)
        create_user(s, username=DEMO_USER, display_name="督查室（演示）", role=StaffRole.OFFICE,
                    password=DEMO_PASSWORD, now=start)
        create_user(s, username=DEMO_PERF_USER, display_name="绩效办（演示）",
                    role=StaffRole.PERFORMANCE, password=DEMO_PERF_PASSWORD, now=start)
        contacts = dict(governments(s, s.get_one(Plan, plan_id)))
        govs = list(contacts)
        # the 2015 baselines the plan does not print, recorded by the office (issue 11)
        for code, (value, source) in DEMO_BASELINES.items():
            record_baseline(s, s.get_one(Plan, plan_id), code, value, source=source,
                            actor=f"user:{DEMO_USER}", now=start)

    specs = year_specs(year, policy.rules, cal)
    # Meetings: the city and most districts hold one; two districts never do.
    meeting_days: dict[dt.date, list[str]] = {}
    for i, g in enumerate(govs):
        if i in (7, 12):
            continue
        month = 12 if i == 3 else rng.randint(3, 9)  # one district only after the warning
        meeting_days.setdefault(cal.add(dt.date(year, month, 1), rng.randint(1, 15)), []).append(g)
    # the city's second meeting, recorded on the day to explore: waiting for the office there
    explore_day = dt.date.fromisoformat(EXPLORE_DAY)
    if year == explore_day.year:
        meeting_days.setdefault(explore_day, []).append(govs[0])

    event_days: set[dt.date] = set(meeting_days)
    for s_ in specs:
        event_days.add(s_.issue_on)
        event_days.update(ladder_dates(s_.due_on, policy))
        event_days.update({cal.add(s_.issue_on, 3), cal.add(s_.due_on, -1), s_.due_on})
        event_days.update(cal.add(s_.due_on, k) for k in (2, 3, 7, 12))
    mr, mw = policy.rules.meeting_reminder, policy.rules.meeting_warning
    # a meeting notice set on a rest day (1 October) goes out on the working day before it
    event_days.update({notice_day(dt.date(year, *mr), cal), notice_day(dt.date(year, *mw), cal),
                       dt.date(year + 1, 1, 2)})
    check_day = checkpoint_day(year, policy)
    event_days.add(check_day)
    days = sorted(d for d in event_days if dt.date(year, 1, 1) <= d <= check_day)

    # Heartbeats let a Prefect server spot crashed runs; a simulated year has no server to
    # watch, and each heartbeat thread costs ~1 s at flow exit (Prefect 3.9 joins it).
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        result = _simulate(days, settings, factory, plan_id, rng, policy, meeting_days, check_day,
                           year, on_day, through_prefect, contacts)
    result.db_path, result.outbox_dir = db_path, settings.outbox_dir
    _summarise(factory, result, year, settings)
    engine.dispose()
    dispose_engines()  # checkpoints SQLite's WAL into tracker.db
    return result


DEMO_MINUTES = b"%PDF-1.4\n% demo minutes\n%%EOF\n"


def _meetings(s: Any, home: Path, plan: Plan, day: dt.date, meeting_days: dict[dt.date, list[str]],
              contacts: dict[str, int | None], waiting: list[tuple[int, bool, dt.date]],
              policy: Policy,
              *, explore: bool) -> None:
    """The day's executive meetings as people record them (issue 11, item 4): the
    government's liaison records the meeting with its minutes at noon; the office confirms
    it that afternoon, except those held in December (confirmed on the first event day of
    January, before the year-end finding) and the one of the day to explore (waiting there;
    confirmed on the next event day). One district's first record is returned (缺签发页) and
    corrected by its liaison on the next event day. No randomness: the seeded figures stay."""
    for meeting_id, returned, not_before in list(waiting):
        if day < not_before:
            continue
        if returned:
            m = s.get_one(ExecutiveMeeting, meeting_id)
            agency = contacts[m.government]
            assert agency is not None
            submit_meeting(s, home, agencies=[agency], typed=MeetingInput(
                held_on=m.held_on.isoformat(), name=m.name, decisions=m.decisions),
                minutes=Minutes("会议纪要（含签发页）.pdf", DEMO_MINUTES + b"%signed\n"),
                recorded_by="demo:liaison", now=_at(day, 10), meeting_id=meeting_id)
        confirm_meeting(s, meeting_id, by="demo:督查室", now=_at(day, 15))
        waiting.remove((meeting_id, returned, not_before))
    for g in meeting_days.get(day, []):
        agency = contacts.get(g)
        if agency is None:
            continue
        number = day.timetuple().tm_yday // 7 + 1
        m = submit_meeting(s, home, agencies=[agency], typed=MeetingInput(
            government=f"{plan.id}:{g}", held_on=day.isoformat(), name=f"{g}第{number}次常务会议",
            decisions=f"研究《{plan.title}》年度实施工作，明确责任单位和完成时限。"),
            minutes=Minutes(f"第{number}次常务会议纪要.pdf", DEMO_MINUTES),
            recorded_by="demo:liaison", now=_at(day, 12))
        later = day + dt.timedelta(days=1)
        if g == list(contacts)[5] and not any(r for _, r, _ in waiting):
            return_meeting(s, m.id, reason="会议纪要缺少签发页，请补充完整后重新上传。",
                           by="demo:督查室", now=_at(day, 15), policy=policy)
            waiting.append((m.id, True, later))
        elif day.month == 12:
            waiting.append((m.id, False, dt.date(day.year + 1, 1, 1)))
        elif explore:
            waiting.append((m.id, False, later))
        else:
            confirm_meeting(s, m.id, by="demo:督查室", now=_at(day, 15))


def _simulate(days, settings, factory, plan_id, rng, policy, meeting_days, check_day, year,  # type: ignore[no-untyped-def]
              on_day, through_prefect: bool, contacts: dict[str, int | None]) -> DemoResult:
    """Each simulated day's work, in the order of a production day: the production batch
    tasks' bodies (requests 08:00, sweep and meeting duties 08:30, dispatch 17:00, the
    checkpoint on its day), the liaisons' answers and the meetings in between.

    Through Prefect, each simulated day is one task run (`demo_day`) and each simulated
    month one flow run (`demo_month_flow`) holding its days: about 70 task runs in 14 flow
    runs for the year. A flow run costs ~0.1-0.25 s of API bookkeeping and a task run
    ~25-50 ms on a 2-core machine, against ~0.13 s of work in an average day, so one run
    per production step (~280 task runs, one flow run a day) spent three times the work on
    bookkeeping (issue 9, item 3). Without Prefect (`through_prefect=False`, the benchmark's
    baseline) the same days run directly.

    A flow run that fails on a transient API error after Prefect's client gave up is run
    again (up to `RETRIES` times, 0.1 s, 0.2 s, ... apart); the days and steps that
    completed are not repeated. (The local API asks the client to retry a 503 after
    0.2 s: `flows.local_api.app_with_quick_retries`.)
    """
    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE

    from flows.tracker_flows import (
        deliver_outbox_task,
        meeting_duty_task,
        open_requests_task,
        scorecard_task,
        sweep_ladder_task,
    )

    answers: dict[dt.date, list[ReportInput]] = {}
    planned: set[int] = set()
    result = DemoResult(db_path=Path(), scorecard=None, outbox_dir=Path())
    done: set[tuple[dt.date, str]] = set()  # (day, step) already run
    index = {day: i for i, day in enumerate(days)}

    def step(day: dt.date, name: str, fn: Callable[[], Any]) -> None:
        if (day, name) not in done:
            fn()
            done.add((day, name))

    def run(task_: Any, when: dt.datetime, *extra: Any) -> Any:
        return task_.fn(when.isoformat(), settings, *extra)

    waiting: list[tuple[int, bool, dt.date]] = []  # (meeting id, returned, not before)

    def liaisons_and_meetings(day: dt.date) -> None:
        with transaction(factory) as s:
            _plan_new_requests(s, rng, policy, planned, answers)
            _meetings(s, settings.home, s.get_one(Plan, plan_id), day, meeting_days, contacts,
                      waiting, policy, explore=day.isoformat() == EXPLORE_DAY)
            todays = answers.pop(day, [])
            if todays:
                record_reports(s, todays, submitted_by="demo:liaison", now=_at(day, 10))

    explore = dt.date.fromisoformat(EXPLORE_DAY)

    def one_day(day: dt.date) -> None:
        if on_day:
            on_day(day, index[day], len(days))
        if day > explore and (explore, "snapshot") not in done:
            snapshot(settings, explore)  # the year as it stood that evening, to explore
            done.add((explore, "snapshot"))
        step(day, "requests", lambda: run(open_requests_task, _at(day, 8)))
        step(day, "sweep", lambda: run(sweep_ladder_task, _at(day, 8, 30)))
        step(day, "meetings", lambda: run(meeting_duty_task, _at(day, 8, 30)))
        step(day, "answers", lambda: liaisons_and_meetings(day))
        step(day, "dispatch", lambda: run(deliver_outbox_task, _at(day, 17)))
        if day == check_day:
            step(day, "checkpoint", lambda: run(scorecard_task, _at(day, 9), year))
        done.add((day, "day"))

    @task(name="demo_day", cache_policy=NO_CACHE, persist_result=False)
    def demo_day(day: str) -> None:
        """One simulated day (the date is the task run's parameter)."""
        one_day(dt.date.fromisoformat(day))

    @flow(name="demo_month_flow", persist_result=False, validate_parameters=False)
    def demo_month_flow(month: str, month_days: list[str]) -> None:
        """One simulated month: its event days, one task run each, in order."""
        for d in month_days:
            if (dt.date.fromisoformat(d), "day") not in done:
                demo_day(d)

    months: dict[str, list[dt.date]] = {}
    for day in days:
        months.setdefault(f"{day:%Y-%m}", []).append(day)
    for month, month_days in months.items():
        if not through_prefect:
            for day in month_days:
                one_day(day)
            continue
        for attempt in range(RETRIES + 1):
            try:
                demo_month_flow(month, [d.isoformat() for d in month_days])
                break
            except Exception as exc:
                if attempt == RETRIES or not transient_api_error(exc):
                    raise
                time.sleep(min(0.1 * 2 ** attempt, 5.0))
    result.days = len(days)
    return result


def _plan_new_requests(session, rng, policy, planned, answers) -> None:  # type: ignore[no-untyped-def]
    """Decide, once per new request, when and what its liaison will answer."""
    rows = session.execute(
        select(ProgressRequest.id, ProgressRequest.issued_on, ProgressRequest.due_on,
               ProgressRequest.indicator_id, ReportingPeriod.label, ReportingPeriod.kind,
               Indicator.target, Assignment.measure_id, Indicator.kind, Indicator.baseline,
               Plan.first_year)
        .join(ReportingPeriod, ReportingPeriod.id == ProgressRequest.period_id)
        .join(Plan, Plan.id == ReportingPeriod.plan_id)
        .outerjoin(Indicator, Indicator.id == ProgressRequest.indicator_id)
        .outerjoin(Assignment, Assignment.id == ProgressRequest.assignment_id)
        .where(ProgressRequest.state == RequestState.OPEN.value)
        .order_by(ProgressRequest.id)
    ).all()
    for (rid, issued_on, due_on, indicator_id, label, kind, target, measure_id, ind_kind, base,
         first_year) in rows:
        if rid in planned:
            continue
        planned.add(rid)
        day = _plan_answers(rng, policy, issued_on, due_on)
        if day is None:
            continue
        quarter = int(label[-1]) if kind == PeriodKind.QUARTER else 4
        # each measure keeps its own pace (0.55–1.45 of the plan's schedule), so the leads'
        # progress differs as in a real year; no draw from `rng` (the year's answers stay)
        pace = 0.55 + (measure_id or 0) * 7 % 10 / 10
        percent = min(100, max(0, round(12 * quarter * pace) + rng.randint(-8, 10)))
        roll = rng.random()
        status = (ProgressStatus.DELAYED if roll < 0.08 else ProgressStatus.BLOCKED
                  if roll < 0.11 else ProgressStatus.IN_PROGRESS)
        value = None
        if indicator_id is not None:
            draw = rng.uniform(0.93, 1.04)
            if ind_kind == IndicatorKind.GROWTH and base:  # the level, grown from the base year
                value = round(base * (1 + target / 100 * draw) ** (int(label) - first_year + 1))
            else:  # a rate: never above 100 %
                value = min(round(target * draw, 1), 100.0)
            status, percent = ProgressStatus.COMPLETED, 100
        answers.setdefault(day, []).append(ReportInput(
            request_id=rid, status=status, percent=percent, narrative=NARRATIVES[status],
            problems="需财政资金支持" if status == ProgressStatus.BLOCKED else "",
            next_steps="" if rng.random() < 0.1 else "按计划推进下一阶段工作。", value=value,
        ))


def _summarise(factory, result: DemoResult, year: int, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    with factory() as s:
        rows = s.execute(
            select(ReportingPeriod.label, func.count(ProgressRequest.id),
                   func.sum(case((ProgressRequest.answered_late.is_(False), 1), else_=0)),
                   func.sum(case((ProgressRequest.answered_late.is_(True), 1), else_=0)))
            .join(ProgressRequest, ProgressRequest.period_id == ReportingPeriod.id)
            .where(ReportingPeriod.year == year)
            .group_by(ReportingPeriod.label, ReportingPeriod.due_on)
            .order_by(ReportingPeriod.due_on, ReportingPeriod.label)
        ).all()
        for label, n, on_time, late in rows:
            result.per_period.append({"period": label, "requests": n, "on_time": int(on_time or 0),
                                      "late": int(late or 0),
                                      "missing": n - int(on_time or 0) - int(late or 0)})
        result.escalations = {lvl: n for lvl, n in s.execute(
            select(Escalation.level, func.count()).group_by(Escalation.level))}
        result.messages_sent = s.scalar(select(func.count()).select_from(OutboxMessage)
                                        .where(OutboxMessage.status == "sent")) or 0
        pre_due = dict(s.execute(
            select(OutboxMessage.status, func.count())
            .where(OutboxMessage.kind == MessageKind.PRE_DUE_REMINDER.value)
            .group_by(OutboxMessage.status)).all())
        result.pre_due_sent = pre_due.get("sent", 0)
        result.pre_due_dropped = pre_due.get("dropped", 0)
    result.files_written = len(list(settings.outbox_dir.glob("*.eml")))
    cards = sorted(settings.home.glob(f"scorecard-{year}-*.xlsx"))
    result.scorecard = cards[0] if cards else None



def snapshot_path(settings: Settings, day: dt.date) -> Path:
    """Where the demo keeps its database as it stood at the end of `day`."""
    return settings.home / f"tracker-{day.isoformat()}.db"


def snapshot(settings: Settings, day: dt.date) -> Path:
    """Copy the demo's database as it stands now to `snapshot_path` (SQLite online backup)."""
    from tracker.ops.backup import backup

    target = snapshot_path(settings, day)
    remove_sqlite(target)
    backup(settings.database_url, target)
    return target


def explore_link(settings: Settings, agency: str, day: str) -> str:
    """A signed answer link for `agency`'s liaison in the demo database, issued on `day`
    (10:00 Asia/Shanghai), so it opens under `tracker serve --as-of day`."""
    from tracker.directory.links import load_secret, make_token
    from tracker.enums import ContactRole
    from tracker.models import Agency, Contact

    engine = make_engine(settings.database_url)
    try:
        with session_factory(engine)() as s:
            liaison = s.scalars(select(Contact).join(Agency, Agency.id == Contact.agency_id)
                                .where(Agency.name == agency, Contact.role == ContactRole.LIAISON)
                                .order_by(Contact.id).limit(1)).one()
            token = make_token(load_secret(settings.home, settings.secret_key), liaison,
                               _at(dt.date.fromisoformat(day), 10))
    finally:
        engine.dispose()
    return f"/l/{token}"
