"""live ETAs: per-stop ETA history (accuracy) and per-route ETA/geofence state

Revision ID: 0011_eta
Revises: 0005_live_ops
Create Date: 2026-11-25 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0011_eta'
down_revision = '0005_live_ops'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')


def upgrade() -> None:
    op.create_table('stop_eta_history',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('route_stop_id', sa.String(length=32), nullable=False),
    sa.Column('route_id', sa.String(length=32), nullable=False),
    sa.Column('predicted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('eta_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('late_by_s', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.ForeignKeyConstraint(['route_id'], ['routes.id'], name=op.f('fk_stop_eta_history_route_id_routes')),
    sa.ForeignKeyConstraint(['route_stop_id'], ['route_stops.id'],
                            name=op.f('fk_stop_eta_history_route_stop_id_route_stops')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stop_eta_history'))
    )
    with op.batch_alter_table('stop_eta_history', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stop_eta_history_route_id'), ['route_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_stop_eta_history_route_stop_id'), ['route_stop_id'], unique=False)

    op.create_table('route_eta_state',
    sa.Column('route_id', sa.String(length=32), nullable=False),
    sa.Column('refreshed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('fix_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lat', sa.Double(), nullable=True),
    sa.Column('lon', sa.Double(), nullable=True),
    sa.Column('fence_stop_id', sa.String(length=32), nullable=True),
    sa.Column('fence_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('held_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('break_taken', sa.Boolean(), nullable=False),
    sa.Column('approached', JSON, nullable=False),
    sa.Column('logged', JSON, nullable=False),
    sa.ForeignKeyConstraint(['route_id'], ['routes.id'], name=op.f('fk_route_eta_state_route_id_routes')),
    sa.PrimaryKeyConstraint('route_id', name=op.f('pk_route_eta_state'))
    )


def downgrade() -> None:
    op.drop_table('route_eta_state')
    with op.batch_alter_table('stop_eta_history', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stop_eta_history_route_stop_id'))
        batch_op.drop_index(batch_op.f('ix_stop_eta_history_route_id'))
    op.drop_table('stop_eta_history')
