"""Calendar overrides in the database; provisional due days

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30

Issue 9, item 4 (calendar lifetime): the State Council's notice loaded with
`tracker calendar load` is kept in calendar_day / calendar_year so every process sees it;
a period's and a request's due day computed over a year the calendar does not cover is
marked provisional (due_provisional).
"""

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'calendar_day',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('workday', sa.Boolean(), nullable=False),
        sa.Column('source', sa.String(length=255), nullable=False),
        sa.Column('loaded_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('day', name=op.f('pk_calendar_day')),
    )
    op.create_table(
        'calendar_year',
        sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('source', sa.String(length=255), nullable=False),
        sa.Column('loaded_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('year', name=op.f('pk_calendar_year')),
    )
    for table in ('reporting_period', 'progress_request'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('due_provisional', sa.Boolean(), nullable=False,
                                          server_default='0'))


def downgrade() -> None:
    for table in ('progress_request', 'reporting_period'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('due_provisional')
    op.drop_table('calendar_year')
    op.drop_table('calendar_day')
