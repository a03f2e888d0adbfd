"""notification retries: claims, dead reasons, discards, unreachable users

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import database.base

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEAD_REASONS = (
    'blocked', 'chat_not_found', 'bad_request', 'attempts_exhausted', 'render_failed', 'queue_full'
)


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('unreachable_since', database.base.UTCDateTime(timezone=True), nullable=True)
        )

    with op.batch_alter_table('pending_notifications', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('last_attempt_at', database.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column('claimed_until', database.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                'dead_reason',
                sa.Enum(*DEAD_REASONS, name='deadreason', native_enum=False, length=32),
                nullable=True,
            )
        )
        batch_op.add_column(
            sa.Column('dead_at', database.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column('discarded_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('discard_reason', sa.Text(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_pending_notifications_discarded_by_id_users'),
            'users',
            ['discarded_by_id'],
            ['id'],
            ondelete='SET NULL',
        )
    # The foundation called a row waiting for its next attempt "failed".
    op.execute("UPDATE pending_notifications SET status = 'retrying' WHERE status = 'failed'")


def downgrade() -> None:
    op.execute("UPDATE pending_notifications SET status = 'failed' WHERE status = 'retrying'")
    op.execute("UPDATE pending_notifications SET status = 'dead' WHERE status = 'discarded'")
    with op.batch_alter_table('pending_notifications', schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f('fk_pending_notifications_discarded_by_id_users'), type_='foreignkey'
        )
        batch_op.drop_column('discard_reason')
        batch_op.drop_column('discarded_by_id')
        batch_op.drop_column('dead_at')
        batch_op.drop_column('dead_reason')
        batch_op.drop_column('claimed_until')
        batch_op.drop_column('claimed_by')
        batch_op.drop_column('last_attempt_at')

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('unreachable_since')
