"""A task's own 完成时限 as a tracked milestone (issue 13, build item 5): a period of kind
milestone per deadline day, one request per lead, opened and chased like a quarter's."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import at
from tracker.catalog.load import load_catalog
from tracker.catalog.schema import Deadline
from tracker.dates.chinese import cn_period
from tracker.dates.workdays import WorkCalendar
from tracker.db import transaction
from tracker.enums import MessageKind, PeriodKind, RequestState
from tracker.escalation.sweep import sweep_overdue
from tracker.models import (
    Agency,
    Assignment,
    Escalation,
    Measure,
    OutboxMessage,
    Plan,
    ProgressRequest,
    ReportingPeriod,
)
from tracker.policy import Policy
from tracker.requests.milestones import milestone_due, milestone_spec
from tracker.requests.opening import open_due_requests
from tracker.requests.reports import MILESTONE_EXPLANATION, ReportError, ReportInput, record_reports
from tracker.settings import Rules

D = dt.date.fromisoformat
DATED = Deadline(text="2017年6月底前", kind="date", due=D("2017-06-30"))
ONGOING = Deadline(text="长期坚持", kind="ongoing")
YEARLY = Deadline(text="每年年底前", kind="yearly", month=12, day=31)


@pytest.fixture
def dated(db: sessionmaker[Session]) -> Plan:
    """small_plan with measure 1 due 2017-06-30 (lead 市人力资源和社会保障局, co 市财政局,
    both districts), measure 2 ongoing (lead 市民政局), measure 3 yearly at year end
    (lead 市残联, both districts)."""
    from tests.factories import small_plan
    from tracker.directory.contacts import ensure_demo_contacts

    catalog = small_plan(deadlines={"1": DATED, "2": ONGOING, "3": YEARLY})
    with transaction(db) as s:
        plan_id = load_catalog(s, catalog, at("2017-01-05")).plan_id
        ensure_demo_contacts(s, plan_id)
    with db() as s:
        return s.get_one(Plan, plan_id)


def _open(db, plan, policy, day):  # type: ignore[no-untyped-def]
    with transaction(db) as s:
        return open_due_requests(s, plan, at(day), policy)


def _milestones(db) -> list[tuple[str, str, str, str, dt.date, dt.date, str]]:  # type: ignore[no-untyped-def]
    """(period label, measure code, agency, role, issued, due, state) of every milestone
    request."""
    with db() as s:
        return [tuple(r) for r in s.execute(  # type: ignore[misc]
            select(ReportingPeriod.label, Measure.code, Agency.name, Assignment.role,
                   ProgressRequest.issued_on, ProgressRequest.due_on, ProgressRequest.state)
            .join(ProgressRequest, ProgressRequest.period_id == ReportingPeriod.id)
            .join(Assignment, Assignment.id == ProgressRequest.assignment_id)
            .join(Measure, Measure.id == Assignment.measure_id)
            .join(Agency, Agency.id == ProgressRequest.agency_id)
            .where(ReportingPeriod.kind == PeriodKind.MILESTONE.value)
            .order_by(ReportingPeriod.label, Measure.code)).all()]


def test_rule_dates_of_a_milestone():
    rules, cal = Rules(), WorkCalendar()
    # Friday 2017-06-30: due that day; opens 10 working days before it, with Q2's request
    spec = milestone_spec(D("2017-06-30"), rules, cal)
    assert (spec.kind, spec.label, spec.year, spec.starts_on, spec.ends_on, spec.issue_on,
            spec.due_on) == (PeriodKind.MILESTONE, "2017-06-30", 2017, D("2017-06-30"),
                             D("2017-06-30"), D("2017-06-16"), D("2017-06-30"))
    # a rest day moves the due day to the next working day (民法典第二百零三条)
    assert milestone_due(D("2018-03-31"), cal) == D("2018-04-02")  # Saturday -> Monday
    assert milestone_due(D("2017-12-31"), cal) == D("2018-01-02")  # New Year 12-30..01-01
    assert milestone_due(D("2018-12-31"), cal) == D("2019-01-02")  # New Year 12-30..01-01
    # Saturday 2017-09-30 was a make-up working day before National Day: due that day
    assert milestone_due(D("2017-09-30"), cal) == D("2017-09-30")
    # the year-end one opens 10 working days before 31 December
    assert milestone_spec(D("2017-12-31"), rules, cal).issue_on == D("2017-12-18")
    assert milestone_spec(D("2017-06-30"), Rules(issue_before_quarter_end=3), cal).issue_on \
        == D("2017-06-27")


def test_cn_period_names_a_milestone():
    assert cn_period("2018-06-30") == "2018年6月30日完成时限"
    assert cn_period("2017-12-31") == "2017年12月31日完成时限"
    assert cn_period("2017Q2") == "2017年第二季度"


def test_deadline_reaches_the_measure(db, dated):
    with db() as s:
        rows = s.execute(select(Measure.code, Measure.deadline_text, Measure.deadline_kind,
                                Measure.deadline_due, Measure.deadline_month,
                                Measure.deadline_day).order_by(Measure.code)).all()
    assert [tuple(r) for r in rows] == [
        ("1", "2017年6月底前", "date", D("2017-06-30"), None, None),
        ("2", "长期坚持", "ongoing", None, None, None),
        ("3", "每年年底前", "yearly", None, 12, 31),
    ]


def test_dated_milestone_opens_on_its_day_for_the_lead_only(db, dated, policy):
    assert _open(db, dated, policy, "2017-06-15").periods == []  # nothing yet
    assert _milestones(db) == []
    first = _open(db, dated, policy, "2017-06-16")
    assert first.periods == ["2017-06-30", "2017Q2"]  # by issue day, then due day
    # measure 1's lead alone: not its co-agency 市财政局 nor the districts; measure 2 is
    # ongoing (nothing) and measure 3's year-end deadline has not opened
    assert _milestones(db) == [("2017-06-30", "1", "市人力资源和社会保障局", "lead",
                                D("2017-06-16"), D("2017-06-30"), "open")]
    # Q2's 9 assignments and the milestone's one; every request notice queued once
    assert first.requests_opened == 10
    again = _open(db, dated, policy, "2017-06-16")  # idempotent
    assert (again.requests_opened, again.messages_queued) == (0, 0)
    _open(db, dated, policy, "2017-06-20")
    with db() as s:
        assert len(s.scalars(select(ReportingPeriod.id).where(
            ReportingPeriod.kind == PeriodKind.MILESTONE.value)).all()) == 1
        sent = s.scalars(select(OutboxMessage.request_id).join(
            ProgressRequest, ProgressRequest.id == OutboxMessage.request_id).join(
            ReportingPeriod, ReportingPeriod.id == ProgressRequest.period_id).where(
            ReportingPeriod.label == "2017-06-30",
            OutboxMessage.kind == MessageKind.PROGRESS_REQUEST.value,
            OutboxMessage.is_copy.is_(False))).all()
    assert len(sent) == 1  # one liaison of 市人力资源和社会保障局, one notice
    assert len(_milestones(db)) == 1


def test_yearly_milestone_each_plan_year_due_the_next_working_day(db, dated, policy):
    _open(db, dated, policy, "2017-12-15")
    assert [m[0] for m in _milestones(db)] == []
    assert "2017-12-31" in _open(db, dated, policy, "2017-12-18").periods
    # 10 working days before 2018-12-31 counts Saturday 2018-12-29, a make-up working day
    assert "2018-12-31" not in _open(db, dated, policy, "2018-12-17").periods
    _open(db, dated, policy, "2018-12-18")
    assert _milestones(db) == [
        ("2017-12-31", "3", "市残联", "lead", D("2017-12-18"), D("2018-01-02"), "open"),
        ("2018-12-31", "3", "市残联", "lead", D("2018-12-18"), D("2019-01-02"), "open"),
    ]
    # the plan ends in 2018: no 2019 milestone, however late the run
    _open(db, dated, policy, "2019-12-20")
    assert len(_milestones(db)) == 2


def test_ongoing_creates_nothing(db, policy):
    from tests.factories import small_plan

    with transaction(db) as s:
        plan_id = load_catalog(s, small_plan(deadlines={c: ONGOING for c in "123"}),
                               at("2017-01-05")).plan_id
    with db() as s:
        plan = s.get_one(Plan, plan_id)
    for day in ("2017-06-16", "2017-06-30", "2017-12-18", "2018-12-18"):
        assert not [p for p in _open(db, plan, policy, day).periods if "-" in p]
    assert _milestones(db) == []


def _sweep(db, plan, policy, day):  # type: ignore[no-untyped-def]
    with transaction(db) as s:
        return sweep_overdue(s, plan, at(day), policy)


def _milestone_request(db) -> int:  # type: ignore[no-untyped-def]
    with db() as s:
        return s.scalars(select(ProgressRequest.id).join(
            ReportingPeriod, ReportingPeriod.id == ProgressRequest.period_id).where(
            ReportingPeriod.label == "2017-06-30")).one()


def _answer_quarter(db, now):  # type: ignore[no-untyped-def]
    """Every open 2017Q2 request answered, so only the milestone is left to chase."""
    with db() as s:
        ids = s.scalars(select(ProgressRequest.id).join(
            ReportingPeriod, ReportingPeriod.id == ProgressRequest.period_id).where(
            ReportingPeriod.label == "2017Q2")).all()
    with transaction(db) as s:
        record_reports(s, [ReportInput(request_id=i, status="in_progress", percent=50,
                                       narrative="推进", next_steps="继续") for i in ids],
                       submitted_by="t", now=now)


def test_the_ladder_chases_a_missed_deadline_on_the_rule_days(db, dated, policy):
    _open(db, dated, policy, "2017-06-16")
    _answer_quarter(db, at("2017-06-20"))
    rid = _milestone_request(db)
    # due Friday 2017-06-30: 催办 +1 wd (07-03), 督办 +5 (07-07), 通报 +10 (07-14)
    assert _sweep(db, dated, policy, "2017-06-30").fired == {1: 0, 2: 0, 3: 0}
    assert _sweep(db, dated, policy, "2017-07-03").fired == {1: 1, 2: 0, 3: 0}
    assert _sweep(db, dated, policy, "2017-07-03").fired == {1: 0, 2: 0, 3: 0}  # once
    assert _sweep(db, dated, policy, "2017-07-06").fired == {1: 0, 2: 0, 3: 0}
    assert _sweep(db, dated, policy, "2017-07-07").fired == {1: 0, 2: 1, 3: 0}
    assert _sweep(db, dated, policy, "2017-07-13").fired == {1: 0, 2: 0, 3: 0}
    assert _sweep(db, dated, policy, "2017-07-14").fired == {1: 0, 2: 0, 3: 1}
    with db() as s:
        rungs = s.execute(select(Escalation.request_id, Escalation.level, Escalation.effective_on)
                          .order_by(Escalation.level)).all()
        assert [tuple(r) for r in rungs] == [(rid, 1, D("2017-07-03")), (rid, 2, D("2017-07-07")),
                                             (rid, 3, D("2017-07-14"))]
        assert s.get_one(ProgressRequest, rid).next_action_on is None


def test_an_answer_stops_the_ladder(db, dated, policy):
    _open(db, dated, policy, "2017-06-16")
    _answer_quarter(db, at("2017-06-20"))
    rid = _milestone_request(db)
    assert _sweep(db, dated, policy, "2017-07-03").fired == {1: 1, 2: 0, 3: 0}
    with transaction(db) as s:
        done = record_reports(s, [ReportInput(request_id=rid, status="completed", percent=100,
                                              narrative="已出台实施办法")],
                              submitted_by="t", now=at("2017-07-04"))
    assert (done.recorded, done.late) == (1, 1)
    assert _sweep(db, dated, policy, "2017-07-07").fired == {1: 0, 2: 0, 3: 0}
    assert _sweep(db, dated, policy, "2017-07-14").fired == {1: 0, 2: 0, 3: 0}
    with db() as s:
        req = s.get_one(ProgressRequest, rid)
        assert (req.state, req.level, req.answered_late, req.next_action_on) == (
            RequestState.ANSWERED, 1, True, None)


def test_a_milestone_answer_is_completed_or_explained(db, dated, policy):
    _open(db, dated, policy, "2017-06-16")
    rid = _milestone_request(db)
    with pytest.raises(ReportError) as exc, transaction(db) as s:
        record_reports(s, [ReportInput(request_id=rid, status="in_progress", percent=80)],
                       submitted_by="t", now=at("2017-06-29"))
    assert exc.value.problems == {rid: MILESTONE_EXPLANATION}
    assert MILESTONE_EXPLANATION == ("该任务已到完成时限：未完成的，须在工作进展中说明未完成的原因和"
                                     "完成时间安排")
    with transaction(db) as s:
        ok = record_reports(s, [ReportInput(request_id=rid, status="in_progress", percent=80,
                                            narrative="因机构改革顺延，预计9月底前完成")],
                            submitted_by="t", now=at("2017-06-29"))
    assert (ok.recorded, ok.on_time) == (1, 1)
    # a quarterly request of the same agency needs no explanation for in_progress
    with db() as s:
        q2 = s.scalars(select(ProgressRequest.id).join(
            ReportingPeriod, ReportingPeriod.id == ProgressRequest.period_id).where(
            ReportingPeriod.label == "2017Q2").order_by(ProgressRequest.id)).first()
    with transaction(db) as s:
        assert record_reports(s, [ReportInput(request_id=q2, status="in_progress", percent=80)],
                              submitted_by="t", now=at("2017-06-29")).recorded == 1


def test_a_changed_deadline_moves_the_milestone(db, dated, policy):
    """Reloading with another deadline stores it; the old day opens nothing any more."""
    from tests.factories import small_plan

    moved = Deadline(text="2017年9月底前", kind="date", due=D("2017-09-30"))
    with transaction(db) as s:
        result = load_catalog(s, small_plan(deadlines={"1": moved, "2": ONGOING, "3": YEARLY}),
                              at("2017-02-01"))
    assert result.changes == {"plan_updated": 1, "deadlines_updated": 1}  # hash, deadline
    assert not [p for p in _open(db, dated, policy, "2017-06-16").periods if "-" in p]
    # Saturday 2017-09-30 is a make-up working day: due that day, opens 10 wd before
    assert "2017-09-30" in _open(db, dated, policy, "2017-09-18").periods
    assert _milestones(db) == [("2017-09-30", "1", "市人力资源和社会保障局", "lead",
                                D("2017-09-18"), D("2017-09-30"), "open")]


def test_the_scorecard_counts_a_milestone(db, dated, policy):
    """A deadline report is owed like a quarterly one: in 应报 and 按时 of its year."""
    from tracker.annual.scorecard.figures import agency_summary, deduction_list
    from tracker.settings import ScoringRules

    _open(db, dated, policy, "2017-06-16")
    rid = _milestone_request(db)
    with transaction(db) as s:
        record_reports(s, [ReportInput(request_id=rid, status="completed", percent=100,
                                       narrative="已完成")], submitted_by="t",
                       now=at("2017-06-29"))
    with db() as s:
        plan = s.get_one(Plan, dated.id)
        rules = ScoringRules()
        summary = agency_summary(s, plan, 2017, rules, deduction_list(s, plan, 2017, rules),
                                 D("2017-07-31"))
    row = summary.set_index("单位").loc["市人力资源和社会保障局"]
    # Q2 (measure 1, lead) not answered and past due; the milestone on time
    assert (row["应报"], row["按时"], row["未报"]) == (2, 1, 1)
    other = summary.set_index("单位").loc["市财政局"]  # co-agency: Q2 only
    assert (other["应报"], other["按时"], other["未报"]) == (1, 0, 1)


def test_notices_name_the_milestone_and_what_it_asks(db, dated, policy):
    """The 报送通知 and the 催办 of a milestone name it as 完成时限 and ask for a
    完成情况报告; the quarter's items of the same digest say nothing of the kind."""
    from notifications.channels import Digest
    from notifications.render import NoticeConfig, message_rows, render_digests

    _open(db, dated, policy, "2017-06-16")
    _answer_quarter(db, at("2017-06-20"))
    _sweep(db, dated, policy, "2017-07-03")
    with db() as s:
        ids = s.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id)).all()
        digests = render_digests(message_rows(s, list(ids)), now=at("2017-07-03", 10),
                                 calendar=policy.calendar, link_for=lambda c: None,
                                 config=NoticeConfig(base_url="https://desk.example"))
    by = {(d.recipient_name, d.kind): d for _, d, _ in digests if isinstance(d, Digest)}
    plan = "《天津市残疾人就业促进三年行动方案》"
    asks = ("   报送内容：完成情况报告（已完成的，报告完成情况；未完成的，说明原因和完成时间"
            "安排）")
    request = by[("市人力资源和社会保障局联络员", "request")].body.splitlines()
    at_item = request.index(f"1. {plan}1 落实按比例安排残疾人就业制度")
    assert request[at_item + 1:at_item + 3] == [
        "   责任单位：市人力资源和社会保障局（牵头单位）　报送期：2017年6月30日完成时限　"
        "截止日期：2017年6月30日", asks]
    # the quarter's item of the same measure, in the same digest, asks for progress
    second = request.index(f"2. {plan}1 落实按比例安排残疾人就业制度")
    assert request[second + 1] == ("   责任单位：市人力资源和社会保障局（牵头单位）　报送期：2017年第二季度"
                                   "　截止日期：2017年7月7日")
    assert request.count(asks) == 1
    reminder = by[("市人力资源和社会保障局联络员", "reminder")]
    assert reminder.subject == f"【催办】{plan}1项任务逾期未报送进展情况"
    lines = reminder.body.splitlines()
    at_item = lines.index(f"1. {plan}1 落实按比例安排残疾人就业制度")
    assert lines[at_item + 1:at_item + 3] == [
        "   责任单位：市人力资源和社会保障局（牵头单位）　报送期：2017年6月30日完成时限　"
        "截止日期：2017年6月30日　已逾期1个工作日", asks]


