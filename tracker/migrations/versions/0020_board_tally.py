"""The overdue board's running counts (board_tally), kept by triggers

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02

The board added up every filtered request on each view for its counts per light, its
heat table and its on-time rate (10 s at 1M requests on PostgreSQL). board_tally counts
the requests per period, agency, section, role, level, state, answered late and due day
(`models.BoardTally`); triggers on progress_request, assignment and measure keep it, their
SQL in `tracker.desk.tally` (issue 14, item 4). The requests already there are counted in.
The board's page is read one light at a time in the order (due day, agency, measure,
request): ix_progress_request_board_order (state, due day, agency, id) gives it nearly.
"""

import sqlalchemy as sa
from alembic import op

from tracker.desk import tally

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'board_tally',
        sa.Column('period_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('agency_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('indicator', sa.Boolean(), nullable=False),
        sa.Column('section', sa.String(length=100), nullable=False),
        sa.Column('role', sa.String(length=32), nullable=False),
        sa.Column('level', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('state', sa.String(length=32), nullable=False),
        sa.Column('late', sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column('due_on', sa.Date(), nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('period_id', 'agency_id', 'indicator', 'section', 'role', 'level',
                                'state', 'late', 'due_on', name=op.f('pk_board_tally')),
    )
    op.create_index('ix_board_tally_agency', 'board_tally', ['agency_id'])
    tally.install(op.get_bind())
    op.create_index('ix_progress_request_board_order', 'progress_request',
                    ['state', 'due_on', 'agency_id', 'id'])


def downgrade() -> None:
    op.drop_index('ix_progress_request_board_order', table_name='progress_request')
    tally.uninstall(op.get_bind())
    op.drop_index('ix_board_tally_agency', table_name='board_tally')
    op.drop_table('board_tally')
