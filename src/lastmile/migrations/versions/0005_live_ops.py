"""live day: stop and route status, ETAs, arrival times, locks, route version

The driver app, tracking pipeline, console and tracking page share these columns;
dispatch/live.py is their only writer.

Revision ID: 0005_live_ops
Revises: 0004_webhook_secret_enc
Create Date: 2026-11-25 17:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0005_live_ops'
down_revision = '0004_webhook_secret_enc'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('routes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=20), nullable=False, server_default='planned'))
        batch_op.add_column(sa.Column('started_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('version', sa.Integer(), nullable=False, server_default='1'))
    with op.batch_alter_table('route_stops', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=20), nullable=False, server_default='planned'))
        batch_op.add_column(sa.Column('eta_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('eta_updated_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('arrived_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('departed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('locked', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('route_stops', schema=None) as batch_op:
        for c in ('locked', 'completed_at', 'departed_at', 'arrived_at', 'eta_updated_at', 'eta_at', 'status'):
            batch_op.drop_column(c)
    with op.batch_alter_table('routes', schema=None) as batch_op:
        for c in ('version', 'finished_at', 'started_at', 'status'):
            batch_op.drop_column(c)