def test_period_order_puts_a_milestone_after_its_days_quarter():
    from tracker.dates.periods import period_order

    labels = ["2017", "2017-12-31", "2017Q4", "2017Q1", "2017-06-30", "2017Q2", "2016Q4",
              "2017Q3", "2018-03-31", "2017H1"]
    assert sorted(labels, key=period_order) == [
        "2016Q4", "2017Q1", "2017H1", "2017Q2", "2017-06-30", "2017Q3", "2017Q4",
        "2017-12-31", "2017", "2018-03-31"]


def test_the_ledger_lists_a_milestone_after_its_quarter(db, dated, policy):
    from tracker.desk.board import BoardFilter
    from tracker.desk.ledger import ledger_frame
    from tracker.desk.ledger_book import print_frame

    _open(db, dated, policy, "2017-03-17")
    _open(db, dated, policy, "2017-06-16")
    _open(db, dated, policy, "2017-09-20")
    _open(db, dated, policy, "2017-12-18")
    with db() as s:
        frame = ledger_frame(s, BoardFilter(plan_id=dated.id), D("2017-12-20"), policy)
    lead = frame[(frame["编号"] == "1") & (frame["角色"] == "牵头")]
    assert list(lead["报送期"]) == ["2017Q1", "2017Q2", "2017-06-30", "2017Q3", "2017Q4"]
    assert list(print_frame(lead)["报送期"]) == [
        "2017年第一季度", "2017年第二季度", "2017年6月30日完成时限", "2017年第三季度", "2017年第四季度"]
    led3 = frame[(frame["编号"] == "3") & (frame["角色"] == "牵头")]
    assert list(led3["报送期"])[-2:] == ["2017Q4", "2017-12-31"]
    assert list(led3["截止日期"])[-1] == D("2018-01-02")


