"""A circular's items as rows of their own (circular_item), not one JSON list

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02

Issue 14: on a national day a million requests reach the top rung; as one JSON list the
draft circular was built, merged and written in Python (1.78 GiB at 1M). As rows, the
sweep adds them with one INSERT … SELECT and nothing is held in memory. The existing lists
are copied (a key an early list lacks becomes '' or NULL), then the column is dropped.
"""

import datetime as dt
import json

import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

_KEYS = ("period", "agency", "code", "title", "role")


def upgrade() -> None:
    bind = op.get_bind()
    rows = []  # read first: the column goes before the table that refers to circular comes
    for circular_id, items in bind.execute(sa.text("SELECT id, items FROM circular")).all():
        listed = json.loads(items) if isinstance(items, str) else (items or [])
        seen = set()
        for item in listed:
            if item.get("request_id") is None or item["request_id"] in seen:
                continue
            seen.add(item["request_id"])
            due = item.get("due_on")
            rows.append(dict(circular_id=circular_id, request_id=int(item["request_id"]),
                             agency_id=int(item["agency_id"]),
                             due_on=dt.date.fromisoformat(due) if due else None,
                             **{k: str(item.get(k) or "") for k in _KEYS}))
    with op.batch_alter_table('circular') as batch:
        batch.drop_column('items')
    op.create_table(
        'circular_item',
        sa.Column('circular_id', sa.Integer(), nullable=False),
        sa.Column('request_id', sa.Integer(), nullable=False),
        sa.Column('period', sa.String(length=40), nullable=False),
        sa.Column('agency_id', sa.Integer(), nullable=False),
        sa.Column('agency', sa.String(length=200), nullable=False),
        sa.Column('code', sa.String(length=20), nullable=False),
        sa.Column('title', sa.Text(), nullable=False),
        sa.Column('role', sa.String(length=20), nullable=False),
        sa.Column('due_on', sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(['agency_id'], ['agency.id'],
                                name=op.f('fk_circular_item_agency_id_agency')),
        sa.ForeignKeyConstraint(['circular_id'], ['circular.id'], ondelete='CASCADE',
                                name=op.f('fk_circular_item_circular_id_circular')),
        sa.ForeignKeyConstraint(['request_id'], ['progress_request.id'],
                                name=op.f('fk_circular_item_request_id_progress_request')),
        sa.PrimaryKeyConstraint('circular_id', 'request_id', name=op.f('pk_circular_item')),
    )
    op.create_index('ix_circular_item_agency', 'circular_item', ['circular_id', 'agency_id'])
    target = sa.table('circular_item', *(sa.column(c) for c in (
        'circular_id', 'request_id', 'agency_id', 'due_on') + _KEYS))
    for start in range(0, len(rows), 5000):
        bind.execute(target.insert(), rows[start:start + 5000])


def downgrade() -> None:
    with op.batch_alter_table('circular') as batch:
        batch.add_column(sa.Column('items', sa.JSON(), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT circular_id, request_id, agency_id, due_on, period, agency, code, title, role "
        "FROM circular_item ORDER BY circular_id, request_id")).all()
    lists: dict[int, list[dict]] = {}
    for cid, rid, aid, due, *rest in rows:
        lists.setdefault(cid, []).append(dict(
            request_id=rid, agency_id=aid, due_on=str(due) if due else "",
            **dict(zip(_KEYS, rest))))
    circular = sa.table('circular', sa.column('id'), sa.column('items', sa.JSON()))
    for cid, items in lists.items():
        bind.execute(circular.update().where(circular.c.id == cid).values(items=items))
    bind.execute(circular.update().where(circular.c.items.is_(None)).values(items=[]))
    op.drop_index('ix_circular_item_agency', table_name='circular_item')
    op.drop_table('circular_item')
