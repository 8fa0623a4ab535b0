"""Executive meetings recorded by the governments' liaisons with their minutes, confirmed
or returned by the office; compliance counts confirmed ones only (issue 11, item 4)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select

from notifications.channels.file import FileChannel
from notifications.dispatch import dispatch
from tests.conftest import at
from tracker.annual.meeting_records import (
    MeetingFormError,
    MeetingInput,
    Minutes,
    board_meetings,
    confirm_meeting,
    correct_meeting,
    link_meetings,
    recordable,
    return_meeting,
    submit_meeting,
)
from tracker.annual.meetings import (
    compliant_governments,
    meeting_counts,
    meeting_duty,
    meeting_table,
    record_findings,
)
from tracker.dates.periods import ensure_periods
from tracker.db import transaction
from tracker.enums import ChannelKind, MeetingState, MessageKind, OutboxStatus
from tracker.errors import Conflict, Forbidden
from tracker.models import Agency, AuditEvent, ExecutiveMeeting, MeetingCompliance, OutboxMessage

CITY = "天津市人民政府"
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def _agency(db, name: str) -> int:  # type: ignore[no-untyped-def]
    with db() as s:
        return s.scalar(select(Agency.id).where(Agency.name == name))


def _typed(government: str, held_on: str, name: str = "和平区人民政府第23次常务会议",
           decisions: str = "研究推进残疾人小康进程工作，明确责任分工。") -> MeetingInput:
    return MeetingInput(government=government, held_on=held_on, name=name, decisions=decisions)


def _submit(s, home: Path, agencies, plan, government, held_on, now, **kw):  # type: ignore[no-untyped-def]
    return submit_meeting(s, home, agencies=agencies,
                          typed=_typed(f"{plan.id}:{government}", held_on, **kw),
                          minutes=Minutes("纪要.pdf", PDF), recorded_by="liaison:1",
                          now=now)


def test_who_records_for_which_government(db, plan):
    heping, cdpf, civil = (_agency(db, n) for n in ("和平区人民政府", "市残联", "市民政局"))
    with db() as s:
        assert [g.name for g in recordable(s, [heping])] == ["和平区人民政府"]
        # the plan's own government is recorded by its meeting contact, 市残联
        assert [g.name for g in recordable(s, [cdpf])] == [CITY]
        assert [g.name for g in recordable(s, [cdpf, heping])] == [CITY, "和平区人民政府"]
        assert recordable(s, [civil]) == []


def test_liaison_records_office_confirms_only_confirmed_count(db, plan, policy, tmp_path):
    heping, hedong = _agency(db, "和平区人民政府"), _agency(db, "河东区人民政府")
    with transaction(db) as s:
        m = _submit(s, tmp_path, [heping], plan, "和平区人民政府", "2017-09-20",
                    at("2017-09-21", 10))
        mid = m.id
        assert m.state == MeetingState.PENDING
        assert (tmp_path / "evidence" / m.minutes_sha256[:2] / m.minutes_sha256).read_bytes() == PDF
        assert (m.minutes_filename, m.minutes_media_type, m.minutes_size) == (
            "纪要.pdf", "application/pdf", len(PDF))
        # pending: not counted, and no reminder to a government that has recorded one
        assert meeting_counts(s, plan, 2017) == {}
        assert meeting_duty(s, plan, at("2017-09-30"), policy).reminders == 16
    with transaction(db) as s:
        # the liaison corrects it while pending: the name changes, the file is kept
        submit_meeting(s, tmp_path, agencies=[heping],
                       typed=_typed("", "2017-09-19", name="和平区人民政府第24次常务会议"),
                       minutes=None, recorded_by="liaison:1", now=at("2017-09-22", 10),
                       meeting_id=mid)
        confirm_meeting(s, mid, by="user:duchashi", now=at("2017-09-25", 10))
        assert meeting_counts(s, plan, 2017) == {"和平区人民政府": 1}
        with pytest.raises(Conflict):  # confirmed: the liaison can no longer change it
            submit_meeting(s, tmp_path, agencies=[heping], typed=_typed("", "2017-09-19"),
                           minutes=None, recorded_by="liaison:1", now=at("2017-09-26"),
                           meeting_id=mid)
        with pytest.raises(Forbidden):  # another district's liaison
            submit_meeting(s, tmp_path, agencies=[hedong],
                           typed=_typed("", "2017-09-19"), minutes=None,
                           recorded_by="liaison:2", now=at("2017-09-26"), meeting_id=mid)
    with db() as s:
        m = s.get_one(ExecutiveMeeting, mid)
        assert (m.held_on, m.name, m.state, m.decided_by) == (
            dt.date(2017, 9, 19), "和平区人民政府第24次常务会议", MeetingState.CONFIRMED,
            "user:duchashi")
        actions = s.scalars(select(AuditEvent.action).where(
            AuditEvent.object_type == "executive_meeting").order_by(AuditEvent.id)).all()
        assert actions == ["meeting.submit", "meeting.correct", "meeting.confirm"]
        assert [r.state for r in link_meetings(s, [heping])] == [MeetingState.CONFIRMED]


def test_a_form_with_faults_names_every_field_and_writes_nothing(db, plan, tmp_path):
    heping = _agency(db, "和平区人民政府")
    with transaction(db) as s:
        with pytest.raises(MeetingFormError) as caught:
            submit_meeting(s, tmp_path, agencies=[heping],
                           typed=_typed(f"{plan.id}:和平区人民政府", "2017-10-01", name=" ",
                                        decisions=""),
                           minutes=None, recorded_by="liaison:1", now=at("2017-09-21"))
        assert caught.value.fields == [
            ("held_on", "会议日期：2017年10月1日晚于今天（2017年9月21日），请填写已召开会议的日期"),
            ("name", "会议名称及届次：请填写，例如“和平区人民政府第23次常务会议”"),
            ("decisions", "研究决定事项：请填写会议研究决定的事项"),
            ("minutes", "会议纪要：请上传会议纪要（PDF、Word、图片或 OFD 文件）"),
        ]
        with pytest.raises(MeetingFormError) as caught:
            submit_meeting(s, tmp_path, agencies=[heping],
                           typed=_typed(f"{plan.id}:和平区人民政府", "2015-12-30"),
                           minutes=Minutes("纪要.exe", b"MZ\x90"), recorded_by="liaison:1",
                           now=at("2017-09-21"))
        assert [name for name, _ in caught.value.fields] == ["held_on", "minutes"]
        assert caught.value.fields[0][1] == "会议日期：2015年12月30日早于规划期（2016年起）"
        assert caught.value.fields[1][1].startswith("会议纪要：不支持的文件类型 .exe")
        with pytest.raises(MeetingFormError) as caught:
            submit_meeting(s, tmp_path, agencies=[heping],
                           typed=_typed(f"{plan.id}:和平区人民政府", "2017-9-2"),
                           minutes=Minutes("纪要.pdf", b"not a pdf"), recorded_by="liaison:1",
                           now=at("2017-09-21"))
        assert caught.value.fields == [
            ("held_on", "会议日期：请按“年-月-日”填写有效日期，例如 2017-09-20"),
            ("minutes", "会议纪要：文件内容与扩展名 .pdf 不符")]
    with db() as s:
        assert s.scalar(select(func.count()).select_from(ExecutiveMeeting)) == 0
    assert not (tmp_path / "evidence").exists()


def test_returned_meeting_notice_and_resubmission(db, plan, policy, tmp_path):
    cdpf = _agency(db, "市残联")
    with transaction(db) as s:
        mid = _submit(s, tmp_path, [cdpf], plan, CITY, "2020-11-10", at("2020-11-12", 10),
                      name="天津市人民政府第100次常务会议").id
    with transaction(db) as s:
        with pytest.raises(MeetingFormError) as caught:
            return_meeting(s, mid, reason="  ", by="user:duchashi", now=at("2020-11-15", 10),
                           policy=policy)
        assert caught.value.fields == [
            ("reason", "退回理由：请填写退回理由，告知联络员需要修改什么")]
        # returned on Sunday 15 November 2020 (a rest day)
        return_meeting(s, mid, reason="会议纪要缺第2页", by="user:duchashi",
                       now=at("2020-11-15", 10), policy=policy)
        with pytest.raises(Conflict):
            confirm_meeting(s, mid, by="user:duchashi", now=at("2020-11-15", 11))
    with db() as s:
        rows = s.scalars(select(OutboxMessage).where(
            OutboxMessage.kind == MessageKind.MEETING_RETURNED.value)).all()
        assert [(r.recipient_name, r.payload["reason"]) for r in rows] == [
            ("市残联联络员", "会议纪要缺第2页")]
    # the notice never goes out on the rest day: the dispatcher keeps it for Monday
    sent = tmp_path / "sent"
    def link_for(contact):  # type: ignore[no-untyped-def]
        return f"http://testserver/l/{contact.id}"

    quiet = dispatch(db, {ChannelKind.EMAIL: FileChannel(sent)}, now=at("2020-11-15", 10, 5),
                     calendar=policy.calendar, link_for=link_for)
    assert quiet.quiet and not sent.exists()
    dispatch(db, {ChannelKind.EMAIL: FileChannel(sent)}, now=at("2020-11-16", 9),
             calendar=policy.calendar, link_for=link_for)
    with db() as s:
        assert s.scalars(select(OutboxMessage.status).where(
            OutboxMessage.kind == MessageKind.MEETING_RETURNED.value)).all() == [
            OutboxStatus.SENT]
    import email

    mail = email.message_from_bytes(next(sent.glob("*.eml")).read_bytes(),
                                     policy=email.policy.default)
    assert str(mail["Subject"]) == ("【会议提醒】《天津市“十三五”加快残疾人小康进程规划纲要》"
                                    "天津市人民政府常务会议记录被退回，请修改后重新报送")
    body = mail.get_content()
    assert ("你单位报送的天津市人民政府“天津市人民政府第100次常务会议”（2020年11月10日召开）会议"
            "记录，经市政府督查室审核退回，退回理由：会议纪要缺第2页。") in body
    assert "在线填报" in body and "http://testserver/l/" in body  # the link to correct it
    with transaction(db) as s:  # corrected: waiting for the office again
        m = submit_meeting(s, tmp_path, agencies=[cdpf], typed=_typed("", "2020-11-10"),
                           minutes=Minutes("纪要（全）.pdf", PDF + b"2"),
                           recorded_by="liaison:1", now=at("2020-11-16", 10), meeting_id=mid)
        assert (m.state, m.minutes_filename) == (MeetingState.PENDING, "纪要（全）.pdf")


def test_warning_of_a_sunday_goes_out_on_the_friday_before(db, plan, policy):
    with transaction(db) as s:
        ensure_periods(s, plan, 2020, policy.rules, policy.calendar)
        # 15 November 2020 is a Sunday: the warning goes out on Friday 13 November
        assert meeting_duty(s, plan, at("2020-11-12"), policy).warnings == 0
        assert meeting_duty(s, plan, at("2020-11-13"), policy).warnings == 34
        assert meeting_duty(s, plan, at("2020-11-15"), policy).warnings == 0  # once


def test_december_meeting_confirmed_in_january_counts(db, plan, policy, tmp_path):
    hexi = _agency(db, "河西区人民政府")
    with transaction(db) as s:
        ensure_periods(s, plan, 2017, policy.rules, policy.calendar)
        mid = _submit(s, tmp_path, [hexi], plan, "河西区人民政府", "2017-12-27",
                      at("2017-12-28"), name="河西区人民政府第9次常务会议").id
        assert meeting_duty(s, plan, at("2018-01-05"), policy).findings == 0
        assert compliant_governments(s, plan, 2017)["河西区人民政府"] is None
        confirm_meeting(s, mid, by="user:duchashi", now=at("2018-01-10"))
        assert meeting_duty(s, plan, at("2018-02-11"), policy).findings == 17
        # idempotent, and a meeting confirmed after the finding does not change it
        assert record_findings(s, plan, 2017, at("2018-02-12")) == 0
    with db() as s:
        found = compliant_governments(s, plan, 2017)
        assert found["河西区人民政府"] is True and found["和平区人民政府"] is False
        assert sum(1 for v in found.values() if v) == 1 and len(found) == 17
        assert s.scalar(select(MeetingCompliance.meetings).where(
            MeetingCompliance.government == "河西区人民政府")) == 1


def test_meeting_table_rows(db, plan, policy, tmp_path):
    heping, hedong, cdpf = (_agency(db, n) for n in ("和平区人民政府", "河东区人民政府", "市残联"))
    with transaction(db) as s:
        a = _submit(s, tmp_path, [cdpf], plan, CITY, "2017-11-02", at("2017-11-03"),
                    name="市政府第20次常务会议").id
        b = _submit(s, tmp_path, [cdpf], plan, CITY, "2017-03-08", at("2017-03-09"),
                    name="市政府第5次常务会议").id
        _submit(s, tmp_path, [cdpf], plan, CITY, "2016-12-01", at("2016-12-02"),
                name="市政府第90次常务会议")  # another year
        _submit(s, tmp_path, [heping], plan, "和平区人民政府", "2017-06-01", at("2017-06-02"))
        c = _submit(s, tmp_path, [hedong], plan, "河东区人民政府", "2017-06-05",
                    at("2017-06-06"), name="河东区人民政府第7次常务会议").id
        for mid in (a, b):
            confirm_meeting(s, mid, by="user:duchashi", now=at("2017-11-06"))
        return_meeting(s, c, reason="缺纪要", by="user:duchashi", now=at("2017-11-06"),
                       policy=policy)
        table = meeting_table(s, plan, 2017)
    assert list(table.columns) == ["政府", "会议次数", "会议日期", "会议名称及届次", "状态", "是否履职"]
    assert len(table) == 17
    expected = pd.DataFrame([
        [CITY, 2, "2017年3月8日、2017年11月2日", "市政府第5次常务会议、市政府第20次常务会议",
         "已确认", "未认定"],
        ["和平区人民政府", 0, "", "", "待确认", "未认定"],
        ["河东区人民政府", 0, "", "", "已退回", "未认定"],
        ["河西区人民政府", 0, "", "", "未召开", "未认定"],
    ], columns=table.columns).astype({"会议次数": "int64"})
    pd.testing.assert_frame_equal(table.head(4), expected)
    assert set(table["状态"][4:]) == {"未召开"}
    with transaction(db) as s:
        record_findings(s, plan, 2017, at("2018-02-11"))
        after = meeting_table(s, plan, 2017)
        assert after["是否履职"].tolist() == ["是"] + ["否"] * 16
        assert compliant_governments(s, plan, 2017)[CITY] is True
        # correcting a record is audited with before and after
        correct_meeting(s, tmp_path, b, typed=_typed("", "2017-03-09", name="市政府第6次常务会议"),
                        minutes=None, by="user:duchashi", now=at("2018-02-12"))
        detail = s.scalars(select(AuditEvent.detail).where(
            AuditEvent.action == "meeting.office_correct")).one()
        assert (detail["before"]["name"], detail["after"]["name"]) == (
            "市政府第5次常务会议", "市政府第6次常务会议")
        assert detail["after"]["held_on"] == "2017-03-09"


def test_board_mark(db, plan, policy, tmp_path):
    heping = _agency(db, "和平区人民政府")
    with transaction(db) as s:
        _submit(s, tmp_path, [heping], plan, "和平区人民政府", "2017-06-01", at("2017-06-02"))
        now = board_meetings(s, plan, dt.date(2017, 10, 9))
        assert now is not None
        assert (now.year, now.confirmed, now.pending, len(now.none)) == (2017, 0, 1, 16)
        assert now.last_year is None  # 2016 was never tracked: no mark for it
        ensure_periods(s, plan, 2017, policy.rules, policy.calendar)
        before = board_meetings(s, plan, dt.date(2018, 1, 15))
        assert before is not None and (before.last_year, before.last_found) == (2017, False)
        assert len(before.unmet) == 17  # the pending one is no confirmed meeting
        assert "和平区人民政府" not in now.none and now.none[0] == CITY
        record_findings(s, plan, 2017, at("2018-02-11"))
        later = board_meetings(s, plan, dt.date(2018, 3, 1))
        assert later is not None
        assert (later.year, later.last_year, later.last_found) == (2018, 2017, True)
        assert len(later.unmet) == 17 and later.unmet[0] == CITY
