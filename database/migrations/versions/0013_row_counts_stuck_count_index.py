"""row_counts: the recovery log's row count (whole and per person) and the dead
notifications' count, kept by triggers (database/models/counts.py); ix_requests_assignee
carries stage_entered_at and id, so the stuck count reads it alone

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The statements as they were at this revision (the model module may move on; a test checks
# that a migrated database and one created from the models have the same triggers).
PG_FUNCTIONS = {
    'row_counts_track': """
CREATE OR REPLACE FUNCTION row_counts_track() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed bigint;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        INSERT INTO row_counts (name, row_count) VALUES (TG_ARGV[0], 0)
        ON CONFLICT (name) DO UPDATE SET row_count = 0;
        RETURN NULL;
    ELSIF TG_OP = 'INSERT' THEN
        SELECT count(*) INTO changed FROM new_rows;
    ELSE
        SELECT -count(*) INTO changed FROM old_rows;
    END IF;
    IF changed <> 0 THEN
        UPDATE row_counts SET row_count = row_count + changed WHERE name = TG_ARGV[0];
    END IF;
    RETURN NULL;
END
$$
""",
    'row_counts_track_status': """
CREATE OR REPLACE FUNCTION row_counts_track_status() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed bigint := 0;
    gone bigint;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        INSERT INTO row_counts (name, row_count) VALUES (TG_ARGV[0], 0)
        ON CONFLICT (name) DO UPDATE SET row_count = 0;
        RETURN NULL;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        SELECT count(*) INTO changed FROM new_rows WHERE status = TG_ARGV[1];
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        SELECT count(*) INTO gone FROM old_rows WHERE status = TG_ARGV[1];
        changed := changed - gone;
    END IF;
    IF changed <> 0 THEN
        UPDATE row_counts SET row_count = row_count + changed WHERE name = TG_ARGV[0];
    END IF;
    RETURN NULL;
END
$$
""",
    # One counter per person in the log (the "by admin" filter's total).
    'row_counts_by_actor_id': """
CREATE OR REPLACE FUNCTION row_counts_by_actor_id() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM row_counts WHERE starts_with(name, TG_ARGV[0]);
        RETURN NULL;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE row_counts SET row_count = row_counts.row_count - gone.n
        FROM (SELECT TG_ARGV[0] || actor_id AS name, count(*) AS n FROM old_rows
              WHERE actor_id IS NOT NULL GROUP BY actor_id) AS gone
        WHERE row_counts.name = gone.name;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO row_counts (name, row_count)
        SELECT TG_ARGV[0] || actor_id, count(*) FROM new_rows WHERE actor_id IS NOT NULL
        GROUP BY actor_id ORDER BY 1
        ON CONFLICT (name) DO UPDATE SET row_count = row_counts.row_count + excluded.row_count;
    END IF;
    RETURN NULL;
