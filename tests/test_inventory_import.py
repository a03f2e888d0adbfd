"""The CSV import books counted figures against the ledger, the source of truth."""

from __future__ import annotations

from sqlalchemy import select

from database.models import InventoryItem, InventoryTransaction
from services.inventory import ImportRow
from tests.conftest import World


async def test_import_books_the_difference_to_the_ledger_not_to_a_drifted_figure(
    world: World,
) -> None:
    service = world.app.inventory
    await service.import_rows([ImportRow(2, "A-1", "Paper", "pcs", 10)])
    async with world.app.sessionmaker() as session, session.begin():
        item = (await session.execute(select(InventoryItem))).scalar_one()
        item.stock = 4  # the cached figure drifted; the ledger still says 10
    result = await service.import_rows([ImportRow(2, "A-1", "Paper", "pcs", 7)])
    assert result.stock_changes == [("A-1", -3)]  # 7 counted - 10 booked
    async with world.app.sessionmaker() as session:
        item = (await session.execute(select(InventoryItem))).scalar_one()
        ledger = (await session.execute(select(InventoryTransaction.quantity))).scalars().all()
    assert item.stock == 7
    assert sum(ledger) == 7
