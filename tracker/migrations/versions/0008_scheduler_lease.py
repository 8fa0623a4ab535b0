"""The scheduler's job store, leader lease and fire claims (scheduler_job, scheduler_lease, job_fire)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30

Issue 9, item 2: APScheduler keeps its jobs in the tracker's database (`scheduler_job`, the
shape of its SQLAlchemyJobStore table); of several `tracker serve` processes only the holder
of the `scheduler_lease` row runs jobs; each fire is claimed once in `job_fire`, unique by
(job, scheduled fire time).
"""

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'job_fire',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('job', sa.String(length=64), nullable=False),
        sa.Column('fire_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('holder', sa.String(length=200), nullable=False),
        sa.Column('now_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('summary', sa.JSON(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_job_fire')),
        sa.UniqueConstraint('job', 'fire_at', name=op.f('uq_job_fire_job_fire_at')),
    )
    with op.batch_alter_table('job_fire', schema=None) as batch_op:
        batch_op.create_index('ix_job_fire_status', ['status'], unique=False)

    op.create_table(
        'scheduler_job',
        sa.Column('id', sa.Unicode(length=191), nullable=False),
        sa.Column('next_run_time', sa.Float(precision=25), nullable=True),
        sa.Column('job_state', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_scheduler_job')),
    )
    with op.batch_alter_table('scheduler_job', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scheduler_job_next_run_time'), ['next_run_time'],
                              unique=False)

    op.create_table(
        'scheduler_lease',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('holder', sa.String(length=200), nullable=False),
        sa.Column('acquired_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('renewed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_scheduler_lease')),
    )


def downgrade() -> None:
    op.drop_table('scheduler_lease')
    with op.batch_alter_table('scheduler_job', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scheduler_job_next_run_time'))
    op.drop_table('scheduler_job')
    with op.batch_alter_table('job_fire', schema=None) as batch_op:
        batch_op.drop_index('ix_job_fire_status')
    op.drop_table('job_fire')
