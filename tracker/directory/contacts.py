"""The agency directory's contacts: liaisons (联络员) and deputy heads in charge (分管领导)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tracker.directory.addresses import parse
from tracker.directory.agencies import find_by_name, office_id, plan_agencies
from tracker.enums import ContactRole
from tracker.errors import DomainError
from tracker.models import Contact, Plan
from tracker.sql import insert_ignore_values


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
