"""A ledger with one of every discrepancy, written straight into the database."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from core.enums import RequestStatus, Role, TransactionKind, TransactionStatus
from database.models import (
    InventoryItem,
    InventoryTransaction,
    Request,
    RequestItem,
    User,
)
from tests.conftest import ADMIN_TG_ID, World
from tests.factories import person, stock

REQUESTER = 101


async def item_ids(world: World) -> dict[str, int]:
    async with world.app.sessionmaker() as session:
        rows = await session.execute(select(InventoryItem.sku, InventoryItem.id))
        return {str(k): int(v) for k, v in rows}


async def stocks(world: World) -> dict[str, int]:
    async with world.app.sessionmaker() as session:
        rows = await session.execute(select(InventoryItem.sku, InventoryItem.stock))
        return {str(k): int(v) for k, v in rows}


async def build_discrepancies(world: World) -> dict[str, int]:
    """A: figure tampered; B: negative; C: request gone; D: request rejected; E: double issue;
    F: stale pending; G: two different issues for one line; H: healthy."""
    await stock(
        world,
        ("A", "Alpha", 10),
        ("B", "Beta", 5),
        ("C", "Gamma", 3),
        ("D", "Delta", 8),
        ("E", "Epsilon", 4),
        ("F", "Phi", 6),
        ("G", "Gimel", 9),
        ("H", "Healthy", 1),
    )
    await person(world, ADMIN_TG_ID, Role.ADMIN)
    await person(world, REQUESTER, Role.REQUESTER)
    ids = await item_ids(world)
    now = world.app.clock.now()
    async with world.app.sessionmaker() as session, session.begin():
        requester = (
            await session.execute(select(User).where(User.telegram_id == REQUESTER))
        ).scalar_one()

        def request(status: RequestStatus, lines: list[tuple[str, int]]) -> Request:
            req = Request(
                workflow="inventory",
                stage=None,
                status=status,
                requester_id=requester.id,
                stage_entered_at=now,
                created_at=now,
                updated_at=now,
                items=[RequestItem(item_id=ids[sku], quantity=q) for sku, q in lines],
            )
            session.add(req)
            return req

        rejected = request(RequestStatus.REJECTED, [("D", 3)])
        double = request(RequestStatus.COMPLETED, [("E", 2)])
        unclear = request(RequestStatus.COMPLETED, [("G", 1)])
        await session.flush()

        def move(
            sku: str,
            quantity: int,
            req: Request | None = None,
            *,
            request_id: int | None = None,
            kind: TransactionKind = TransactionKind.ISSUE,
            status: TransactionStatus = TransactionStatus.COMMITTED,
            age: timedelta = timedelta(0),
        ) -> None:
            session.add(
                InventoryTransaction(
                    item_id=ids[sku],
                    request_id=req.id if req else request_id,
                    request_item_id=req.items[0].id if req else request_id,
                    kind=kind,
                    quantity=quantity,
                    status=status,
                    created_at=now - age,
                    committed_at=None if status is TransactionStatus.PENDING else now - age,
                )
            )

        move("B", -8, kind=TransactionKind.ADJUSTMENT)
        move("C", -2, request_id=999)
        move("D", -3, rejected)
        move("E", -2, double)
        move("E", -2, double)
        move("F", -1, status=TransactionStatus.PENDING, age=timedelta(hours=30))
        move("G", -1, unclear)
        move("G", -2, unclear)
        # Stock figures follow the movements (as the services keep them), except A's.
        for sku, figure in {"A": 7, "B": -3, "C": 1, "D": 5, "E": 0, "G": 6}.items():
            await session.execute(
                update(InventoryItem).where(InventoryItem.id == ids[sku]).values(stock=figure)
            )
    return ids
