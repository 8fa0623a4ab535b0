"""Headline indicators on their trajectory (issue 11, item 3): the rule's exact values, the
scorecard's tables, escalation of a binding indicator and the explanation of an expected one."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.conftest import at
from tracker.annual.indicators import (
    SERIES_COLUMNS,
    TABLE_COLUMNS,
    IndicatorError,
    assess,
    compound_growth,
    expected_rate,
    follow_up_off_trajectory,
    indicator_series,
    record_baseline,
    trajectory_table,
    write_explanation,
)
from tracker.db import transaction
from tracker.enums import ChannelKind, MessageKind
from tracker.models import (
    Agency,
    AuditEvent,
    Contact,
    Indicator,
    IndicatorValue,
    OutboxMessage,
    Plan,
    ProgressRequest,
)
from tracker.requests.opening import open_due_requests
from tracker.requests.reports import ReportError, ReportInput, record_reports

# --- the rule ---------------------------------------------------------------------------


def test_linear_trajectory_from_the_2015_baseline_to_the_2020_target():
    assert [expected_rate(50, 80, y, 2015, 2020) for y in range(2015, 2021)] == [
        50.0, 56.0, 62.0, 68.0, 74.0, 80.0]
    assert expected_rate(95, 100, 2017, 2015, 2020) == 97.0
    assert expected_rate(50, 80, 2021, 2015, 2020) == 80.0  # after the plan: the target


def test_i1_is_the_compound_average_growth_from_the_base_year():
    # (23762 / 20000) ^ (1/2) - 1 = 1.09 - 1 = 9.0 %: not above the target of 9 %
    assert compound_growth(20000, 23762.0, 2) == 9.0
    assert compound_growth(20000, 21800, 1) == 9.0
    assert compound_growth(20000, 23800, 2) == 9.09  # sqrt(1.19) - 1 = 0.090871
    off = assess(kind="growth", comparator=">", target=9, baseline=20000, value=23762.0,
                 year=2017, base=2015, last=2020)
    assert (off.expected, off.actual, off.status) == (9.0, 9.0, "偏离")
    on = assess(kind="growth", comparator=">", target=9, baseline=20000, value=23800,
                year=2017, base=2015, last=2020)
    assert (on.expected, on.actual, on.status) == (9.0, 9.09, "符合")
    with pytest.raises(ValueError):
        compound_growth(0, 100, 2)


def test_statuses_at_the_boundary():
    def status(value, baseline=50.0, comparator=">="):  # type: ignore[no-untyped-def]
        return assess(kind="rate", comparator=comparator, target=80, baseline=baseline,
                      value=value, year=2017, base=2015, last=2020).status
    assert status(62.0) == "符合" and status(61.99) == "偏离"
    assert status(62.0, comparator=">") == "偏离"
    assert status(None) == "未报送"
    assert status(70.0, baseline=None) == "无基期值"


# --- with the seed's plan -----------------------------------------------------------------


def _indicator_requests(db, plan, policy) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with transaction(db) as s:
        open_due_requests(s, plan, at("2017-12-18"), policy)  # the 2017 values, due Jan 2018
    with db() as s:
        return dict(s.execute(
            select(Indicator.code, ProgressRequest.id)
            .join(ProgressRequest, ProgressRequest.indicator_id == Indicator.id)).all())


def _report(db, rid: int, **values) -> None:  # type: ignore[no-untyped-def]
    with transaction(db) as s:
        record_reports(s, [ReportInput(request_id=rid, status="completed", percent=100,
                                       **values)], submitted_by="t", now=at("2018-01-10"))


def _year_2017(db, plan, policy) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Baselines for I1, I2, I4 and I7; the 2017 values of I1, I2, I4, I7, I8 (none of I9…)."""
    rid = _indicator_requests(db, plan, policy)
    with transaction(db) as s:
        p = s.get_one(Plan, plan.id)
        record_baseline(s, p, "I7", 50, source="2015年残疾人康复服务统计年报", actor="user:duchashi",
                        now=at("2018-01-02"))
        record_baseline(s, p, "I4", 80, source="2015年统计公报", actor="user:duchashi",
                        now=at("2018-01-02"))
        record_baseline(s, p, "I1", 20000, source="2015年抽样调查", actor="user:duchashi",
                        now=at("2018-01-02"))
        record_baseline(s, p, "I2", 95, source="2015年民政统计", actor="user:duchashi",
                        now=at("2018-01-02"))
    _report(db, rid["I7"], numerator=600, denominator=1000, source="康复服务管理系统")  # 60.0
    _report(db, rid["I4"], value=83.0, source="社保参保数据")
    _report(db, rid["I1"], value=23762.0, source="住户调查")
    _report(db, rid["I2"], value=100.0)
    _report(db, rid["I8"], value=70.0)
    return rid


