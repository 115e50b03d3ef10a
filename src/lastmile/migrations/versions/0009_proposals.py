"""dynamic re-optimization: proposals, and the per-organization dispatch policy
(auto-apply, next-stop rule, delivery slot template)

Revision ID: 0009_proposals
Revises: 0005_live_ops
Create Date: 2026-11-25 18:25:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision = '0009_proposals'
down_revision = '0005_live_ops'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('proposals',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('organization_id', sa.String(length=32), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('trigger', sa.String(length=40), nullable=False),
    sa.Column('subject_id', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('summary', JSON, nullable=False),
    sa.Column('delta', JSON, nullable=False),
    sa.Column('changes', JSON, nullable=False),
    sa.Column('versions', JSON, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sa.String(length=60), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_proposals_organization_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_proposals'))
    )
    with op.batch_alter_table('proposals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_proposals_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_proposals_status'), ['status'], unique=False)
    op.create_table('dispatch_policies',
    sa.Column('organization_id', sa.String(length=32), nullable=False),
    sa.Column('auto_apply_insertions', sa.Boolean(), nullable=False),
    sa.Column('allow_next_stop', sa.Boolean(), nullable=False),
    sa.Column('slot_template', JSON, nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_dispatch_policies_organization_id_organizations')),
    sa.PrimaryKeyConstraint('organization_id', name=op.f('pk_dispatch_policies'))
    )


def downgrade() -> None:
    op.drop_table('dispatch_policies')
    with op.batch_alter_table('proposals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_proposals_status'))
        batch_op.drop_index(batch_op.f('ix_proposals_organization_id'))
    op.drop_table('proposals')
