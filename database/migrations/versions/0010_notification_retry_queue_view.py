"""notification_retry_queue: the seed's table name, as a view over the outbox rows still to
be sent or given up on (one table with statuses is the real design: pending_notifications)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Plain SQL both engines read alike; `next_retry_at` is the seed's name for the next attempt.
VIEW = """
CREATE VIEW notification_retry_queue AS
SELECT id, recipient_id, kind, payload, status, attempts, last_error,
       next_attempt_at AS next_retry_at, last_attempt_at, created_at, dead_reason, dead_at
FROM pending_notifications
WHERE status IN ('pending', 'retrying', 'dead')
"""


def upgrade() -> None:
    op.execute(VIEW)


def downgrade() -> None:
    op.execute("DROP VIEW notification_retry_queue")
