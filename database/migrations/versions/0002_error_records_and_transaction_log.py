"""error records and transaction log

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import database.base

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('error_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=16), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('category', sa.Enum('transient', 'data', 'business_logic', 'system', 'inventory', 'notification', name='errorcategory', native_enum=False, length=32), nullable=False),
    sa.Column('severity', sa.Enum('low', 'medium', 'high', 'critical', name='errorseverity', native_enum=False, length=32), nullable=False),
    sa.Column('exception_type', sa.String(length=200), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('stack_trace', sa.Text(), nullable=True),
    sa.Column('handler', sa.String(length=200), nullable=True),
    sa.Column('context', sa.JSON(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('first_seen', database.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen', database.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('retry_count', sa.Integer(), nullable=False),
    sa.Column('alerted_at', database.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', database.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolved_by_id', sa.Integer(), nullable=True),
    sa.Column('resolution_note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['users.id'], name=op.f('fk_error_records_resolved_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_error_records')),
    sa.UniqueConstraint('reference', name=op.f('uq_error_records_reference'))
    )
    with op.batch_alter_table('error_records', schema=None) as batch_op:
        batch_op.create_index('ix_error_records_last_seen', ['last_seen'], unique=False)
        batch_op.create_index('uq_error_records_open_fingerprint', ['fingerprint'], unique=True, sqlite_where=sa.text('resolved_at IS NULL'), postgresql_where=sa.text('resolved_at IS NULL'))

    op.create_table('transaction_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('operation', sa.String(length=64), nullable=False),
    sa.Column('entity', sa.String(length=64), nullable=False),
    sa.Column('entity_id', sa.Integer(), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.Column('outcome', sa.Enum('committed', 'rolled_back', name='transactionoutcome', native_enum=False, length=32), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', database.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_transaction_log_actor_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transaction_log'))
    )
    with op.batch_alter_table('transaction_log', schema=None) as batch_op:
        batch_op.create_index('ix_transaction_log_created_at', ['created_at'], unique=False)
        batch_op.create_index('ix_transaction_log_entity', ['entity', 'entity_id'], unique=False)

    op.create_table('error_occurrences',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('error_id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=16), nullable=False),
    sa.Column('occurred_at', database.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('context', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['error_id'], ['error_records.id'], name=op.f('fk_error_occurrences_error_id_error_records'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_error_occurrences')),
    sa.UniqueConstraint('reference', name=op.f('uq_error_occurrences_reference'))
    )
    with op.batch_alter_table('error_occurrences', schema=None) as batch_op:
        batch_op.create_index('ix_error_occurrences_error_id', ['error_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('error_occurrences', schema=None) as batch_op:
        batch_op.drop_index('ix_error_occurrences_error_id')

    op.drop_table('error_occurrences')
    with op.batch_alter_table('transaction_log', schema=None) as batch_op:
        batch_op.drop_index('ix_transaction_log_entity')
        batch_op.drop_index('ix_transaction_log_created_at')

    op.drop_table('transaction_log')
    with op.batch_alter_table('error_records', schema=None) as batch_op:
        batch_op.drop_index('uq_error_records_open_fingerprint', sqlite_where=sa.text('resolved_at IS NULL'), postgresql_where=sa.text('resolved_at IS NULL'))
        batch_op.drop_index('ix_error_records_last_seen')

    op.drop_table('error_records')
