"""pod: driver actions, proof-of-delivery records (hash-chained per route), files,
POD rules per shipper/order, parcels coming back to the depot

Revision ID: 0007_pod
Revises: 0005_live_ops
Create Date: 2026-11-25 18:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision = '0007_pod'
down_revision = '0005_live_ops'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('pod_files',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('organization_id', sa.String(length=32), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('content_type', sa.String(length=40), nullable=False),
    sa.Column('uploaded_by', sa.String(length=60), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_pod_files_organization_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pod_files')),
    sa.UniqueConstraint('organization_id', 'sha256', name='uq_pod_files_org_sha256')
    )
    op.create_table('pod_rules',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('organization_id', sa.String(length=32), nullable=False),
    sa.Column('shipper_id', sa.String(length=32), nullable=True),
    sa.Column('order_id', sa.String(length=32), nullable=True),
    sa.Column('signature', sa.Boolean(), nullable=True),
    sa.Column('photo', sa.Boolean(), nullable=True),
    sa.Column('scan_all', sa.Boolean(), nullable=True),
    sa.Column('exact_cod', sa.Boolean(), nullable=True),
    sa.Column('reattempt', sa.String(length=20), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_pod_rules_order_id_orders')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_pod_rules_organization_id_organizations')),
    sa.ForeignKeyConstraint(['shipper_id'], ['shippers.id'], name=op.f('fk_pod_rules_shipper_id_shippers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pod_rules')),
    sa.UniqueConstraint('order_id', name=op.f('uq_pod_rules_order_id')),
    sa.UniqueConstraint('shipper_id', name=op.f('uq_pod_rules_shipper_id'))
    )
    op.create_table('pod_return_parcels',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('organization_id', sa.String(length=32), nullable=False),
    sa.Column('depot_id', sa.String(length=32), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('route_id', sa.String(length=32), nullable=False),
    sa.Column('order_id', sa.String(length=32), nullable=False),
    sa.Column('code', sa.String(length=100), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=False),
    sa.Column('condition', sa.String(length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('scanned_in_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['depot_id'], ['depots.id'], name=op.f('fk_pod_return_parcels_depot_id_depots')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_pod_return_parcels_order_id_orders')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_pod_return_parcels_organization_id_organizations')),
    sa.ForeignKeyConstraint(['route_id'], ['routes.id'], name=op.f('fk_pod_return_parcels_route_id_routes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pod_return_parcels')),
    sa.UniqueConstraint('route_id', 'code', name='uq_pod_return_parcels_route_code')
    )
    with op.batch_alter_table('pod_return_parcels', schema=None) as batch_op:
        batch_op.create_index('ix_pod_return_parcels_depot_date', ['depot_id', 'date'], unique=False)
        batch_op.create_index(batch_op.f('ix_pod_return_parcels_order_id'), ['order_id'], unique=False)

    op.create_table('pod_driver_actions',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('organization_id', sa.String(length=32), nullable=False),
    sa.Column('driver_id', sa.String(length=32), nullable=False),
    sa.Column('client_id', sa.String(length=100), nullable=False),
    sa.Column('type', sa.String(length=20), nullable=False),
    sa.Column('route_id', sa.String(length=32), nullable=False),
    sa.Column('stop_id', sa.String(length=32), nullable=True),
    sa.Column('device_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('server_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('skew_s', sa.Integer(), nullable=False),
    sa.Column('skew_flagged', sa.Boolean(), nullable=False),
    sa.Column('position', JSON, nullable=True),
    sa.Column('data', JSON, nullable=False),
    sa.Column('result', JSON, nullable=False),
    sa.ForeignKeyConstraint(['driver_id'], ['drivers.id'], name=op.f('fk_pod_driver_actions_driver_id_drivers')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_pod_driver_actions_organization_id_organizations')),
    sa.ForeignKeyConstraint(['route_id'], ['routes.id'], name=op.f('fk_pod_driver_actions_route_id_routes')),
    sa.ForeignKeyConstraint(['stop_id'], ['route_stops.id'], name=op.f('fk_pod_driver_actions_stop_id_route_stops')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pod_driver_actions')),
    sa.UniqueConstraint('driver_id', 'client_id', name='uq_pod_driver_actions_driver_client')
    )
    with op.batch_alter_table('pod_driver_actions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pod_driver_actions_route_id'), ['route_id'], unique=False)

    op.create_table('pod_records',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('organization_id', sa.String(length=32), nullable=False),
    sa.Column('route_id', sa.String(length=32), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('order_id', sa.String(length=32), nullable=True),
    sa.Column('stop_id', sa.String(length=32), nullable=True),
    sa.Column('server_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('record_hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_pod_records_order_id_orders')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_pod_records_organization_id_organizations')),
    sa.ForeignKeyConstraint(['route_id'], ['routes.id'], name=op.f('fk_pod_records_route_id_routes')),
    sa.ForeignKeyConstraint(['stop_id'], ['route_stops.id'], name=op.f('fk_pod_records_stop_id_route_stops')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pod_records')),
    sa.UniqueConstraint('route_id', 'seq', name='uq_pod_records_route_seq')
    )
    with op.batch_alter_table('pod_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pod_records_order_id'), ['order_id'], unique=False)


def downgrade() -> None:
    for t in ('pod_records', 'pod_driver_actions', 'pod_return_parcels', 'pod_rules', 'pod_files'):
        op.drop_table(t)
