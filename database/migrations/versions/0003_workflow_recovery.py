"""workflow recovery

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import database.base

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('recovery_jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.Enum('nudge', 'reassign', 'reset', 'force_transition', 'force_complete', 'escalate', name='recoveryaction', native_enum=False, length=32), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('targets', sa.JSON(), nullable=False),
    sa.Column('status', sa.Enum('running', 'completed', 'failed', name='jobstatus', native_enum=False, length=32), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('applied', sa.Integer(), nullable=False),
    sa.Column('skipped', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('created_at', database.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', database.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_recovery_jobs_actor_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recovery_jobs'))
    )
    op.create_table('stuck_marks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.String(length=64), nullable=False),
    sa.Column('stage_entered_at', database.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('detected_at', database.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('nudged_at', database.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('escalated_at', database.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('assignee_gone', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['requests.id'], name=op.f('fk_stuck_marks_request_id_requests'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stuck_marks')),
    sa.UniqueConstraint('request_id', 'stage_entered_at', name='uq_stuck_marks_period')
    )
    op.create_table('workflow_recovery_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.Enum('nudge', 'reassign', 'reset', 'force_transition', 'force_complete', 'escalate', name='recoveryaction', native_enum=False, length=32), nullable=False),
    sa.Column('risk', sa.Enum('low', 'medium', 'high', name='risk', native_enum=False, length=32), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('outcome', sa.Enum('applied', 'stale', 'refused', 'failed', name='recoveryoutcome', native_enum=False, length=32), nullable=False),
    sa.Column('from_stage', sa.String(length=64), nullable=True),
    sa.Column('to_stage', sa.String(length=64), nullable=True),
    sa.Column('from_status', sa.String(length=32), nullable=True),
    sa.Column('to_status', sa.String(length=32), nullable=True),
    sa.Column('from_assignee_id', sa.Integer(), nullable=True),
    sa.Column('to_assignee_id', sa.Integer(), nullable=True),
    sa.Column('job_id', sa.Integer(), nullable=True),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('created_at', database.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_workflow_recovery_log_actor_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['job_id'], ['recovery_jobs.id'], name=op.f('fk_workflow_recovery_log_job_id_recovery_jobs'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workflow_recovery_log'))
    )
    with op.batch_alter_table('workflow_recovery_log', schema=None) as batch_op:
        batch_op.create_index('ix_workflow_recovery_log_actor_id', ['actor_id'], unique=False)
        batch_op.create_index('ix_workflow_recovery_log_request_id', ['request_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('workflow_recovery_log', schema=None) as batch_op:
        batch_op.drop_index('ix_workflow_recovery_log_request_id')
        batch_op.drop_index('ix_workflow_recovery_log_actor_id')

    op.drop_table('workflow_recovery_log')
    op.drop_table('stuck_marks')
    op.drop_table('recovery_jobs')
