"""What each notice says (issue 8, "What a notice says"), read back from the outbox rows the
services write: one digest per recipient and kind, its subject, the lines that name the
plan, the measure, the agency and role, the Chinese dates, the sender and the contact."""

from __future__ import annotations

import datetime as dt
import email
from email import policy as email_policy
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from notifications.channels import Digest, EmailChannel
from notifications.render import NoticeConfig, message_rows, render_digests
from tests.conftest import at
from tests.notifications.notice_scenario import every_kind
from tracker.dates.workdays import start_of_day
from tracker.models import Contact, OutboxMessage
from tracker.policy import Policy

PLAN = "《天津市残疾人就业促进三年行动方案》"
DESK = "https://tracker.example.gov.cn"


def _render(db: sessionmaker[Session], policy: Policy, days: list[str], now: dt.datetime,
            config: NoticeConfig | None = None) -> list[tuple[object, Digest | Exception, list[int]]]:
    """Render the messages queued on `days` (Asia/Shanghai) as one dispatcher run at `now`."""
    with db() as s:
        ids = [i for d in days for i in s.scalars(select(OutboxMessage.id).where(
            OutboxMessage.created_at >= start_of_day(dt.date.fromisoformat(d)),
            OutboxMessage.created_at < start_of_day(dt.date.fromisoformat(d) + dt.timedelta(1))))]
        return render_digests(message_rows(s, ids), now=now, calendar=policy.calendar,
                              link_for=lambda c: f"{DESK}/l/{c.id}",
                              config=config or NoticeConfig(base_url=DESK))


def _by_name(digests) -> dict[tuple[str, str], Digest]:  # type: ignore[no-untyped-def]
    out: dict[tuple[str, str], Digest] = {}
    for _, d, _ids in digests:
        assert isinstance(d, Digest), d
        assert (d.recipient_name, d.kind) not in out  # one digest per recipient and kind
        out[(d.recipient_name, d.kind)] = d
    return out


def _lines(d: Digest) -> list[str]:
    return d.body.splitlines()


@pytest.fixture
def scenario(db, small, policy):  # type: ignore[no-untyped-def]
    facts = every_kind(db, small, policy)
    with db() as s:
        office = s.scalars(select(Contact).where(Contact.name == "市政府督查室联络员")).one()
        facts["contact_line"] = f"联系人：市政府督查室联络员　电子邮箱：{office.email}"
    return facts


def _ends_with_sender_and_contact(d: Digest, day: str, contact_line: str) -> None:
    lines = _lines(d)
    at_sender = lines.index("市政府督查室")
    assert lines[at_sender + 1] == day
    assert contact_line in lines[at_sender + 2:]
    assert lines[-1] == "（本通知由规划纲要督查督办系统发送，请勿直接回复本邮件。）"


def test_progress_request(db, policy, scenario):
    d = _by_name(_render(db, policy, ["2017-03-17"], at("2017-03-17", 9)))
    # (the rows are read as they stand when rendered: 河东区's due day never moved)
    notice = d[("河东区人民政府联络员", "request")]
    assert notice.subject == f"【报送通知】{PLAN}2项任务请于2017年4月10日前报送进展情况"
    lines = _lines(notice)
    assert lines[0] == "河东区人民政府联络员："
    assert lines[2] == (f"根据{PLAN}实施工作安排，请你单位于2017年4月10日前报送下列2项任务的进展情况"
                        "（工作进展、存在问题、下一步打算，并附佐证材料）。逾期未报送的，将按规定催办、督办。")
    assert lines[lines.index(f"1. {PLAN}1 落实按比例安排残疾人就业制度") + 1] == (
        "   责任单位：河东区人民政府（属地责任单位）　报送期：2017年第一季度　截止日期：2017年4月10日")
    assert lines[lines.index(f"2. {PLAN}3 开展残疾人职业技能培训") + 1] == (
        "   责任单位：河东区人民政府（属地责任单位）　报送期：2017年第一季度　截止日期：2017年4月10日")
    other = d[("市残联联络员", "request")]  # one item extended since: the earliest due day
    assert other.subject == (f"【报送通知】{PLAN}2项任务请按期报送进展情况"
                             "（最早于2017年4月10日截止）")
    assert "   责任单位：市残联（配合单位）　报送期：2017年第一季度　截止日期：2017年4月10日" in (
        _lines(other))
    assert "在线填报（无需密码，仅限本单位联络员使用，请勿转发）：" in lines
    assert any(line.startswith(f"{DESK}/l/") for line in lines)
    _ends_with_sender_and_contact(notice, "2017年3月17日", scenario["contact_line"])
    assert len(d) == 6  # the liaisons of the six agencies with assignments, one each
    assert all(k == "request" for _, k in d)


