"""A plan's performance office (绩效办) is optional (issue 13, F6)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01

No city's office is assumed any more: a plan that names no 绩效办 has none (NULL); rows
keep their values.
"""

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('plan') as batch:
        batch.alter_column('performance_office', existing_type=sa.String(length=200),
                           nullable=True)


def downgrade() -> None:
    op.execute("UPDATE plan SET performance_office = '' WHERE performance_office IS NULL")
    with op.batch_alter_table('plan') as batch:
        batch.alter_column('performance_office', existing_type=sa.String(length=200),
                           nullable=False)
