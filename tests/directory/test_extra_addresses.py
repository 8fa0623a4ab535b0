"""A contact with several addresses (issue 8, item 2): each gets the digest once, through the
real dispatcher and a loopback SMTP server; removing one, deactivating or replacing the
contact stays correct."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from notifications.channels import EmailChannel
from notifications.dispatch import claim, dispatch, drop_stale
from tests import smtp_server
from tests.conftest import at
from tracker.cli import app
from tracker.db import transaction
from tracker.directory.contacts import add_contact, deactivate_contact, replace_contact
from tracker.directory.extra_addresses import add_address, extra_addresses, remove_address
from tracker.enums import ChannelKind, ContactRole, MessageKind
from tracker.models import Agency, Contact, ContactAddress, OutboxMessage, ProgressRequest
from tracker.outbox import enqueue_for_requests, enqueue_to_agency
from tracker.requests.opening import open_due_requests

run = CliRunner().invoke
DESK = "https://desk.example.org"
HOME = "cl.home@example.net"


@pytest.fixture
def smtp():  # type: ignore[no-untyped-def]
    controller, recorder = smtp_server.start()
    yield controller, recorder
    controller.stop()


@pytest.fixture
def cli_env(db_url, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TRACKER_DATABASE_URL", db_url)
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    monkeypatch.setenv("TRACKER_SECRET_KEY", "test-secret-key")


def _dispatch(db, port: int, policy, day: str = "2017-03-17"):  # type: ignore[no-untyped-def]
    return dispatch(db, {ChannelKind.EMAIL: EmailChannel("127.0.0.1", port, "tracker@example.org")},
                    now=at(day, 9, 5), calendar=policy.calendar,
                    link_for=lambda c: f"{DESK}/l/{c.id}")


def _liaison(db, agency: str = "市残联") -> Contact:  # type: ignore[no-untyped-def]
    with db() as s:
        return s.scalars(select(Contact).join(Agency, Agency.id == Contact.agency_id).where(
            Agency.name == agency, Contact.role == ContactRole.LIAISON, Contact.active)).one()


def _to(recorder, address: str) -> list:  # type: ignore[no-untyped-def]
    return [m for m in recorder.messages if address in m["To"]]


def _rows(db, contact_id: int) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    with db() as s:
        return [tuple(r) for r in s.execute(  # type: ignore[misc]
            select(OutboxMessage.key, OutboxMessage.address, OutboxMessage.status)
            .where(OutboxMessage.contact_id == contact_id).order_by(OutboxMessage.key))]


def test_two_addresses_each_get_the_digest_once(db, small, policy, smtp, cli_env):
    controller, recorder = smtp
    liaison = _liaison(db)
    r = run(app, ["liaison", "address", "add", "--agency", "市残联", "--email", liaison.email,
                  "--extra", f"家中 <{HOME.upper()}>"])
    assert r.exit_code == 0, r.output
    assert f"已为市残联联络员（{liaison.email}）添加附加地址 {HOME}" in r.output
    again = run(app, ["liaison", "address", "add", "--agency", "市残联", "--email", liaison.email,
                      "--extra", HOME])
    assert again.exit_code == 0 and "未重复添加" in again.output
    listed = run(app, ["liaison", "list", "--agency", "市残联"])
    assert listed.exit_code == 0 and f"附加：{HOME}" in listed.output
    found = run(app, ["liaison", "list", "--email", HOME])  # found by the further address too
    assert found.exit_code == 0 and "联系人（1 位）" in found.output and liaison.email in found.output
    with db() as s:
        aid = s.scalars(select(ContactAddress.id)).one()
    with transaction(db) as s:
        queued = open_due_requests(s, small, at("2017-03-17"), policy).messages_queued
    rows = _rows(db, liaison.id)
    assert len(rows) == 4  # two requests (measures 2 and 3), each to both addresses
    primary = sorted(k for k, a, _ in rows if a == liaison.email)
    assert sorted(k for k, a, _ in rows if a == HOME) == [f"{k}:x{aid}" for k in primary]
    with transaction(db) as s:  # the morning's job again: nothing twice
        assert open_due_requests(s, small, at("2017-03-17"), policy).messages_queued == 0
    result = _dispatch(db, controller.port, policy)
    assert result.failed == 0 and result.dropped == 0 and result.sent == queued
    at_primary, at_home = _to(recorder, liaison.email), _to(recorder, HOME)
    assert len(at_primary) == 1 and len(at_home) == 1
    assert at_primary[0]["Subject"] == at_home[0]["Subject"]
    for msg in (at_primary[0], at_home[0]):  # the contact's own link, in both digests
        body = msg.get_content()
        assert f"{DESK}/l/{liaison.id}" in body
        assert "扶持残疾人自主创业" in body and "开展残疾人职业技能培训" in body
    assert at_primary[0]["Message-ID"] != at_home[0]["Message-ID"]
    before = len(recorder.messages)
    assert _dispatch(db, controller.port, policy).sent == 0
    assert len(recorder.messages) == before


def test_notices_to_an_agency_reach_the_further_address(db, small, policy):
    """enqueue_to_agency (returned reports, extensions, waivers, meetings): one row per
    further address too, keyed ':x{id}', idempotent."""
    liaison = _liaison(db)
    with transaction(db) as s:
        aid = add_address(s, s.get_one(Contact, liaison.id), HOME).changed and s.scalars(
            select(ContactAddress.id)).one()
        args = dict(agency_id=liaison.agency_id, key_prefix="waive:7",
                    kind=MessageKind.WAIVED, payload={"x": 1}, now=at("2017-03-17"),
                    channel=ChannelKind.EMAIL)
        assert enqueue_to_agency(s, **args) == 2  # type: ignore[arg-type]
        assert enqueue_to_agency(s, **args) == 0  # type: ignore[arg-type]
    assert _rows(db, liaison.id) == [(f"waive:7:{liaison.id}", liaison.email, "pending"),
                                     (f"waive:7:{liaison.id}:x{aid}", HOME, "pending")]
    with db() as s:
        payloads = s.scalars(select(OutboxMessage.payload)).all()
    assert payloads == [{"x": 1}, {"x": 1}]


def test_removing_the_further_address_stops_it(db, small, policy, smtp, cli_env):
    controller, recorder = smtp
    liaison = _liaison(db)
    with transaction(db) as s:
        add_address(s, s.get_one(Contact, liaison.id), HOME)
        open_due_requests(s, small, at("2017-03-17"), policy)
    r = run(app, ["liaison", "address", "remove", "--agency", "市残联", "--email", liaison.email,
                  "--extra", HOME])
    assert r.exit_code == 0, r.output
    assert f"已删除市残联联络员（{liaison.email}）的附加地址 {HOME}" in r.output
    assert "2 条待发送通知已撤销" in r.output
    again = run(app, ["liaison", "address", "remove", "--agency", "市残联", "--email",
                      liaison.email, "--extra", HOME])
    assert again.exit_code == 0 and "此前已删除" in again.output
    with db() as s:
        reasons = s.scalars(select(OutboxMessage.last_error)
                            .where(OutboxMessage.address == HOME)).all()
        assert extra_addresses(s, [liaison.id]) == {}
        assert extra_addresses(s, [liaison.id], active_only=False) == {liaison.id: [HOME]}
    assert reasons == [f"附加地址 {HOME} 已删除，不再发送"] * 2
    _dispatch(db, controller.port, policy)
    assert len(_to(recorder, liaison.email)) == 1 and _to(recorder, HOME) == []
    with transaction(db) as s:  # new notices: to the primary address only
        assert open_due_requests(s, small, at("2017-06-16"), policy).messages_queued > 0
    _dispatch(db, controller.port, policy, "2017-06-16")
    assert len(_to(recorder, liaison.email)) == 2 and _to(recorder, HOME) == []
    # added again: the same row comes back, later notices reach it again
    with transaction(db) as s:
        assert add_address(s, s.get_one(Contact, liaison.id), HOME).changed is True
    with db() as s:
        assert s.scalar(select(ContactAddress.active)) is True
        assert len(s.scalars(select(ContactAddress.id)).all()) == 1


def test_removed_while_being_claimed_is_dropped_before_sending(db, small, policy):
    liaison = _liaison(db)
    with transaction(db) as s:
        add_address(s, s.get_one(Contact, liaison.id), HOME)
        open_due_requests(s, small, at("2017-03-17"), policy)
    with transaction(db) as s:
        token = claim(s, at("2017-03-17", 9, 5))
    assert token is not None
    with transaction(db) as s:  # rows being sent are left to their run ...
        assert remove_address(s, s.get_one(Contact, liaison.id), HOME).dropped == 0
    with transaction(db) as s:  # ... whose re-check drops them
        assert drop_stale(s, token) == 2
    with db() as s:
        assert s.execute(select(OutboxMessage.status, OutboxMessage.last_error)
                         .where(OutboxMessage.address == HOME)).all() == [
            ("dropped", "附加地址已删除，不再发送")] * 2


def test_deactivating_the_contact_stops_every_address(db, small, policy, smtp):
    controller, recorder = smtp
    liaison = _liaison(db)
    with transaction(db) as s:
        add_address(s, s.get_one(Contact, liaison.id), HOME)
        open_due_requests(s, small, at("2017-03-17"), policy)
        deactivate_contact(s, liaison.id)
    result = _dispatch(db, controller.port, policy)
    assert result.dropped == 4 and result.failed == 0 and result.sent > 0
    assert _to(recorder, liaison.email) == [] and _to(recorder, HOME) == []
    assert {st for _, _, st in _rows(db, liaison.id)} == {"dropped"}
    with transaction(db) as s:
        assert open_due_requests(s, small, at("2017-06-16"), policy).messages_queued > 0
    assert len(_rows(db, liaison.id)) == 4


def test_replace_with_further_addresses(db, small, policy, smtp, cli_env):
    """The old person's further address is theirs: its waiting copies are dropped. The new
    contact (an earlier contact of the agency, with a further address of their own) gets
    the notices at both of their addresses, once each; the keys are those the outbox would
    write for them, so the morning's job adds nothing."""
    controller, recorder = smtp
    old = _liaison(db)
    new_home = "wang.home@example.net"
    with transaction(db) as s:
        add_contact(s, agency="市残联", name="王五", email="wang.wu@example.org")
        wang = s.scalars(select(Contact).where(Contact.email == "wang.wu@example.org")).one()
        add_address(s, wang, new_home)
        deactivate_contact(s, wang.id)
        add_address(s, s.get_one(Contact, old.id), HOME)
        open_due_requests(s, small, at("2017-03-17"), policy)
        new_aid = s.scalar(select(ContactAddress.id).where(ContactAddress.contact_id == wang.id))
    assert len(_rows(db, old.id)) == 4
    r = run(app, ["liaison", "replace", "--agency", "市残联", "--email", old.email,
                  "--new-email", "wang.wu@example.org", "--name", "王五"])
    assert r.exit_code == 0, r.output
    assert "2 条待发送通知改由新联系人接收" in r.output and new_home in r.output
    old_rows = _rows(db, old.id)
    assert [(a, st) for _, a, st in old_rows] == [(HOME, "dropped")] * 2
    with db() as s:
        assert set(s.scalars(select(OutboxMessage.last_error)
                             .where(OutboxMessage.contact_id == old.id))) == {
            "原联系人已被替换，不再发往其附加地址"}
    rows = _rows(db, wang.id)
    primary = sorted(k for k, a, st in rows if a == "wang.wu@example.org" and st == "pending")
    assert len(primary) == 2 and all(k.endswith(f":{wang.id}") for k in primary)
    assert sorted(k for k, a, st in rows if a == new_home and st == "pending") == [
        f"{k}:x{new_aid}" for k in primary]
    # twice: nothing more
    r = run(app, ["liaison", "replace", "--agency", "市残联", "--email", old.email,
                  "--new-email", "wang.wu@example.org", "--name", "王五"])
    assert r.exit_code == 0 and "0 条待发送通知" in r.output
    assert _rows(db, wang.id) == rows
    with transaction(db) as s:
        assert open_due_requests(s, small, at("2017-03-17"), policy).messages_queued == 0
    result = _dispatch(db, controller.port, policy)
    assert result.failed == 0 and result.dropped == 0
    assert len(_to(recorder, "wang.wu@example.org")) == 1 and len(_to(recorder, new_home)) == 1
    assert _to(recorder, old.email) == [] and _to(recorder, HOME) == []
    assert f"{DESK}/l/{wang.id}" in _to(recorder, new_home)[0].get_content()


