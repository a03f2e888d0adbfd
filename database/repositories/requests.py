from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core.enums import RequestStatus
from database.engine import read_connection
from database.models import InventoryItem, Request, RequestItem, RequestTransition, User
from database.models.users import display_name


@dataclass(frozen=True)
class SummaryLine:
    name: str
    quantity: int
    unit: str


@dataclass
class RequestSummary:
    """What a list of requests shows of one request: read-only, no ORM object behind it."""

    id: int
    workflow: str
    stage: str | None
    status: RequestStatus
    assignee: str | None  # display name
    lines: list[SummaryLine] = field(default_factory=list)


@cache
def _requester_page() -> Select[Any]:
    """Built once: composing this statement costs more than running it (parameters bound)."""
    page = (
        select(
            Request.id,
            Request.workflow,
            Request.stage,
            Request.status,
            Request.assignee_id,
            func.count().over().label("total"),
        )
        .where(Request.requester_id == bindparam("requester_id"))
        .order_by(Request.id.desc())
        .offset(bindparam("offset"))
        .limit(bindparam("limit"))
        .subquery()
    )
    assignee = aliased(User)
    return (
        select(
            page,
            assignee.full_name,
            assignee.username,
            assignee.telegram_id,
            RequestItem.quantity,
            InventoryItem.name,
            InventoryItem.unit,
        )
        .select_from(page)
        .outerjoin(assignee, assignee.id == page.c.assignee_id)
        .outerjoin(RequestItem, RequestItem.request_id == page.c.id)
        .outerjoin(InventoryItem, InventoryItem.id == RequestItem.item_id)
        .order_by(page.c.id.desc(), RequestItem.id)
    )


class RequestRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_id(self, request_id: int) -> Request | None:
        return await self.session.get(Request, request_id, populate_existing=True)

    async def for_requester(
        self, requester_id: int, offset: int, limit: int
    ) -> tuple[list[RequestSummary], int]:
        """A page of the requester's requests, newest first, with their lines and assignee,
        and how many they have in all: one statement (the total is a window count)."""
        # Plain rows, no ORM loading; no transaction either (see read_connection).
        connection = await read_connection(self.session)
        rows = await connection.execute(
            _requester_page(), {"requester_id": requester_id, "offset": offset, "limit": limit}
        )
        summaries: dict[int, RequestSummary] = {}
        total: int | None = 0
        for row in rows:
            total = row.total
            summary = summaries.get(row.id)
            if summary is None:
                summary = summaries[row.id] = RequestSummary(
                    id=row.id,
                    workflow=row.workflow,
                    stage=row.stage,
                    status=row.status,
                    assignee=None
                    if row.assignee_id is None
                    else display_name(row.full_name, row.username, row.telegram_id),
                )
            if row.quantity is not None:
                summary.lines.append(SummaryLine(row.name, row.quantity, row.unit))
        if not summaries and offset > 0:  # past the last page: the window counted nothing
            total = await self.session.scalar(
                select(func.count(Request.id)).where(Request.requester_id == requester_id)
            )
        return list(summaries.values()), int(total or 0)

    async def transitions(self, request_id: int) -> Sequence[RequestTransition]:
        rows = await self.session.execute(
            select(RequestTransition)
            .where(RequestTransition.request_id == request_id)
            .order_by(RequestTransition.id)
        )
        return rows.scalars().all()

    async def came_from(self, request_id: int, stage: str) -> str | None:
        """The stage the request last entered `stage` from, per its history."""
        return await self.session.scalar(
            select(RequestTransition.from_stage)
            .where(
                RequestTransition.request_id == request_id,
                RequestTransition.to_stage == stage,
                RequestTransition.from_stage.is_not(None),
            )
            .order_by(RequestTransition.id.desc())
            .limit(1)
        )
