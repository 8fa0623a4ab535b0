"""The dispatcher's claim kept apart from the messages: outbox_lease and outbox_claim

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02

Issue 14 (item 2): the claim rewrote every due message of a batch's recipients (status,
token, lease) before the send rewrote it again; at 1M assignments the office's liaison
alone held 2,000,000 messages, claimed in one UPDATE of 253 s. A batch now leases its
recipients (outbox_lease: one row per channel and address) and lists the messages it took
in outbox_claim (narrow rows; UNLOGGED on PostgreSQL: after a server crash the table is
empty, the messages are still pending and are claimed again once the lease has passed).
Messages a run of before this revision left "sending" are made pending again, due at
once; their old token is cleared.
"""

import sqlalchemy as sa
from alembic import op

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        'outbox_lease',
        sa.Column('channel', sa.String(length=32), nullable=False),
        sa.Column('address', sa.String(length=254), nullable=False),
        sa.Column('token', sa.String(length=64), nullable=False),
        sa.Column('until', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('channel', 'address', name=op.f('pk_outbox_lease')),
    )
    op.create_index(op.f('ix_outbox_lease_token'), 'outbox_lease', ['token'])
    op.create_table(
        'outbox_claim',
        sa.Column('token', sa.String(length=64), nullable=False),
        sa.Column('channel', sa.String(length=32), nullable=False),
        sa.Column('address', sa.String(length=254), nullable=False),
        sa.Column('notice', sa.String(length=32), nullable=False),
        sa.Column('message_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint('token', 'channel', 'address', 'notice', 'message_id',
                                name=op.f('pk_outbox_claim')),
        prefixes=['UNLOGGED'] if postgres else [],
    )
    if postgres:
        # never analysed: a list is filled and emptied in one batch, and statistics taken
        # while one recipient's 2,000,000 entries were in it would make the planner join
        # every later digest by a scan of all messages instead of by their key; vacuum
        # still reclaims the space
        op.execute("ALTER TABLE outbox_claim SET (autovacuum_analyze_threshold = 2000000000)")
    op.execute("UPDATE outbox_message SET status = 'pending', claim_token = NULL "
               "WHERE status = 'sending'")


def downgrade() -> None:
    op.drop_table('outbox_claim')
    op.drop_index(op.f('ix_outbox_lease_token'), table_name='outbox_lease')
    op.drop_table('outbox_lease')
