"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import database.base

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('inventory_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sku', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('unit', sa.String(length=16), nullable=False),
    sa.Column('stock', sa.Integer(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', database.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', database.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("unit <> ''", name=op.f('ck_inventory_items_unit_not_empty')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inventory_items')),
    sa.UniqueConstraint('sku', name=op.f('uq_inventory_items_sku'))
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('telegram_id', sa.BigInteger(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=True),
    sa.Column('full_name', sa.String(length=256), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=True),
    sa.Column('telegram_language', sa.String(length=16), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', database.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('telegram_id', name=op.f('uq_users_telegram_id'))
    )
    op.create_table('inventory_transactions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=True),
    sa.Column('request_item_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.Enum('issue', 'receipt', 'adjustment', 'reversal', name='transactionkind', native_enum=False, length=32), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('pending', 'committed', name='transactionstatus', native_enum=False, length=32), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('reverses_id', sa.Integer(), nullable=True),
    sa.Column('created_at', database.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('committed_at', database.base.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('quantity <> 0', name=op.f('ck_inventory_transactions_quantity_nonzero')),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_inventory_transactions_actor_id_users')),
    sa.ForeignKeyConstraint(['item_id'], ['inventory_items.id'], name=op.f('fk_inventory_transactions_item_id_inventory_items')),
    sa.ForeignKeyConstraint(['reverses_id'], ['inventory_transactions.id'], name=op.f('fk_inventory_transactions_reverses_id_inventory_transactions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inventory_transactions'))
    )
    with op.batch_alter_table('inventory_transactions', schema=None) as batch_op:
        batch_op.create_index('ix_inventory_transactions_item_id_status', ['item_id', 'status'], unique=False)
        batch_op.create_index('ix_inventory_transactions_request_id', ['request_id'], unique=False)

    op.create_table('pending_notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('recipient_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=128), nullable=False),
    sa.Column('status', sa.Enum('pending', 'sent', 'failed', 'dead', name='notificationstatus', native_enum=False, length=32), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('next_attempt_at', database.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', database.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', database.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['recipient_id'], ['users.id'], name=op.f('fk_pending_notifications_recipient_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pending_notifications')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_pending_notifications_idempotency_key'))
    )
    with op.batch_alter_table('pending_notifications', schema=None) as batch_op:
        batch_op.create_index('ix_pending_notifications_status_due', ['status', 'next_attempt_at'], unique=False)

    op.create_table('requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workflow', sa.String(length=64), nullable=False),
    sa.Column('stage', sa.String(length=64), nullable=True),
    sa.Column('status', sa.Enum('active', 'completed', 'rejected', 'cancelled', name='requeststatus', native_enum=False, length=32), nullable=False),
    sa.Column('requester_id', sa.Integer(), nullable=False),
    sa.Column('assignee_id', sa.Integer(), nullable=True),
    sa.Column('stage_entered_at', database.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', database.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', database.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['assignee_id'], ['users.id'], name=op.f('fk_requests_assignee_id_users')),
    sa.ForeignKeyConstraint(['requester_id'], ['users.id'], name=op.f('fk_requests_requester_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_requests'))
    )
    with op.batch_alter_table('requests', schema=None) as batch_op:
        batch_op.create_index('ix_requests_assignee_id', ['assignee_id'], unique=False)
        batch_op.create_index('ix_requests_requester_id', ['requester_id'], unique=False)
        batch_op.create_index('ix_requests_status_stage', ['status', 'stage'], unique=False)

    op.create_table('user_roles',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.Enum('requester', 'manager', 'storekeeper', 'support', 'admin', name='role', native_enum=False, length=32), nullable=False),
    sa.Column('granted_at', database.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_roles_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'role', name=op.f('pk_user_roles'))
    )
    op.create_table('request_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_request_items_quantity_positive')),
    sa.ForeignKeyConstraint(['item_id'], ['inventory_items.id'], name=op.f('fk_request_items_item_id_inventory_items')),
    sa.ForeignKeyConstraint(['request_id'], ['requests.id'], name=op.f('fk_request_items_request_id_requests'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_request_items')),
    sa.UniqueConstraint('request_id', 'item_id', name='uq_request_items_request_item')
    )
    op.create_table('request_transitions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('from_stage', sa.String(length=64), nullable=True),
    sa.Column('to_stage', sa.String(length=64), nullable=True),
    sa.Column('from_status', sa.Enum('active', 'completed', 'rejected', 'cancelled', name='requeststatus', native_enum=False, length=32), nullable=True),
    sa.Column('to_status', sa.Enum('active', 'completed', 'rejected', 'cancelled', name='requeststatus', native_enum=False, length=32), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.Enum('create', 'approve', 'reject', 'cancel', name='transitionaction', native_enum=False, length=32), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('created_at', database.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_request_transitions_actor_id_users')),
    sa.ForeignKeyConstraint(['request_id'], ['requests.id'], name=op.f('fk_request_transitions_request_id_requests'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_request_transitions'))
    )
    with op.batch_alter_table('request_transitions', schema=None) as batch_op:
        batch_op.create_index('ix_request_transitions_request_id', ['request_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('request_transitions', schema=None) as batch_op:
        batch_op.drop_index('ix_request_transitions_request_id')

    op.drop_table('request_transitions')
    op.drop_table('request_items')
    op.drop_table('user_roles')
    with op.batch_alter_table('requests', schema=None) as batch_op:
        batch_op.drop_index('ix_requests_status_stage')
        batch_op.drop_index('ix_requests_requester_id')
        batch_op.drop_index('ix_requests_assignee_id')

    op.drop_table('requests')
    with op.batch_alter_table('pending_notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_pending_notifications_status_due')

    op.drop_table('pending_notifications')
    with op.batch_alter_table('inventory_transactions', schema=None) as batch_op:
        batch_op.drop_index('ix_inventory_transactions_request_id')
        batch_op.drop_index('ix_inventory_transactions_item_id_status')

    op.drop_table('inventory_transactions')
    op.drop_table('users')
    op.drop_table('inventory_items')
