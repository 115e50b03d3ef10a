"""depot and shipper codes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 15:21:50.900382
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('depots', schema=None) as batch_op:
        batch_op.add_column(sa.Column('code', sa.String(length=40), nullable=True))
        batch_op.create_unique_constraint('uq_depots_org_code', ['organization_id', 'code'])

    with op.batch_alter_table('shippers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('code', sa.String(length=40), nullable=True))
        batch_op.create_unique_constraint('uq_shippers_org_code', ['organization_id', 'code'])



def downgrade() -> None:
    with op.batch_alter_table('shippers', schema=None) as batch_op:
        batch_op.drop_constraint('uq_shippers_org_code', type_='unique')
        batch_op.drop_column('code')

    with op.batch_alter_table('depots', schema=None) as batch_op:
        batch_op.drop_constraint('uq_depots_org_code', type_='unique')
        batch_op.drop_column('code')