def test_a_calendar_change_moves_an_open_milestone(db, dated, policy):
    """A State Council notice making Friday 2017-06-30 a rest day (as if) moves the
    milestone's due day to Monday 07-03 by its own rule, and its ladder with it."""
    from tracker.requests.recompute import recompute_due_dates

    _open(db, dated, policy, "2017-06-16")
    rid = _milestone_request(db)
    moved = Policy(Rules(), WorkCalendar(holidays={D("2017-06-30")}), policy.channel)
    with transaction(db) as s:
        result = recompute_due_dates(s, at("2017-06-20"), moved, reason="测试通知")
    assert "tianjin-employment-2017-2018:2017-06-30 2017-06-30->2017-07-03" in result.periods
    with db() as s:
        req = s.get_one(ProgressRequest, rid)
        period = s.get_one(ReportingPeriod, req.period_id)
        assert (period.ends_on, period.due_on) == (D("2017-06-30"), D("2017-07-03"))
        assert (req.due_on, req.original_due_on, req.next_action_on) == (
            D("2017-07-03"), D("2017-07-03"), D("2017-07-04"))


def test_a_documents_annex_marks_a_milestone():
    """督办通知单 and 通报 annexes: the milestone after its day's quarter, marked in the
    task column (the 截止日期 column stays a date)."""
    from tracker.documents.wording import annex_groups

    item = dict(agency_id=7, agency="市民政局", code="1", title="扶持残疾人自主创业", role="牵头")
    groups = annex_groups([{**item, "period": "2017-06-30", "due_on": "2017-06-30"},
                           {**item, "period": "2017Q2", "due_on": "2017-07-07"}])
    assert [(g.agency, g.rows) for g in groups] == [("市民政局", [
        ["1", "1", "扶持残疾人自主创业", "牵头", "2017年7月7日"],
        ["2", "1", "扶持残疾人自主创业（完成时限）", "牵头", "2017年6月30日"]])]


