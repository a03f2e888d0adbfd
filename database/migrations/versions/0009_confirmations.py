"""confirmations

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import database.base

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('confirmations',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('scope', sa.JSON(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('created_at', database.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', database.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', database.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_confirmations_actor_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_confirmations'))
    )
    op.create_index('ix_confirmations_created_at', 'confirmations', ['created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_confirmations_created_at', table_name='confirmations')
    op.drop_table('confirmations')
