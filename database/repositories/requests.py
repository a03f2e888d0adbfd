from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from database.models import Request, RequestTransition


class RequestRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_id(self, request_id: int) -> Request | None:
        return await self.session.get(Request, request_id, populate_existing=True)

    async def for_requester(
        self, requester_id: int, offset: int, limit: int
    ) -> tuple[Sequence[Request], int]:
        total = await self.session.scalar(
            select(func.count(Request.id)).where(Request.requester_id == requester_id)
        )
        rows = await self.session.execute(
            select(Request)
            .where(Request.requester_id == requester_id)
            .order_by(Request.id.desc())
            .offset(offset)
            .limit(limit)
        )
        return rows.unique().scalars().all(), int(total or 0)

    async def transitions(self, request_id: int) -> Sequence[RequestTransition]:
        rows = await self.session.execute(
            select(RequestTransition)
            .where(RequestTransition.request_id == request_id)
            .order_by(RequestTransition.id)
        )
        return rows.scalars().all()