def test_an_excel_upload_names_an_unexplained_milestone_row(db, dated, policy):
    """The agency's sheet marks the milestone row; 推进中 without 工作进展 is refused naming
    the row and the column; explained, the sheet is recorded."""
    import io

    import openpyxl

    from tracker.exchange.template import agency_template
    from tracker.exchange.upload import UploadError, import_sheet

    _open(db, dated, policy, "2017-06-16")
    rid = _milestone_request(db)
    with db() as s:
        agency_id = s.get_one(ProgressRequest, rid).agency_id
        data = agency_template(s, agency_id, D("2017-06-20"), at("2017-06-20"))
    book = openpyxl.load_workbook(io.BytesIO(data))
    ws = book["进展填报"]
    rows = {ws.cell(r, 1).value: r for r in range(2, ws.max_row + 1)}
    row = rows[rid]
    assert ws.cell(row, 2).value == "2017-06-30"
    assert ws.cell(row, 4).value == ("落实按比例安排残疾人就业制度（完成时限：报告完成情况；"
                                     "未完成的须在工作进展中说明原因）")
    ws.cell(row, 7, "推进中")
    ws.cell(row, 8, 80)
    ws.cell(row, 9, None)
    buf = io.BytesIO()
    book.save(buf)
    with pytest.raises(UploadError) as exc, transaction(db) as s:
        import_sheet(s, buf.getvalue(), agency_id=agency_id, submitted_by="t",
                     now=at("2017-06-21"))
    assert [str(p) for p in exc.value.problems] == [
        f"进展填报 第{row}行 I列（工作进展）：{MILESTONE_EXPLANATION}"]
    ws.cell(row, 9, "因机构改革顺延，预计9月底前完成")
    buf = io.BytesIO()
    book.save(buf)
    with transaction(db) as s:
        assert import_sheet(s, buf.getvalue(), agency_id=agency_id, submitted_by="t",
                            now=at("2017-06-21")).recorded == 1
