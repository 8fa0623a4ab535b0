"""Contacts deactivated and replaced (issue 8, item 4): notices and links stop at once, the
new contact takes over what was still waiting, through the CLI and the real dispatcher."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from notifications.channels import EmailChannel
from notifications.dispatch import dispatch
from tests import smtp_server
from tests.conftest import at
from tracker.cli import app
from tracker.db import transaction
from tracker.directory.contacts import add_contact, deactivate_contact, replace_contact
from tracker.directory.links import LinkError, make_token, verify
from tracker.enums import ChannelKind, ContactRole
from tracker.models import Agency, Contact, OutboxMessage
from tracker.requests.opening import open_due_requests

run = CliRunner().invoke
SECRET = "test-secret-key"


@pytest.fixture
def smtp():  # type: ignore[no-untyped-def]
    controller, recorder = smtp_server.start()
    yield controller, recorder
    controller.stop()


@pytest.fixture
def cli_env(db_url, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TRACKER_DATABASE_URL", db_url)
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    monkeypatch.setenv("TRACKER_SECRET_KEY", SECRET)


def _channels(port: int) -> dict[ChannelKind, EmailChannel]:
    return {ChannelKind.EMAIL: EmailChannel("127.0.0.1", port, "tracker@example.org")}


def _liaison(db, agency: str) -> Contact:  # type: ignore[no-untyped-def]
    with db() as s:
        return s.scalars(select(Contact).join(Agency, Agency.id == Contact.agency_id).where(
            Agency.name == agency, Contact.role == ContactRole.LIAISON, Contact.active)).one()


def _rows(db, contact_id: int) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    with db() as s:
        return [tuple(r) for r in s.execute(  # type: ignore[misc]
            select(OutboxMessage.key, OutboxMessage.status, OutboxMessage.address)
            .where(OutboxMessage.contact_id == contact_id).order_by(OutboxMessage.key)).all()]


def test_deactivate_stops_notices_and_links_at_once(db, small, policy, smtp, cli_env):
    controller, recorder = smtp
    with transaction(db) as s:
        queued = open_due_requests(s, small, at("2017-03-17"), policy).messages_queued
    old = _liaison(db, "市残联")
    token = make_token(SECRET, old, at("2017-03-17"))
    waiting = len(_rows(db, old.id))
    assert waiting == 2  # measures 2 (co) and 3 (lead)
    r = run(app, ["liaison", "deactivate", "--agency", "市残联", "--email", old.email])
    assert r.exit_code == 0, r.output
    assert "已停用" in r.output and "答复链接即时失效" in r.output and old.email in r.output
    with db() as s, pytest.raises(LinkError) as refused:
        verify(s, SECRET, token, at("2017-03-17", 10))
    assert refused.value.reason == "revoked"
    again = run(app, ["liaison", "deactivate", "--id", str(old.id)])
    assert again.exit_code == 0 and "此前已停用" in again.output
    both = run(app, ["liaison", "deactivate", "--id", str(old.id), "--email", "x@tj.gov.cn"])
    assert both.exit_code == 2 and "请只用 --id" in both.output
    result = dispatch(db, _channels(controller.port), now=at("2017-03-17", 9, 5),
                      calendar=policy.calendar)
    assert result.dropped == waiting and result.sent == queued - waiting
    assert not [m for m in recorder.messages if old.email in m["To"]]
    assert len(recorder.messages) == result.digests > 0
    with db() as s:
        reasons = s.scalars(select(OutboxMessage.last_error)
                            .where(OutboxMessage.contact_id == old.id)).all()
    assert reasons == ["联系人已停用，不再发送"] * waiting
    # and no new notice is written for them
    with transaction(db) as s:
        later = open_due_requests(s, small, at("2017-06-16"), policy).messages_queued
    assert later > 0 and len(_rows(db, old.id)) == waiting


def test_replace_hands_waiting_notices_to_the_new_contact(db, small, policy, smtp, cli_env):
    controller, recorder = smtp
    with transaction(db) as s:
        open_due_requests(s, small, at("2017-03-17"), policy)
    old = _liaison(db, "市残联")
    with transaction(db) as s:  # one of them failed for good: the dead address
        first = s.scalar(select(OutboxMessage.id).where(OutboxMessage.contact_id == old.id)
                         .order_by(OutboxMessage.id).limit(1))
        s.execute(update(OutboxMessage).where(OutboxMessage.id == first)
                  .values(status="failed", attempts=8, last_error="收件地址被拒收"))
    token = make_token(SECRET, old, at("2017-03-17"))
    r = run(app, ["liaison", "replace", "--agency", "市残联", "--email", old.email,
                  "--new-email", "王五 <Wang.Wu@Example.org>", "--name", "王五"])
    assert r.exit_code == 0, r.output
    assert "2 条待发送通知改由新联系人接收" in r.output and "wang.wu@example.org" in r.output
    new = _liaison(db, "市残联")
    assert (new.email, new.name, new.role, new.active) == ("wang.wu@example.org", "王五",
                                                            ContactRole.LIAISON, True)
    assert _rows(db, old.id) == []
    rows = _rows(db, new.id)
    assert [status for _, status, _ in rows] == ["pending", "pending"]
    assert all(key.endswith(f":{new.id}") and address == new.email for key, _, address in rows)
    with db() as s, pytest.raises(LinkError):
        verify(s, SECRET, token, at("2017-03-17", 10))
    # twice: nothing more happens
    r = run(app, ["liaison", "replace", "--agency", "市残联", "--email", old.email,
                  "--new-email", "wang.wu@example.org", "--name", "王五"])
    assert r.exit_code == 0 and "0 条待发送通知" in r.output and "此前已停用" in r.output
    assert _rows(db, new.id) == rows
    # the morning's job again: the keys already name the new contact, no second copy
    with transaction(db) as s:
        assert open_due_requests(s, small, at("2017-03-17"), policy).messages_queued == 0
    result = dispatch(db, _channels(controller.port), now=at("2017-03-17", 9, 5),
                      calendar=policy.calendar)
    assert result.failed == 0 and result.dropped == 0
    to_new = [m for m in recorder.messages if "wang.wu@example.org" in m["To"]]
    assert len(to_new) == 1 and not [m for m in recorder.messages if old.email in m["To"]]
    body = to_new[0].get_content()
    assert "扶持残疾人自主创业" in body and "开展残疾人职业技能培训" in body


def test_replace_by_someone_already_told_sends_nothing_twice(db, small, policy):
    """The new address was a contact of the agency already (it has its own copy of each
    notice): the old contact's copies are dropped, not handed over."""
    with transaction(db) as s:
        add_contact(s, agency="市残联", name="王五", email="wang.wu@example.org")
        open_due_requests(s, small, at("2017-03-17"), policy)
    old = _liaison_by_email(db, "市残联")
    with transaction(db) as s:
        done = replace_contact(s, agency="市残联", old_email=old.email,
                               new_email="wang.wu@example.org", name="王五")
    assert (done.deactivated, done.added, done.handed_over) == (True, False, 0)
    assert [st for _, st, _ in _rows(db, old.id)] == ["dropped", "dropped"]
    assert [st for _, st, _ in _rows(db, done.new_id)] == ["pending", "pending"]
    with db() as s:
        reasons = set(s.scalars(select(OutboxMessage.last_error)
                                .where(OutboxMessage.contact_id == old.id)))
    assert reasons == {"已改由新联系人 wang.wu@example.org 接收，其已有同一通知"}


