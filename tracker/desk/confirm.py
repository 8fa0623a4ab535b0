"""What an outward action would send, shown before the office confirms it (issue 10, item 3:
"destructive or outward actions ask for confirmation and show what will be sent").

`preview` runs the action itself inside a SAVEPOINT, reads the outbox rows it wrote,
renders them with the dispatcher's own templates (one digest per recipient and notice
kind, as they would be sent) and rolls the SAVEPOINT back: the page shows exactly the
recipients, addresses, notice kinds and subject lines of the real action, and nothing
happens until the second, confirmed POST.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from notifications.channels.base import Digest
from notifications.render import NoticeConfig, message_rows, render_digests
from tracker.enums import ChannelKind, NoticeKind
from tracker.errors import DomainError
from tracker.models import OutboxMessage
from tracker.policy import Policy


@dataclass(frozen=True)
class Recipient:
    """One notice the action would send: to whom, where, what kind, its subject line."""

    name: str
    address: str
    channel: str  # the channel's label (邮件, 企业微信群机器人 …)
    kind: str  # the notice kind's label (催办, 督办, 通报, 免报 …)
    subject: str
    is_copy: bool


@dataclass
class Preview:
    """The action's notices, or the refusal it would meet (`error`, in Chinese)."""

    recipients: list[Recipient] = field(default_factory=list)
    error: str | None = None


def preview(session: Session, action: Callable[[Session], Any], *, now: dt.datetime,
            policy: Policy, config: NoticeConfig) -> Preview:
    """Run `action(session)` in a SAVEPOINT, render the outbox rows it wrote as the
    dispatcher would (`notifications.render`), and undo it. A DomainError raised by the
    action is returned as `Preview.error` (the confirmation page shows the refusal)."""
    before = session.scalar(select(func.max(OutboxMessage.id))) or 0
    savepoint = session.begin_nested()
    try:
        try:
            action(session)
        except DomainError as exc:
            return Preview(error=exc.message)
        session.flush()
        ids = list(session.scalars(select(OutboxMessage.id).where(OutboxMessage.id > before)
                                   .order_by(OutboxMessage.id)))
        rows = message_rows(session, ids) if ids else []
        digests = render_digests(rows, now=now, calendar=policy.calendar, config=config)
        by_id = {r["msg"].id: r["msg"] for r in rows}
        out = []
        for channel, digest, message_ids in digests:
            msg = by_id[message_ids[0]]
            kind = NoticeKind(digest.kind) if isinstance(digest, Digest) else NoticeKind.of(
                msg.kind, msg.level)
            subject = digest.subject if isinstance(digest, Digest) else "（通知无法生成）"
            out.append(Recipient(msg.recipient_name, msg.address, ChannelKind(channel).label,
                                 kind.label, subject, msg.is_copy))
        return Preview(sorted(out, key=lambda r: (r.is_copy, r.kind, r.name, r.address)))
    finally:
        savepoint.rollback()
        session.expire_all()
