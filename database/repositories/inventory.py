from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.enums import TransactionStatus
from database.models import InventoryItem, InventoryTransaction


class InventoryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def active_page(self, offset: int, limit: int) -> tuple[Sequence[InventoryItem], int]:
        base = select(InventoryItem).where(InventoryItem.is_active.is_(True))
        total = await self.session.scalar(select(func.count()).select_from(base.subquery()))
        rows = await self.session.execute(
            base.order_by(InventoryItem.name, InventoryItem.id).offset(offset).limit(limit)
        )
        return rows.scalars().all(), int(total or 0)

    async def by_id(self, item_id: int) -> InventoryItem | None:
        return await self.session.get(InventoryItem, item_id)

    async def by_skus(self, skus: Sequence[str]) -> dict[str, InventoryItem]:
        """Items by SKU, row-locked: an import must not race a stock issue on them."""
        if not skus:
            return {}
        rows = await self.session.execute(
            select(InventoryItem)
            .where(InventoryItem.sku.in_(list(skus)))
            .order_by(InventoryItem.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return {item.sku: item for item in rows.scalars()}

    async def skus(self, item_ids: Collection[int]) -> dict[int, str]:
        """The SKU of each item, by id."""
        if not item_ids:
            return {}
        rows = await self.session.execute(
            select(InventoryItem.id, InventoryItem.sku).where(InventoryItem.id.in_(item_ids))
        )
        return {int(i): str(s) for i, s in rows}

    async def ledger_balances(self, item_ids: Sequence[int]) -> dict[int, int]:
        """Stock according to the committed ledger, the source of truth, per item."""
        if not item_ids:
            return {}
        rows = await self.session.execute(
            select(InventoryTransaction.item_id, func.sum(InventoryTransaction.quantity))
            .where(
                InventoryTransaction.item_id.in_(list(item_ids)),
                InventoryTransaction.status == TransactionStatus.COMMITTED,
            )
            .group_by(InventoryTransaction.item_id)
        )
        return {item_id: int(total or 0) for item_id, total in rows}

    async def lock_items(self, item_ids: Sequence[int]) -> dict[int, InventoryItem]:
        """Load items for a stock change, row-locked on PostgreSQL (SQLite locks the file)."""
        query = (
            select(InventoryItem)
            .where(InventoryItem.id.in_(list(item_ids)))
            .order_by(InventoryItem.id)  # one lock order everywhere avoids deadlocks
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return {item.id: item for item in (await self.session.execute(query)).scalars()}

    def add_transaction(self, transaction: InventoryTransaction) -> None:
        self.session.add(transaction)

    async def transactions_for_request(self, request_id: int) -> Sequence[InventoryTransaction]:
        query = (
            select(InventoryTransaction)
            .where(InventoryTransaction.request_id == request_id)
            .order_by(InventoryTransaction.id)
        )
        return (await self.session.execute(query)).scalars().all()
