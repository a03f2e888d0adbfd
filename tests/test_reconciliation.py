"""Reconciliation on SQLite and PostgreSQL: detect every kind, dry run, apply, override, alert,
and never two runs at once."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select, update

from bot.scheduler import create_scheduler
from core.clock import FrozenClock
from core.enums import (
    DiscrepancyKind as K,
)
from core.enums import (
    FindingStatus,
    Role,
    TransactionKind,
    TransactionStatus,
)
from core.enums import (
    ReconciliationAction as A,
)
from database.engine import create_engine, create_sessionmaker
from database.models import (
    InventoryItem,
    InventoryTransaction,
    PendingNotification,
    ReconciliationLog,
    ReconciliationRun,
    TransactionLog,
)
from services.reconciliation.service import ReconciliationBusy, ReconciliationService
from services.transactions import TransactionalStateManager
from tests.conftest import ADMIN_TG_ID, World
from tests.factories import person, stock
from tests.reconciliation_world import build_discrepancies, item_ids, stocks
from tests.support import db
from utils.masking import Masker

EXPECTED = [
    ("A", K.STOCK_MISMATCH, A.RECOMPUTE_STOCK, 10, 7),
    ("B", K.NEGATIVE_STOCK, A.LEAVE_FOR_ADMIN, 0, -3),
    ("C", K.ORPHAN_MISSING_REQUEST, A.REVERSE_MOVEMENT, None, -2),
    ("D", K.ORPHAN_CLOSED_REQUEST, A.REVERSE_MOVEMENT, None, -3),
    ("E", K.DUPLICATE_MOVEMENT, A.REVERSE_MOVEMENT, -2, -2),
    ("F", K.STALE_PENDING, A.LEAVE_FOR_ADMIN, None, -1),
    ("G", K.DUPLICATE_MOVEMENT, A.LEAVE_FOR_ADMIN, -1, -3),
]


async def snapshot(world: World) -> dict[str, Any]:
    async with world.app.sessionmaker() as session:

        async def count(model: type) -> int:
            return int(await session.scalar(select(func.count()).select_from(model)) or 0)

        return {
            "stocks": await stocks(world),
            "ledger": await count(InventoryTransaction),
            "log": await count(ReconciliationLog),
            "runs": await count(ReconciliationRun),
            "outbox": await count(PendingNotification),
            "audit": await count(TransactionLog),
        }


def summary(report: Any) -> list[tuple[str, K, A, int | None, int | None]]:
    return [(f.sku, f.kind, f.action, f.expected, f.actual) for f in report.findings]


async def test_dry_run_reports_everything_and_changes_nothing(world: World) -> None:
    await build_discrepancies(world)
    before = await snapshot(world)
    report = await world.app.reconciliation.run()
    assert not report.applied and report.run_id is None
    assert summary(report) == EXPECTED
    assert (report.fixes, report.needs_admin, report.new_for_admin) == (4, 3, 3)
    assert await snapshot(world) == before


async def test_apply_fixes_the_safe_ones_logs_everything_and_a_rerun_finds_nothing_new(
    world: World,
) -> None:
    ids = await build_discrepancies(world)
    preview = await world.app.reconciliation.run()
    audit_before = (await snapshot(world))["audit"]
    report = await world.app.reconciliation.run(apply=True, trigger="cli")
    assert summary(report) == summary(preview)
    assert await stocks(world) == {
        "A": 10,  # recomputed from the ledger
        "B": -3,  # negative: left for an admin
        "C": 3,  # +2 reversal
        "D": 8,  # +3 reversal
        "E": 2,  # the second issue reversed
        "F": 6,
        "G": 6,  # ambiguous: left alone
        "H": 1,
    }
    async with world.app.sessionmaker() as session:
        reversals = (
            await session.execute(
                select(InventoryTransaction)
                .where(InventoryTransaction.kind == TransactionKind.REVERSAL)
                .order_by(InventoryTransaction.id)
            )
        ).scalars()
        originals = {
            t.id: t for t in (await session.execute(select(InventoryTransaction))).scalars()
        }
        got = [
            (r.item_id, r.quantity, r.status, originals[r.reverses_id].item_id) for r in reversals
        ]  # type: ignore[index]
        log = (
            (await session.execute(select(ReconciliationLog).order_by(ReconciliationLog.id)))
            .scalars()
            .all()
        )
        audit = (
            (await session.execute(select(TransactionLog).order_by(TransactionLog.id.desc())))
            .scalars()
            .first()
        )
        alerts = (
            (
                await session.execute(
                    select(PendingNotification).where(
                        PendingNotification.kind == "reconciliation_alert"
                    )
                )
            )
            .scalars()
            .all()
        )
    committed = TransactionStatus.COMMITTED
    assert got == [
        (ids["C"], 2, committed, ids["C"]),
        (ids["D"], 3, committed, ids["D"]),
        (ids["E"], 2, committed, ids["E"]),
    ]
    assert [(r.kind, r.action, r.status, r.run_id) for r in log] == [
        (
            kind,
            action,
            FindingStatus.NEEDS_ADMIN if action is A.LEAVE_FOR_ADMIN else FindingStatus.FIXED,
            report.run_id,
        )
        for _, kind, action, _, _ in EXPECTED
    ]
    assert [(r.expected, r.actual) for r in log] == [(e, a) for *_, e, a in EXPECTED]
    assert audit is not None and audit.operation == "reconcile_inventory"
    assert audit.after == {
        "run_id": report.run_id,
        "item_id": None,
        "by_kind": {
            "stock_mismatch": 1,
            "negative_stock": 1,
            "orphan_missing_request": 1,
            "orphan_closed_request": 1,
            "duplicate_movement": 2,
            "stale_pending": 1,
        },
        "fixed": 4,
        "needs_admin": 3,
        "resolved": 0,
    }
    assert (await snapshot(world))["audit"] == audit_before + 1
    assert sorted(a.payload["kind"] for a in alerts) == [
        "duplicate_movement",
        "negative_stock",
        "stale_pending",
    ]

    before = await snapshot(world)
    again = await world.app.reconciliation.run(apply=True)
    assert [(f.sku, f.kind, f.is_new) for f in again.findings] == [
        ("B", K.NEGATIVE_STOCK, False),
        ("F", K.STALE_PENDING, False),
        ("G", K.DUPLICATE_MOVEMENT, False),
    ]
    assert (again.fixes, again.new_for_admin) == (0, 0)
    after = await snapshot(world)
    assert after["stocks"] == before["stocks"] and after["ledger"] == before["ledger"]
    assert (after["log"], after["outbox"], after["runs"]) == (
        before["log"],
        before["outbox"],
        before["runs"] + 1,
    )


async def test_manual_override_posts_the_difference_and_settles_negative_stock(
    world: World,
) -> None:
    ids = await build_discrepancies(world)
    await world.app.reconciliation.run(apply=True)
    result = await world.app.reconciliation.set_counted(ids["B"], 4, "recounted the shelf", 1)
    assert (result.ledger_balance, result.counted, result.adjustment) == (-3, 4, 7)
    async with world.app.sessionmaker() as session:
        movement = await session.get(InventoryTransaction, result.transaction_id)
        rows = (
            (
                await session.execute(
                    select(ReconciliationLog)
                    .where(ReconciliationLog.item_id == ids["B"])
                    .order_by(ReconciliationLog.id)
                )
            )
            .scalars()
            .all()
        )
        audit = (
            await session.execute(
                select(TransactionLog).where(TransactionLog.operation == "set_counted_quantity")
            )
        ).scalar_one()
    assert movement is not None
    assert (movement.kind, movement.quantity, movement.status, movement.actor_id) == (
        TransactionKind.ADJUSTMENT,
        7,
        TransactionStatus.COMMITTED,
        1,
    )
    assert movement.reason == "counted 4: recounted the shelf"
    assert [(r.kind, r.status, r.expected, r.actual, r.detail) for r in rows] == [
        (K.NEGATIVE_STOCK, FindingStatus.RESOLVED, 0, -3, None),
        (K.MANUAL_COUNT, FindingStatus.FIXED, -3, 4, "recounted the shelf"),
    ]
    assert (audit.entity_id, audit.actor_id, audit.after) == (
        ids["B"],
        1,
        {"stock": 4, "adjustment": 7, "reason": "recounted the shelf"},
    )
    assert (await stocks(world))["B"] == 4
    report = await world.app.reconciliation.run(apply=True)
    assert [f.sku for f in report.findings] == ["F", "G"]


async def test_override_refuses_bad_input(world: World) -> None:
    ids = await build_discrepancies(world)
    from core.exceptions import NotFound, ValidationFailed

    with pytest.raises(ValidationFailed):
        await world.app.reconciliation.set_counted(ids["B"], -1, "x", None)
    with pytest.raises(ValidationFailed):
        await world.app.reconciliation.set_counted(ids["B"], 1, "   ", None)
    with pytest.raises(NotFound):
        await world.app.reconciliation.set_counted(12345, 1, "x", None)
    assert (await stocks(world))["B"] == -3


async def test_item_scope_checks_only_that_item(world: World) -> None:
    await build_discrepancies(world)
    report = await world.app.reconciliation.run_for_sku("C", apply=True, trigger="cli")
    assert summary(report) == [EXPECTED[2]]
    assert (await stocks(world))["A"] == 7  # outside the scope: untouched
    from core.exceptions import NotFound

    with pytest.raises(NotFound):
        await world.app.reconciliation.run_for_sku("NOPE", apply=False, trigger="cli")


async def test_scheduled_job_alerts_once_per_new_discrepancy(
    world: World, clock: FrozenClock
) -> None:
    await stock(world, ("A", "Alpha", 5))
    await person(world, ADMIN_TG_ID, Role.ADMIN)
    ids = await item_ids(world)
    async with world.app.sessionmaker() as session, session.begin():
        session.add(
            InventoryTransaction(
                item_id=ids["A"],
                kind=TransactionKind.ISSUE,
                quantity=-1,
                status=TransactionStatus.PENDING,
                created_at=clock.now(),
            )
        )
    job = create_scheduler(world.app).get_job("reconcile_inventory")
    assert job is not None
    assert job.trigger.interval == timedelta(minutes=60)
    admin = world.client(ADMIN_TG_ID, "Ada", "ru")
    await admin.send("/start")
    await job.func()
    assert await world.deliver() == 0  # a fresh pending row is not stale yet
    clock.advance(timedelta(hours=25))
    await job.func()
    assert await world.deliver() == 1
    assert admin.inbox()[1:] == [
        "⚠️ Несоответствие на складе, требующее человека: отложенное движение слишком "
        "старое для A (ожидалось —, фактически -1). Откройте /reconcile."
    ]
    clock.advance(timedelta(hours=1))
    await job.func()
    await job.func()
    assert await world.deliver() == 0
    async with world.app.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(ReconciliationRun)) == 4


async def test_second_run_is_refused_while_one_runs(world: World) -> None:
    service = world.app.reconciliation
    await stock(world, ("A", "Alpha", 5))
    async with service.exclusive():
        with pytest.raises(ReconciliationBusy):
            await service.run()
        with pytest.raises(ReconciliationBusy):
            await service.run(apply=True)
    assert (await service.run()).findings == []


async def test_two_concurrent_runs_one_is_refused(world: World) -> None:
    await build_discrepancies(world)
    service = world.app.reconciliation
    results = await asyncio.gather(
        service.run(apply=True), service.run(apply=True), return_exceptions=True
    )
    refused = [r for r in results if isinstance(r, ReconciliationBusy)]
    assert len(refused) == 1
    assert (await stocks(world))["C"] == 3  # reversed once, not twice


async def test_advisory_lock_is_shared_across_engines_on_postgresql(pg_url: str) -> None:
    """Two processes' worth of engines: the second run is refused while the first holds the
    lock. (SQLite has no advisory locks; BEGIN IMMEDIATE serialises its writers instead.)"""
    clock = FrozenClock()
    engines = [create_engine(pg_url), create_engine(pg_url)]
    try:
        await db.empty_pg(engines[0])
        services = [
            ReconciliationService(
                create_sessionmaker(e),
                e,
                TransactionalStateManager(create_sessionmaker(e), clock, Masker([])),
                clock,
                pending_max_age=timedelta(hours=24),
            )
            for e in engines
        ]
        async with services[0].exclusive():
            with pytest.raises(ReconciliationBusy):
                await services[1].run(apply=True)
        assert (await services[1].run(apply=True)).findings == []
    finally:
        for e in engines:
            await e.dispose()


async def test_items_table_is_untouched_by_a_healthy_run(world: World) -> None:
    await stock(world, ("A", "Alpha", 5))
    report = await world.app.reconciliation.run(apply=True)
    assert report.findings == [] and report.run_id == 1
    async with world.app.sessionmaker() as session:
        item = (await session.execute(select(InventoryItem))).scalar_one()
    assert item.stock == 5


async def test_a_failed_run_rolls_back_and_frees_the_lock(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await build_discrepancies(world)
    service = world.app.reconciliation
    before = await snapshot(world)

    def broken(*_: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr("services.reconciliation.service.reversal", broken)
    with pytest.raises(RuntimeError):
        await service.run(apply=True)
    after = await snapshot(world)
    # Nothing changed but the rolled-back audit row the state manager writes.
    assert {k: v for k, v in after.items() if k != "audit"} == {
        k: v for k, v in before.items() if k != "audit"
    }
    assert after["audit"] == before["audit"] + 1
    monkeypatch.undo()
    assert (await service.run(apply=True)).fixes == 4


def test_a_long_report_stays_under_telegrams_limit() -> None:
    from core.i18n import create_i18n
    from handlers.admin.inventory.texts import report_text
    from services.reconciliation.findings import Finding, Report

    findings = [
        Finding(K.STOCK_MISMATCH, i, "S" * 64, f"stock_mismatch:item:{i}", A.RECOMPUTE_STOCK, 1, 2)
        for i in range(500)
    ]
    i18n = create_i18n("en")
    with i18n.context(), i18n.use_locale("ru"):
        text = report_text(Report(applied=False, findings=findings))
    assert len(text) < 4096
    assert text.splitlines()[-1].startswith("… и ещё ")


async def test_an_issue_committed_while_the_run_waits_is_counted(world: World) -> None:
    """The run locks the items it will touch and looks again, so a movement that commits in the
    meantime is part of the recomputed figure (on SQLite the run waits at BEGIN IMMEDIATE)."""
    await stock(world, ("A", "Alpha", 10))
    ids = await item_ids(world)
    async with world.app.engine.begin() as conn:
        await conn.execute(
            update(InventoryItem).where(InventoryItem.id == ids["A"]).values(stock=7)
        )
    now = world.app.clock.now()
    async with world.app.engine.connect() as other:
        await other.begin()
        # Another request issuing 2 of A, as RequestService does: lock, write the row, lower.
        await other.execute(
            select(InventoryItem.id).where(InventoryItem.id == ids["A"]).with_for_update()
        )
        await other.execute(
            insert(InventoryTransaction).values(
                item_id=ids["A"],
                kind=TransactionKind.ISSUE,
                quantity=-2,
                status=TransactionStatus.COMMITTED,
                created_at=now,
                committed_at=now,
            )
        )
        await other.execute(
            update(InventoryItem)
            .where(InventoryItem.id == ids["A"])
            .values(stock=InventoryItem.stock - 2)
        )
        run = asyncio.create_task(world.app.reconciliation.run(apply=True))
        await asyncio.sleep(0.3)
        assert not run.done()  # waiting for the other transaction
        await other.commit()
    report = await run
    assert [(f.kind, f.expected, f.actual) for f in report.findings] == [(K.STOCK_MISMATCH, 8, 5)]
    assert (await stocks(world))["A"] == 8  # the ledger: 10 received, 2 issued