def _liaison_by_email(db, agency: str) -> Contact:  # type: ignore[no-untyped-def]
    with db() as s:
        return s.scalars(select(Contact).join(Agency, Agency.id == Contact.agency_id).where(
            Agency.name == agency, Contact.role == ContactRole.LIAISON,
            Contact.email.like("a%.liaison@example.org"))).one()


def test_deactivated_contact_comes_back_with_no_old_link(db, small):
    with transaction(db) as s:
        contact = s.scalars(select(Contact).limit(1)).one()
        token = make_token(SECRET, contact, at("2017-03-17"))
        assert deactivate_contact(s, contact.id) is True
        assert deactivate_contact(s, contact.id) is False
        s.execute(update(Contact).where(Contact.id == contact.id).values(active=True))
    with db() as s, pytest.raises(LinkError):
        verify(s, SECRET, token, at("2017-03-17", 10))


def test_cli_refusals_in_chinese_and_the_government_option(db, small, cli_env, tmp_path):
    from tests.factories import small_plan
    from tracker.catalog.load import load_catalog
    from tracker.directory.contacts import ensure_demo_contacts

    with transaction(db) as s:  # another city: it has a 市残联 too
        plan_id = load_catalog(s, small_plan(plan_id="other-city", government="滨海市人民政府",
                                             districts=()), at("2017-01-05")).plan_id
        ensure_demo_contacts(s, plan_id)
    r = run(app, ["liaison", "deactivate", "--agency", "市残联", "--email", "x@example.org"])
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert "天津市人民政府" in r.output and "滨海市人民政府" in r.output
    r = run(app, ["liaison", "deactivate", "--agency", "市残联", "--government", "滨海市人民政府",
                  "--email", "x@example.org"])
    assert r.exit_code == 2 and "没有地址为 x@example.org 的联系人" in r.output
    r = run(app, ["liaison", "deactivate"])
    assert r.exit_code == 2 and "请指定联系人" in r.output
    r = run(app, ["liaison", "deactivate", "--id", "999999"])
    assert r.exit_code == 2 and "没有编号为 999999 的联系人" in r.output
    with db() as s:
        binhai = s.scalars(select(Contact).join(Agency, Agency.id == Contact.agency_id).where(
            Agency.name == "市残联", Agency.government == "滨海市人民政府",
            Contact.role == ContactRole.LIAISON)).one()
    r = run(app, ["liaison", "replace", "--agency", "市残联", "--government", "滨海市人民政府",
                  "--email", binhai.email, "--new-email", "a@x.cn；b@y.cn", "--name", "赵六"])
    assert r.exit_code == 2 and "含有多个地址" in r.output
    r = run(app, ["liaison", "replace", "--agency", "市残联", "--government", "滨海市人民政府",
                  "--email", binhai.email, "--new-email", "zhao@x.cn", "--name", "赵\n六"])
    assert r.exit_code == 2 and "姓名" in r.output
    with db() as s:  # nothing half-done by a refusal
        assert s.get_one(Contact, binhai.id).active is True
    r = run(app, ["liaison", "replace", "--agency", "市残联", "--government", "滨海市人民政府",
                  "--email", binhai.email, "--new-email", "zhao@x.cn", "--name", "赵六"])
    assert r.exit_code == 0 and "zhao@x.cn" in r.output and "新联系人已添加" in r.output
    r = run(app, ["liaison", "link", "市残联", "--government", "滨海市人民政府",
                  "--now", "2017-03-20T10:00"])
    assert r.exit_code == 0 and "赵六 <zhao@x.cn>" in r.output
    r = run(app, ["liaison", "link", "市残联", "--now", "2017-03-20T10:00"])
    assert r.exit_code == 2 and "滨海市人民政府" in r.output
    sheet = tmp_path / "binhai.xlsx"
    r = run(app, ["template", "市残联", "-o", str(sheet), "--now", "2017-03-20T10:00"])
    assert r.exit_code == 2 and "滨海市人民政府" in r.output and not sheet.exists()
    r = run(app, ["template", "市残联", "--government", "滨海市人民政府", "-o", str(sheet),
                  "--now", "2017-03-20T10:00"])
    assert r.exit_code == 0 and sheet.exists()
    r = run(app, ["import", "市残联", str(sheet), "--government", "滨海市人民政府",
                  "--now", "2017-03-20T10:00"])
    assert r.exit_code == 0 and "已记录 0 项报送：按时 0 项，逾期 0 项" in r.output
    with db() as s:
        assert s.scalar(select(func.count()).select_from(Contact).where(
            Contact.active.is_(False))) == 1


