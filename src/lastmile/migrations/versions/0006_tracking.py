"""tracking: devices, positions, driver_live, tracking_counters

ETA history lives with the ETA work (0011_eta, stop_eta_history).

Revision ID: 0006_tracking
Revises: 0005_live_ops
Create Date: 2026-11-25 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006_tracking'
down_revision = '0005_live_ops'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table('devices',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('organization_id', sa.String(length=32), nullable=False),
    sa.Column('driver_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('topic', sa.String(length=300), nullable=True),
    sa.Column('created_by', sa.String(length=40), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['driver_id'], ['drivers.id'], name=op.f('fk_devices_driver_id_drivers')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'],
                            name=op.f('fk_devices_organization_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_devices')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_devices_token_hash')),
    sa.UniqueConstraint('topic', name=op.f('uq_devices_topic'))
    )
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_devices_driver_id'), ['driver_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_devices_organization_id'), ['organization_id'], unique=False)

    op.create_table('positions',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('organization_id', sa.String(length=32), nullable=False),
    sa.Column('driver_id', sa.String(length=32), nullable=False),
    sa.Column('device_id', sa.String(length=32), nullable=True),
    sa.Column('route_id', sa.String(length=32), nullable=True),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lat', sa.Double(), nullable=False),
    sa.Column('lon', sa.Double(), nullable=False),
    sa.Column('accuracy_m', sa.Double(), nullable=True),
    sa.Column('speed_mps', sa.Double(), nullable=True),
    sa.Column('bearing', sa.Double(), nullable=True),
    sa.Column('altitude_m', sa.Double(), nullable=True),
    sa.Column('battery', sa.Double(), nullable=True),
    sa.ForeignKeyConstraint(['driver_id'], ['drivers.id'], name=op.f('fk_positions_driver_id_drivers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_positions'))
    )
    with op.batch_alter_table('positions', schema=None) as batch_op:
        batch_op.create_index('ix_positions_driver_at', ['driver_id', 'at'], unique=False)

    op.create_table('driver_live',
    sa.Column('driver_id', sa.String(length=32), nullable=False),
    sa.Column('organization_id', sa.String(length=32), nullable=False),
    sa.Column('device_id', sa.String(length=32), nullable=True),
    sa.Column('route_id', sa.String(length=32), nullable=True),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lat', sa.Double(), nullable=False),
    sa.Column('lon', sa.Double(), nullable=False),
    sa.Column('accuracy_m', sa.Double(), nullable=True),
    sa.Column('speed_mps', sa.Double(), nullable=True),
    sa.Column('bearing', sa.Double(), nullable=True),
    sa.Column('battery', sa.Double(), nullable=True),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.ForeignKeyConstraint(['driver_id'], ['drivers.id'], name=op.f('fk_driver_live_driver_id_drivers')),
    sa.PrimaryKeyConstraint('driver_id', name=op.f('pk_driver_live'))
    )
    with op.batch_alter_table('driver_live', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_driver_live_organization_id'), ['organization_id'], unique=False)

    op.create_table('tracking_counters',
    sa.Column('organization_id', sa.String(length=32), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=False),
    sa.Column('count', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('organization_id', 'source', 'reason', name=op.f('pk_tracking_counters'))
    )


def downgrade() -> None:
    op.drop_table('tracking_counters')
    with op.batch_alter_table('driver_live', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_driver_live_organization_id'), ['organization_id'], unique=False)

    op.create_table('tracking_counters',
    sa.Column('organization_id', sa.String(length=32), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=False),
    sa.Column('count', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('organization_id', 'source', 'reason', name=op.f('pk_tracking_counters'))
    )


def downgrade() -> None:
    op.drop_table('tracking_counters')
    with op.batch_alter_table('driver_live', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_driver_live_organization_id'))
    op.drop_table('driver_live')
    with op.batch_alter_table('positions', schema=None) as batch_op:
        batch_op.drop_index('ix_positions_driver_at')
    op.drop_table('positions')
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_devices_organization_id'))
        batch_op.drop_index(batch_op.f('ix_devices_driver_id'))
    op.drop_table('devices')
