"""handled_updates: the webhook's claim on each update_id, so one update is handled once

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import database.base

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('handled_updates',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('token', sa.String(length=32), nullable=False),
    sa.Column('claimed_at', database.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('done_at', database.base.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_handled_updates'))
    )
    op.create_index('ix_handled_updates_claimed_at', 'handled_updates', ['claimed_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_handled_updates_claimed_at', table_name='handled_updates')
    op.drop_table('handled_updates')