def test_trajectory_table_escalation_once_and_explanation(db, plan, policy):
    rid = _year_2017(db, plan, policy)
    with db() as s:
        assert s.scalar(select(IndicatorValue.value).join(Indicator).where(
            Indicator.code == "I7")) == 60.0  # computed from 600 / 1000
    now = at("2018-02-01", 8, 30)
    with transaction(db) as s:
        first = follow_up_off_trajectory(s, s.get_one(Plan, plan.id), now,
                                         channel=ChannelKind.EMAIL)
    with transaction(db) as s:  # run twice: nothing more
        again = follow_up_off_trajectory(s, s.get_one(Plan, plan.id), at("2018-02-02"),
                                         channel=ChannelKind.EMAIL)
    assert first.escalated == [("I7", 2017)]
    assert first.asked == [("I1", 2017), ("I4", 2017)]
    assert (again.escalated, again.asked, again.messages) == ([], [], 0)
    with db() as s:
        office = s.scalar(select(Agency.id).where(Agency.name == "市政府督查室"))
        owner = s.scalar(select(Agency.id).where(Agency.name == "市人力社保局"))
        office_liaisons = s.scalar(select(func.count()).select_from(Contact).where(
            Contact.agency_id == office, Contact.role == "liaison", Contact.active.is_(True)))
        owner_liaisons = s.scalar(select(func.count()).select_from(Contact).where(
            Contact.agency_id == owner, Contact.role == "liaison", Contact.active.is_(True)))
        sent = s.execute(select(OutboxMessage.kind, OutboxMessage.contact_id,
                                OutboxMessage.request_id, OutboxMessage.is_copy)).all()
        assert office_liaisons == 1 and owner_liaisons == 1
        escalations = [m for m in sent if m.kind == MessageKind.INDICATOR_ESCALATED]
        explanations = [m for m in sent if m.kind == MessageKind.INDICATOR_EXPLANATION]
        assert [(m.request_id, m.is_copy) for m in escalations] == [(rid["I7"], True)]
        assert sorted(m.request_id for m in explanations) == sorted([rid["I1"], rid["I4"]])
        assert first.messages == 3
        table = trajectory_table(s, s.get_one(Plan, plan.id), 2017)
    assert list(table.columns) == TABLE_COLUMNS
    rows = {r["编号"]: r for r in table.to_dict("records")}
    assert list(rows) == [f"I{n}" for n in range(1, 10)]
    assert rows["I7"] == {
        "编号": "I7", "指标": "残疾人基本康复服务覆盖率", "属性": "约束性", "报送单位": "市卫生计生委",
        "单位": "%", "基期值": 50.0, "目标值": "80%", "目标值数值": 80.0, "本年应达值": 62.0,
        "本年实际值": 60.0, "分子": 600.0, "分母": 1000.0, "数据来源": "康复服务管理系统",
        "是否符合进度": "偏离", "处理情况": "已报督查室（2018年2月1日）"}
    assert (rows["I1"]["目标值"], rows["I1"]["基期值"], rows["I1"]["本年应达值"],
            rows["I1"]["本年实际值"], rows["I1"]["是否符合进度"], rows["I1"]["处理情况"]) == (
        ">9%", 20000.0, 9.0, 9.0, "偏离", "待说明")
    assert (rows["I4"]["本年应达值"], rows["I4"]["本年实际值"], rows["I4"]["处理情况"]) == (
        84.0, 83.0, "待说明")
    assert (rows["I2"]["本年应达值"], rows["I2"]["是否符合进度"], rows["I2"]["处理情况"]) == (
        97.0, "符合", "")
    assert (rows["I8"]["本年实际值"], rows["I8"]["是否符合进度"]) == (70.0, "无基期值")
    assert rows["I9"]["是否符合进度"] == "未报送" and rows["I9"]["本年实际值"] is None

    with transaction(db) as s:
        owner_ids = {s.scalar(select(Agency.id).where(Agency.name == "市人力社保局"))}
        with pytest.raises(IndicatorError) as empty:
            write_explanation(s, owner_ids, rid["I4"], "  ", by="liaison:1", now=at("2018-02-05"))
        assert (empty.value.field, empty.value.message) == ("explanation", "请填写偏离进度说明。")
        with pytest.raises(IndicatorError) as other:
            write_explanation(s, {office}, rid["I4"], "说明", by="liaison:2", now=at("2018-02-05"))
        assert other.value.status == 403
        with pytest.raises(IndicatorError) as not_asked:  # I2 is on its trajectory
            write_explanation(s, {s.scalar(select(Agency.id).where(Agency.name == "市民政局"))},
                              rid["I2"], "说明", by="liaison:3", now=at("2018-02-05"))
        assert not_asked.value.code == "not-asked"
        write_explanation(s, owner_ids, rid["I4"], "部分农村残疾人参保缴费困难，已协调代缴。",
                          by="liaison:1", now=at("2018-02-05"))
    with db() as s:
        table = trajectory_table(s, s.get_one(Plan, plan.id), 2017)
        series = indicator_series(s, s.get_one(Plan, plan.id))
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "indicator.explanation")) == 1
    rows = {r["编号"]: r for r in table.to_dict("records")}
    assert rows["I4"]["处理情况"] == "部分农村残疾人参保缴费困难，已协调代缴。"
    assert list(series.columns) == SERIES_COLUMNS
    assert [tuple(r) for r in series.itertuples(index=False)] == [
        ("I1", "残疾人家庭人均可支配收入年均增速", 2017, 9.0, 9.0, 9.0),
        ("I2", "困难残疾人生活补贴目标人群覆盖率", 2017, 100.0, 97.0, 100.0),
        ("I4", "残疾人城乡居民基本养老保险参保率", 2017, 83.0, 84.0, 90.0),
        ("I7", "残疾人基本康复服务覆盖率", 2017, 60.0, 62.0, 80.0),
        ("I8", "残疾人辅助器具适配率", 2017, 70.0, None, 80.0),
    ]


