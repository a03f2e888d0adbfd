"""The workflow recovery log's queries: a page of it (whole, one person's or one request's)
and the people who appear in it."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from database.models import User, WorkflowRecoveryLog
from database.models.counts import RECOVERY_LOG, RECOVERY_LOG_BY_ACTOR
from database.repositories.counts import kept_count


class RecoveryLogRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def page(
        self, offset: int, limit: int, *, actor_id: int | None, request_id: int | None
    ) -> tuple[Sequence[WorkflowRecoveryLog], int]:
        """Newest first, and how many entries there are: the whole log's or one person's
        number is a kept count (row_counts), a request's is counted."""
        query = select(WorkflowRecoveryLog)
        if actor_id is not None:
            query = query.where(WorkflowRecoveryLog.actor_id == actor_id)
        if request_id is not None:
            query = query.where(WorkflowRecoveryLog.request_id == request_id)
        total = None
        if request_id is None:
            kept = RECOVERY_LOG.name if actor_id is None else RECOVERY_LOG_BY_ACTOR.name(actor_id)
            total = await kept_count(self.session, kept)
        if total is None:  # a request's entries, or no counter (none yet): count
            total = await self.session.scalar(select(func.count()).select_from(query.subquery()))
        rows = await self.session.execute(
            query.order_by(WorkflowRecoveryLog.id.desc()).offset(offset).limit(limit)
        )
        return rows.unique().scalars().all(), int(total or 0)

    async def actors(self) -> Sequence[User]:
        """The people who appear in the log, by id.

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
        rows = await self.session.execute(
            select(User).join(found, found.c.actor_id == User.id).order_by(User.id)
        )
        return rows.unique().scalars().all()
