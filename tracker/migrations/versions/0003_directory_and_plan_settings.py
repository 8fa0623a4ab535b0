"""One agency directory for all plans; each plan's own settings; contacts; outbox plan

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30

- plan: the settings that were constants in code (文号, cadence, the government whose
  districts apply and their list, office names, the meeting contact and duty). Plans loaded
  before this revision were parsed by the Tianjin parser: they get Tianjin's government and
  the district governments they listed.
- agency: keyed by (parent government, name) instead of (plan, name); agencies of the same
  name in two plans of one government become one row (references are re-pointed).
- agency_alias: other names of an agency.
- liaison becomes contact (it also holds deputy heads); outbox_message.liaison_id becomes
  contact_id, and outbox_message gets the plan it is about.

Downgrade is refused: merged agencies cannot be split again (restore a backup instead).
"""

import json

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

TIANJIN = '天津市人民政府'  # the only government the parser of earlier revisions knew
AGENCY_REFS = [('assignment', 'agency_id'), ('indicator', 'owner_agency_id'),
               ('progress_request', 'agency_id'), ('liaison', 'agency_id'),
               ('outbox_message', 'agency_id')]


def upgrade() -> None:
    bind = op.get_bind()
    _plan_settings(bind)
    _directory(bind)
    _contacts(bind)
    _outbox_plan(bind)


def downgrade() -> None:
    raise NotImplementedError('0003 merges agencies of several plans into one directory; '
                              'it cannot be undone: restore a backup taken before upgrading')