def test_the_notices_say_what_is_off_and_by_how_much(db, plan, policy):
    from notifications.render import message_rows, render_digests

    _year_2017(db, plan, policy)
    with transaction(db) as s:
        follow_up_off_trajectory(s, s.get_one(Plan, plan.id), at("2018-02-01", 8, 30),
                                 channel=ChannelKind.EMAIL)
    with db() as s:
        ids = list(s.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id)))
        digests = render_digests(message_rows(s, ids), now=at("2018-02-01", 9),
                                 calendar=policy.calendar, link_for=lambda c: "https://t/l/x")
    by_kind = {d.kind: d for _channel, d, _ids in digests}  # type: ignore[union-attr]
    esc, why = by_kind["indicator_escalated"], by_kind["indicator_explanation"]
    assert esc.subject == ("【指标偏离进度】《天津市“十三五”加快残疾人小康进程规划纲要》"
                           "1项约束性指标未达到年度应达值，报请督办")
    assert ("1. 《天津市“十三五”加快残疾人小康进程规划纲要》I7 残疾人基本康复服务覆盖率（约束性）\n"
            "   报送单位：市卫生计生委\n"
            "   2017年实际值：60%；2017年应达值：62%；2015年基期值：50%；2020年目标值：80%\n"
            "   数据来源：康复服务管理系统") in esc.body
    assert "https://t/l/x" not in esc.body  # the office's copy carries no answer link
    assert why.subject.startswith("【指标偏离说明】") and "2项预期性指标" in why.subject
    assert ("2017年报送值：残疾人家庭人均可支配收入23762元；按2015年基期值20000元计算的"
            "年均增速：9%；目标值：>9%") in why.body
    assert "2017年实际值：83%；2017年应达值：84%" in why.body
    assert "https://t/l/x" in why.body  # the owner writes the explanation from the link


@pytest.mark.postgresql_only
def test_two_passes_at_once_escalate_once(db, plan, policy):
    _year_2017(db, plan, policy)
    barrier = threading.Barrier(2)
    results = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with transaction(db) as s:
                p = s.get_one(Plan, plan.id)
                barrier.wait()
                results.append(follow_up_off_trajectory(s, p, at("2018-02-01"),
                                                        channel=ChannelKind.EMAIL))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(sum((r.escalated for r in results), [])) == [("I7", 2017)]
    assert sorted(sum((r.asked for r in results), [])) == [("I1", 2017), ("I4", 2017)]
    with db() as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.kind.in_([MessageKind.INDICATOR_ESCALATED.value,
                                    MessageKind.INDICATOR_EXPLANATION.value]))) == 3


