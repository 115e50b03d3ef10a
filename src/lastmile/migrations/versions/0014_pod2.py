"""pod: breaks as their own rows (planned or unplanned, start, end, expected length)

Revision ID: 0014_pod2
Revises: 0007_pod
Create Date: 2026-11-25 21:00:00
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = '0014_pod2'
down_revision = '0007_pod'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('pod_driver_breaks',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('organization_id', sa.String(length=32), nullable=False),
    sa.Column('route_id', sa.String(length=32), nullable=False),
    sa.Column('driver_id', sa.String(length=32), nullable=False),
    sa.Column('planned', sa.Boolean(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expected_s', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('start_action', sa.String(length=100), nullable=False),
    sa.Column('end_action', sa.String(length=100), nullable=True),
    sa.ForeignKeyConstraint(['driver_id'], ['drivers.id'], name=op.f('fk_pod_driver_breaks_driver_id_drivers')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'],
                            name=op.f('fk_pod_driver_breaks_organization_id_organizations')),
    sa.ForeignKeyConstraint(['route_id'], ['routes.id'], name=op.f('fk_pod_driver_breaks_route_id_routes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pod_driver_breaks'))
    )
    with op.batch_alter_table('pod_driver_breaks', schema=None) as batch_op:
        batch_op.create_index('ix_pod_driver_breaks_route_started', ['route_id', 'started_at'], unique=False)
    # breaks already recorded as actions (before this table): planned unless the app said otherwise
    conn = op.get_bind()
    actions = sa.table('pod_driver_actions', sa.column('organization_id', sa.String), sa.column('driver_id', sa.String),
                       sa.column('client_id', sa.String), sa.column('type', sa.String),
                       sa.column('route_id', sa.String), sa.column('device_time', sa.DateTime(timezone=True)),
                       sa.column('server_time', sa.DateTime(timezone=True)), sa.column('data', sa.JSON))
    rows = conn.execute(sa.select(actions).where(actions.c.type.in_(('break_start', 'break_end')))
                        .order_by(actions.c.route_id, actions.c.server_time)).mappings().all()
    breaks = sa.table('pod_driver_breaks', *[sa.column(c) for c in (
        'id', 'organization_id', 'route_id', 'driver_id', 'planned', 'started_at', 'ended_at', 'expected_s', 'note',
        'start_action', 'end_action')])
    open_: dict[str, dict] = {}
    out = []
    for r in rows:
        at = min(r['device_time'], r['server_time'])
        if r['type'] == 'break_start':
            note = str((r['data'] or {}).get('note') or '') if isinstance(r['data'], dict) else ''
            row = {'id': 'brk_' + uuid.uuid4().hex[:24], 'organization_id': r['organization_id'],
                   'route_id': r['route_id'], 'driver_id': r['driver_id'], 'planned': 'unplanned' not in note,
                   'started_at': at, 'ended_at': None, 'expected_s': None, 'note': note,
                   'start_action': r['client_id'], 'end_action': None}
            out.append(row)
            open_[r['route_id']] = row
        elif r['route_id'] in open_:
            row = open_.pop(r['route_id'])
            row['ended_at'], row['end_action'] = at, r['client_id']
    if out:
        op.bulk_insert(breaks, out)


def downgrade() -> None:
    op.drop_table('pod_driver_breaks')
