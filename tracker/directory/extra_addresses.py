"""Further addresses of a contact (issue 8, item 2: "a contact may have several addresses").

The contact's `email` stays its primary address (and names it in the directory); a further
address gets a copy of every notice to the contact, as its own digest, with the contact's
own answer link. An address is checked as on entry (tracker.directory.addresses.check). A
removed address is kept inactive: its waiting notices are dropped at once, and adding it
again brings the same row (and so the same outbox keys) back.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tracker.directory.addresses import parse
from tracker.directory.contacts import ContactError
from tracker.enums import ChannelKind, OutboxStatus
from tracker.models import Contact, ContactAddress, OutboxMessage
from tracker.models.outbox import in_claim
from tracker.sql import insert_ignore_values


@dataclass(frozen=True)
class AddressChange:
    """What `add_address` / `remove_address` did."""

    contact_id: int
    address: str  # normalised (ASCII domain, lower case)
    changed: bool  # False: it was so already (idempotent)
    dropped: int = 0  # waiting notices to the address dropped (remove only)


def _one(text: str) -> str:
    found = parse(text)
    if len(found) != 1:
        raise ContactError(f"“{text[:80]}”含有多个地址，请逐一添加", code="several")
    return found[0].email


def add_address(session: Session, contact: Contact, text: str) -> AddressChange:
    """Give `contact` a further email address `text` (as typed: `张三 <a@x.cn>` keeps the
    address; one address only), or make a removed one active again.

    Refused with ContactError naming the address when it is the contact's primary address,
    or an address (primary or further) of another active contact of the same agency: that
    person would get each of the agency's notices twice in one digest. AddressError when
    it is not a usable address. Returns changed=False when it was active already. Does not
    commit.
    """
    address = _one(text)
    if address == contact.email:
        raise ContactError(f"{address} 已是该联系人的主地址，无需添加", code="same")
    taken = session.scalar(
        select(Contact.name).where(Contact.agency_id == contact.agency_id,
                                   Contact.id != contact.id, Contact.active.is_(True),
                                   Contact.email == address)
        .union(select(Contact.name)
               .join(ContactAddress, ContactAddress.contact_id == Contact.id)
               .where(Contact.agency_id == contact.agency_id, Contact.id != contact.id,
                      Contact.active.is_(True), ContactAddress.active.is_(True),
                      ContactAddress.address == address)).limit(1))
    if taken is not None:
        raise ContactError(f"{address} 已是本单位另一位联系人（{taken}）的地址，不能重复添加",
                           code="taken")
    added = insert_ignore_values(session, ContactAddress.__table__, [dict(  # type: ignore[arg-type]
        contact_id=contact.id, channel=ChannelKind.EMAIL.value, address=address, active=True)])
    if not added:
        added = session.execute(
            update(ContactAddress).where(ContactAddress.contact_id == contact.id,
                                         ContactAddress.address == address,
                                         ContactAddress.active.is_(False))
            .values(active=True).execution_options(synchronize_session=False)
        ).rowcount or 0  # type: ignore[attr-defined]
    return AddressChange(contact.id, address, bool(added))


def remove_address(session: Session, contact: Contact, text: str) -> AddressChange:
    """Stop sending to a further address of `contact` at once: the address is made
    inactive, and the notices to it still waiting (pending or failed) are dropped with the
    reason, in one UPDATE; rows being sent at this moment are dropped by the dispatcher's
    re-check (`notifications.dispatch.drop_stale`). Raises ContactError when the contact
    has no such further address. Returns changed=False when it was removed already. Does
    not commit.
    """
    address = _one(text)
    row = session.scalar(select(ContactAddress).where(ContactAddress.contact_id == contact.id,
                                                      ContactAddress.address == address))
    if row is None:
        raise ContactError(f"联系人 {contact.email} 没有附加地址 {address}", status=404,
                           code="no-address")
    changed = session.execute(
        update(ContactAddress).where(ContactAddress.id == row.id, ContactAddress.active.is_(True))
        .values(active=False).execution_options(synchronize_session=False)
    ).rowcount or 0  # type: ignore[attr-defined]
    dropped = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.contact_id == contact.id, OutboxMessage.address == address,
               OutboxMessage.status.in_([OutboxStatus.PENDING.value, OutboxStatus.FAILED.value]),
               ~in_claim())  # being sent: its run's re-check drops it
        .values(status=OutboxStatus.DROPPED.value, claim_token=None,
                last_error=f"附加地址 {address} 已删除，不再发送")
        .execution_options(synchronize_session=False)).rowcount or 0  # type: ignore[attr-defined]
    return AddressChange(contact.id, address, bool(changed), dropped)


def extra_addresses(session: Session, contact_ids: list[int], *, active_only: bool = True
                    ) -> dict[int, list[str]]:
    """The further addresses of each contact in `contact_ids` (one query), by contact id,
    in the order they were added; removed ones too with `active_only=False`."""
    query = (select(ContactAddress.contact_id, ContactAddress.address)
             .where(ContactAddress.contact_id.in_(contact_ids)).order_by(ContactAddress.id))
    if active_only:
        query = query.where(ContactAddress.active.is_(True))
    out: dict[int, list[str]] = defaultdict(list)
    for contact_id, address in session.execute(query):
        out[contact_id].append(address)
    return dict(out)