def test_a_wrong_ratio_is_refused_and_growth_takes_no_ratio(db, plan, policy):
    rid = _indicator_requests(db, plan, policy)
    with pytest.raises(ValueError, match="指标数值（70%）与分子÷分母×100（60.00%）不一致"):
        ReportInput(request_id=rid["I7"], status="completed", percent=100, value=70,
                    numerator=600, denominator=1000)
    with pytest.raises(ValueError, match="分母须为大于 0"):
        ReportInput(request_id=rid["I7"], status="completed", percent=100, numerator=6,
                    denominator=0)
    # within rounding: 1 / 3 = 33.33 %, given as 33.3
    ok = ReportInput(request_id=rid["I7"], status="completed", percent=100, value=33.3,
                     numerator=1, denominator=3)
    assert ok.value == 33.3
    assert ReportInput(request_id=rid["I7"], status="completed", percent=100, numerator=1,
                       denominator=3).value == 33.33
    with pytest.raises(ReportError) as exc, transaction(db) as s:
        record_reports(s, [ReportInput(request_id=rid["I1"], status="completed", percent=100,
                                       numerator=1, denominator=2, value=50)],
                       submitted_by="t", now=at("2018-01-10"))
    assert exc.value.problems == {
        rid["I1"]: "该指标报送残疾人家庭人均可支配收入（元），无需填写分子、分母"}


def test_baseline_by_the_office_audited_and_refusals_name_the_field(db, plan):
    with transaction(db) as s:
        p = s.get_one(Plan, plan.id)
        with pytest.raises(IndicatorError) as unknown:
            record_baseline(s, p, "I10", 1, source="x", actor="cli", now=at("2018-01-02"))
        assert unknown.value.field == "code" and "没有指标“I10”" in unknown.value.message
        with pytest.raises(IndicatorError) as level:
            record_baseline(s, p, "I1", 0, source="x", actor="cli", now=at("2018-01-02"))
        assert level.value.message == "基期值：残疾人家庭人均可支配收入须大于 0（单位：元）"
        with pytest.raises(IndicatorError) as source:
            record_baseline(s, p, "I7", 50, source=" ", actor="cli", now=at("2018-01-02"))
        assert source.value.field == "source"
        record_baseline(s, p, "I7", 50, source="2015年统计年报", actor="cli", now=at("2018-01-02"))
        record_baseline(s, p, "I7", 52.5, source="2015年统计年报（修订）", actor="cli",
                        now=at("2018-01-03"))
    with db() as s:
        ind = s.scalar(select(Indicator).where(Indicator.code == "I7"))
        assert (ind.baseline, ind.baseline_source, ind.baseline_recorded_by) == (
            52.5, "2015年统计年报（修订）", "cli")
        details = [e.detail for e in s.scalars(select(AuditEvent).where(
            AuditEvent.action == "indicator.baseline").order_by(AuditEvent.id))]
        assert [(d["before"]["baseline"], d["after"]["baseline"]) for d in details] == [
            (None, 50.0), (50.0, 52.5)]


@pytest.mark.sqlite_only
def test_cli_records_a_baseline(db, db_url, plan, tmp_path, monkeypatch):
    from tracker.cli import app

    for name, value in (("DATABASE_URL", db_url), ("HOME", str(tmp_path))):
        monkeypatch.setenv(f"TRACKER_{name}", value)
    run = CliRunner().invoke
    r = run(app, ["indicator", "baseline", "I1", "20000", "--source", "2015年住户调查",
                  "--now", "2018-01-02T09:00"])
    assert r.exit_code == 0, r.output
    assert "I1 残疾人家庭人均可支配收入年均增速：2015年基期值 20000元（数据来源：2015年住户调查）已记录" \
        in r.output.replace("\n", "")
    r = run(app, ["indicator", "baseline", "I1", "0", "--source", "x"])
    assert r.exit_code == 2 and "基期值：残疾人家庭人均可支配收入须大于 0" in r.output
    r = run(app, ["indicator", "trajectory", "2017"])
    assert r.exit_code == 0 and "无基期值" not in r.output and "未报送" in r.output


def test_numbers_out_of_range_are_refused_not_crashed():
    """A ratio beyond any rate, a negative value and an absurd base level give a Chinese
    refusal or a plain number, never an exception from the rounding (the attack of
    issue 11's work: 1e11 / 1e-20 crashed the liaison form with HTTP 500)."""
    from pydantic import ValidationError

    from tracker.annual.indicators import compound_growth, round2
    from tracker.requests.reports import ReportInput

    with pytest.raises(ValidationError, match="超出有效范围"):
        ReportInput(request_id=1, status="completed", percent=100, narrative="x",
                    numerator=1e11, denominator=1e-20)
    with pytest.raises(ValidationError, match="超出有效范围"):
        ReportInput(request_id=1, status="completed", percent=100, narrative="x",
                    numerator=1e11, denominator=0.00001)
    with pytest.raises(ValidationError, match="不能为负数"):
        ReportInput(request_id=1, status="completed", percent=100, narrative="x", value=-5.0)
    assert round2(1e300) == 1e300 and round2(2.345) == 2.35
    assert compound_growth(1e-300, 23762.0, 2) > 1e100
