"""The issued scorecard and delivered supervision notices

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30

Issue 11, item 1: a 督办 counts against an agency once its notice was delivered
(escalation.notified_at, set by the dispatcher); an issued scorecard keeps its workbook,
detail CSV, its summary and indicator tables and a copy of the scoring rules it used
(scorecard_run).
"""

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('escalation') as batch:
        batch.add_column(sa.Column('notified_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('scorecard_run') as batch:
        batch.add_column(sa.Column('rules_version', sa.String(length=40), nullable=False,
                                   server_default=''))
        batch.add_column(sa.Column('rules', sa.JSON(), nullable=False, server_default='{}'))
        batch.add_column(sa.Column('workbook', sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column('detail_csv', sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column('data_as_of', sa.Date(), nullable=True))
        batch.add_column(sa.Column('tables', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('regenerated_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('regenerated_by', sa.String(length=200), nullable=True))
    # notices delivered before this revision: their outbox rows say so
    op.execute("""
        UPDATE escalation SET notified_at = (
            SELECT MIN(m.sent_at) FROM outbox_message m
            WHERE m.request_id = escalation.request_id AND m.level = escalation.level
              AND m.is_copy = false AND m.status = 'sent'
              AND m.key LIKE 'esc:%')
        WHERE notified_at IS NULL""")


def downgrade() -> None:
    with op.batch_alter_table('scorecard_run') as batch:
        for name in ('regenerated_by', 'regenerated_at', 'tables', 'data_as_of', 'detail_csv',
                     'workbook', 'rules', 'rules_version'):
            batch.drop_column(name)
    with op.batch_alter_table('escalation') as batch:
        batch.drop_column('notified_at')