def test_pre_due_reminder_names_the_due_day(db, policy, scenario):
    d = _by_name(_render(db, policy, ["2017-04-05"], at("2017-04-05", 9)))
    notice = d[("市残联联络员", "pre_due")]
    assert notice.subject == f"【临期提醒】{PLAN}1项任务将于2017年4月10日截止报送，请按时报送进展情况"
    # 3. is held by its pending extension request; 市民政局 answered: neither is reminded
    assert f"1. {PLAN}2 扶持残疾人自主创业" in _lines(notice)
    assert "3 开展残疾人职业技能培训" not in notice.body
    assert ("市民政局联络员", "pre_due") not in d
    assert {k for _, k in d} == {"pre_due"}


def test_extension_returned_and_waived(db, policy, scenario):
    d = _by_name(_render(db, policy, ["2017-04-06", "2017-04-07"], at("2017-04-07", 9)))
    ext = d[("市残联联络员", "extension")]
    assert ext.subject == f"【延期审批结果】{PLAN}1项任务的延期申请已审批"
    lines = _lines(ext)
    assert lines[lines.index(f"1. {PLAN}3 开展残疾人职业技能培训") + 1:][:3] == [
        "   责任单位：市残联（牵头单位）　报送期：2017年第一季度　截止日期：2017年4月20日",
        "   审批结果：同意延期，截止日期由2017年4月10日调整为2017年4月20日。",
        "   审批意见：同意，请按新期限报送"]
    returned = d[("市民政局联络员", "returned")]
    assert returned.subject == f"【退回修改】{PLAN}1项任务的进展情况被退回，请修改后重新报送"
    assert "   退回意见（第1版）：请补充资金落实情况" in _lines(returned)
    assert "   请于2017年4月12日前修改后重新报送。" in _lines(returned)
    waived = d[("和平区人民政府联络员", "waived")]
    assert waived.subject == f"【免报】{PLAN}1项任务本期免予报送进展情况"
    assert _lines(waived)[_lines(waived).index(f"1. {PLAN}1 落实按比例安排残疾人就业制度") + 1:][:2] == [
        "   责任单位：和平区人民政府（属地责任单位）　报送期：2017年第一季度　截止日期：2017年4月10日",
        "   免报理由：该区本季度无此项工作"]
    for notice in (ext, returned, waived):
        _ends_with_sender_and_contact(notice, "2017年4月7日", scenario["contact_line"])
        assert "请求编号" not in notice.body  # never an internal id


def test_reminder_counts_working_days_overdue(db, policy, scenario):
    d = _by_name(_render(db, policy, ["2017-04-11"], at("2017-04-12", 9)))
    notice = d[("河东区人民政府联络员", "reminder")]
    assert notice.subject == f"【催办】{PLAN}2项任务逾期未报送进展情况"
    lines = _lines(notice)
    for n, measure in ((1, "1 落实按比例安排残疾人就业制度"), (2, "3 开展残疾人职业技能培训")):
        assert lines[lines.index(f"{n}. {PLAN}{measure}") + 1] == (
            "   责任单位：河东区人民政府（属地责任单位）　报送期：2017年第一季度　"
            "截止日期：2017年4月10日　已逾期2个工作日")
    assert any(line.startswith(f"{DESK}/l/") for line in lines)  # the liaison answers here


