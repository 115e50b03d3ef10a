"""pickup points and lockers as delivery alternatives

Revision ID: 0015_lockers
Revises: 0012_portal
Create Date: 2026-11-25 21:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0015_lockers'
down_revision = '0012_portal'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')


def upgrade() -> None:
    op.create_table('pickup_points',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('organization_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('address', sa.String(length=500), nullable=False),
    sa.Column('lat', sa.Double(), nullable=False),
    sa.Column('lon', sa.Double(), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('hours', JSON, nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'],
                            name=op.f('fk_pickup_points_organization_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pickup_points'))
    )
    with op.batch_alter_table('pickup_points', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pickup_points_organization_id'), ['organization_id'], unique=False)

    op.create_table('pickup_choices',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('order_id', sa.String(length=32), nullable=False),
    sa.Column('pickup_point_id', sa.String(length=32), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('home_address', sa.String(length=500), nullable=False),
    sa.Column('home_lat', sa.Double(), nullable=False),
    sa.Column('home_lon', sa.Double(), nullable=False),
    sa.Column('home_windows', JSON, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_pickup_choices_order_id_orders')),
    sa.ForeignKeyConstraint(['pickup_point_id'], ['pickup_points.id'],
                            name=op.f('fk_pickup_choices_pickup_point_id_pickup_points')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pickup_choices')),
    sa.UniqueConstraint('order_id', name=op.f('uq_pickup_choices_order_id'))
    )
    with op.batch_alter_table('pickup_choices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pickup_choices_pickup_point_id'), ['pickup_point_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('pickup_choices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pickup_choices_pickup_point_id'))
    op.drop_table('pickup_choices')
    with op.batch_alter_table('pickup_points', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pickup_points_organization_id'))
    op.drop_table('pickup_points')
