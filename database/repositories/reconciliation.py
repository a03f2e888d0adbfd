"""Set-based queries behind inventory reconciliation: a handful of aggregates per run, never a
query per item or per ledger row."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core.enums import FindingStatus, RequestStatus, TransactionKind, TransactionStatus
from database.models import (
    InventoryItem,
    InventoryTransaction,
    ReconciliationLog,
    ReconciliationRun,
    Request,
    RequestItem,
)

Tx = InventoryTransaction
CLOSED = (RequestStatus.REJECTED, RequestStatus.CANCELLED)


@dataclass(frozen=True)
class Movement:
    id: int
    item_id: int
    sku: str
    quantity: int
    request_id: int | None
    request_item_id: int | None
    request_status: RequestStatus | None = None
    line_quantity: int | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class Watched:
    """A ledger row the watch looks at once, as it first sees it."""

    id: int
    kind: TransactionKind
    status: TransactionStatus
    request_id: int | None
    request_item_id: int | None
    created_at: datetime
    request_exists: bool
    request_status: RequestStatus | None
    reversed: bool


def _not_reversed() -> ColumnElement[bool]:
    reversal = aliased(Tx)
    return ~exists().where(reversal.reverses_id == Tx.id)


def _items(column: Any, item_ids: Collection[int] | None) -> list[ColumnElement[bool]]:
    return [] if item_ids is None else [column.in_(list(item_ids))]


class ReconciliationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def orphans(self, item_ids: Collection[int] | None) -> list[Movement]:
        """Standing movements whose request is gone, rejected or cancelled."""
        query = (
            select(Tx, InventoryItem.sku, Request.status)
            .join(InventoryItem, InventoryItem.id == Tx.item_id)
            .outerjoin(Request, Request.id == Tx.request_id)
            .where(
                Tx.status == TransactionStatus.COMMITTED,
                Tx.request_id.is_not(None),
                Tx.kind != TransactionKind.REVERSAL,
                or_(Request.id.is_(None), Request.status.in_(CLOSED)),
                _not_reversed(),
                *_items(Tx.item_id, item_ids),
            )
            .order_by(Tx.id)
        )
        rows = await self.session.execute(query)
        return [_movement(row, request_status=row[2]) for row in rows]

    async def duplicate_issues(self, item_ids: Collection[int] | None) -> list[Movement]:
        """Every standing issue row of a request line that has more than one."""
        live: list[ColumnElement[bool]] = [
            Tx.status == TransactionStatus.COMMITTED,
            Tx.kind == TransactionKind.ISSUE,
            Tx.request_item_id.is_not(None),
            _not_reversed(),
            *_items(Tx.item_id, item_ids),
        ]
        lines = select(Tx.request_item_id).where(*live).group_by(Tx.request_item_id)
        lines = lines.having(func.count() > 1)
        query = (
            select(Tx, InventoryItem.sku, RequestItem.quantity)
            .join(InventoryItem, InventoryItem.id == Tx.item_id)
            .outerjoin(RequestItem, RequestItem.id == Tx.request_item_id)
            .where(*live, Tx.request_item_id.in_(lines))
            .order_by(Tx.request_item_id, Tx.id)
        )
        rows = await self.session.execute(query)
        return [_movement(row, line_quantity=row[2]) for row in rows]

    async def stale_pending(
        self, older_than: datetime, item_ids: Collection[int] | None
    ) -> list[Movement]:
        query = (
            select(Tx, InventoryItem.sku)
            .join(InventoryItem, InventoryItem.id == Tx.item_id)
            .where(
                Tx.status == TransactionStatus.PENDING,
                Tx.created_at < older_than,
                *_items(Tx.item_id, item_ids),
            )
            .order_by(Tx.id)
        )
        rows = await self.session.execute(query)
        return [_movement(row, created_at=row[0].created_at) for row in rows]

    async def balances(
        self, item_ids: Collection[int] | None, also: Collection[int]
    ) -> list[tuple[int, str, int, int]]:
        """(item id, sku, stock figure, committed ledger balance) for every item whose figure
        disagrees with the ledger or whose balance is negative, plus the items in `also`."""
        ledger = (
            select(Tx.item_id, func.sum(Tx.quantity).label("balance"))
            .where(Tx.status == TransactionStatus.COMMITTED, *_items(Tx.item_id, item_ids))
            .group_by(Tx.item_id)
            .subquery()
        )
        balance = func.coalesce(ledger.c.balance, 0)
        interesting: list[ColumnElement[bool]] = [InventoryItem.stock != balance, balance < 0]
        if also:
            interesting.append(InventoryItem.id.in_(list(also)))
        query = (
            select(InventoryItem.id, InventoryItem.sku, InventoryItem.stock, balance)
            .outerjoin(ledger, ledger.c.item_id == InventoryItem.id)
            .where(or_(*interesting), *_items(InventoryItem.id, item_ids))
            .order_by(InventoryItem.id)
        )
        rows = await self.session.execute(query)
        return [(int(i), str(sku), int(stock), int(bal)) for i, sku, stock, bal in rows]

    # -- the watch: an items scan and index lookups, never an aggregate of the ledger --------

    async def drifted_items(self) -> list[tuple[int, int, int]]:
        """(item id, stock figure, trigger-kept balance) of the items whose figure disagrees with
        the balance or either is negative: one pass over the items table."""
        query = (
            select(InventoryItem.id, InventoryItem.stock, InventoryItem.ledger_balance)
            .where(
                or_(
                    InventoryItem.stock != InventoryItem.ledger_balance,
                    InventoryItem.stock < 0,
                    InventoryItem.ledger_balance < 0,
                )
            )
            .order_by(InventoryItem.id)
        )
        return [(int(i), int(s), int(b)) for i, s, b in await self.session.execute(query)]

    async def last_movement_id(self) -> int:
        return int(await self.session.scalar(select(func.max(Tx.id))) or 0)

    async def movements_after(self, watermark: int, limit: int | None = None) -> list[Watched]:
        """Ledger rows above `watermark` (a primary-key range), the first `limit` of them, each
        with its request's status (None: no such request) and whether it is reversed already."""
        query = (
            select(
                Tx.id,
                Tx.kind,
                Tx.status,
                Tx.request_id,
                Tx.request_item_id,
                Tx.created_at,
                Request.id.is_not(None),
                Request.status,
                ~_not_reversed(),
            )
            .outerjoin(Request, Request.id == Tx.request_id)
            .where(Tx.id > watermark)
            .order_by(Tx.id)
            .limit(limit)
        )
        return [Watched(*row) for row in await self.session.execute(query)]

    async def lines_issued_twice(self, lines: Collection[int]) -> set[int]:
        """Of these request lines, those with more than one standing issue row (read through
        the request_item_id index)."""
        if not lines:
            return set()
        query = (
            select(Tx.request_item_id)
            .where(
                Tx.request_item_id.in_(list(lines)),
                Tx.status == TransactionStatus.COMMITTED,
                Tx.kind == TransactionKind.ISSUE,
                _not_reversed(),
            )
            .group_by(Tx.request_item_id)
            .having(func.count() > 1)
        )
        return {int(line) for line in await self.session.scalars(query) if line is not None}

    async def ledger_balance(self, item_id: int) -> int:
        total = await self.session.scalar(
            select(func.coalesce(func.sum(Tx.quantity), 0)).where(
                Tx.item_id == item_id, Tx.status == TransactionStatus.COMMITTED
            )
        )
        return int(total or 0)

    async def open_findings(
        self, item_ids: Collection[int] | None = None, limit: int | None = None
    ) -> Sequence[ReconciliationLog]:
        query = (
            select(ReconciliationLog)
            .where(
                ReconciliationLog.status == FindingStatus.NEEDS_ADMIN,
                *_items(ReconciliationLog.item_id, item_ids),
            )
            .order_by(ReconciliationLog.id)
            .limit(limit)
        )
        return (await self.session.execute(query)).scalars().all()

    async def open_count(self) -> int:
        total = await self.session.scalar(
            select(func.count()).where(ReconciliationLog.status == FindingStatus.NEEDS_ADMIN)
        )
        return int(total or 0)

    async def resolve(self, ids: Collection[int], now: datetime) -> None:
        if ids:
            await self.session.execute(
                update(ReconciliationLog)
                .where(ReconciliationLog.id.in_(list(ids)))
                .values(status=FindingStatus.RESOLVED, resolved_at=now)
            )

    async def runs(self, limit: int) -> Sequence[ReconciliationRun]:
        query = select(ReconciliationRun).order_by(ReconciliationRun.id.desc()).limit(limit)
        return (await self.session.execute(query)).scalars().all()

    async def run_log(self, run_id: int) -> Sequence[ReconciliationLog]:
        query = (
            select(ReconciliationLog)
            .where(ReconciliationLog.run_id == run_id)
            .order_by(ReconciliationLog.id)
        )
        return (await self.session.execute(query)).scalars().all()

    async def item_by_sku(self, sku: str) -> InventoryItem | None:
        query = select(InventoryItem).where(InventoryItem.sku == sku)
        return (await self.session.execute(query)).scalar_one_or_none()

    async def open_for_item(self, item_id: int) -> Sequence[ReconciliationLog]:
        query = select(ReconciliationLog).where(
            and_(
                ReconciliationLog.status == FindingStatus.NEEDS_ADMIN,
                ReconciliationLog.item_id == item_id,
            )
        )
        return (await self.session.execute(query)).scalars().all()


def _movement(row: Any, **extra: Any) -> Movement:
    tx, sku = row[0], row[1]
    assert isinstance(tx, Tx)
    return Movement(
        id=tx.id,
        item_id=tx.item_id,
        sku=str(sku),
        quantity=tx.quantity,
        request_id=tx.request_id,
        request_item_id=tx.request_item_id,
        **extra,
    )
