"""inventory reconciliation

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import database.base

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('inventory_reconciliation_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('trigger', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('item_id', sa.Integer(), nullable=True),
    sa.Column('findings', sa.Integer(), nullable=False),
    sa.Column('fixed', sa.Integer(), nullable=False),
    sa.Column('needs_admin', sa.Integer(), nullable=False),
    sa.Column('started_at', database.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', database.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_inventory_reconciliation_runs_actor_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['item_id'], ['inventory_items.id'], name=op.f('fk_inventory_reconciliation_runs_item_id_inventory_items'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inventory_reconciliation_runs'))
    )
    with op.batch_alter_table('inventory_reconciliation_runs', schema=None) as batch_op:
        batch_op.create_index('ix_inventory_reconciliation_runs_started_at', ['started_at'], unique=False)

    op.create_table('inventory_reconciliation_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('item_id', sa.Integer(), nullable=True),
    sa.Column('transaction_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.Enum('stock_mismatch', 'negative_stock', 'orphan_missing_request', 'orphan_closed_request', 'stale_pending', 'duplicate_movement', 'manual_count', name='discrepancykind', native_enum=False, length=32), nullable=False),
    sa.Column('fingerprint', sa.String(length=128), nullable=False),
    sa.Column('expected', sa.Integer(), nullable=True),
    sa.Column('actual', sa.Integer(), nullable=True),
    sa.Column('action', sa.Enum('recompute_stock', 'reverse_movement', 'leave_for_admin', 'post_adjustment', name='reconciliationaction', native_enum=False, length=32), nullable=False),
    sa.Column('status', sa.Enum('fixed', 'needs_admin', 'resolved', name='findingstatus', native_enum=False, length=32), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('created_at', database.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', database.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_inventory_reconciliation_log_actor_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['item_id'], ['inventory_items.id'], name=op.f('fk_inventory_reconciliation_log_item_id_inventory_items')),
    sa.ForeignKeyConstraint(['run_id'], ['inventory_reconciliation_runs.id'], name='fk_inventory_reconciliation_log_run_id', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inventory_reconciliation_log'))
    )
    with op.batch_alter_table('inventory_reconciliation_log', schema=None) as batch_op:
        batch_op.create_index('ix_inventory_reconciliation_log_run_id', ['run_id'], unique=False)
        batch_op.create_index('ix_inventory_reconciliation_log_status_fingerprint', ['status', 'fingerprint'], unique=False)

    with op.batch_alter_table('inventory_transactions', schema=None) as batch_op:
        batch_op.create_index('ix_inventory_transactions_request_item_id', ['request_item_id'], unique=False)
        batch_op.create_index('ix_inventory_transactions_reverses_id', ['reverses_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('inventory_transactions', schema=None) as batch_op:
        batch_op.drop_index('ix_inventory_transactions_reverses_id')
        batch_op.drop_index('ix_inventory_transactions_request_item_id')

    with op.batch_alter_table('inventory_reconciliation_log', schema=None) as batch_op:
        batch_op.drop_index('ix_inventory_reconciliation_log_status_fingerprint')
        batch_op.drop_index('ix_inventory_reconciliation_log_run_id')

    op.drop_table('inventory_reconciliation_log')
    with op.batch_alter_table('inventory_reconciliation_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_inventory_reconciliation_runs_started_at')

    op.drop_table('inventory_reconciliation_runs')
