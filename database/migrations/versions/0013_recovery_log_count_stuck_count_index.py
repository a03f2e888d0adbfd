"""row_counts: the recovery log's row count, kept by triggers (database/models/counts.py);
ix_requests_assignee carries stage_entered_at, so the stuck count reads it alone

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The statements as they were at this revision (the model module may move on; a test checks
# that a migrated database and one created from the models have the same triggers).
SQLITE_TRIGGERS = [
    "CREATE TRIGGER trg_workflow_recovery_log_count_insert AFTER INSERT ON workflow_recovery_log "
    "BEGIN UPDATE row_counts SET row_count = row_count + 1 "
    "WHERE table_name = 'workflow_recovery_log'; END",
    "CREATE TRIGGER trg_workflow_recovery_log_count_delete AFTER DELETE ON workflow_recovery_log "
    "BEGIN UPDATE row_counts SET row_count = row_count - 1 "
    "WHERE table_name = 'workflow_recovery_log'; END",
]

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION row_counts_track() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed bigint;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        INSERT INTO row_counts (table_name, row_count) VALUES (TG_TABLE_NAME, 0)
        ON CONFLICT (table_name) DO UPDATE SET row_count = 0;
        RETURN NULL;
    ELSIF TG_OP = 'INSERT' THEN
        SELECT count(*) INTO changed FROM new_rows;
    ELSE
        SELECT -count(*) INTO changed FROM old_rows;
    END IF;
    IF changed <> 0 THEN
        UPDATE row_counts SET row_count = row_count + changed WHERE table_name = TG_TABLE_NAME;
    END IF;
    RETURN NULL;
END
$$
"""

PG_TRIGGERS = [
    PG_FUNCTION,
    "CREATE TRIGGER trg_workflow_recovery_log_count_insert AFTER INSERT ON workflow_recovery_log "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION row_counts_track()",
    "CREATE TRIGGER trg_workflow_recovery_log_count_delete AFTER DELETE ON workflow_recovery_log "
    "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION row_counts_track()",
    "CREATE TRIGGER trg_workflow_recovery_log_count_truncate AFTER TRUNCATE ON "
    "workflow_recovery_log FOR EACH STATEMENT EXECUTE FUNCTION row_counts_track()",
]

EVENTS = ('insert', 'delete', 'truncate')


def upgrade() -> None:
    op.drop_index('ix_requests_assignee', table_name='requests')
    op.create_index('ix_requests_assignee', 'requests', ['status', 'workflow', 'stage', 'assignee_id', 'stage_entered_at', 'id'], unique=False)
    op.create_table('row_counts',
    sa.Column('table_name', sa.String(length=64), nullable=False),
    sa.Column('row_count', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('table_name', name=op.f('pk_row_counts'))
    )
    postgres = op.get_bind().dialect.name == 'postgresql'
    if postgres:
        # Writers wait for this lock instead of inserting between the count and the
        # triggers: the back-fill is exact while the bot runs.
        op.execute('LOCK TABLE workflow_recovery_log IN SHARE ROW EXCLUSIVE MODE')
    for sql in PG_TRIGGERS if postgres else SQLITE_TRIGGERS:
        op.execute(sql)
    # The back-fill: the rows already there, counted once.
    op.execute(
        "INSERT INTO row_counts (table_name, row_count) "
        "SELECT 'workflow_recovery_log', count(*) FROM workflow_recovery_log"
    )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == 'postgresql'
    for event in EVENTS if postgres else EVENTS[:2]:
        on = ' ON workflow_recovery_log' if postgres else ''
        op.execute(f'DROP TRIGGER IF EXISTS trg_workflow_recovery_log_count_{event}{on}')
    if postgres:
        op.execute('DROP FUNCTION IF EXISTS row_counts_track()')
    op.drop_table('row_counts')
    op.drop_index('ix_requests_assignee', table_name='requests')
    op.create_index('ix_requests_assignee', 'requests', ['status', 'workflow', 'stage', 'assignee_id'], unique=False)
