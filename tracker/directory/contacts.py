"""The agency directory's contacts: liaisons (联络员) and deputy heads in charge (分管领导)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.enums import ContactRole
from tracker.errors import DomainError
from tracker.models import Agency, Liaison
from tracker.sql import insert_ignore_values


class ContactError(DomainError):
    """A refusal with its reason in Chinese (tracker.errors)."""


def add_contact(session: Session, plan_id: int, *, agency: str, name: str, email: str,
                role: ContactRole = ContactRole.LIAISON, phone: str | None = None) -> bool:
    """Add a contact to an agency named as in the catalog; False if already there.

    Raises LiaisonError for an unknown agency or an address without '@'. Does not commit.
    """
    agency_id = session.scalar(select(Agency.id).where(Agency.plan_id == plan_id,
                                                       Agency.name == agency))
    if agency_id is None:
        raise ContactError(f"单位名录中没有“{agency}”", status=404, code="unknown-agency")
    if "@" not in email or email.startswith("@") or email.endswith("@"):
        raise ContactError(f"“{email}”不是有效的电子邮件地址")
    return bool(insert_ignore_values(session, Liaison.__table__, [dict(  # type: ignore[arg-type]
        agency_id=agency_id, role=role.value, name=name, email=email.strip().lower(),
        phone=phone, active=True, token_version=1)]))


def ensure_demo_contacts(session: Session, plan_id: int, domain: str = "example.org") -> int:
    """Give every agency a liaison and a deputy head at `domain` (idempotent).

    Addresses are `a<agency id>.liaison@<domain>` and `a<agency id>.deputy@<domain>`;
    example.org is reserved for examples (RFC 2606), so nothing reaches a real person.
    """
    agencies = session.execute(select(Agency.id, Agency.name).where(Agency.plan_id == plan_id)).all()
    rows = []
    for aid, name in agencies:
        rows.append(dict(agency_id=aid, role=ContactRole.LIAISON.value, name=f"{name}联络员",
                         email=f"a{aid}.liaison@{domain}", phone=None, active=True,
                         token_version=1))
        rows.append(dict(agency_id=aid, role=ContactRole.DEPUTY_HEAD.value,
                         name=f"{name}分管领导", email=f"a{aid}.deputy@{domain}", phone=None,
                         active=True, token_version=1))
    return insert_ignore_values(session, Liaison.__table__, rows)  # type: ignore[arg-type]
