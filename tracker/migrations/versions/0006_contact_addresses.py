"""Further addresses of a contact (contact_address)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30

Issue 8, item 2: "a contact may have several addresses". The contact's `email` stays its
primary address; each further one is a row here, removed ones kept inactive.
"""

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

CHANNEL_KINDS = ('email', 'file', 'wecom', 'dingtalk', 'feishu', 'webhook')


def upgrade() -> None:
    op.create_table(
        'contact_address',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('contact_id', sa.Integer(), nullable=False),
        sa.Column('channel', sa.Enum(*CHANNEL_KINDS, name='channelkind', native_enum=False,
                                     length=32), nullable=False),
        sa.Column('address', sa.String(length=254), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['contact_id'], ['contact.id'],
                                name=op.f('fk_contact_address_contact_id_contact')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_contact_address')),
        sa.UniqueConstraint('contact_id', 'address',
                            name=op.f('uq_contact_address_contact_id_address')),
    )
    with op.batch_alter_table('contact_address', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contact_address_contact_id'), ['contact_id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('contact_address', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contact_address_contact_id'))
    op.drop_table('contact_address')