END
$$
""",
}

SQLITE_TRIGGERS = [
    "CREATE TRIGGER trg_workflow_recovery_log_count_insert AFTER INSERT ON workflow_recovery_log BEGIN UPDATE row_counts SET row_count = row_count + 1 WHERE name = 'workflow_recovery_log'; END",
    "CREATE TRIGGER trg_workflow_recovery_log_count_delete AFTER DELETE ON workflow_recovery_log BEGIN UPDATE row_counts SET row_count = row_count - 1 WHERE name = 'workflow_recovery_log'; END",
    "CREATE TRIGGER trg_pending_notifications_dead_count_insert AFTER INSERT ON pending_notifications WHEN new.status = 'dead' BEGIN UPDATE row_counts SET row_count = row_count + 1 WHERE name = 'pending_notifications.dead'; END",
    "CREATE TRIGGER trg_pending_notifications_dead_count_delete AFTER DELETE ON pending_notifications WHEN old.status = 'dead' BEGIN UPDATE row_counts SET row_count = row_count - 1 WHERE name = 'pending_notifications.dead'; END",
    "CREATE TRIGGER trg_pending_notifications_dead_count_enter AFTER UPDATE OF status ON pending_notifications WHEN new.status = 'dead' AND old.status IS NOT 'dead' BEGIN UPDATE row_counts SET row_count = row_count + 1 WHERE name = 'pending_notifications.dead'; END",
    "CREATE TRIGGER trg_pending_notifications_dead_count_leave AFTER UPDATE OF status ON pending_notifications WHEN old.status = 'dead' AND new.status IS NOT 'dead' BEGIN UPDATE row_counts SET row_count = row_count - 1 WHERE name = 'pending_notifications.dead'; END",
    "CREATE TRIGGER trg_workflow_recovery_log_actor_id_count_insert AFTER INSERT ON workflow_recovery_log BEGIN INSERT INTO row_counts (name, row_count) SELECT 'workflow_recovery_log.actor_id=' || new.actor_id, 1 WHERE new.actor_id IS NOT NULL ON CONFLICT (name) DO UPDATE SET row_count = row_count + 1; END",
    "CREATE TRIGGER trg_workflow_recovery_log_actor_id_count_delete AFTER DELETE ON workflow_recovery_log BEGIN UPDATE row_counts SET row_count = row_count - 1 WHERE name = 'workflow_recovery_log.actor_id=' || old.actor_id; END",
    "CREATE TRIGGER trg_workflow_recovery_log_actor_id_count_update AFTER UPDATE OF actor_id ON workflow_recovery_log WHEN old.actor_id IS NOT new.actor_id BEGIN UPDATE row_counts SET row_count = row_count - 1 WHERE name = 'workflow_recovery_log.actor_id=' || old.actor_id; INSERT INTO row_counts (name, row_count) SELECT 'workflow_recovery_log.actor_id=' || new.actor_id, 1 WHERE new.actor_id IS NOT NULL ON CONFLICT (name) DO UPDATE SET row_count = row_count + 1; END",
]

PG_TRIGGERS = [
    PG_FUNCTIONS['row_counts_track'],
    "CREATE TRIGGER trg_workflow_recovery_log_count_insert AFTER INSERT ON workflow_recovery_log REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION row_counts_track('workflow_recovery_log')",
    "CREATE TRIGGER trg_workflow_recovery_log_count_delete AFTER DELETE ON workflow_recovery_log REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION row_counts_track('workflow_recovery_log')",
    "CREATE TRIGGER trg_workflow_recovery_log_count_truncate AFTER TRUNCATE ON workflow_recovery_log FOR EACH STATEMENT EXECUTE FUNCTION row_counts_track('workflow_recovery_log')",
    PG_FUNCTIONS['row_counts_track_status'],
    "CREATE TRIGGER trg_pending_notifications_dead_count_insert AFTER INSERT ON pending_notifications REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION row_counts_track_status('pending_notifications.dead', 'dead')",
    "CREATE TRIGGER trg_pending_notifications_dead_count_delete AFTER DELETE ON pending_notifications REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION row_counts_track_status('pending_notifications.dead', 'dead')",
    "CREATE TRIGGER trg_pending_notifications_dead_count_update AFTER UPDATE ON pending_notifications REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION row_counts_track_status('pending_notifications.dead', 'dead')",
    "CREATE TRIGGER trg_pending_notifications_dead_count_truncate AFTER TRUNCATE ON pending_notifications FOR EACH STATEMENT EXECUTE FUNCTION row_counts_track_status('pending_notifications.dead', 'dead')",
    PG_FUNCTIONS['row_counts_by_actor_id'],
    "CREATE TRIGGER trg_workflow_recovery_log_actor_id_count_insert AFTER INSERT ON workflow_recovery_log REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION row_counts_by_actor_id('workflow_recovery_log.actor_id=')",
    "CREATE TRIGGER trg_workflow_recovery_log_actor_id_count_delete AFTER DELETE ON workflow_recovery_log REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION row_counts_by_actor_id('workflow_recovery_log.actor_id=')",
    "CREATE TRIGGER trg_workflow_recovery_log_actor_id_count_update AFTER UPDATE ON workflow_recovery_log REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION row_counts_by_actor_id('workflow_recovery_log.actor_id=')",
    "CREATE TRIGGER trg_workflow_recovery_log_actor_id_count_truncate AFTER TRUNCATE ON workflow_recovery_log FOR EACH STATEMENT EXECUTE FUNCTION row_counts_by_actor_id('workflow_recovery_log.actor_id=')",
]

BACK_FILL = [
    "INSERT INTO row_counts (name, row_count) SELECT 'workflow_recovery_log', count(*) FROM workflow_recovery_log",
    "INSERT INTO row_counts (name, row_count) SELECT 'pending_notifications.dead', count(*) FROM pending_notifications WHERE status = 'dead'",
    "INSERT INTO row_counts (name, row_count) SELECT 'workflow_recovery_log.actor_id=' || actor_id, count(*) FROM workflow_recovery_log WHERE actor_id IS NOT NULL GROUP BY actor_id",
]

SQLITE_DROPS = [('trg_workflow_recovery_log_count_insert', 'workflow_recovery_log'), ('trg_workflow_recovery_log_count_delete', 'workflow_recovery_log'), ('trg_pending_notifications_dead_count_insert', 'pending_notifications'), ('trg_pending_notifications_dead_count_delete', 'pending_notifications'), ('trg_pending_notifications_dead_count_enter', 'pending_notifications'), ('trg_pending_notifications_dead_count_leave', 'pending_notifications'), ('trg_workflow_recovery_log_actor_id_count_insert', 'workflow_recovery_log'), ('trg_workflow_recovery_log_actor_id_count_delete', 'workflow_recovery_log'), ('trg_workflow_recovery_log_actor_id_count_update', 'workflow_recovery_log')]
PG_DROPS = [('trg_workflow_recovery_log_count_insert', 'workflow_recovery_log'), ('trg_workflow_recovery_log_count_delete', 'workflow_recovery_log'), ('trg_workflow_recovery_log_count_truncate', 'workflow_recovery_log'), ('trg_pending_notifications_dead_count_insert', 'pending_notifications'), ('trg_pending_notifications_dead_count_delete', 'pending_notifications'), ('trg_pending_notifications_dead_count_update', 'pending_notifications'), ('trg_pending_notifications_dead_count_truncate', 'pending_notifications'), ('trg_workflow_recovery_log_actor_id_count_insert', 'workflow_recovery_log'), ('trg_workflow_recovery_log_actor_id_count_delete', 'workflow_recovery_log'), ('trg_workflow_recovery_log_actor_id_count_update', 'workflow_recovery_log'), ('trg_workflow_recovery_log_actor_id_count_truncate', 'workflow_recovery_log')]


def upgrade() -> None:
    op.drop_index('ix_requests_assignee', table_name='requests')
    op.create_index('ix_requests_assignee', 'requests', ['status', 'workflow', 'stage', 'assignee_id', 'stage_entered_at', 'id'], unique=False)
    op.create_table('row_counts',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('row_count', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_row_counts'))
    )
    postgres = op.get_bind().dialect.name == 'postgresql'
    if postgres:
        # Writers wait for these locks instead of writing between the triggers and the
        # count: the back-fill is exact while the bot runs.
        op.execute('LOCK TABLE workflow_recovery_log, pending_notifications IN SHARE ROW EXCLUSIVE MODE')
    for sql in PG_TRIGGERS if postgres else SQLITE_TRIGGERS:
        op.execute(sql)
    for sql in BACK_FILL:  # the rows already there, counted once
        op.execute(sql)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == 'postgresql'
    for trigger, table in PG_DROPS if postgres else SQLITE_DROPS:
        op.execute(f'DROP TRIGGER IF EXISTS {trigger} ON {table}' if postgres else f'DROP TRIGGER IF EXISTS {trigger}')
    if postgres:
        for function in PG_FUNCTIONS:
            op.execute(f'DROP FUNCTION IF EXISTS {function}()')
    op.drop_table('row_counts')
    op.drop_index('ix_requests_assignee', table_name='requests')
    op.create_index('ix_requests_assignee', 'requests', ['status', 'workflow', 'stage', 'assignee_id'], unique=False)
