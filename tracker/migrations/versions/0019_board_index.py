"""The board's counts from an index: (state, due day, answered late, period, agency, level)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01

The overdue board counts the filtered requests per light on every view; the light is
`requests.rules.light_sql` over state, due day and answered_late. This index holds every
column the count reads (and the plan, period and agency filters), so the count is an
index-only scan instead of a read of every request row; led by state and due day, it is
also a range for the red requests (open, due before today: the heat table, the red
filter). The page of rows is found by keyset (issue 14, item 4).
"""

from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_progress_request_board', 'progress_request',
                    ['state', 'due_on', 'answered_late', 'period_id', 'agency_id', 'level'])


def downgrade() -> None:
    op.drop_index('ix_progress_request_board', table_name='progress_request')
