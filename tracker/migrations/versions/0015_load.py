"""The agency directory in use and plan settings on load (issue 13, items 3 and 4)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01

An agency's parent and the agency it was merged into (with the day); an alias's validity
(from, to); a measure's 分管领导 (its 完成时限: 0014); the office's review list of flagged
phrases and names the directory did not know (`directory_review`).
"""

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('agency', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parent_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('merged_into_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('merged_on', sa.Date(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_agency_parent_id_agency'), 'agency',
                                    ['parent_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_agency_merged_into_id_agency'), 'agency',
                                    ['merged_into_id'], ['id'])
    with op.batch_alter_table('agency_alias', schema=None) as batch_op:
        batch_op.add_column(sa.Column('valid_from', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('valid_to', sa.Date(), nullable=True))
    with op.batch_alter_table('measure', schema=None) as batch_op:
        batch_op.add_column(sa.Column('leader', sa.String(length=100), nullable=True))
    op.create_table(
        'directory_review',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('plan_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('measure_code', sa.String(length=20), nullable=False),
        sa.Column('field', sa.String(length=20), nullable=False),
        sa.Column('phrase', sa.String(length=200), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('agency_id', sa.Integer(), nullable=True),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('agency_ids', sa.JSON(), nullable=False),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('resolved_by', sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(['agency_id'], ['agency.id'],
                                name=op.f('fk_directory_review_agency_id_agency')),
        sa.ForeignKeyConstraint(['plan_id'], ['plan.id'],
                                name=op.f('fk_directory_review_plan_id_plan')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_directory_review')),
        sa.UniqueConstraint('plan_id', 'kind', 'measure_code', 'field', 'phrase',
                            name=op.f('uq_directory_review_plan_id_kind_measure_code_field_phrase')),
    )
    with op.batch_alter_table('directory_review', schema=None) as batch_op:
        batch_op.create_index('ix_directory_review_state', ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_directory_review_plan_id'), ['plan_id'],
                              unique=False)


def downgrade() -> None:
    op.drop_table('directory_review')
    with op.batch_alter_table('measure', schema=None) as batch_op:
        batch_op.drop_column('leader')
    with op.batch_alter_table('agency_alias', schema=None) as batch_op:
        batch_op.drop_column('valid_to')
        batch_op.drop_column('valid_from')
    with op.batch_alter_table('agency', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_agency_merged_into_id_agency'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_agency_parent_id_agency'), type_='foreignkey')
        batch_op.drop_column('merged_on')
        batch_op.drop_column('merged_into_id')
        batch_op.drop_column('parent_id')
