"""Outbox rows written straight into the table, for tests whose point is delivery at a
scale the seed plan does not reach (1,000 recipients, 5,000 messages for one)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from tracker.db import transaction
from tracker.enums import ChannelKind, MessageKind, OutboxStatus
from tracker.models import OutboxMessage


def add_notices(db: sessionmaker[Session], per_address: dict[str, int], now: dt.datetime,
                channel: ChannelKind = ChannelKind.EMAIL) -> int:
    """Queue `n` waiver notices (免报, a payload text, no request) for each address, in one
    INSERT; names are 联络员<index>. Returns how many rows."""
    rows = [dict(key=f"t:{address}:{i}", kind=MessageKind.WAIVED.value, channel=channel.value,
                 address=address, recipient_name=f"联络员{k}",
                 payload={"text": f"第{i + 1}项任务本期免报。"}, status=OutboxStatus.PENDING.value,
                 attempts=0, next_attempt_at=now, created_at=now)
            for k, (address, n) in enumerate(per_address.items()) for i in range(n)]
    with transaction(db) as s:
        s.execute(insert(OutboxMessage), rows)
    return len(rows)


def message_ids(messages: list) -> Counter[str]:  # type: ignore[type-arg]
    """How many times each Message-ID arrived."""
    return Counter(str(m["Message-ID"]) for m in messages)
