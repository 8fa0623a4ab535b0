"""The dispatcher at its floor: partial indexes for the claim; delivery receipts (issue 14, item 2)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01

The claim reads the due rows in time order and a chosen recipient's due rows through two
partial indexes of the live rows only (status pending or sending), so its cost follows the
batch, not the backlog nor the number ever sent. The token index becomes a partial one on
(claim_token, channel, address): a claim's rows, one recipient's among them. An index on
request_id serves an item's history. Settled messages older than the retention period
are archived into `delivery_receipt` / `delivery_receipt_item` (tracker.outbox).
No dispatcher runs during a migration.
"""

import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

DUE_SQL = "status IN ('pending', 'sending')"
KINDS = ('progress_request', 'escalation', 'report_returned', 'extension_decided',
         'circular_issued', 'waived', 'meeting_reminder', 'meeting_warning', 'pre_due_reminder',
         'due_changed', 'new_link', 'meeting_returned', 'indicator_escalated',
         'indicator_explanation')


def upgrade() -> None:
    op.drop_index('ix_outbox_message_claim_token', table_name='outbox_message')
    op.create_index('ix_outbox_message_claim', 'outbox_message',
                    ['claim_token', 'channel', 'address', 'request_id', 'level'],
                    sqlite_where=sa.text('claim_token IS NOT NULL'),
                    postgresql_where=sa.text('claim_token IS NOT NULL'))
    op.create_index('ix_outbox_message_due_at', 'outbox_message', ['next_attempt_at', 'id'],
                    sqlite_where=sa.text(DUE_SQL), postgresql_where=sa.text(DUE_SQL))
    op.create_index('ix_outbox_message_due_recipient', 'outbox_message', ['channel', 'address'],
                    sqlite_where=sa.text(DUE_SQL), postgresql_where=sa.text(DUE_SQL))
    op.create_index('ix_outbox_message_request_id', 'outbox_message', ['request_id'])
    op.create_table(
        'delivery_receipt',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('digest_id', sa.String(length=64), nullable=True),
        sa.Column('attempted_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('ok', sa.Boolean(), nullable=True),
        sa.Column('permanent', sa.Boolean(), nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('status', sa.Enum('pending', 'sending', 'sent', 'failed', 'dropped',
                                    name='outboxstatus', native_enum=False, length=32),
                  nullable=False),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('kind', sa.Enum(*KINDS, name='messagekind', native_enum=False, length=32),
                  nullable=False),
        sa.Column('level', sa.Integer(), nullable=False),
        sa.Column('is_copy', sa.Boolean(), nullable=False),
        sa.Column('channel', sa.Enum('email', 'file', 'wecom', 'dingtalk', 'feishu', 'webhook',
                                     name='channelkind', native_enum=False, length=32),
                  nullable=False),
        sa.Column('address', sa.String(length=254), nullable=False),
        sa.Column('recipient_name', sa.String(length=200), nullable=False),
        sa.Column('plan_id', sa.Integer(), nullable=True),
        sa.Column('agency_id', sa.Integer(), nullable=True),
        sa.Column('queued_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('messages', sa.Integer(), nullable=False),
        sa.Column('archived_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['agency_id'], ['agency.id'],
                                name=op.f('fk_delivery_receipt_agency_id_agency')),
        sa.ForeignKeyConstraint(['plan_id'], ['plan.id'],
                                name=op.f('fk_delivery_receipt_plan_id_plan')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_delivery_receipt')),
    )
    op.create_table(
        'delivery_receipt_item',
        sa.Column('request_id', sa.Integer(), nullable=False),
        sa.Column('message_id', sa.Integer(), nullable=False),
        sa.Column('receipt_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['receipt_id'], ['delivery_receipt.id'],
                                name=op.f('fk_delivery_receipt_item_receipt_id_delivery_receipt')),
        sa.ForeignKeyConstraint(['request_id'], ['progress_request.id'],
                                name=op.f('fk_delivery_receipt_item_request_id_progress_request')),
        sa.PrimaryKeyConstraint('request_id', 'message_id', 'receipt_id',
                                name=op.f('pk_delivery_receipt_item')),
    )


def downgrade() -> None:
    op.drop_table('delivery_receipt_item')
    op.drop_table('delivery_receipt')
    op.drop_index('ix_outbox_message_request_id', table_name='outbox_message')
    op.drop_index('ix_outbox_message_due_recipient', table_name='outbox_message')
    op.drop_index('ix_outbox_message_due_at', table_name='outbox_message')
    op.drop_index('ix_outbox_message_claim', table_name='outbox_message')
    op.create_index('ix_outbox_message_claim_token', 'outbox_message', ['claim_token'])
