"""Indicators on their trajectory (issue 11, item 3)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30

An indicator gets a kind (rate | growth; a growth indicator's owner reports a level, named
with its unit) and a baseline for the base year with its source and who recorded it; a
report and an indicator value keep the numerator, denominator and source (数据来源); an
indicator value keeps when it was escalated to the supervision office (binding, off
trajectory) or its owner asked for an explanation (expected), and the explanation.
"""

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('indicator', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            'kind', sa.Enum('rate', 'growth', name='indicatorkind', native_enum=False,
                            length=32), server_default='rate', nullable=False))
        batch_op.add_column(sa.Column('level_name', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('level_unit', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('baseline', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('baseline_source', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('baseline_recorded_at', sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('baseline_recorded_by', sa.String(length=200),
                                      nullable=True))
    with op.batch_alter_table('progress_report', schema=None) as batch_op:
        batch_op.add_column(sa.Column('numerator', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('denominator', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('value_source', sa.Text(), nullable=True))
    with op.batch_alter_table('indicator_value', schema=None) as batch_op:
        batch_op.add_column(sa.Column('numerator', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('denominator', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('source', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('explanation_asked_at', sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('explanation', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('explained_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('explained_by', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('indicator_value', schema=None) as batch_op:
        for name in ('explained_by', 'explained_at', 'explanation', 'explanation_asked_at',
                     'escalated_at', 'source', 'denominator', 'numerator'):
            batch_op.drop_column(name)
    with op.batch_alter_table('progress_report', schema=None) as batch_op:
        for name in ('value_source', 'denominator', 'numerator'):
            batch_op.drop_column(name)
    with op.batch_alter_table('indicator', schema=None) as batch_op:
        for name in ('baseline_recorded_by', 'baseline_recorded_at', 'baseline_source',
                     'baseline', 'level_unit', 'level_name', 'kind'):
            batch_op.drop_column(name)
