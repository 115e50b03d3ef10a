"""learned travel and service time models, versioned per kind

Revision ID: 0013_learn
Revises: 0005_live_ops
Create Date: 2026-11-25 20:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0013_learn'
down_revision = '0005_live_ops'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')


def upgrade() -> None:
    op.create_table('learned_models',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('trained_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('training_rows', sa.Integer(), nullable=False),
    sa.Column('features', JSON, nullable=False),
    sa.Column('metrics', JSON, nullable=False),
    sa.Column('artifact', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_learned_models')),
    sa.UniqueConstraint('kind', 'version', name='uq_learned_models_kind_version')
    )


def downgrade() -> None:
    op.drop_table('learned_models')
