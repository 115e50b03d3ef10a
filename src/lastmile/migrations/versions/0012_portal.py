"""customer portal: conversation messages, delivery preferences, ratings

Revision ID: 0012_portal
Revises: 0005_live_ops
Create Date: 2026-11-25 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012_portal'
down_revision = '0005_live_ops'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('portal_messages',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('order_id', sa.String(length=32), nullable=False),
    sa.Column('organization_id', sa.String(length=32), nullable=False),
    sa.Column('sender', sa.String(length=10), nullable=False),
    sa.Column('author', sa.String(length=60), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_portal_messages_order_id_orders')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'],
                            name=op.f('fk_portal_messages_organization_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_messages'))
    )
    with op.batch_alter_table('portal_messages', schema=None) as batch_op:
        batch_op.create_index('ix_portal_messages_order_id_id', ['order_id', 'id'], unique=False)

    op.create_table('portal_preferences',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('order_id', sa.String(length=32), nullable=False),
    sa.Column('instructions', sa.Text(), nullable=False),
    sa.Column('safe_place', sa.String(length=200), nullable=False),
    sa.Column('contactless', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_portal_preferences_order_id_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_preferences')),
    sa.UniqueConstraint('order_id', name=op.f('uq_portal_preferences_order_id'))
    )

    op.create_table('portal_ratings',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('order_id', sa.String(length=32), nullable=False),
    sa.Column('organization_id', sa.String(length=32), nullable=False),
    sa.Column('driver_id', sa.String(length=32), nullable=True),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['driver_id'], ['drivers.id'], name=op.f('fk_portal_ratings_driver_id_drivers')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_portal_ratings_order_id_orders')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'],
                            name=op.f('fk_portal_ratings_organization_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_ratings')),
    sa.UniqueConstraint('order_id', name=op.f('uq_portal_ratings_order_id'))
    )
    with op.batch_alter_table('portal_ratings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_portal_ratings_driver_id'), ['driver_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_portal_ratings_organization_id'), ['organization_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('portal_ratings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_portal_ratings_organization_id'))
        batch_op.drop_index(batch_op.f('ix_portal_ratings_driver_id'))
    op.drop_table('portal_ratings')
    op.drop_table('portal_preferences')
    with op.batch_alter_table('portal_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_portal_messages_order_id_id')
    op.drop_table('portal_messages')
