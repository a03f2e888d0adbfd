"""Health snapshots: the latest one (did the status change?) and a window of them (the trend)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from database.models import SystemHealthSnapshot


class HealthRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def latest(self) -> SystemHealthSnapshot | None:
        return await self.session.scalar(
            select(SystemHealthSnapshot)
            .order_by(SystemHealthSnapshot.taken_at.desc(), SystemHealthSnapshot.id.desc())
            .limit(1)
        )

    async def since(self, since: datetime) -> Sequence[SystemHealthSnapshot]:
        """Snapshots taken since `since`, oldest first."""
        rows = await self.session.scalars(
            select(SystemHealthSnapshot)
            .where(SystemHealthSnapshot.taken_at >= since)
            .order_by(SystemHealthSnapshot.taken_at)
        )
        return rows.all()
