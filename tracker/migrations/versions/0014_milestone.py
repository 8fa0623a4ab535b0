"""A task's own 完成时限 on the measure (issue 13, build item 5)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01

The deadline as the catalog gives it (`catalog.schema.Deadline`): the text as written, the
kind (date, yearly, ongoing), the due day of a dated one and the month and day of a
yearly one. The milestone itself is a reporting period of kind `milestone` (no schema
change: the kind is a plain string column).
"""

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('measure') as batch:
        batch.add_column(sa.Column('deadline_text', sa.String(length=100), nullable=True))
        batch.add_column(sa.Column(
            'deadline_kind', sa.Enum('date', 'yearly', 'ongoing', name='deadlinekind',
                                     native_enum=False, length=32), nullable=True))
        batch.add_column(sa.Column('deadline_due', sa.Date(), nullable=True))
        batch.add_column(sa.Column('deadline_month', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('deadline_day', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('measure') as batch:
        for name in ('deadline_day', 'deadline_month', 'deadline_due', 'deadline_kind',
                     'deadline_text'):
            batch.drop_column(name)
