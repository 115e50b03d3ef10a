"""customer notifications: message log / send queue, per-shipper templates, opt-outs,
web-push subscriptions

Revision ID: 0008_notify
Revises: 0005_live_ops
Create Date: 2026-11-25 18:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008_notify'
down_revision = '0005_live_ops'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('notification_contact_opt_outs',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('contact', sa.String(length=320), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_contact_opt_outs')),
    sa.UniqueConstraint('channel', 'contact', name='uq_notification_contact_opt_outs_key')
    )
    op.create_table('notification_templates',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('organization_id', sa.String(length=32), nullable=False),
    sa.Column('shipper_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('format', sa.String(length=10), nullable=False),
    sa.Column('language', sa.String(length=2), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_notification_templates_organization_id_organizations')),
    sa.ForeignKeyConstraint(['shipper_id'], ['shippers.id'], name=op.f('fk_notification_templates_shipper_id_shippers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_templates')),
    sa.UniqueConstraint('shipper_id', 'kind', 'format', 'language', name='uq_notification_templates_key')
    )
    op.create_table('notification_order_opt_outs',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('order_id', sa.String(length=32), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_notification_order_opt_outs_order_id_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_order_opt_outs')),
    sa.UniqueConstraint('order_id', 'channel', name='uq_notification_order_opt_outs_key')
    )
    op.create_table('notifications',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('organization_id', sa.String(length=32), nullable=False),
    sa.Column('order_id', sa.String(length=32), nullable=False),
    sa.Column('shipper_id', sa.String(length=32), nullable=True),
    sa.Column('dedupe_key', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('recipient', sa.String(length=320), nullable=False),
    sa.Column('language', sa.String(length=2), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('provider', sa.String(length=20), nullable=False),
    sa.Column('provider_id', sa.String(length=200), nullable=False),
    sa.Column('error', sa.String(length=500), nullable=False),
    sa.Column('tries', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_notifications_order_id_orders')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_notifications_organization_id_organizations')),
    sa.ForeignKeyConstraint(['shipper_id'], ['shippers.id'], name=op.f('fk_notifications_shipper_id_shippers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications')),
    sa.UniqueConstraint('dedupe_key', name='uq_notifications_dedupe_key')
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_notifications_order_id'), ['order_id'], unique=False)
        batch_op.create_index('ix_notifications_org_provider', ['organization_id', 'provider', 'id'], unique=False)

    op.create_table('push_subscriptions',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('order_id', sa.String(length=32), nullable=False),
    sa.Column('endpoint', sa.String(length=1000), nullable=False),
    sa.Column('p256dh', sa.String(length=200), nullable=False),
    sa.Column('auth', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_push_subscriptions_order_id_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_push_subscriptions')),
    sa.UniqueConstraint('order_id', 'endpoint', name='uq_push_subscriptions_key')
    )
    with op.batch_alter_table('push_subscriptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_push_subscriptions_order_id'), ['order_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('push_subscriptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_push_subscriptions_order_id'))
    op.drop_table('push_subscriptions')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_org_provider')
        batch_op.drop_index(batch_op.f('ix_notifications_order_id'))
        batch_op.drop_index('ix_notifications_due')
    op.drop_table('notifications')
    op.drop_table('notification_order_opt_outs')
    op.drop_table('notification_templates')
    op.drop_table('notification_contact_opt_outs')
