"""job_leases: each scheduled job runs once per interval across replicas, and health shows
which replica ran it last and how it went

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'job_leases',
        sa.Column('job', sa.String(length=64), nullable=False),
        sa.Column('holder', sa.String(length=128), nullable=False),
        sa.Column('leased_until', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_run_started', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_run_finished', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_result', sa.String(length=16), nullable=True),
        sa.Column('last_message', sa.String(length=200), nullable=True),
        sa.Column('last_runner', sa.String(length=128), nullable=False),
        sa.Column('runs', sa.Integer(), server_default='0', nullable=False),
        sa.PrimaryKeyConstraint('job', name=op.f('pk_job_leases')),
    )


def downgrade() -> None:
    op.drop_table('job_leases')