def test_supervision_notice_and_the_office_copy_with_desk_links(db, policy, scenario):
    d = _by_name(_render(db, policy, ["2017-04-17"], at("2017-04-17", 9)))
    deputy = d[("河东区人民政府分管领导", "supervision")]
    assert deputy.subject == f"【督办】{PLAN}2项任务逾期未报送进展情况，请督促落实"
    assert "已逾期5个工作日" in deputy.body and f"{DESK}/l/" not in deputy.body  # no link
    copy = d[("市政府督查室联络员", "supervision")]
    assert copy.subject == f"【督办】（抄送）{PLAN}5个单位6项任务逾期未报送进展情况"
    lines = _lines(copy)
    with db() as s:
        wanted = s.scalars(select(OutboxMessage.request_id).where(
            OutboxMessage.is_copy.is_(True), OutboxMessage.level == 2,
            OutboxMessage.created_at >= start_of_day(dt.date(2017, 4, 17)),
            OutboxMessage.created_at < start_of_day(dt.date(2017, 4, 18)))).all()
    assert len(wanted) == 6
    assert sorted(line for line in lines if line.startswith("   查看详情：")) == sorted(
        f"   查看详情：{DESK}/desk/requests/{rid}" for rid in wanted)
    first = lines.index(f"1. {PLAN}1 落实按比例安排残疾人就业制度")
    assert lines[first + 1].startswith("   责任单位：")
    assert lines[first + 1].endswith("截止日期：2017年4月10日　已逾期5个工作日")


def test_circular_rung_to_the_office_and_the_signed_circular_attached(db, policy, scenario):
    d = _by_name(_render(db, policy, ["2017-04-24"], at("2017-04-24", 9)))
    draft = d[("市政府督查室联络员", "circular")]
    assert draft.subject == f"【通报】（待签发）{PLAN}5个单位6项任务拟予通报"
    assert "请在督查室工作台审核通报稿后签发。" in draft.body and not draft.attachments
    assert d[("市政府督查室联络员", "supervision")].subject == (  # the same run, its own digest
        f"【督办】（抄送）{PLAN}1个单位1项任务逾期未报送进展情况")
    d = _by_name(_render(db, policy, ["2017-04-25"], at("2017-04-25", 9)))
    title = "关于2017年4月24日逾期未报送进展情况的通报"
    for name in ("河东区人民政府联络员", "河东区人民政府分管领导"):
        notice = d[(name, "circular")]
        assert notice.subject == f"【通报】{PLAN}{title}"
        lines = _lines(notice)
        # its 文号 from the office's sequence (default 机关代字 督查, issue 12)
        assert lines[2].startswith(
            f"市政府督查室印发了《{title}》（督查〔2017〕1号）。你单位下列2项任务逾期未报送进展情况")
        assert lines[lines.index(f"1. {PLAN}1 落实按比例安排残疾人就业制度") + 1] == (
            "   责任单位：河东区人民政府（属地责任单位）　报送期：2017年第一季度　截止日期：2017年4月10日")
        assert [a.filename for a in notice.attachments] == [f"督查〔2017〕1号　{title}.docx"]
        assert notice.attachments[0].content[:2] == b"PK"
    assert len([k for k in d if k[1] == "circular"]) == 10  # 5 agencies × (liaison, deputy)


def test_meeting_reminder(db, policy, scenario):
    d = _by_name(_render(db, policy, ["2017-09-30"], at("2017-09-30", 9)))
    notice = d[("市残联联络员", "meeting")]
    assert notice.subject == f"【会议提醒】{PLAN}请安排2017年度政府常务会议研究实施工作"
    assert _lines(notice)[2] == (
        f"根据{PLAN}“政府常务会议每年至少研究一次”的要求，截至2017年9月30日，天津市人民政府"
        "尚未记录2017年度政府常务会议研究该规划实施工作的情况。请尽快安排研究，"
        "会后通过下方链接记录会议情况并上传会议纪要，报市政府督查室确认。")
    # the liaison records the meeting from the link (issue 11, item 4)
    assert f"{DESK}/l/" in notice.body
    assert {name for name, _ in d} == {"市残联联络员", "和平区人民政府联络员", "河东区人民政府联络员"}


def test_one_recipient_three_kinds_three_digests(db, policy, scenario):
    digests = _render(db, policy, ["2017-04-05", "2017-04-06", "2017-04-11"], at("2017-04-11", 9))
    mine = [(d.kind, len(ids)) for _, d, ids in digests
            if isinstance(d, Digest) and d.recipient_name == "市残联联络员"]
    assert sorted(mine) == [("extension", 1), ("pre_due", 1), ("reminder", 1)]
    ids = [tuple(sorted(i)) for _, d, i in digests]
    assert len(ids) == len(set(ids))  # every message in exactly one digest


