"""Failed sign-ins per client address (sign_in_address)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30

Issue 10, item 8: failed sign-ins are counted in the database per client address, shared by
every process (they were counted in one process's memory), beside the per-account count
kept on staff_user.
"""

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'sign_in_address',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('address', sa.String(length=64), nullable=False),
        sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_address')),
        sa.UniqueConstraint('address', name=op.f('uq_sign_in_address_address')),
    )


def downgrade() -> None:
    op.drop_table('sign_in_address')
