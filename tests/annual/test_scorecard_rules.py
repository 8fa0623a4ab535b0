"""The scorecard's rules (issue 11, item 1): deductions only for documents issued, the
rules versioned, an issued scorecard that stands until regenerated on purpose."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest
from pydantic import ValidationError
from sqlalchemy import select

from notifications.channels import FileChannel
from notifications.dispatch import dispatch
from tests.conftest import at
from tracker.annual.checkpoint import figures_hash, issued_run, run_checkpoint
from tracker.annual.scorecard import scorecard_as_it_stands
from tracker.annual.scorecard.figures import compute, rank_group, round_half_up
from tracker.db import transaction
from tracker.enums import ChannelKind, CircularState, Level
from tracker.escalation.circulars import sign_off
from tracker.escalation.sweep import sweep_overdue
from tracker.models import Circular, Escalation, Plan, ProgressRequest, ScorecardRun
from tracker.policy import Policy
from tracker.settings import Rules, ScoringRules, SettingsError, load_rules


def _sweep_through(db, plan, policy, first: dt.date, last: dt.date) -> None:  # type: ignore[no-untyped-def]
    day = first
    while day <= last:
        with transaction(db) as s:
            sweep_overdue(s, s.get_one(Plan, plan.id), at(day.isoformat()), policy)
        day += dt.timedelta(days=1)


def _card(db, plan, scoring: ScoringRules, day: str = "2017-05-10") -> pd.DataFrame:  # type: ignore[no-untyped-def]
    with db() as s:
        return compute(s, s.get_one(Plan, plan.id), 2017, scoring, now=at(day)).summary \
            .set_index("单位")


def test_only_delivered_notices_and_signed_circulars_cost_points(db, plan, policy, overdue, tmp_path):
    """Five requests stay unanswered: their agencies climb to 督办 and into a circular draft.
    Nothing is deducted until the 督办 notices are delivered; the draft costs nothing; once
    signed, exactly the agencies it names lose the configured points."""
    _sweep_through(db, plan, policy, dt.date(2017, 4, 13), dt.date(2017, 4, 28))
    with db() as s:
        late_agencies = set(s.scalars(select(Escalation.request_id)
                                      .where(Escalation.level == Level.SUPERVISION_NOTICE.value)))
        assert late_agencies, "the scenario must reach the 督办 rung"
        draft = s.scalars(select(Circular)).one()
        named = {i["agency"] for i in draft.items}
        assert draft.state == CircularState.DRAFT and named
    rules = ScoringRules()
    before = _card(db, plan, rules)
    assert before["督办通知(份)"].sum() == 0 and before["通报(份)"].sum() == 0
    assert before["扣分"].sum() == 0
    # the 督办 notices are delivered (to the deputy heads, real files written)
    sent = dispatch(db, {ChannelKind.EMAIL: FileChannel(tmp_path / "sent")},
                    now=at("2017-04-28", 10), calendar=policy.calendar)
    assert sent.sent > 0
    delivered = _card(db, plan, rules)
    noticed = delivered[delivered["督办通知(份)"] > 0]
    assert set(noticed.index) == named  # the same five requests' agencies
    assert (noticed["督办通知(份)"] == 1).all() and (noticed["扣分"] == 2.0).all()
    assert delivered["通报(份)"].sum() == 0  # a draft circular costs nothing
    with transaction(db) as s:
        sign_off(s, draft.id, signed_by="督查室张科长", now=at("2017-05-02"), policy=policy)
    signed = _card(db, plan, rules)
    assert set(signed.index[signed["通报(份)"] > 0]) == named
    assert (signed.loc[list(named), "扣分"] == 2.0 + 5.0).all()
    others = signed.drop(index=list(named))
    assert (others["通报(份)"] == 0).all() and (others["扣分"] == 0).all()
    for name in named:  # 总分 = max(百分制得分 − 扣分, 0): an agency whose only requests are
        # the late ones (which requests an opening numbers first varies on PostgreSQL) is at 0
        assert signed.at[name, "总分"] == round_half_up(
            max(signed.at[name, "百分制得分"] - 7.0, 0.0), 2)
    # the configured amount, not a constant
    heavier = ScoringRules(version="test-7", per_circular=7, per_supervision_notice=3)
    assert (_card(db, plan, heavier).loc[list(named), "扣分"] == 10.0).all()
    with db() as s:
        deductions = compute(s, s.get_one(Plan, plan.id), 2017, rules, now=at("2017-05-10")).deductions
    circ = deductions[deductions["文书"] == "通报"]
    assert set(circ["单位"]) == named and (circ["日期"] == dt.date(2017, 5, 2)).all()
    assert (deductions[deductions["文书"] == "督办通知"]["日期"] == dt.date(2017, 4, 28)).all()


def test_an_issued_scorecard_stands_until_regenerated_on_purpose(db, plan, policy, overdue,
                                                                  tmp_path):
    with transaction(db) as s:
        first = run_checkpoint(s, s.get_one(Plan, plan.id), 2017, at("2018-02-13"), policy,
                               tmp_path)
    assert first.written and first.path.exists() and first.detail_path.exists()
    issued_bytes = first.path.read_bytes()
    # the rules change (a new version): the issued card does not
    changed = Policy(Rules(scoring=ScoringRules(version="2026.2", on_time=50, completeness=10)),
                     policy.calendar, policy.channel)
    with transaction(db) as s:
        again = run_checkpoint(s, s.get_one(Plan, plan.id), 2017, at("2018-02-20"), changed,
                               tmp_path)
        assert not again.written
        assert scorecard_as_it_stands(s, s.get_one(Plan, plan.id), 2017, rules=changed.rules,
                                      now=at("2018-02-20")) == issued_bytes
    assert first.path.read_bytes() == issued_bytes
    first.path.unlink()  # a lost file comes back from the database, unchanged
    with transaction(db) as s:
        run_checkpoint(s, s.get_one(Plan, plan.id), 2017, at("2018-02-21"), changed, tmp_path)
    assert first.path.read_bytes() == issued_bytes
    with db() as s:
        run = issued_run(s, plan.id, 2017)
        assert run is not None and run.rules_version == "2026.1" and run.rules["on_time"] == 40
        original_hash = run.figures_hash
    # regenerated by the stored rules: the same figures (reproduced)
    with transaction(db) as s:
        same = run_checkpoint(s, s.get_one(Plan, plan.id), 2017, at("2018-03-01"), changed,
                              tmp_path, regenerate=True, stored_rules=True, actor="绩效办李科长")
    assert same.written and same.figures is not None
    assert figures_hash(same.figures) == original_hash
    assert same.figures.scoring.version == "2026.1" and "重新生成" in same.figures.note
    # regenerated by the current rules, on purpose: the new version, recorded
    with transaction(db) as s:
        new = run_checkpoint(s, s.get_one(Plan, plan.id), 2017, at("2018-03-02"), changed,
                             tmp_path, regenerate=True, actor="绩效办李科长")
    assert new.figures is not None and figures_hash(new.figures) != original_hash
    assert new.figures.summary["按时报送得分"].max() <= 50
    with db() as s:
        run = s.scalars(select(ScorecardRun)).one()
        assert (run.rules_version, run.regenerated_by) == ("2026.2", "绩效办李科长")
        assert run.written_at.date() == dt.date(2018, 2, 13)


def test_the_escalation_detail_is_stored_packed_and_streamed_never_whole(
        db, plan, policy, overdue, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """Issue 14, item 3: the detail CSV of an issued card is stored gzip-packed and served
    in chunks; a damaged or lost file is restored from the database byte for byte; a card
    stored before packing (plain CSV) still serves and restores; a trial's CSV goes
    through a temporary file that is removed once read; nothing temporary stays."""
    import gzip

    from sqlalchemy import update

    from tracker.annual import checkpoint
    from tracker.annual.scorecard import escalation_detail_csv

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(scratch))
    monkeypatch.setattr(checkpoint, "CHUNK", 64)  # many chunks even for a small year
    _sweep_through(db, plan, policy, dt.date(2017, 4, 13), dt.date(2017, 4, 20))
    with db() as s:
        trial = list(escalation_detail_csv(s, s.get_one(Plan, plan.id), 2017,
                                           rules=policy.rules, now=at("2017-05-10")))
    assert len(trial) > 1 and b"".join(trial).startswith("\ufeff".encode())
    assert list(scratch.iterdir()) == []  # the trial's file is gone once read
    out = tmp_path / "cards"
    with transaction(db) as s:
        first = run_checkpoint(s, s.get_one(Plan, plan.id), 2017, at("2018-02-13"), policy, out)
    assert first.detail_path is not None
    written = first.detail_path.read_bytes()
    assert written.startswith("\ufeff".encode()) and written.count(b"\r\n") > 1
    with db() as s:
        stored = s.scalars(select(ScorecardRun.detail_csv)).one()
        assert stored[:2] == b"\x1f\x8b" and gzip.decompress(stored) == written
        served = list(escalation_detail_csv(s, s.get_one(Plan, plan.id), 2017,
                                            rules=policy.rules, now=at("2018-03-01")))
    assert len(served) > 1 and b"".join(served) == written
    first.detail_path.write_bytes(written[:-10] + b"0000000000")  # damaged: restored
    with transaction(db) as s:
        assert not run_checkpoint(s, s.get_one(Plan, plan.id), 2017, at("2018-02-14"), policy,
                                  out).written
    assert first.detail_path.read_bytes() == written
    first.detail_path.unlink()  # lost: restored
    with transaction(db) as s:
        run_checkpoint(s, s.get_one(Plan, plan.id), 2017, at("2018-02-15"), policy, out)
    assert first.detail_path.read_bytes() == written
    plain = written
    with transaction(db) as s:  # a card issued before packing kept the plain CSV
        s.execute(update(ScorecardRun).values(detail_csv=plain))
    first.detail_path.unlink()
    with transaction(db) as s:
        run_checkpoint(s, s.get_one(Plan, plan.id), 2017, at("2018-02-16"), policy, out)
        assert b"".join(escalation_detail_csv(s, s.get_one(Plan, plan.id), 2017,
                                              rules=policy.rules, now=at("2018-03-01"))) == plain
    assert first.detail_path.read_bytes() == plain
    left = sorted(p.name for p in out.iterdir())
    assert not [n for n in left if n.startswith(".")], left  # no temporary file or folder
    assert list(scratch.iterdir()) == []


def test_no_card_is_issued_before_its_checkpoint_day(db, plan, policy, overdue, tmp_path):
    """The 2017 card is issued on the 30th working day of 2018 (11 February 2018, a
    make-up working Sunday), not earlier: before, the year is not over and its findings not
    due. Nothing is recorded by the refusal."""
    from tracker.errors import DomainError
    from tracker.models import MeetingCompliance

    with transaction(db) as s:
        with pytest.raises(DomainError, match="2018年2月11日") as err:
            run_checkpoint(s, s.get_one(Plan, plan.id), 2017, at("2017-10-20"), policy, tmp_path)
        assert err.value.code == "too-early"
        with pytest.raises(DomainError, match="年度检查点"):
            run_checkpoint(s, s.get_one(Plan, plan.id), 2017, at("2018-02-09"), policy, tmp_path)
    with db() as s:
        assert s.scalars(select(ScorecardRun)).first() is None
        assert s.scalars(select(MeetingCompliance)).first() is None
    assert not list(tmp_path.iterdir())


def test_a_trial_card_leaves_out_requests_not_yet_due(db, plan, policy):
    """During the year, requests neither answered nor past their due day are not late:
    they count in no rate (the trial card on 27 March 2017, Q1 due 10 April)."""
    from tracker.requests.opening import open_due_requests
    from tracker.requests.reports import ReportInput, record_reports

    with transaction(db) as s:
        open_due_requests(s, s.get_one(Plan, plan.id), at("2017-03-17"), policy)
    with db() as s:
        first = s.scalars(select(ProgressRequest).order_by(ProgressRequest.id)).first()
        assert first is not None
        rid, agency = first.id, first.agency_id
    with transaction(db) as s:
        record_reports(s, [ReportInput(request_id=rid, status="in_progress", percent=20,
                                       narrative="进展", next_steps="计划")],
                       submitted_by="t", now=at("2017-03-24"))
    with db() as s:
        card = compute(s, s.get_one(Plan, plan.id), 2017, ScoringRules(),
                       now=at("2017-03-27")).summary
    assert list(card["agency_id"]) == [agency]  # only the answered request is scored
    assert card.iloc[0]["应报"] == 1 and card.iloc[0]["按时报送率(%)"] == 100.0


def test_scoring_rules_are_versioned():
    with pytest.raises(ValidationError, match="版本号"):
        ScoringRules(per_circular=6)
    for bad in (float("inf"), float("nan"), 101, -1):
        with pytest.raises(ValidationError):
            ScoringRules(version="x", on_time=bad)
    assert ScoringRules(version="2027.1", per_circular=6).label().startswith("2027.1（校验码 ")
    assert ScoringRules().digest() != ScoringRules(version="2027.1", per_circular=6).digest()
    rows = dict(ScoringRules().describe())
    assert rows["规则版本"] == ScoringRules().label()
    assert "每份已送达的督办通知扣2分" in rows["扣分"] and "四舍五入" in rows["数值修约"]


def test_a_rules_file_that_changes_scoring_must_name_a_version(tmp_path):
    path = tmp_path / "rules.json"
    path.write_text('{\n  "scoring": {"per_circular": 8}\n}\n', encoding="utf-8")
    with pytest.raises(SettingsError, match="版本号") as err:
        load_rules(path)
    assert str(path) in str(err.value) and "第 2 行" in str(err.value)
    path.write_text('{"scoring": {"version": "2027.1", "per_circular": 8}}', encoding="utf-8")
    assert load_rules(path).scoring.per_circular == 8


def test_rounding_is_half_up():
    assert round_half_up(0.125, 2) == 0.13 and round(0.125, 2) == 0.12
    assert round_half_up(88.885, 2) == 88.89 and round_half_up(62.25, 1) == 62.3
    assert round_half_up(2 / 3 * 100, 1) == 66.7


def test_ties_follow_the_stated_rule():
    nan = math.nan
    df = pd.DataFrame([
        # 单位, 总分, 按时报送得分, 牵头任务进展得分, 完整性得分, 扣分
        ("乙", 90.0, 36.0, 30.0, 18.0, 0.0),
        ("甲", 90.0, 36.0, 30.0, 18.0, 0.0),  # equal on every criterion: tied, by name
        ("丙", 90.0, 38.0, nan, 18.0, 0.0),  # more on-time points: ahead
        ("丁", 90.0, 36.0, nan, 18.0, 0.0),  # 不适用 progress comes after any score
        ("戊", 95.0, 30.0, 20.0, 10.0, 4.0),
    ], columns=["单位", "总分", "按时报送得分", "牵头任务进展得分", "完整性得分", "扣分"])
    ranked = rank_group(df)
    assert list(zip(ranked["单位"], ranked["排名"], strict=True)) == [
        ("戊", 1), ("丙", 2), ("乙", 3), ("甲", 3), ("丁", 5)]


def test_the_last_year_brings_the_plans_summary_and_pictures_beside_the_card(
        db, plan, policy, overdue, tmp_path):
    """Issue 11, items 2 and 7: the plan's last year's checkpoint also writes the
    multi-year summary (every year with data, each by the rules its card was issued by);
    a card gets PNGs of its cover and charts, or says why not, and is issued either way."""
    import openpyxl

    with transaction(db) as s:
        card_2017 = run_checkpoint(s, s.get_one(Plan, plan.id), 2017, at("2018-02-13"), policy,
                                   tmp_path, soffice="")
    assert card_2017.five_year is None and card_2017.pictures == []
    assert "TRACKER_SOFFICE" in card_2017.pictures_error and card_2017.path.exists()
    from tracker.errors import DomainError
    from tracker.requests.opening import open_due_requests

    with transaction(db) as s, pytest.raises(DomainError, match="尚无任务进展调度"):
        run_checkpoint(s, s.get_one(Plan, plan.id), 2020, at("2021-03-01"), policy, tmp_path)
    with transaction(db) as s:  # 2020 asked too: its card brings the plan's summary
        open_due_requests(s, s.get_one(Plan, plan.id), at("2020-03-17"), policy)
    with transaction(db) as s:
        last = run_checkpoint(s, s.get_one(Plan, plan.id), 2020, at("2021-03-01"), policy,
                              tmp_path, soffice="")
    assert last.five_year == tmp_path / "scorecard-2016-2020-tianjin-disability-2016-2020-summary.xlsx"
    book = openpyxl.load_workbook(last.five_year)
    cells = {str(c.value) for ws in book.worksheets for row in ws.iter_rows() for c in row
             if c.value is not None}
    assert any("2017" in c for c in cells) and "市民政局" in cells


def test_the_plans_summary_reprints_each_year_as_issued(db, plan, policy, overdue, tmp_path):
    """A circular signed after the 2017 card was issued changes today's figures, not the
    issued card, and not the multi-year summary's 2017 column (the attack on issue 11)."""
    import openpyxl

    from tracker.requests.opening import open_due_requests

    _sweep_through(db, plan, policy, dt.date(2017, 4, 13), dt.date(2017, 4, 28))
    with transaction(db) as s:
        card = run_checkpoint(s, s.get_one(Plan, plan.id), 2017, at("2018-02-13"), policy,
                              tmp_path, soffice="")
    assert card.figures is not None
    issued = card.figures.summary.set_index("单位")["总分"]
    with db() as s:
        draft = s.scalars(select(Circular)).one()
        named = {i["agency"] for i in draft.items}
    with transaction(db) as s:
        sign_off(s, draft.id, signed_by="督查室张科长", now=at("2018-03-01"), policy=policy)
        open_due_requests(s, s.get_one(Plan, plan.id), at("2020-03-17"), policy)
    with transaction(db) as s:
        last = run_checkpoint(s, s.get_one(Plan, plan.id), 2020, at("2021-03-01"), policy,
                              tmp_path, soffice="")
    assert last.five_year is not None
    sheet = openpyxl.load_workbook(last.five_year)["单位趋势"]
    rows = list(sheet.iter_rows(values_only=True))
    head = next(i for i, r in enumerate(rows) if r and "单位" in r)
    columns = list(rows[head])
    col = next(i for i, c in enumerate(columns) if c and str(c).startswith("2017") and "总分" in str(c))
    shown = {r[columns.index("单位")]: r[col] for r in rows[head + 1:] if r and r[columns.index("单位")]}
    for name in named:  # as issued, before the circular's 5 points
        assert shown[name] == issued[name]