def test_an_override_wins_and_a_broken_one_fails_only_its_digests(db, policy, scenario,
                                                                  tmp_path: Path):
    (tmp_path / "notices").mkdir()
    (tmp_path / "notices" / "reminder.txt.j2").write_text(
        '{% extends "notices/base.txt.j2" %}\n'
        "{% block subject %}【催办】请尽快报送（{{ items|length }}项）{% endblock %}\n"
        "{% block body %}本地模板：{{ items[0].subject }}\n{% endblock %}\n", encoding="utf-8")
    (tmp_path / "notices" / "supervision.txt.j2").write_text(
        '{% extends "notices/base.txt.j2" %}\n{% block subject %}【督办】{{ items|length }\n'
        "{% endblock %}", encoding="utf-8")
    config = NoticeConfig(base_url=DESK, templates_dir=tmp_path)
    digests = _render(db, policy, ["2017-04-17"], at("2017-04-17", 9), config=config)
    good = [d for _, d, _ in digests if isinstance(d, Digest)]
    broken = [d for _, d, _ in digests if isinstance(d, Exception)]
    reminder = next(d for d in good if d.kind == "reminder")
    assert reminder.subject == "【催办】请尽快报送（1项）"
    assert "本地模板：2 扶持残疾人自主创业" in reminder.body
    assert {d.kind for d in good} == {"reminder", "pre_due"}  # packaged pre_due still used
    assert len(broken) == 6  # the 督办 of 5 deputy heads and the office's copy
    assert str(broken[0]) == ("通知模板 notices/supervision.txt.j2 第 2 行语法错误："
                              "unexpected '}'")
    # an override naming a variable that does not exist fails the same way, in Chinese
    (tmp_path / "notices" / "supervision.txt.j2").write_text(
        '{% extends "notices/base.txt.j2" %}\n{% block subject %}{{ agency_name }}{% endblock %}',
        encoding="utf-8")
    digests = _render(db, policy, ["2017-04-17"], at("2017-04-17", 9), config=config)
    errors = {str(d) for _, d, _ in digests if isinstance(d, Exception)}
    assert errors == {"通知模板 notices/supervision.txt.j2 使用了未定义的变量"
                      "（'agency_name' is undefined）"}


def test_every_kind_as_email_decodes_exactly(db, policy, scenario):
    """Each kind built by the email channel, parsed back with Python's email package: the
    Chinese subject and names decode exactly as written, header lines stay within 78
    characters, the circular's .docx arrives with its Chinese file name."""
    builder = EmailChannel("127.0.0.1", 25, "tracker@example.org")
    seen: dict[str, Digest] = {}
    for day in ("2017-03-17", "2017-04-05", "2017-04-06", "2017-04-07", "2017-04-11",
                "2017-04-17", "2017-04-24", "2017-04-25", "2017-09-30"):
        for _, d, _ in _render(db, policy, [day], at(day, 9)):
            assert isinstance(d, Digest), d
            if d.kind not in seen or d.attachments:  # the signed circular, not the draft
                seen[d.kind] = d
    assert set(seen) == {"request", "pre_due", "reminder", "supervision", "circular",
                         "extension", "returned", "waived", "meeting"}
    for kind, digest in seen.items():
        raw = bytes(builder.build(digest))
        head = raw.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[0]
        assert all(len(line) <= 78 for line in head.splitlines()), kind
        msg = email.message_from_bytes(raw, policy=email_policy.default)
        assert msg["Subject"] == digest.subject
        assert msg["To"].addresses[0].display_name == digest.recipient_name
        body = msg.get_body(("plain",))
        assert body is not None and body.get_content() == digest.body
        files = [(a.get_filename(), a.get_content()) for a in msg.iter_attachments()]
        assert files == [(a.filename, a.content) for a in digest.attachments]
        # `pytest -s` shows every kind as a reader sees it
        print(f"\n===== {kind}\nSubject: {msg['Subject']}\nTo: {msg['To']}\n\n{body.get_content()}"
              + "".join(f"[附件] {name}\n" for name, _ in files))
    assert seen["circular"].attachments  # the 04-25 run's first circular digest is signed


