"""Group bots of an agency (chat_endpoint), tokens and secrets encrypted

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30

Issue 8: an agency's notices also go to its WeCom / DingTalk / Feishu group bots or a generic
JSON webhook. Credentials are stored only as Fernet tokens (TRACKER_CHANNEL_KEY).
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

CHANNEL_KINDS = ('email', 'file', 'wecom', 'dingtalk', 'feishu', 'webhook')


def upgrade() -> None:
    op.create_table(
        'chat_endpoint',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('agency_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.Enum(*CHANNEL_KINDS, name='channelkind', native_enum=False,
                                  length=32), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('token_encrypted', sa.Text(), nullable=False),
        sa.Column('secret_encrypted', sa.Text(), nullable=True),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['agency_id'], ['agency.id'],
                                name=op.f('fk_chat_endpoint_agency_id_agency')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_chat_endpoint')),
    )
    with op.batch_alter_table('chat_endpoint', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_chat_endpoint_agency_id'), ['agency_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('chat_endpoint', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_chat_endpoint_agency_id'))
    op.drop_table('chat_endpoint')
