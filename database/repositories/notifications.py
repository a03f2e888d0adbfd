from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from database.enums import NotificationStatus
from database.models import PendingNotification


class NotificationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self,
        *,
        recipient_id: int,
        kind: str,
        payload: dict[str, Any],
        idempotency_key: str,
        now: datetime,
    ) -> int | None:
        """Insert one outbox row; a key written before is left alone (returns None)."""
        values = {
            "recipient_id": recipient_id,
            "kind": kind,
            "payload": payload,
            "idempotency_key": idempotency_key,
            "status": NotificationStatus.PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        dialect = self.session.bind.dialect.name if self.session.bind else "sqlite"
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        statement = (
            insert(PendingNotification)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(PendingNotification.id)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def due(self, now: datetime, limit: int) -> Sequence[PendingNotification]:
        query = (
            select(PendingNotification)
            .where(
                PendingNotification.status.in_(
                    [NotificationStatus.PENDING, NotificationStatus.FAILED]
                ),
                PendingNotification.next_attempt_at <= now,
            )
            .order_by(PendingNotification.id)
            .limit(limit)
        )
        return (await self.session.execute(query)).unique().scalars().all()