def test_one_person_for_two_agencies_gets_one_digest_naming_each_agency(db, small, policy):
    """The same person is liaison of 和平区 and 河东区: one 报送通知 with the four items, each
    naming its agency and role; the link is made once, for the first answerable contact."""
    from sqlalchemy import update

    from tracker.db import transaction
    from tracker.requests.opening import open_due_requests

    with transaction(db) as s:
        s.execute(update(Contact).where(Contact.name.in_(["和平区人民政府联络员",
                                                          "河东区人民政府联络员"]))
                  .values(email="wang.fang@hp.tj.gov.cn", name="王芳"))
        open_due_requests(s, small, at("2017-03-17", 8), policy)
    calls: list[int] = []

    def link_for(contact: Contact) -> str:
        calls.append(contact.id)
        return f"{DESK}/l/{contact.id}"

    with db() as s:
        ids = list(s.scalars(select(OutboxMessage.id)))
        digests = render_digests(message_rows(s, ids), now=at("2017-03-17", 9),
                                 calendar=policy.calendar, link_for=link_for)
    hers = [d for _, d, _ in digests if isinstance(d, Digest) and d.recipient_name == "王芳"]
    assert len(hers) == 1 and len(calls) == len(digests) == 5  # six liaisons, two of them one person
    lines = _lines(hers[0])
    assert hers[0].subject == f"【报送通知】{PLAN}4项任务请于2017年4月10日前报送进展情况"
    details = [line for line in lines if line.startswith("   责任单位：")]
    assert sorted(details) == sorted(
        f"   责任单位：{agency}（属地责任单位）　报送期：2017年第一季度　截止日期：2017年4月10日"
        for agency in ("和平区人民政府", "和平区人民政府", "河东区人民政府", "河东区人民政府"))


def test_a_message_queued_by_the_previous_version_still_reads(db, small, policy):
    """Rows queued before this version carry their wording in payload["text"] (and a
    circular no id): they render with that wording under their kind's subject."""
    from tracker.db import transaction
    from tracker.enums import ChannelKind as CK
    from tracker.enums import MessageKind
    from tracker.models import Agency
    from tracker.outbox import enqueue_to_agency

    with transaction(db) as s:
        agency = s.scalars(select(Agency.id).where(Agency.name == "市财政局")).one()
        enqueue_to_agency(s, agency_id=agency, key_prefix="circ:old", now=at("2017-04-25"),
                          kind=MessageKind.CIRCULAR_ISSUED, channel=CK.EMAIL, plan_id=small.id,
                          payload={"text": "关于逾期未报送进展情况的通报：您单位1项任务被予以通报。"})
    with db() as s:
        digests = render_digests(message_rows(s, list(s.scalars(select(OutboxMessage.id)))),
                                 now=at("2017-04-25", 9), calendar=policy.calendar)
    [(_, d, _)] = digests
    assert isinstance(d, Digest)
    assert d.subject == f"【通报】{PLAN}逾期未报送进展情况的通报"
    assert _lines(d)[2] == "关于逾期未报送进展情况的通报：您单位1项任务被予以通报。"


@pytest.mark.parametrize("address", ["a16.liaison@example.org", "a6.liaison@example.org",
                                     "a1236.liaison@example.org"])
def test_header_lines_stay_within_78_characters(address):
    """CPython folds an encoded display name and an address of a certain length to 79
    characters; the email build keeps every header line within RFC 5322's 78."""
    digest = Digest(digest_id="0" * 32, address=address, recipient_name="和平区人民政府联络员",
                    subject="【免报】" + "很长的标题" * 12, body="正文",
                    date=dt.datetime(2017, 4, 7, tzinfo=dt.UTC))
    raw = bytes(EmailChannel("127.0.0.1", 25, "tracker@example.org").build(digest))
    head = raw.split(b"\n\n", 1)[0].replace(b"\r", b"")
    assert max(len(line) for line in head.splitlines()) <= 78
    msg = email.message_from_bytes(raw, policy=email_policy.default)
    assert msg["Subject"] == digest.subject
    assert (msg["To"].addresses[0].display_name, msg["To"].addresses[0].addr_spec) == (
        "和平区人民政府联络员", address)
