"""error_occurrences.repeats: a person's failures past the storage cap are counted on their
newest stored row, so health and Error statistics count every failure

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Existing rows stand for one failure each. The time-window index carries the column, so the
# counts stay an index-only range scan.
def upgrade() -> None:
    op.add_column(
        'error_occurrences',
        sa.Column('repeats', sa.Integer(), server_default='1', nullable=False),
    )
    op.drop_index('ix_error_occurrences_occurred_at', table_name='error_occurrences')
    op.create_index(
        'ix_error_occurrences_occurred_at',
        'error_occurrences',
        ['occurred_at', 'error_id', 'repeats'],
    )


def downgrade() -> None:
    op.drop_index('ix_error_occurrences_occurred_at', table_name='error_occurrences')
    op.create_index(
        'ix_error_occurrences_occurred_at', 'error_occurrences', ['occurred_at', 'error_id']
    )
    op.drop_column('error_occurrences', 'repeats')
