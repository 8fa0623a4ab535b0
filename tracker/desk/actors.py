"""Who did what, by name: the audit trail's actors as people read them (issue 10, item 3:
"display names and Chinese labels everywhere; no internal ids in anything a person reads").

An actor is stored as `liaison:<contact id>:link:<link id>`, `user:<username>`,
`system:<job>`, `cli` or a display name (a circular's signer). `actor_names` resolves a
batch of them with two queries (contacts with their agencies, staff accounts).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.models import Agency, Contact, StaffUser

SYSTEM = {"overdue_sweep": "系统（逾期督办）", "pre_due": "系统（临期提醒）",
          "open_requests": "系统（进展调度）", "checkpoint": "系统（年度考核）"}


def actor_names(session: Session, actors: Iterable[str | None]) -> dict[str, str]:
    """Each actor's name as shown on the desk: a liaison as "姓名（单位联络员）", a staff
    member by display name, a job as 系统（…）, the command line as 命令行. Unknown shapes
    are returned as stored (they are names already, e.g. a circular's signer)."""
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
            out[actor] = (f"{found[0]}（{found[1]}{found[2].label}）" if found
                          else "联络员（已删除）")
        elif kind == "user":
            out[actor] = users.get(rest, "工作人员（账户已删除）")
        elif kind == "system":
            out[actor] = SYSTEM.get(rest, "系统")
        else:
            out[actor] = {"cli": "命令行", "t": "测试"}.get(actor, actor)
    return out
