"""The circular and the 督办通知单 as documents (issue 12): the 督办 rung drafts one
督办通知单 per agency and day; the office edits a draft (文号 serial, 主送, wording, 抄送,
items left out with a reason); sign-off and issue number them from one sequence per office
and year; the page's counts and the file's come from one function."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from tests.conftest import at
from tracker.db import transaction
from tracker.documents.editing import Edits
from tracker.documents.numbering import NumberError, assign, format_number
from tracker.documents.wording import (
    WordingError,
    annex_groups,
    counts,
    default_addressees,
    full_office_name,
    ordered,
)
from tracker.enums import CircularState, Level
from tracker.escalation.circulars import (
    CircularError,
    circular_docx,
    circular_view,
    edit_circular,
    sign_off,
)
from tracker.escalation.notices import (
    NoticeError,
    edit_notice,
    issue_notice,
    notice_list,
    notice_view,
)
from tracker.escalation.office_actions import escalate_now
from tracker.escalation.sweep import sweep_overdue
from tracker.models import (
    Agency,
    Circular,
    DocumentNumber,
    ProgressRequest,
    SupervisionNotice,
)
from tracker.policy import Policy
from tracker.requests.reports import ReportInput, record_reports
from tracker.settings import DocumentRules, OfficeDocuments, Rules

D = dt.date.fromisoformat


def _open_agencies(db, ids):  # type: ignore[no-untyped-def]
    with db() as s:
        return dict(s.execute(
            select(Agency.id, func.count()).join(ProgressRequest,
                                                  ProgressRequest.agency_id == Agency.id)
            .where(ProgressRequest.id.in_(ids[:5]), ProgressRequest.state == "open")
            .group_by(Agency.id)).all())


def _sweep(db, plan, policy, day):  # type: ignore[no-untyped-def]
    with transaction(db) as s:
        return sweep_overdue(s, plan, at(day), policy)


def test_the_supervision_rung_drafts_one_notice_per_agency_and_day(db, plan, overdue, policy):
    per_agency = _open_agencies(db, overdue)
    assert _sweep(db, plan, policy, "2017-04-17").fired[Level.SUPERVISION_NOTICE] == 5
    _sweep(db, plan, policy, "2017-04-17")  # again: nothing new
    with db() as s:
        notices = s.scalars(select(SupervisionNotice).order_by(SupervisionNotice.agency_id)).all()
        assert {n.agency_id: n.effective_on for n in notices} == {
            a: D("2017-04-17") for a in per_agency}
        for n in notices:
            view = notice_view(s, n.id, policy=policy, now=at("2017-04-17", 10))
            agency = s.get_one(Agency, n.agency_id).name
            assert (view.counts.items, view.counts.agencies) == (per_agency[n.agency_id], 1)
            assert view.addressees == [agency]
            assert view.document.item_count == per_agency[n.agency_id]
            assert view.document.title == "关于督促报送逾期任务进展情况的督办通知单"
            assert view.document.body[0] == (
                f"根据《{plan.title}》实施工作要求，你单位承担的下列{per_agency[n.agency_id]}项"
                "任务应于2017年4月10日前报送进展情况。截至2017年4月17日，已逾期5个工作日，"
                "经催办仍未报送。")
            # the report that avoids the circular is due before the circular rung's day
            assert "于2017年4月24日前通过填报系统报送进展情况" in view.document.body[1]
            late = notice_view(s, n.id, policy=policy, now=at("2017-04-24", 10))
            assert late.document.body[1].startswith("请你单位高度重视，立即通过填报系统报送进展情况")
            assert view.number == "督查〔2017〕1号" and view.editable
        listed = notice_list(s)
        assert sum(c.items for *_, c in listed) == 5
        assert {n.id: c.items for n, _, _, c in listed} == {
            n.id: notice_view(s, n.id, policy=policy, now=at("2017-04-17", 10)).counts.items
            for n in notices}
    # one agency answers everything: its draft has nothing left to issue (无需印发)
    done = notices[0]
    with transaction(db) as s:
        open_ids = s.scalars(select(ProgressRequest.id).where(
            ProgressRequest.agency_id == done.agency_id, ProgressRequest.state == "open",
            ProgressRequest.id.in_(overdue[:5]))).all()
        record_reports(s, [ReportInput(request_id=i, status="in_progress", percent=10)
                           for i in open_ids], submitted_by="t", now=at("2017-04-18"))
    with db() as s:
        assert [n.id for n, *_ in notice_list(s, state="empty")] == [done.id]
        assert done.id not in {n.id for n, *_ in notice_list(s, state="draft")}
        assert len(notice_list(s, state="draft")) == len(notices) - 1


def test_escalate_now_to_the_supervision_rung_drafts_its_notice(db, plan, overdue, policy):
    with transaction(db) as s:
        escalate_now(s, overdue[0], actor="t", now=at("2017-04-13"), policy=policy)
        agency = s.get_one(ProgressRequest, overdue[0]).agency_id
    with db() as s:
        (notice,) = s.scalars(select(SupervisionNotice)).all()
        assert (notice.agency_id, notice.effective_on) == (agency, D("2017-04-13"))


def test_one_sequence_per_office_and_year_shared_by_both_kinds(db, plan, overdue, policy):
    _sweep(db, plan, policy, "2017-04-17")
    _sweep(db, plan, policy, "2017-04-24")
    with db() as s:
        notice_ids = s.scalars(select(SupervisionNotice.id).order_by(SupervisionNotice.id)).all()
        circular_id = s.scalars(select(Circular.id)).one()
    numbers = []
    with transaction(db) as s:
        numbers.append(issue_notice(s, notice_ids[0], issued_by="张科长", now=at("2017-04-25"),
                                    policy=policy))
    with transaction(db) as s:
        sign_off(s, circular_id, signed_by="张科长", now=at("2017-04-25"), policy=policy)
    with transaction(db) as s:
        numbers.append(s.get_one(Circular, circular_id).number)
        numbers.append(issue_notice(s, notice_ids[1], issued_by="张科长", now=at("2017-04-26"),
                                    policy=policy))
    assert numbers == ["督查〔2017〕1号", "督查〔2017〕2号", "督查〔2017〕3号"]
    with transaction(db) as s, pytest.raises(NoticeError, match="已印发"):
        issue_notice(s, notice_ids[0], issued_by="张科长", now=at("2017-04-26"), policy=policy)
    # the office picks a serial its register gave out: a taken one is refused, naming its holder
    with transaction(db) as s, pytest.raises(WordingError, match=r"文号序号：2 已被使用（督查〔2017〕2号）"):
        edit_notice(s, notice_ids[2], Edits(serial="2"), actor="张科长", now=at("2017-04-26"),
                    policy=policy)
    with transaction(db) as s:
        edit_notice(s, notice_ids[2], Edits(serial="１２"), actor="张科长", now=at("2017-04-26"),
                    policy=policy)
    with transaction(db) as s:
        assert notice_view(s, notice_ids[2], policy=policy, now=at("2017-04-26")).number == (
            "督查〔2017〕12号")
        assert issue_notice(s, notice_ids[2], issued_by="张科长", now=at("2017-04-26"),
                            policy=policy) == "督查〔2017〕12号"
    with transaction(db) as s:  # the next free one follows the highest; a new year starts at 1
        assert assign(s, office="号:督查", config=OfficeDocuments(),
                      on=D("2017-12-31"), kind="circular", document_id=999, serial=None,
                      actor="t", now=at("2017-12-31")) == "督查〔2017〕13号"
        assert assign(s, office="号:督查", config=OfficeDocuments(),
                      on=D("2018-01-02"), kind="circular", document_id=1000, serial=None,
                      actor="t", now=at("2018-01-02")) == "督查〔2018〕1号"
        with pytest.raises(NumberError, match="已由督办通知单"):
            assign(s, office="号:督查", config=OfficeDocuments(),
                   on=D("2017-05-01"), kind="circular", document_id=1001, serial=12,
                   actor="t", now=at("2017-05-01"))
    with db() as s:
        rows = s.execute(select(DocumentNumber.year, DocumentNumber.serial)
                         .order_by(DocumentNumber.year, DocumentNumber.serial)).all()
        assert rows == [(2017, 1), (2017, 2), (2017, 3), (2017, 12), (2017, 13), (2018, 1)]
        # the issued file is kept: the download is the file as issued
        kept = s.get_one(SupervisionNotice, notice_ids[0]).document
        assert kept is not None and kept[:2] == b"PK"


def test_number_formats_and_the_office_settings():
    tj = OfficeDocuments(prefix="津政督", mark="天津市人民政府督查室")
    assert format_number(tj, 2017, 3) == "津政督〔2017〕3号"
    assert format_number(OfficeDocuments(style="期"), 2017, 3) == "2017年第3期"
    with pytest.raises(ValueError, match="机关代字不含括号和数字"):  # SettingsError
        OfficeDocuments(prefix="津政督〔")
    assert full_office_name("天津市人民政府", "市政府督查室") == "天津市人民政府督查室"
    assert full_office_name("天津市人民政府", "市绩效办") == "天津市绩效办"
    assert full_office_name("天津市人民政府", "天津市人民政府督查室") == "天津市人民政府督查室"
    rules = Rules(documents=DocumentRules(offices={"市政府督查室": tj}))
    assert rules.documents.for_office("市政府督查室").prefix == "津政督"
    assert rules.documents.for_office("区督查室").prefix == "督查"


def test_items_in_natural_order_grouped_by_agency_with_counts():
    items = [dict(request_id=i, agency_id=a, agency=n, code=c, period="2017Q1",
                  due_on="2017-04-10", title="", role="牵头")
             for i, (a, n, c) in enumerate([(2, "乙", "2.10.1"), (1, "甲", "1.1"),
                                            (2, "乙", "2.2.1"), (3, "丙", "I10"),
                                            (2, "乙", "2.2"), (3, "丙", "I2")])]
    assert [(i["agency"], i["code"]) for i in ordered(items)] == [
        ("乙", "2.2"), ("乙", "2.2.1"), ("乙", "2.10.1"), ("丙", "I2"), ("丙", "I10"),
        ("甲", "1.1")]
    c = counts(items)
    assert (c.items, c.agencies, c.by_agency) == (6, 3, [("乙", 3), ("丙", 2), ("甲", 1)])
    assert default_addressees(c) == ["乙", "丙", "甲"]
    many = counts([dict(i, agency_id=n, agency=f"单位{n}") for n, i in enumerate(items * 2)])
    assert many.agencies == 12 and default_addressees(many) == ["各有关单位"]
    groups = annex_groups([dict(items[0], role="区"), dict(items[2], role="指标")])
    assert [g.rows for g in groups] == [[
        ["1", "2.2.1", "", "指标", "2017年4月10日"],
        ["2", "2.10.1", "", "属地", "2017年4月10日"]]]


def test_the_office_edits_a_draft_circular_and_signs_what_it_sees(db, plan, overdue, policy):
    per_agency = _open_agencies(db, overdue)
    _sweep(db, plan, policy, "2017-04-17")
    _sweep(db, plan, policy, "2017-04-24")
    now = at("2017-04-24", 10)
    with db() as s:
        circular = s.scalars(select(Circular)).one()
        view = circular_view(s, circular.id, policy=policy, now=now)
    assert (view.counts.items, view.counts.agencies) == (5, len(per_agency))
    assert view.document.item_count == 5 and view.document.draft
    assert view.document.body[0].endswith(
        f"截至2017年4月24日，{len(per_agency)}个单位共5项任务逾期10个工作日以上仍未报送进展情况，"
        "经催办、督办仍未落实，现予通报。")
    assert view.addressees == [name for name, _ in view.counts.by_agency]  # at most five
    first = view.items[0]
    # every problem at once, each naming its field; nothing stored
    with transaction(db) as s, pytest.raises(WordingError) as refused:
        edit_circular(s, circular.id, Edits(serial="第3", body="截至{日期}，共{事项数}项。",
                                            drop=(first["request_id"],)),
                      actor="张科长", now=now, policy=policy)
    assert refused.value.message.split("；") == [
        "文号序号：文号序号应为 1 至 99999 的整数，不加“第”和前导零：“第3”",
        "正文中的“{日期}”不是可用的占位符（可用：{规划名称}、{督查室}、{截止日期}、{事项数}、"
        "{单位数}、{单位明细}）",
        "不列入的事项须填写理由"]
    with db() as s:
        assert s.get_one(Circular, circular.id).excluded is None
    with transaction(db) as s:
        edit_circular(s, circular.id, Edits(
            serial="7", title="关于部分单位逾期未报送规划实施进展情况的通报",
            addressees="各区人民政府\n市各有关部门", cc="市政府办公厅",
            body="截至{截止日期}，{单位数}个单位共{事项数}项任务逾期未报送。\n请立即报送。",
            drop=(first["request_id"],), reason="该单位已书面说明，经领导同意暂缓通报"),
            actor="张科长", now=now, policy=policy)
    with db() as s:
        view = circular_view(s, circular.id, policy=policy, now=now)
    left = 4
    agencies = len(per_agency) - (1 if per_agency[first["agency_id"]] == 1 else 0)
    assert (view.counts.items, view.counts.agencies) == (left, agencies)
    assert view.document.item_count == left
    assert view.document.body == [
        f"截至2017年4月24日，{agencies}个单位共{left}项任务逾期未报送。", "请立即报送。"]
    assert view.document.addressees == ["各区人民政府", "市各有关部门"]
    assert view.document.cc == ["市政府办公厅"]
    assert view.number == "督查〔2017〕7号"
    assert [e["reason"] for e in view.excluded] == ["该单位已书面说明，经领导同意暂缓通报"]
    assert first["request_id"] not in {i["request_id"] for i in view.items}
    with transaction(db) as s:
        sign_off(s, circular.id, signed_by="张科长", now=at("2017-04-25"), policy=policy)
    with db() as s:
        signed = s.get_one(Circular, circular.id)
        assert (signed.state, signed.number, len(signed.items)) == (
            CircularState.SIGNED, "督查〔2017〕7号", left)
        assert signed.title == "关于部分单位逾期未报送规划实施进展情况的通报"
        kept = circular_docx(s, circular.id, policy=policy, now=at("2017-06-01"))
        assert kept == signed.document
        view = circular_view(s, circular.id, policy=policy, now=at("2017-06-01"))
        assert view.document.date == D("2017-04-25") and not view.editable
    with transaction(db) as s, pytest.raises(CircularError, match="已签发，不能再修改"):
        edit_circular(s, circular.id, Edits(), actor="张科长", now=now, policy=policy)


def test_a_restored_item_comes_back_and_everything_dropped_is_refused(db, plan, overdue, policy):
    _sweep(db, plan, policy, "2017-04-17")
    _sweep(db, plan, policy, "2017-04-24")
    now = at("2017-04-24", 10)
    with db() as s:
        circular = s.scalars(select(Circular)).one()
        ids = [i["request_id"] for i in circular_view(s, circular.id, policy=policy, now=now).items]
    with transaction(db) as s, pytest.raises(WordingError, match="不能将全部事项不列入"):
        edit_circular(s, circular.id, Edits(drop=tuple(ids), reason="x"), actor="t", now=now,
                      policy=policy)
    with transaction(db) as s:
        edit_circular(s, circular.id, Edits(drop=(ids[1],), reason="已说明"), actor="t",
                      now=now, policy=policy)
    with transaction(db) as s:
        edit_circular(s, circular.id, Edits(restore=(ids[1],)), actor="t", now=now,
                      policy=policy)
    with db() as s:
        view = circular_view(s, circular.id, policy=policy, now=now)
        assert [i["request_id"] for i in view.items] == ids and view.excluded == []


def test_a_configured_office_prints_its_own_mark_and_number(db, plan, overdue, policy):
    tianjin = Policy(Rules(documents=DocumentRules(offices={"市政府督查室": OfficeDocuments(
        prefix="津政督", mark="天津市人民政府督查室", printer="天津市人民政府办公厅",
        cc=("市政府办公厅",))})), policy.calendar)
    _sweep(db, plan, tianjin, "2017-04-17")
    with db() as s:
        notice = s.scalars(select(SupervisionNotice).order_by(SupervisionNotice.id)).first()
        doc = notice_view(s, notice.id, policy=tianjin, now=at("2017-04-18")).document
    assert (doc.issuer_mark, doc.signature, doc.printer, doc.cc, doc.number) == (
        "天津市人民政府督查室", "天津市人民政府督查室", "天津市人民政府办公厅", ["市政府办公厅"],
        "津政督〔2017〕1号")
    assert (doc.date, doc.printed_on) == (D("2017-04-18"), D("2017-04-18"))
