"""Official documents (issue 12): the 文号 registry, the 督办通知单, a circular's edits

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01

One sequence of document numbers per issuing office and year (`document_number`, unique
office/year/serial); the 督办通知单 per plan, agency and day of a 督办 rung; a circular and a
督办通知单 keep what the office edited before sign-off (serial, 主送, wording, 抄送, items left
out with a reason) and the number they were issued with.
"""

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

EDITS = [
    ('number', lambda: sa.String(length=100)),
    ('serial', lambda: sa.Integer()),
    ('addressees', lambda: sa.JSON()),
    ('body', lambda: sa.Text()),
    ('cc', lambda: sa.JSON()),
    ('excluded', lambda: sa.JSON()),
    ('document', lambda: sa.LargeBinary()),
]


def upgrade() -> None:
    op.create_table(
        'document_number',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('office', sa.String(length=200), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('serial', sa.Integer(), nullable=False),
        sa.Column('number', sa.String(length=100), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('document_id', sa.Integer(), nullable=False),
        sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('assigned_by', sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_document_number')),
        sa.UniqueConstraint('office', 'year', 'serial',
                            name=op.f('uq_document_number_office_year_serial')),
        sa.UniqueConstraint('kind', 'document_id', name=op.f('uq_document_number_kind_document_id')),
    )
    op.create_table(
        'supervision_notice',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('plan_id', sa.Integer(), nullable=False),
        sa.Column('agency_id', sa.Integer(), nullable=False),
        sa.Column('effective_on', sa.Date(), nullable=False),
        sa.Column('key', sa.String(length=100), nullable=False),
        sa.Column('state', sa.Enum('draft', 'signed', name='circularstate', native_enum=False,
                                   length=32), nullable=False),
        sa.Column('items', sa.JSON(), nullable=False),
        sa.Column('drafted_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('issued_by', sa.String(length=200), nullable=True),
        sa.Column('issued_at', sa.DateTime(timezone=True), nullable=True),
        *[sa.Column(name, make(), nullable=True) for name, make in EDITS],
        sa.ForeignKeyConstraint(['plan_id'], ['plan.id'],
                                name=op.f('fk_supervision_notice_plan_id_plan')),
        sa.ForeignKeyConstraint(['agency_id'], ['agency.id'],
                                name=op.f('fk_supervision_notice_agency_id_agency')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_supervision_notice')),
        sa.UniqueConstraint('key', name=op.f('uq_supervision_notice_key')),
    )
    with op.batch_alter_table('circular', schema=None) as batch_op:
        for name, make in EDITS:
            batch_op.add_column(sa.Column(name, make(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('circular', schema=None) as batch_op:
        for name, _ in reversed(EDITS):
            batch_op.drop_column(name)
    op.drop_table('supervision_notice')
    op.drop_table('document_number')
