"""The agency directory's contacts: liaisons (联络员) and deputy heads in charge (分管领导)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tracker.directory.agencies import find_by_name, office_id, plan_agencies
from tracker.enums import ContactRole
from tracker.errors import DomainError
from tracker.models import Contact, Plan
from tracker.sql import insert_ignore_values


class ContactError(DomainError):
    """A refusal with its reason in Chinese (tracker.errors)."""


def add_contact(session: Session, *, agency: str, name: str, email: str,
                role: ContactRole = ContactRole.LIAISON, phone: str | None = None,
                government: str | None = None) -> bool:
    """Add a contact to an agency of the directory (by name or alias; `government` when the
    name exists under several); False if the agency already has that address.

    Raises AgencyError for an unknown or ambiguous agency, ContactError for an address
    without '@'. Does not commit.
    """
    agency_id = find_by_name(session, agency, government)
    if "@" not in email or email.startswith("@") or email.endswith("@"):
        raise ContactError(f"“{email}”不是有效的电子邮件地址")
    return bool(insert_ignore_values(session, Contact.__table__, [dict(  # type: ignore[arg-type]
        agency_id=agency_id, role=role.value, name=name, email=email.strip().lower(),
        phone=phone, active=True, token_version=1)]))


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
