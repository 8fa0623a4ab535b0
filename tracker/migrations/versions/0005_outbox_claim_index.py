"""An index on outbox_message.claim_token (the dispatcher settles and renews by token)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30

The claim query itself uses ix_outbox_message_due (status, next_attempt_at), which exists
since 0001: a claimed row's next_attempt_at now holds the end of its lease. Rows a crashed
run left "sending" before this revision keep their old due time, so they are due again at
once (no dispatcher runs during a migration).
"""

from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_outbox_message_claim_token', 'outbox_message', ['claim_token'])


def downgrade() -> None:
    op.drop_index('ix_outbox_message_claim_token', table_name='outbox_message')
