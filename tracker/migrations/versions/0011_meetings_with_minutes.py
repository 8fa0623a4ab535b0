"""Executive meetings with evidence (executive_meeting: name, decisions, state, minutes)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30

Issue 11, item 4: a government's liaison records its executive meeting (name and number,
decisions, minutes attached) and the office confirms or returns it. Meetings recorded
before this revision were recorded by the office itself: they stay confirmed.
"""

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('executive_meeting') as batch:
        batch.add_column(sa.Column('name', sa.String(length=200), nullable=False,
                                   server_default=''))
        batch.add_column(sa.Column('decisions', sa.Text(), nullable=False, server_default=''))
        batch.add_column(sa.Column('state', sa.Enum('pending', 'confirmed', 'returned',
                                                     name='meetingstate', native_enum=False,
                                                     length=32),
                                   nullable=False, server_default='confirmed'))
        batch.add_column(sa.Column('minutes_filename', sa.String(length=255), nullable=True))
        batch.add_column(sa.Column('minutes_media_type', sa.String(length=100), nullable=True))
        batch.add_column(sa.Column('minutes_size', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('minutes_sha256', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('decided_by', sa.String(length=200), nullable=True))
        batch.add_column(sa.Column('return_reason', sa.Text(), nullable=True))
        batch.create_index(batch.f('ix_executive_meeting_state'), ['state'], unique=False)
    with op.batch_alter_table('executive_meeting') as batch:
        for column in ('name', 'decisions', 'state'):
            batch.alter_column(column, server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('executive_meeting') as batch:
        batch.drop_index(batch.f('ix_executive_meeting_state'))
        for column in ('return_reason', 'decided_by', 'decided_at', 'updated_at',
                       'minutes_sha256', 'minutes_size', 'minutes_media_type',
                       'minutes_filename', 'state', 'decisions', 'name'):
            batch.drop_column(column)
