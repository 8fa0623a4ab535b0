"""The agency directory's contacts: liaisons (联络员) and deputy heads in charge (分管领导)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import String, case, cast, exists, func, literal, select, update
from sqlalchemy.orm import Session, aliased

from tracker.directory.addresses import parse
from tracker.directory.agencies import find_by_name, office_id, plan_agencies
from tracker.enums import ContactRole, OutboxStatus
from tracker.errors import DomainError
from tracker.models import Contact, ContactAddress, Plan
from tracker.sql import insert_ignore_from_select, insert_ignore_values


class ContactError(DomainError):
    """A refusal with its reason in Chinese (tracker.errors)."""


def add_contact(session: Session, *, agency: str, name: str, email: str,
                role: ContactRole = ContactRole.LIAISON, phone: str | None = None,
                government: str | None = None) -> int:
    """Add a contact to an agency of the directory (by name or alias; `government` when the
    name exists under several); returns how many were added (0 if already there).

    `email` is what the office typed (tracker.directory.addresses): `张三 <a@x.cn>` keeps the
    address, two addresses become two contacts of the same name, an internationalised
    domain is stored in ASCII. A name containing a line break is refused (it would break
    the mail header). Raises AgencyError for an unknown or ambiguous agency and
    AddressError / ContactError naming the bad value. Does not commit.
    """
    agency_id = find_by_name(session, agency, government)
    if not name.strip() or "\r" in name or "\n" in name or len(name) > 100:
        raise ContactError(f"联系人姓名“{name[:40]}”无效（不能为空、不能换行、最多 100 字）")
    rows = [dict(agency_id=agency_id, role=role.value, name=name.strip(), email=a.email,
                 phone=phone, active=True, token_version=1) for a in parse(email)]
    return insert_ignore_values(session, Contact.__table__, rows)  # type: ignore[arg-type]


def ensure_demo_contacts(session: Session, plan_id: int, domain: str = "example.org") -> int:
    """Give every agency of a plan a liaison and a deputy head at `domain` (idempotent).

    Addresses are `a<agency id>.liaison@<domain>` and `a<agency id>.deputy@<domain>`;
    example.org is reserved for examples (RFC 2606), so nothing reaches a real person.
    """
    plan = session.get_one(Plan, plan_id)
    agencies = plan_agencies(session, plan_id)
    for office in (plan.supervision_office, plan.performance_office, plan.meeting_contact):
        found = office_id(session, plan, office)
        if found is not None and found not in {a for a, _ in agencies}:
            agencies.append((found, office or ""))
    rows = []
    for aid, name in agencies:
        rows.append(dict(agency_id=aid, role=ContactRole.LIAISON.value, name=f"{name}联络员",
                         email=f"a{aid}.liaison@{domain}", phone=None, active=True,
                         token_version=1))
        rows.append(dict(agency_id=aid, role=ContactRole.DEPUTY_HEAD.value,
                         name=f"{name}分管领导", email=f"a{aid}.deputy@{domain}", phone=None,
                         active=True, token_version=1))
    return insert_ignore_values(session, Contact.__table__, rows)  # type: ignore[arg-type]


def find_contact(session: Session, *, agency: str | None = None, email: str | None = None,
                 contact_id: int | None = None, government: str | None = None) -> Contact:
    """One contact: by id, or by agency (name or alias; `government` when the name exists
    under several) and address (as typed: `张三 <a@x.cn>` finds a@x.cn).

    Raises ContactError naming what was looked for when there is none, AgencyError for an
    unknown or ambiguous agency, AddressError for what is not one address.
    """
    if contact_id is not None:
        found = session.get(Contact, contact_id)
        if found is None:
            raise ContactError(f"没有编号为 {contact_id} 的联系人", status=404, code="no-contact")
        return found
    if agency is None or email is None:
        raise ContactError("请指定联系人：--id，或 --agency 与 --email", code="no-contact")
    agency_id = find_by_name(session, agency, government)
    addresses = parse(email)
    if len(addresses) != 1:
        raise ContactError(f"“{email[:80]}”含有多个地址，请逐一指定", code="several")
    found = session.scalar(select(Contact).where(Contact.agency_id == agency_id,
                                                 Contact.email == addresses[0].email))
    if found is None:
        raise ContactError(f"{agency}没有地址为 {addresses[0].email} 的联系人", status=404,
                           code="no-contact")
    return found


def deactivate_contact(session: Session, contact_id: int) -> bool:
    """Deactivate a contact (issue 8, "revocation stops future notices and links at once").

    From the commit on, no new notice is queued for them (the outbox writes only to active
    contacts), queued ones are dropped by the dispatcher just before sending, and every
    link issued to them is refused as revoked (inactive, and the token version bumped, so
    reactivating them later does not revive old links). Returns False when the contact
    was inactive already (idempotent). Does not commit.
    """
    n = session.execute(
        update(Contact).where(Contact.id == contact_id, Contact.active.is_(True))
        .values(active=False, token_version=Contact.token_version + 1)
        .execution_options(synchronize_session="fetch")).rowcount  # type: ignore[attr-defined]
    return bool(n)


@dataclass(frozen=True)
class Replacement:
    """What `replace_contact` did: the old and new contact, and the notices handed over."""

    old_id: int
    new_id: int
    deactivated: bool  # False when the old contact was inactive already
    added: bool  # False when the new address was a contact of the agency already
    handed_over: int  # queued notices re-addressed to the new contact


def replace_contact(session: Session, *, agency: str, old_email: str, new_email: str,
                    name: str, government: str | None = None, phone: str | None = None
                    ) -> Replacement:
    """Replace an agency's contact by a new person with the same role (issue 8, item 4).

    The old contact is deactivated (`deactivate_contact`: notices and links stop at once)
    and the new one added (or reactivated, if the address was a contact of the agency
    before). The old contact's notices still waiting in the outbox go to the new one:
    pending and failed rows (a dead address is the usual reason for a replacement) are
    re-addressed in one set-based UPDATE, failed ones put back in the queue due at once.
    Each row's key ends with the recipient's contact id, so it is re-keyed to the new id:
    a notice the new contact already has (same key) is not duplicated, the old row is
    dropped instead. Copies to the old contact's further addresses (ContactAddress) are
    dropped; the new contact's own further addresses get copies of what was handed over.
    Rows being sent at this moment (`sending`) are left to their run.
    Running it twice changes nothing more. Raises ContactError / AgencyError /
    AddressError naming the bad value. Does not commit.
    """
    old = find_contact(session, agency=agency, email=old_email, government=government)
    addresses = parse(new_email)
    if len(addresses) != 1:
        raise ContactError(f"新地址“{new_email[:80]}”含有多个地址，请只填写一个", code="several")
    address = addresses[0].email
    if address == old.email:
        raise ContactError("新地址与原地址相同，无需替换", code="same")
    if not name.strip() or "\r" in name or "\n" in name or len(name) > 100:
        raise ContactError(f"联系人姓名“{name[:40]}”无效（不能为空、不能换行、最多 100 字）")
    deactivated = deactivate_contact(session, old.id)
    added = bool(insert_ignore_values(session, Contact.__table__, [  # type: ignore[arg-type]
        dict(agency_id=old.agency_id, role=old.role.value, name=name.strip(), email=address,
             phone=phone, active=True, token_version=1)]))
    new = session.scalars(select(Contact).where(Contact.agency_id == old.agency_id,
                                                Contact.email == address)).one()
    if not added and not new.active:  # an earlier contact of the agency, back again
        session.execute(update(Contact).where(Contact.id == new.id)
                        .values(active=True, role=old.role.value, name=name.strip())
                        .execution_options(synchronize_session="fetch"))
    handed = hand_over(session, old.id, new)
    return Replacement(old.id, new.id, deactivated, added, handed)


def hand_over(session: Session, old_id: int, new: Contact) -> int:
    """Re-address the old contact's pending and failed outbox rows to `new` (set-based;
    see `replace_contact`). Returns how many rows now go to the new contact."""
    from tracker.models import OutboxMessage
    from tracker.models.outbox import in_claim

    suffix = f":{old_id}"
    waiting = (OutboxMessage.contact_id == old_id,
               OutboxMessage.status.in_([OutboxStatus.PENDING.value, OutboxStatus.FAILED.value]),
               ~in_claim())  # being sent: left to its run
    # copies to the old person's further addresses are theirs, not the post's: dropped
    # (the new contact's own further addresses get copies below)
    session.execute(
        update(OutboxMessage).where(*waiting, exists(select(ContactAddress.id).where(
            ContactAddress.contact_id == old_id, ContactAddress.address == OutboxMessage.address)))
        .values(status=OutboxStatus.DROPPED.value, claim_token=None,
                last_error="原联系人已被替换，不再发往其附加地址")
        .execution_options(synchronize_session=False))
    new_key = (func.substr(OutboxMessage.key, 1, func.length(OutboxMessage.key) - len(suffix),
                           type_=String)
               + literal(f":{new.id}"))
    other = aliased(OutboxMessage)
    taken = exists(select(other.id).where(other.key == new_key))
    keyed = OutboxMessage.key.like(f"%{suffix}")
    values = dict(contact_id=new.id, address=new.email, recipient_name=new.name,
                  status=OutboxStatus.PENDING.value, claim_token=None)
    failed = OutboxMessage.status == OutboxStatus.FAILED.value
    n = session.execute(
        update(OutboxMessage).where(*waiting, keyed, ~taken)
        .values(key=new_key, attempts=case((failed, 0), else_=OutboxMessage.attempts),
                next_attempt_at=case((failed, OutboxMessage.created_at),
                                     else_=OutboxMessage.next_attempt_at), **values)
        .execution_options(synchronize_session=False)).rowcount or 0  # type: ignore[attr-defined]
    n += session.execute(  # a key of another shape: re-addressed as it is
        update(OutboxMessage).where(*waiting, ~keyed)
        .values(attempts=case((failed, 0), else_=OutboxMessage.attempts), **values)
        .execution_options(synchronize_session=False)).rowcount or 0  # type: ignore[attr-defined]
    session.execute(  # what the new contact has already: not twice
        update(OutboxMessage).where(*waiting)
        .values(status=OutboxStatus.DROPPED.value, claim_token=None,
                last_error=f"已改由新联系人 {new.email} 接收，其已有同一通知")
        .execution_options(synchronize_session=False))
    copy_to_extra_addresses(session, new.id, new.email)
    return n


def copy_to_extra_addresses(session: Session, contact_id: int, primary: str) -> int:
    """Give each active further address (ContactAddress) of a contact a copy of every
    pending notice to its primary address `primary`, keyed as the primary row +
    ":x{address id}" (one INSERT … SELECT, idempotent by key). Used when a replacement
    hands notices over (issue 8, item 2). Returns how many copies were written."""
    from tracker.models import OutboxMessage
    from tracker.outbox import OUTBOX_COLUMNS, extra_address_join

    columns = [c for c in OUTBOX_COLUMNS if c not in ("key", "address", "attempts")]
    src = OutboxMessage.__table__.c
    sel = (select(OutboxMessage.key + literal(":x") + cast(ContactAddress.id, String),
                  ContactAddress.address, OutboxMessage.payload, literal(0),
                  *(src[c] for c in columns))
           .join(ContactAddress, extra_address_join(OutboxMessage.contact_id))
           .where(OutboxMessage.contact_id == contact_id, OutboxMessage.address == primary,
                  OutboxMessage.status == OutboxStatus.PENDING.value))
    return insert_ignore_from_select(
        session, OutboxMessage.__table__, ["key", "address", "payload", "attempts", *columns],  # type: ignore[arg-type]
        sel)