def _plan_settings(bind) -> None:
    with op.batch_alter_table('plan') as batch:
        batch.add_column(sa.Column('doc_number', sa.String(length=100), nullable=True))
        batch.add_column(sa.Column('cadence', sa.Enum('quarter', 'half_year', name='cadence',
                                                      native_enum=False, length=32),
                                   nullable=False, server_default='quarter'))
        batch.add_column(sa.Column('government', sa.String(length=200), nullable=False,
                                   server_default=TIANJIN))
        batch.add_column(sa.Column('districts', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('supervision_office', sa.String(length=200), nullable=False,
                                   server_default='市政府督查室'))
        batch.add_column(sa.Column('performance_office', sa.String(length=200), nullable=False,
                                   server_default='市绩效办'))
        batch.add_column(sa.Column('meeting_contact', sa.String(length=200), nullable=True))
        batch.add_column(sa.Column('meeting_duty', sa.Boolean(), nullable=False,
                                   server_default=sa.true()))
    plans = bind.execute(sa.text('SELECT id, issuer FROM plan')).all()
    for plan_id, issuer in plans:
        districts = bind.execute(sa.text(
            "SELECT name FROM agency WHERE plan_id = :p AND kind = 'district_government' "
            "ORDER BY id"), {'p': plan_id}).scalars().all()
        contact = bind.execute(sa.text(
            "SELECT name FROM agency WHERE plan_id = :p AND name = '市残联'"),
            {'p': plan_id}).scalar()
        bind.execute(sa.text('UPDATE plan SET districts = :d, meeting_contact = :c, government = :g '
                             'WHERE id = :p'),
                     {'d': json.dumps(districts, ensure_ascii=False), 'c': contact, 'p': plan_id,
                      'g': _government_of(issuer)})
    # the defaults served the backfill only: new plans bring their own settings
    with op.batch_alter_table('plan') as batch:
        for column in ('cadence', 'government', 'supervision_office', 'performance_office',
                       'meeting_duty'):
            batch.alter_column(column, server_default=None)
        batch.alter_column('districts', existing_type=sa.JSON(), nullable=False)


def _government_of(issuer: str) -> str:
    """The government a plan was issued by: 北京市人民政府办公厅 -> 北京市人民政府. A plan loaded
    before this revision from a hand-written catalog keeps its own city: agencies are merged
    only within one government."""
    for suffix in ('办公厅', '办公室'):
        if issuer.endswith('人民政府' + suffix):
            return issuer.removesuffix(suffix)
    return issuer if issuer.endswith('人民政府') else TIANJIN


def _directory(bind) -> None:
    with op.batch_alter_table('agency') as batch:
        batch.add_column(sa.Column('government', sa.String(length=200), nullable=True))
    bind.execute(sa.text(
        'UPDATE agency SET government = (SELECT government FROM plan WHERE plan.id = agency.plan_id)'))
    # one row per (government, name): keep the oldest, point every reference at it
    dupes = bind.execute(sa.text(
        'SELECT a.id, k.keep FROM agency a JOIN (SELECT government, name, MIN(id) AS keep '
        'FROM agency GROUP BY government, name HAVING COUNT(*) > 1) k '
        'ON k.government = a.government AND k.name = a.name WHERE a.id <> k.keep')).all()
    if dupes:
        _merge_agencies(bind, {old: keep for old, keep in dupes})
    with op.batch_alter_table('agency') as batch:
        batch.drop_constraint('uq_agency_plan_id_name', type_='unique')
        batch.drop_constraint('fk_agency_plan_id_plan', type_='foreignkey')
        batch.drop_column('plan_id')
        batch.alter_column('government', existing_type=sa.String(length=200), nullable=False)
        batch.create_unique_constraint('uq_agency_government_name', ['government', 'name'])
    op.create_table(
        'agency_alias',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('agency_id', sa.Integer(), nullable=False),
        sa.Column('government', sa.String(length=200), nullable=False),
        sa.Column('alias', sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(['agency_id'], ['agency.id'],
                                name='fk_agency_alias_agency_id_agency'),
        sa.PrimaryKeyConstraint('id', name='pk_agency_alias'),
        sa.UniqueConstraint('government', 'alias', name='uq_agency_alias_government_alias'),
    )
    op.create_index('ix_agency_alias_agency_id', 'agency_alias', ['agency_id'])


def _merge_agencies(bind, keep_of: dict[int, int]) -> None:
    for old, keep in keep_of.items():
        # a contact the kept agency already has (same address) is dropped with its duplicate
        same = bind.execute(sa.text(
            'SELECT d.id, k.id FROM liaison d JOIN liaison k ON k.agency_id = :keep '
            'AND k.email = d.email WHERE d.agency_id = :old'), {'old': old, 'keep': keep}).all()
        for dup, kept in same:
            # the kept row stays active if either was, and links issued to either stay revoked
            # only if they were: the larger token version wins
            bind.execute(sa.text(
                'UPDATE liaison SET active = (SELECT MAX(CASE WHEN active THEN 1 ELSE 0 END) '
                'FROM liaison WHERE id IN (:k, :d)) = 1, token_version = (SELECT MAX(token_version) '
                'FROM liaison WHERE id IN (:k, :d)) WHERE id = :k'), {'k': kept, 'd': dup})
            bind.execute(sa.text('UPDATE outbox_message SET liaison_id = :k WHERE liaison_id = :d'),
                         {'k': kept, 'd': dup})
            bind.execute(sa.text('DELETE FROM liaison WHERE id = :d'), {'d': dup})
        for table, column in AGENCY_REFS:
            bind.execute(sa.text(f'UPDATE {table} SET {column} = :keep WHERE {column} = :old'),
                         {'keep': keep, 'old': old})
    rows = bind.execute(sa.text('SELECT id, items FROM circular')).all()
    for circular_id, items in rows:
        items = json.loads(items) if isinstance(items, str) else items
        changed = False
        for item in items:
            if item.get('agency_id') in keep_of:
                item['agency_id'], changed = keep_of[item['agency_id']], True
        if changed:
            bind.execute(sa.text('UPDATE circular SET items = :i WHERE id = :c'),
                         {'i': json.dumps(items, ensure_ascii=False), 'c': circular_id})
    bind.execute(sa.text('DELETE FROM agency WHERE id IN (%s)' % ','.join(map(str, keep_of))))


def _contacts(bind) -> None:
    op.create_table(
        'contact',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('agency_id', sa.Integer(), nullable=False),
        sa.Column('role', sa.Enum('liaison', 'deputy_head', name='contactrole', native_enum=False,
                                  length=32), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('phone', sa.String(length=40), nullable=True),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('token_version', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name='fk_contact_agency_id_agency'),
        sa.PrimaryKeyConstraint('id', name='pk_contact'),
        sa.UniqueConstraint('agency_id', 'email', name='uq_contact_agency_id_email'),
    )
    op.create_index('ix_contact_agency_id', 'contact', ['agency_id'])
    bind.execute(sa.text(
        'INSERT INTO contact (id, agency_id, role, name, email, phone, active, token_version) '
        'SELECT id, agency_id, role, name, email, phone, active, token_version FROM liaison'))
    if bind.dialect.name == 'postgresql':
        bind.execute(sa.text("SELECT setval(pg_get_serial_sequence('contact', 'id'), "
                             "COALESCE((SELECT MAX(id) FROM contact), 0) + 1, false)"))
    with op.batch_alter_table('outbox_message') as batch:
        batch.add_column(sa.Column('contact_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('plan_id', sa.Integer(), nullable=True))
    bind.execute(sa.text('UPDATE outbox_message SET contact_id = liaison_id'))
    with op.batch_alter_table('outbox_message') as batch:
        batch.drop_constraint('fk_outbox_message_liaison_id_liaison', type_='foreignkey')
        batch.drop_column('liaison_id')
        batch.create_foreign_key('fk_outbox_message_contact_id_contact', 'contact',
                                 ['contact_id'], ['id'])
        batch.create_foreign_key('fk_outbox_message_plan_id_plan', 'plan', ['plan_id'], ['id'])
    op.drop_index('ix_liaison_agency_id', table_name='liaison')
    op.drop_table('liaison')


def _outbox_plan(bind) -> None:
    bind.execute(sa.text(
        'UPDATE outbox_message SET plan_id = (SELECT rp.plan_id FROM progress_request pr '
        'JOIN reporting_period rp ON rp.id = pr.period_id WHERE pr.id = outbox_message.request_id) '
        'WHERE request_id IS NOT NULL'))
    # meeting notices are keyed meet:<plan>:…, circulars circ:<circular>:…
    for message_id, key in bind.execute(sa.text(
            "SELECT id, key FROM outbox_message WHERE plan_id IS NULL "
            "AND (key LIKE 'meet:%' OR key LIKE 'circ:%')")).all():
        prefix, ref = key.split(':')[:2]
        plan_id = int(ref) if prefix == 'meet' else bind.execute(
            sa.text('SELECT plan_id FROM circular WHERE id = :c'), {'c': int(ref)}).scalar()
        bind.execute(sa.text('UPDATE outbox_message SET plan_id = :p WHERE id = :m'),
                     {'p': plan_id, 'm': message_id})