def test_replace_by_a_fresh_contact_drops_the_old_further_address(db, small, policy):
    old = _liaison(db)
    with transaction(db) as s:
        add_address(s, s.get_one(Contact, old.id), HOME)
        open_due_requests(s, small, at("2017-03-17"), policy)
        done = replace_contact(s, agency="市残联", old_email=old.email,
                               new_email="zhao@example.org", name="赵六")
    assert (done.added, done.handed_over) == (True, 2)
    assert [(a, st) for _, a, st in _rows(db, old.id)] == [(HOME, "dropped")] * 2
    assert [(a, st) for _, a, st in _rows(db, done.new_id)] == [
        ("zhao@example.org", "pending")] * 2


def test_refusals_name_the_address(db, small, cli_env):
    liaison = _liaison(db)
    with db() as s:
        deputy = s.scalars(select(Contact.email).where(
            Contact.agency_id == liaison.agency_id, Contact.role == ContactRole.DEPUTY_HEAD)).one()

    def add(extra: str, email: str = liaison.email):  # type: ignore[no-untyped-def]
        return run(app, ["liaison", "address", "add", "--agency", "市残联", "--email", email,
                         "--extra", extra])

    r = add(liaison.email.upper())
    assert r.exit_code == 2 and f"{liaison.email} 已是该联系人的主地址" in r.output
    r = add("a@x.cn；b@y.cn")
    assert r.exit_code == 2 and "含有多个地址" in r.output and "Traceback" not in r.output
    r = add("张三@x.cn")
    assert r.exit_code == 2 and "“张三@x.cn”不是有效的电子邮件地址" in r.output
    r = add(deputy)
    assert r.exit_code == 2 and f"{deputy} 已是本单位另一位联系人" in r.output
    assert add(HOME).exit_code == 0
    r = add(HOME, deputy)  # someone else's further address
    assert r.exit_code == 2 and f"{HOME} 已是本单位另一位联系人（市残联联络员）的地址" in r.output
    r = run(app, ["liaison", "address", "remove", "--agency", "市残联", "--email", liaison.email,
                  "--extra", "nobody@example.org"])
    assert r.exit_code == 2 and f"联系人 {liaison.email} 没有附加地址 nobody@example.org" in r.output
    r = add(HOME, "nobody@example.org")
    assert r.exit_code == 2 and "市残联没有地址为 nobody@example.org 的联系人" in r.output
    with db() as s:  # nothing half-written by the refusals
        assert s.scalars(select(ContactAddress.address)).all() == [HOME]


