"""users.command_menu: the staff command menu last set for the person's chat

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE on both engines (SQLite has had DROP COLUMN since 3.35): no table copy,
# which on SQLite would have to drop `users` under the rows that refer to it.
def upgrade() -> None:
    op.add_column('users', sa.Column('command_menu', sa.String(length=32), nullable=True))


def downgrade() -> None:
    op.drop_column('users', 'command_menu')
