"""pending_notifications.priority: admin alerts are claimed before routine notifications

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE on both engines; existing rows are routine (0). The view
# notification_retry_queue names its columns, so it is untouched.
def upgrade() -> None:
    op.add_column(
        'pending_notifications',
        sa.Column('priority', sa.Integer(), server_default='0', nullable=False),
    )


def downgrade() -> None:
    op.drop_column('pending_notifications', 'priority')