def test_pre_due_reminder_reaches_the_further_address(db, small, policy):
    """The pre-due reminder (临期提醒) path writes its copy too, keyed as its primary row."""
    liaison = _liaison(db)
    with transaction(db) as s:
        add_address(s, s.get_one(Contact, liaison.id), HOME)
        aid = s.scalars(select(ContactAddress.id)).one()
        opened = open_due_requests(s, small, at("2017-03-17"), policy).messages_queued
        n = enqueue_for_requests(s, ProgressRequest.agency_id == liaison.agency_id,
                                 kind=MessageKind.PRE_DUE_REMINDER, level=0,
                                 now=at("2017-04-05"), channel=ChannelKind.EMAIL)
        again = enqueue_for_requests(s, ProgressRequest.agency_id == liaison.agency_id,
                                     kind=MessageKind.PRE_DUE_REMINDER, level=0,
                                     now=at("2017-04-05"), channel=ChannelKind.EMAIL)
    assert opened > 0 and (n, again) == (4, 0)  # 2 requests x 2 addresses of the liaison
    pre = [(k, a) for k, a, _ in _rows(db, liaison.id) if k.startswith("pre:")]
    primary = sorted(k for k, a in pre if a == liaison.email)
    assert len(primary) == 2 and all(k.endswith(f":{liaison.id}") for k in primary)
    assert sorted(k for k, a in pre if a == HOME) == [f"{k}:x{aid}" for k in primary]
