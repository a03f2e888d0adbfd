"""system health snapshots

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import database.base

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('system_health_snapshots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('taken_at', database.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('components', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_system_health_snapshots'))
    )
    op.create_index('ix_system_health_snapshots_taken_at', 'system_health_snapshots', ['taken_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_system_health_snapshots_taken_at', table_name='system_health_snapshots')
    op.drop_table('system_health_snapshots')
