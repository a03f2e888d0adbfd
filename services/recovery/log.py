"""Reading the recovery audit log: who did what to which request, when, why, and the outcome.

The unfiltered log's "N entries" is the trigger-kept `row_counts` row (database/models/
counts.py), not a count of the whole log; a filter's total counts its index range."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from database.models import RowCount, User, WorkflowRecoveryLog

LOG_TABLE = WorkflowRecoveryLog.__tablename__


class RecoveryLogReader:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker

    async def page(
        self,
        offset: int,
        limit: int,
        *,
        actor_id: int | None = None,
        request_id: int | None = None,
    ) -> tuple[Sequence[WorkflowRecoveryLog], int]:
        return await recovery_log_page(
            self.sessionmaker, offset, limit, actor_id=actor_id, request_id=request_id
        )

    async def actors(self) -> Sequence[User]:
        return await log_actors(self.sessionmaker)


async def recovery_log_page(
    sessionmaker: async_sessionmaker[AsyncSession],
    offset: int,
    limit: int,
    *,
    actor_id: int | None = None,
    request_id: int | None = None,
) -> tuple[Sequence[WorkflowRecoveryLog], int]:
    query = select(WorkflowRecoveryLog)
    if actor_id is not None:
        query = query.where(WorkflowRecoveryLog.actor_id == actor_id)
    if request_id is not None:
        query = query.where(WorkflowRecoveryLog.request_id == request_id)
    async with sessionmaker() as session:
        total = None
        if actor_id is None and request_id is None:
            total = await session.scalar(
                select(RowCount.row_count).where(RowCount.table_name == LOG_TABLE)
            )
        if total is None:  # a filter, or the counter row is missing: count
            total = await session.scalar(select(func.count()).select_from(query.subquery()))
        rows = await session.execute(
            query.order_by(WorkflowRecoveryLog.id.desc()).offset(offset).limit(limit)
        )
        return rows.unique().scalars().all(), int(total or 0)


async def log_actors(sessionmaker: async_sessionmaker[AsyncSession]) -> Sequence[User]:
    """The people who appear in the log, for the "by admin" filter."""
    async with sessionmaker() as session:
        # One probe of ix_workflow_recovery_log_actor_id per person, not a DISTINCT over the log.
        acted = select(WorkflowRecoveryLog.id).where(WorkflowRecoveryLog.actor_id == User.id)
        rows = await session.execute(select(User).where(acted.exists()).order_by(User.id))
        return rows.scalars().all()
