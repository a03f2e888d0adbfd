"""Reading the recovery audit log: who did what to which request, when, why, and the outcome.

The log's "N entries", whole or one person's, is a trigger-kept `row_counts` row (database/
models/counts.py), not a count of a million rows; a request's entries are counted."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from database.models import RowCount, User, WorkflowRecoveryLog
from database.models.counts import RECOVERY_LOG, RECOVERY_LOG_BY_ACTOR


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
        if request_id is None:  # the whole log, or one person's entries: kept counts
            kept = RECOVERY_LOG.name if actor_id is None else RECOVERY_LOG_BY_ACTOR.name(actor_id)
            total = await session.scalar(select(RowCount.row_count).where(RowCount.name == kept))
        if total is None:  # a request's entries, or no counter (none yet): count
            total = await session.scalar(select(func.count()).select_from(query.subquery()))
        rows = await session.execute(
            query.order_by(WorkflowRecoveryLog.id.desc()).offset(offset).limit(limit)
        )
        return rows.unique().scalars().all(), int(total or 0)


async def log_actors(sessionmaker: async_sessionmaker[AsyncSession]) -> Sequence[User]:
    """The people who appear in the log, for the "by admin" filter.

    A skip scan of ix_workflow_recovery_log_actor_id: each step seeks the next actor id
    above the last one, so the work is one index probe per person found (a handful of
    admins), not one per user nor a DISTINCT over the log."""
    log = WorkflowRecoveryLog.__table__.c
    first = select(log.actor_id).where(log.actor_id.is_not(None))
    first = first.order_by(log.actor_id).limit(1)
    found = select(first.scalar_subquery().label("actor_id")).cte("actors", recursive=True)
    following = (
        select(log.actor_id)
        .where(log.actor_id > found.c.actor_id)
        .order_by(log.actor_id)
        .limit(1)
        .scalar_subquery()
    )
    found = found.union_all(
        select(following.label("actor_id")).where(found.c.actor_id.is_not(None))
    )
    async with sessionmaker() as session:
        rows = await session.execute(
            select(User).join(found, found.c.actor_id == User.id).order_by(User.id)
        )
        return rows.unique().scalars().all()
