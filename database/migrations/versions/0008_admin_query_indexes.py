"""admin query indexes: the stuck screen, error statistics, the recovery log's filters

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0008'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_requests_stuck', 'requests', ['status', 'workflow', 'stage', 'stage_entered_at', 'id'], unique=False)
    op.create_index('ix_requests_assignee', 'requests', ['status', 'workflow', 'stage', 'assignee_id'], unique=False)
    op.create_index('ix_error_occurrences_occurred_at', 'error_occurrences', ['occurred_at', 'error_id'], unique=False)
    # Newest first within a filter: the id joins the filtered column.
    op.drop_index('ix_workflow_recovery_log_request_id', table_name='workflow_recovery_log')
    op.create_index('ix_workflow_recovery_log_request_id', 'workflow_recovery_log', ['request_id', 'id'], unique=False)
    op.drop_index('ix_workflow_recovery_log_actor_id', table_name='workflow_recovery_log')
    op.create_index('ix_workflow_recovery_log_actor_id', 'workflow_recovery_log', ['actor_id', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_workflow_recovery_log_actor_id', table_name='workflow_recovery_log')
    op.create_index('ix_workflow_recovery_log_actor_id', 'workflow_recovery_log', ['actor_id'], unique=False)
    op.drop_index('ix_workflow_recovery_log_request_id', table_name='workflow_recovery_log')
    op.create_index('ix_workflow_recovery_log_request_id', 'workflow_recovery_log', ['request_id'], unique=False)
    op.drop_index('ix_error_occurrences_occurred_at', table_name='error_occurrences')
    op.drop_index('ix_requests_assignee', table_name='requests')
    op.drop_index('ix_requests_stuck', table_name='requests')
