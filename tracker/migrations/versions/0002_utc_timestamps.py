"""progress_request.answered_at in UTC on SQLite

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30

Until this revision, recording a report bound `now` inside coalesce() without the column's
type, so SQLite stored answered_at as the Beijing wall time with the offset dropped, while
every other timestamp (and every timestamp on PostgreSQL) is UTC. Asia/Shanghai has had no
daylight saving time since 1991: the stored values are exactly 8 hours ahead of UTC.

The stored text keeps SQLAlchemy's form 'YYYY-MM-DD HH:MM:SS.ffffff': datetime() shifts the
first 19 characters and the fraction is appended as it was (SQLite's own %f would keep only
milliseconds). PostgreSQL stored the right instant in timestamptz: nothing to do there.
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def _shift(modifier: str) -> None:
    if op.get_bind().dialect.name != 'sqlite':
        return
    op.execute(
        sa.text(
            "UPDATE progress_request"
            " SET answered_at = datetime(substr(answered_at, 1, 19), :modifier)"
            " || substr(answered_at, 20)"
            " WHERE answered_at IS NOT NULL"
        ).bindparams(modifier=modifier)
    )


def upgrade() -> None:
    _shift('-8 hours')


def downgrade() -> None:
    _shift('+8 hours')
