"""The reconciliation watch on SQLite and PostgreSQL: each corruption written with raw SQL is
fixed by one watch (through a full run with trigger 'watch'), a clean ledger runs nothing,
a negative stock left for an admin runs once and alerts once; and the trigger-kept
ledger_balance follows the app's own stock paths."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, text

from core.enums import RequestStatus, Role
from database.models import (
    InventoryItem,
    InventoryTransaction,
    PendingNotification,
    ReconciliationRun,
)
from services.requests import Line
from tests.conftest import ADMIN_TG_ID, World
from tests.factories import person, stock
from tests.reconciliation_world import item_ids

NOW_SQL = (
    "INSERT INTO inventory_transactions (item_id, request_id, request_item_id, kind, quantity, "
    "status, created_at, committed_at) VALUES (:item, :req, :line, :kind, :q, :status, :now, "
    ":committed)"
)


async def sql(world: World, statement: str, **params: Any) -> list[Any]:
    async with world.app.engine.begin() as conn:
        result = await conn.execute(text(statement), params)
        return list(result.all()) if result.returns_rows else []


async def insert_move(
    world: World,
    item: int,
    quantity: int,
    *,
    kind: str = "issue",
    request_id: int | None = None,
    line: int | None = None,
    status: str = "committed",
) -> int:
    await sql(
        world,
        NOW_SQL,
        item=item,
        req=request_id,
        line=line,
        kind=kind,
        q=quantity,
        status=status,
        now=world.app.clock.now(),
        committed=world.app.clock.now() if status == "committed" else None,
    )
    ((top,),) = await sql(world, "SELECT max(id) FROM inventory_transactions")
    return int(top)


async def figures(world: World) -> dict[str, tuple[int, int, int]]:
    """sku: (stock figure, trigger-kept balance, the ledger's own committed sum)."""
    rows = await sql(
        world,
        "SELECT i.sku, i.stock, i.ledger_balance, COALESCE((SELECT sum(t.quantity) FROM "
        "inventory_transactions t WHERE t.item_id = i.id AND t.status = 'committed'), 0) "
        "FROM inventory_items i",
    )
    return {str(s): (int(a), int(b), int(c)) for s, a, b, c in rows}


async def runs(world: World) -> list[tuple[str, int, int, int]]:
    async with world.app.sessionmaker() as session:
        rows = await session.execute(
            select(
                ReconciliationRun.trigger,
                ReconciliationRun.findings,
                ReconciliationRun.fixed,
                ReconciliationRun.needs_admin,
            ).order_by(ReconciliationRun.id)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


async def alerts(world: World) -> int:
    async with world.app.sessionmaker() as session:
        query = select(func.count()).where(PendingNotification.kind == "reconciliation_alert")
        return int(await session.scalar(query) or 0)


async def ledger(world: World, item: int) -> list[tuple[str, int, int | None]]:
    async with world.app.sessionmaker() as session:
        rows = await session.execute(
            select(
                InventoryTransaction.kind,
                InventoryTransaction.quantity,
                InventoryTransaction.reverses_id,
            )
            .where(InventoryTransaction.item_id == item)
            .order_by(InventoryTransaction.id)
        )
        return [(k.value, q, r) for k, q, r in rows]


async def started(world: World) -> dict[str, int]:
    """Items A (10), B (5), an admin; the first watch (a full run on a clean ledger)."""
    await stock(world, ("A", "Alpha", 10), ("B", "Beta", 5))
    await person(world, ADMIN_TG_ID, Role.ADMIN)
    first = await world.app.reconciliation.watch()
    assert first.report is not None and first.report.findings == []
    assert await runs(world) == [("watch", 0, 0, 0)]
    return await item_ids(world)


async def issued_request(world: World, item: int, quantity: int) -> tuple[int, int]:
    """A request issued through RequestService; (request id, its line's id)."""
    await person(world, 1, Role.REQUESTER)
    await person(world, 2, Role.MANAGER)
    await person(world, 3, Role.STOREKEEPER)
    ids = {}
    for tg in (1, 2, 3):
        ((uid,),) = await sql(world, "SELECT id FROM users WHERE telegram_id = :t", t=tg)
        ids[tg] = int(uid)
    service = world.app.requests
    request = await service.create(ids[1], [Line(item, quantity)])
    request = await service.approve(request.id, ids[2], request.version)
    request = await service.approve(request.id, ids[3], request.version)
    assert request.status is RequestStatus.COMPLETED
    return request.id, request.items[0].id


async def test_a_clean_ledger_runs_nothing(world: World) -> None:
    ids = await started(world)
    await issued_request(world, ids["A"], 2)  # the app's own writes are not corruption
    for _ in range(3):
        result = await world.app.reconciliation.watch()
        assert (result.suspicious, result.report) == (frozenset(), None)
    assert await runs(world) == [("watch", 0, 0, 0)]


async def test_a_raised_stock_figure_is_fixed_by_one_watch(world: World) -> None:
    ids = await started(world)
    await sql(world, "UPDATE inventory_items SET stock = stock + 7 WHERE id = :i", i=ids["A"])
    result = await world.app.reconciliation.watch()
    assert result.new == {f"stock_mismatch:item:{ids['A']}"}
    assert (await figures(world))["A"] == (10, 10, 10)
    assert await runs(world) == [("watch", 0, 0, 0), ("watch", 1, 1, 0)]
    assert (await world.app.reconciliation.watch()).report is None


async def test_an_orphaned_issue_is_reversed_by_one_watch(world: World) -> None:
    ids = await started(world)
    orphan = await insert_move(world, ids["B"], -3, request_id=990001)
    await sql(world, "UPDATE inventory_items SET stock = stock - 3 WHERE id = :i", i=ids["B"])
    assert (await figures(world))["B"] == (2, 2, 2)  # figures agree: only the row tells
    result = await world.app.reconciliation.watch()
    assert result.new == {f"orphan:tx:{orphan}"}
    assert await ledger(world, ids["B"]) == [
        ("receipt", 5, None),
        ("issue", -3, None),
        ("reversal", 3, orphan),
    ]
    assert (await figures(world))["B"] == (5, 5, 5)
    assert await runs(world) == [("watch", 0, 0, 0), ("watch", 1, 1, 0)]
    assert (await world.app.reconciliation.watch()).report is None


async def test_an_issue_for_a_rejected_request_is_reversed(world: World) -> None:
    ids = await started(world)
    request_id, line = await issued_request(world, ids["A"], 2)
    await sql(world, "UPDATE requests SET status = 'rejected' WHERE id = :r", r=request_id)
    # A late duplicate delivery of the issue after the rejection: its request is closed.
    late = await insert_move(world, ids["A"], -1, request_id=request_id)
    await sql(world, "UPDATE inventory_items SET stock = stock - 1 WHERE id = :i", i=ids["A"])
    result = await world.app.reconciliation.watch()
    assert f"orphan:tx:{late}" in result.new
    assert ("reversal", 1, late) in await ledger(world, ids["A"])
    assert line > 0 and (await runs(world))[-1][0] == "watch"


async def test_an_issue_written_twice_is_reversed_by_one_watch(world: World) -> None:
    ids = await started(world)
    request_id, line = await issued_request(world, ids["A"], 2)
    assert (await world.app.reconciliation.watch()).report is None
    twice = await insert_move(world, ids["A"], -2, request_id=request_id, line=line)
    await sql(world, "UPDATE inventory_items SET stock = stock - 2 WHERE id = :i", i=ids["A"])
    result = await world.app.reconciliation.watch()
    assert result.new == {f"duplicate:line:{line}"}
    assert (await ledger(world, ids["A"]))[-2:] == [("issue", -2, None), ("reversal", 2, twice)]
    assert (await figures(world))["A"] == (8, 8, 8)
    assert await runs(world) == [("watch", 0, 0, 0), ("watch", 1, 1, 0)]


async def test_negative_stock_runs_once_and_alerts_once(world: World) -> None:
    ids = await started(world)
    await insert_move(world, ids["B"], -10, kind="adjustment")
    await sql(world, "UPDATE inventory_items SET stock = -5 WHERE id = :i", i=ids["B"])
    result = await world.app.reconciliation.watch()
    assert result.new == {f"negative_stock:item:{ids['B']}"}
    assert await runs(world) == [("watch", 0, 0, 0), ("watch", 1, 0, 1)]
    assert await alerts(world) == 1
    for _ in range(3):  # it stays for an admin: no run, no second alert
        later = await world.app.reconciliation.watch()
        assert later.suspicious == {f"negative_stock:item:{ids['B']}"}
        assert (later.new, later.report) == (frozenset(), None)
    assert len(await runs(world)) == 2
    # Something new on top (another item) runs again; the old finding is not re-alerted.
    await sql(world, "UPDATE inventory_items SET stock = stock + 1 WHERE id = :i", i=ids["A"])
    again = await world.app.reconciliation.watch()
    assert again.new == {f"stock_mismatch:item:{ids['A']}"}
    assert (await runs(world))[-1] == ("watch", 2, 1, 1)
    assert await alerts(world) == 1


async def test_a_busy_run_is_tried_at_the_next_watch(world: World) -> None:
    ids = await started(world)
    await sql(world, "UPDATE inventory_items SET stock = 99 WHERE id = :i", i=ids["A"])
    async with world.app.reconciliation.exclusive():  # the hourly run holds the lock
        busy = await world.app.reconciliation.watch()
    assert busy.busy and busy.report is None
    retried = await world.app.reconciliation.watch()
    assert retried.report is not None and (await figures(world))["A"] == (10, 10, 10)


async def test_the_first_watch_is_one_full_run(world: World) -> None:
    """Corruption from before start-up (below the watermark) is the first watch's full run's."""
    await stock(world, ("A", "Alpha", 10))
    ids = await item_ids(world)
    orphan = await insert_move(world, ids["A"], -1, request_id=424242)
    first = await world.app.reconciliation.watch()
    assert first.report is not None and first.report.fixes == 2  # reversed, figure recomputed
    assert ("reversal", 1, orphan) in await ledger(world, ids["A"])
    assert (await world.app.reconciliation.watch()).report is None


async def test_the_balance_follows_the_app_s_paths_and_pending_rows(world: World) -> None:
    await stock(world, ("A", "Alpha", 10), ("B", "Beta", 0))
    ids = await item_ids(world)
    assert await figures(world) == {"A": (10, 10, 10), "B": (0, 0, 0)}
    await issued_request(world, ids["A"], 3)  # issue
    await stock(world, ("B", "Beta", 4))  # re-import: an adjustment of +4
    await person(world, ADMIN_TG_ID, Role.ADMIN)
    await world.app.reconciliation.set_counted(ids["A"], 6, "shelf count", None)  # -1
    assert await figures(world) == {"A": (6, 6, 6), "B": (4, 4, 4)}
    pending = await insert_move(world, ids["B"], -2, status="pending")
    assert (await figures(world))["B"] == (4, 4, 4)  # pending does not count
    await sql(
        world, "UPDATE inventory_transactions SET status = 'committed' WHERE id = :i", i=pending
    )
    assert (await figures(world))["B"] == (4, 2, 2)
    await sql(world, "UPDATE inventory_transactions SET quantity = -3 WHERE id = :i", i=pending)
    move = "UPDATE inventory_transactions SET item_id = :a WHERE id = :i"
    await sql(world, move, a=ids["A"], i=pending)
    assert await figures(world) == {"A": (6, 3, 3), "B": (4, 4, 4)}
    await sql(world, "DELETE FROM inventory_transactions WHERE id = :i", i=pending)
    assert await figures(world) == {"A": (6, 6, 6), "B": (4, 4, 4)}


async def test_a_pending_row_is_looked_at_again_when_it_commits(world: World) -> None:
    ids = await started(world)
    pending = await insert_move(world, ids["A"], -1, request_id=777, status="pending")
    assert (await world.app.reconciliation.watch()).report is None  # pending: not an orphan
    world.app.clock.advance(timedelta(seconds=30))  # type: ignore[attr-defined]
    await sql(
        world, "UPDATE inventory_transactions SET status = 'committed' WHERE id = :i", i=pending
    )
    await sql(world, "UPDATE inventory_items SET stock = stock - 1 WHERE id = :i", i=ids["A"])
    result = await world.app.reconciliation.watch()
    assert f"orphan:tx:{pending}" in result.new
    assert ("reversal", 1, pending) in await ledger(world, ids["A"])


async def test_the_scheduler_runs_the_watch_every_thirty_seconds(world: World) -> None:
    from bot.scheduler import create_scheduler

    job = create_scheduler(world.app).get_job("watch_inventory")
    assert job is not None and job.trigger.interval == timedelta(seconds=30)
    await stock(world, ("A", "Alpha", 10))
    await job.func()  # the first watch: one full run
    ids = await item_ids(world)
    await sql(world, "UPDATE inventory_items SET stock = 3 WHERE id = :i", i=ids["A"])
    await job.func()
    assert (await figures(world))["A"] == (10, 10, 10)
    assert [r[0] for r in await runs(world)] == ["watch", "watch"]
    async with world.app.sessionmaker() as session:
        item = await session.get(InventoryItem, ids["A"])
        assert item is not None and item.stock == 10
