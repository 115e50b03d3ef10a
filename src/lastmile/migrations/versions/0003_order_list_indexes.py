"""order list indexes: filter columns then id, so a page is read in id order

GET /orders filters by organization (or shipper), date and status and pages by id.
The old (organization_id, date, status) index left PostgreSQL to choose between
sorting every matching order of the day and walking the primary key through all
days; with id last in the index a page of 50 is 50 index entries.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 17:05:00
"""

from __future__ import annotations

from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index('ix_orders_org_date_status_id', ['organization_id', 'date', 'status', 'id'], unique=False)
        batch_op.create_index('ix_orders_shipper_date_status_id', ['shipper_id', 'date', 'status', 'id'], unique=False)
        batch_op.drop_index('ix_orders_org_date_status')


def downgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index('ix_orders_org_date_status', ['organization_id', 'date', 'status'], unique=False)
        batch_op.drop_index('ix_orders_shipper_date_status_id')
        batch_op.drop_index('ix_orders_org_date_status_id')
