"""Reading the recovery audit log: who did what to which request, when, why, and the outcome.

The log's "N entries", whole or one person's, is a trigger-kept `row_counts` row (database/
models/counts.py), not a count of a million rows; a request's entries are counted
(database/repositories/recovery_log.py)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from database.models import User, WorkflowRecoveryLog
from database.repositories.recovery_log import RecoveryLogRepository


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
        async with self.sessionmaker() as session:
            return await RecoveryLogRepository(session).page(
                offset, limit, actor_id=actor_id, request_id=request_id
            )

    async def actors(self) -> Sequence[User]:
        """The people who appear in the log, for the "by admin" filter."""
        async with self.sessionmaker() as session:
            return await RecoveryLogRepository(session).actors()