def test_revoke_by_address_as_typed(db, small, cli_env):
    contact = _liaison(db, "市残联")
    token = make_token(SECRET, contact, at("2017-03-17"))
    r = run(app, ["liaison", "revoke", f"联络员 <{contact.email.upper()}>"])
    assert r.exit_code == 0 and "已停用 1 位联系人此前收到的全部答复链接" in r.output
    with db() as s, pytest.raises(LinkError):
        verify(s, SECRET, token, at("2017-03-17", 10))
    with db() as s:
        assert s.get_one(Contact, contact.id).active is True  # revoked links, not the contact
    r = run(app, ["liaison", "revoke", "nobody@example.org"])
    assert r.exit_code == 2 and "没有地址为 nobody@example.org 的联系人" in r.output
    r = run(app, ["liaison", "link", "市政府督查室"])
    assert r.exit_code == 0
    run(app, ["liaison", "deactivate", "--agency", "市政府督查室", "--email",
              _liaison(db, "市政府督查室").email])
    r = run(app, ["liaison", "link", "市政府督查室"])
    assert r.exit_code == 2 and "市政府督查室没有在用的联络员" in r.output
    r = run(app, ["liaison", "list", "--agency", "市政府督查室"])
    assert r.exit_code == 0 and "联系人（1 位）" in r.output and "分管领导" in r.output
    r = run(app, ["liaison", "list", "--agency", "市政府督查室", "--all"])
    assert r.exit_code == 0 and "联系人（2 位）" in r.output and "已停用" in r.output
    r = run(app, ["liaison", "list", "--email", "nobody@example.org"])
    assert r.exit_code == 0 and "没有符合条件的联系人" in r.output
