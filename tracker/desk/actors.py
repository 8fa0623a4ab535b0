"""Who did what, by name: the audit trail's actors as people read them (issue 10, item 3:
"display names and Chinese labels everywhere; no internal ids in anything a person reads").

An actor is stored as `liaison:<contact id>:link:<link id>`, `user:<username>`,
`system:<job>`, `demo:<who>` (the demo's simulated people), `cli` or a display name (a
circular's signer). `actor_names` resolves a batch of them with two queries (contacts with
their agencies, staff accounts).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.enums import StaffRole
from tracker.models import Agency, Contact, StaffUser

SYSTEM = {"overdue_sweep": "系统（逾期督办）", "pre_due": "系统（临期提醒）",
          "open_requests": "系统（进展调度）", "checkpoint": "系统（年度考核）"}
DEMO = {"liaison": "联络员"}


def person_label(name: str, context: str, *, said_by: str | None = None) -> str:
    """A person once: `name（context）`, or `name` alone when the context adds nothing
    because the name already says it (`said_by`, default `context`, appears in the name).

    "张敏", "市残联联络员", said_by "市残联" -> "张敏（市残联联络员）";
    "市残联联络员", "市残联联络员" -> "市残联联络员"; "督查室（演示）", "督查室" -> "督查室（演示）".
    """
    name = name.strip()
    return name if (said_by or context) in name else f"{name}（{context}）"


def staff_label(display_name: str, role: StaffRole) -> str:
    """A staff member as the pages name them: display name, with the role (督查室, 绩效办,
    系统管理员) only when the display name does not already say it."""
    return person_label(display_name, role.label)


def actor_names(session: Session, actors: Iterable[str | None]) -> dict[str, str]:
    """Each actor's name as shown on the desk: a liaison as "姓名（单位联络员）" (the name
    alone when it names the agency already: `person_label`), a staff member by display
    name, a job as 系统（…）, the command line as 命令行. Unknown shapes are returned as
    stored (they are names already, e.g. a circular's signer)."""
    wanted = {a for a in actors if a}
    contact_ids = {int(a.split(":")[1]) for a in wanted
                   if a.startswith("liaison:") and a.split(":")[1].isdigit()}
    usernames = {a.removeprefix("user:") for a in wanted if a.startswith("user:")}
    contacts = {cid: (name, agency, role) for cid, name, agency, role in session.execute(
        select(Contact.id, Contact.name, Agency.name, Contact.role)
        .join(Agency, Agency.id == Contact.agency_id)
        .where(Contact.id.in_(contact_ids)))} if contact_ids else {}
    users = dict(session.execute(select(StaffUser.username, StaffUser.display_name)
                                 .where(StaffUser.username.in_(usernames))).all()
                 ) if usernames else {}
    out: dict[str, str] = {}
    for actor in wanted:
        kind, _, rest = actor.partition(":")
        if kind == "liaison":
            found = contacts.get(int(rest.split(":")[0])) if rest.split(":")[0].isdigit() else None
            out[actor] = (person_label(found[0], f"{found[1]}{found[2].label}", said_by=found[1])
                          if found else "联络员（已删除）")
        elif kind == "user":
            out[actor] = users.get(rest, "工作人员（账户已删除）")
        elif kind == "system":
            out[actor] = SYSTEM.get(rest, "系统")
        elif kind == "demo":  # `tracker demo`'s simulated people (demo:liaison, demo:督查室)
            out[actor] = f"{DEMO.get(rest, rest)}（演示）"
        else:
            out[actor] = {"cli": "命令行", "t": "测试"}.get(actor, actor)
    return out
