"""webhook signing secrets encrypted at rest; shared rate-limit counters

webhook_subscriptions.secret (plain whsec_…) becomes secret_sealed: the same secret
sealed with a key derived from LASTMILE_SECRET_KEY (lastmile.webhooks.service).
Existing rows are sealed here, so the server key in the migrating environment must
be the one the server runs with. rate_limit_counters holds fixed-window counts
(login failures, requests per credential) when there is no Redis.

Revision ID: 0004_webhook_secret_enc
Revises: 0003
Create Date: 2026-11-25 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004_webhook_secret_enc'
down_revision = '0003'
branch_labels = None
depends_on = None

subs = sa.table('webhook_subscriptions', sa.column('id', sa.String), sa.column('secret', sa.String),
                sa.column('secret_sealed', sa.String))


def _settings():
    from lastmile.config import get_settings

    return get_settings()


def upgrade() -> None:
    from lastmile.webhooks.service import seal_secret

    with op.batch_alter_table('webhook_subscriptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('secret_sealed', sa.String(length=300), nullable=True))
    conn = op.get_bind()
    settings = _settings()
    for sid, secret in conn.execute(sa.select(subs.c.id, subs.c.secret)).all():
        conn.execute(subs.update().where(subs.c.id == sid).values(secret_sealed=seal_secret(settings, secret)))
    with op.batch_alter_table('webhook_subscriptions', schema=None) as batch_op:
        batch_op.alter_column('secret_sealed', existing_type=sa.String(length=300), nullable=False)
        batch_op.drop_column('secret')

    op.create_table('rate_limit_counters',
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_rate_limit_counters'))
    )
    with op.batch_alter_table('rate_limit_counters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rate_limit_counters_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    from lastmile.webhooks.service import open_secret

    with op.batch_alter_table('rate_limit_counters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rate_limit_counters_expires_at'))
    op.drop_table('rate_limit_counters')

    with op.batch_alter_table('webhook_subscriptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('secret', sa.String(length=100), nullable=True))
    conn = op.get_bind()
    settings = _settings()
    for sid, sealed in conn.execute(sa.select(subs.c.id, subs.c.secret_sealed)).all():
        conn.execute(subs.update().where(subs.c.id == sid).values(secret=open_secret(settings, sealed)))
    with op.batch_alter_table('webhook_subscriptions', schema=None) as batch_op:
        batch_op.alter_column('secret', existing_type=sa.String(length=100), nullable=False)
        batch_op.drop_column('secret_sealed')
