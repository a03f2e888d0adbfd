"""A reconciliation run over a ledger of one million rows, beside one plain aggregate, and the
watch (services/reconciliation/watch.py) beside both; then what the ledger_balance trigger adds
to writing ledger rows (the app's issue path in SQL, and one bulk insert), trigger on vs off.

PostgreSQL by default (the rows are generated inside the server with generate_series, so the
set-up takes seconds); the database is created for the run and dropped afterwards.

Run from the project root: .venv/bin/python benchmarks/bench_reconciliation.py
    [--admin-url postgresql+asyncpg://postgres@127.0.0.1:5432/test] [--rows 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import sys
import time
import uuid
from collections.abc import Awaitable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script, not installed

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from benchmarks.postgres_admin import admin
from core.clock import SystemClock
from database.base import Base
from database.engine import create_engine, create_sessionmaker
from services.reconciliation.findings import Report
from services.reconciliation.service import ReconciliationService
from services.transactions import TransactionalStateManager
from utils.masking import Masker

ITEMS = 1_000
REQUESTS = 10_000  # each with one issue movement
ORPHANS = 50  # issue rows of requests that do not exist
DUPLICATES = 20  # a second issue for an already issued request line
TAMPERED = 10  # stock figures that disagree with the ledger
# Requests not issued yet, for the issues written after the runs (the watch's new rows and
# the trigger's cost): ids REQUESTS + 1 on, their lines the same ids.
LATER = 10_000


SEED = [
    "INSERT INTO users (telegram_id, full_name, is_active, created_at) "
    "VALUES (1, 'bench', true, now())",
    "INSERT INTO inventory_items (sku, name, unit, stock, is_active, created_at, updated_at) "
    "SELECT 'SKU-' || g, 'Item ' || g, 'pcs', 0, true, now(), now() "
    "FROM generate_series(1, :items) g",
    "INSERT INTO requests (workflow, stage, status, requester_id, stage_entered_at, created_at, "
    "updated_at, version) SELECT 'inventory', NULL, 'completed', 1, now(), now(), now(), 1 "
    "FROM generate_series(1, :requests) g",
    "INSERT INTO request_items (request_id, item_id, quantity) "
    "SELECT g, (g % :items) + 1, 1 FROM generate_series(1, :requests) g",
    "INSERT INTO requests (workflow, stage, status, requester_id, stage_entered_at, created_at, "
    "updated_at, version) SELECT 'inventory', NULL, 'completed', 1, now(), now(), now(), 1 "
    "FROM generate_series(1, :later) g",
    "INSERT INTO request_items (request_id, item_id, quantity) "
    "SELECT :requests + g, (g % :items) + 1, 1 FROM generate_series(1, :later) g",
    # Receipts without a request: the bulk of the ledger.
    "INSERT INTO inventory_transactions (item_id, kind, quantity, status, created_at, "
    "committed_at) SELECT (g % :items) + 1, 'receipt', (g % 5) + 1, 'committed', now(), now() "
    "FROM generate_series(1, :receipts) g",
    "INSERT INTO inventory_transactions (item_id, request_id, request_item_id, kind, quantity, "
    "status, created_at, committed_at) SELECT (g % :items) + 1, g, g, 'issue', -1, "
    "'committed', now(), now() FROM generate_series(1, :requests) g",
    "INSERT INTO inventory_transactions (item_id, request_id, request_item_id, kind, quantity, "
    "status, created_at, committed_at) SELECT (g % :items) + 1, 1000000000 + g, "
    "1000000000 + g, 'issue', -1, 'committed', now(), now() "
    "FROM generate_series(1, :orphans) g",
    "INSERT INTO inventory_transactions (item_id, request_id, request_item_id, kind, quantity, "
    "status, created_at, committed_at) SELECT (g % :items) + 1, g, g, 'issue', -1, "
    "'committed', now(), now() FROM generate_series(1, :duplicates) g",
    # Stock figures kept as the services keep them, then a few spoiled by hand.
    "UPDATE inventory_items i SET stock = l.balance FROM (SELECT item_id, SUM(quantity) AS "
    "balance FROM inventory_transactions WHERE status = 'committed' GROUP BY item_id) l "
    "WHERE l.item_id = i.id",
    "UPDATE inventory_items SET stock = stock + 7 WHERE id <= :tampered",
]

AGGREGATE = (
    "SELECT item_id, SUM(quantity) FROM inventory_transactions "
    "WHERE status = 'committed' GROUP BY item_id"
)


async def bench(url: str, rows: int) -> None:
    engine = create_engine(url)
    sessionmaker = create_sessionmaker(engine)
    params = {
        "items": ITEMS,
        "requests": REQUESTS,
        "orphans": ORPHANS,
        "duplicates": DUPLICATES,
        "tampered": TAMPERED,
        "later": LATER,
        "receipts": rows - REQUESTS - ORPHANS - DUPLICATES,
    }
    started = time.perf_counter()
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
        for sql in SEED:
            await conn.execute(text(sql), params)
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE"))
        total = await conn.scalar(text("SELECT count(*) FROM inventory_transactions"))
    print(
        f"ledger: {total:,} rows over {ITEMS:,} items, generated in "
        f"{time.perf_counter() - started:.1f} s (PostgreSQL, generate_series)"
    )

    clock = SystemClock()
    service = ReconciliationService(
        sessionmaker,
        engine,
        TransactionalStateManager(sessionmaker, clock, Masker([])),
        clock,
        pending_max_age=timedelta(hours=24),
    )

    async def timed(label: str, work: Awaitable[object]) -> float:
        t0 = time.perf_counter()
        result = await work
        elapsed = time.perf_counter() - t0
        extra = ""
        if isinstance(result, Report):
            extra = f"  ({len(result.findings)} findings, {result.fixes} fixes)"
        print(f"{label:<40}{elapsed * 1000:9.1f} ms{extra}")
        return elapsed

    async def aggregate() -> None:
        async with engine.connect() as conn:
            (await conn.execute(text(AGGREGATE))).all()

    await timed("plain aggregate (warm-up)", aggregate())
    plain = await timed("plain aggregate GROUP BY item_id", aggregate())
    dry = await timed("reconciliation dry run", service.run())
    applied = await timed("reconciliation applied run", service.run(apply=True))
    again = await timed("reconciliation right after (dry run)", service.run())
    print(
        f"dry run / aggregate: {dry / plain:.1f}x; applied / aggregate: {applied / plain:.1f}x; "
        f"rerun / aggregate: {again / plain:.1f}x"
    )
    await timed("watch, first (one full applied run)", service.watch())
    quiet = min([await timed("watch, nothing new", service.watch()) for _ in range(3)])
    await issue_path(engine, 1_000, trigger=True)  # 1,000 new rows above the watermark
    busy = await timed("watch, 1,000 new ledger rows", service.watch())
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE inventory_items SET stock = stock + 7 WHERE id = 1"))
    await timed("watch, a new corruption (+ full run)", service.watch())
    print(
        f"watch / aggregate: {quiet / plain:.3f}x (nothing new), {busy / plain:.3f}x "
        f"(1,000 new rows); watch / applied run: {quiet / applied:.4f}x"
    )
    await trigger_cost(engine)
    await engine.dispose()


ISSUE = [
    "SELECT id FROM inventory_items WHERE id = :item FOR UPDATE",
    "INSERT INTO inventory_transactions (item_id, request_id, request_item_id, kind, quantity, "
    "status, created_at, committed_at) VALUES (:item, :req, :req, 'issue', -1, 'committed', "
    "now(), now())",
    "UPDATE inventory_items SET stock = stock - 1, updated_at = now() WHERE id = :item",
]
BULK = (
    "INSERT INTO inventory_transactions (item_id, kind, quantity, status, created_at, "
    "committed_at) SELECT (g % 1000) + 1, 'receipt', 1, 'committed', now(), now() "
    "FROM generate_series(1, :n) g"
)
TRIGGERS = ("insert", "delete", "update", "truncate")
LINES = itertools.count(1)  # the next not yet issued request (line) of the LATER ones


async def issue_path(engine: AsyncEngine, n: int, *, trigger: bool) -> float:
    """`n` issues as RequestService writes them, one transaction each: lock the item, write
    the ledger row, lower the figure. Seconds in all."""
    await set_trigger(engine, on=trigger)
    started = time.perf_counter()
    async with engine.connect() as conn:
        for _ in range(n):
            req = REQUESTS + next(LINES)
            async with conn.begin():
                for sql in ISSUE:
                    await conn.execute(text(sql), {"item": req % ITEMS + 1, "req": req})
    elapsed = time.perf_counter() - started
    await set_trigger(engine, on=True)
    return elapsed


async def set_trigger(engine: AsyncEngine, *, on: bool) -> None:
    verb = "ENABLE" if on else "DISABLE"
    async with engine.begin() as conn:
        for event in TRIGGERS:
            await conn.execute(
                text(
                    f"ALTER TABLE inventory_transactions {verb} TRIGGER "
                    f"trg_inventory_ledger_balance_{event}"
                )
            )


async def trigger_cost(engine: AsyncEngine, n: int = 2_000, bulk: int = 100_000) -> None:
    with_, without = [], []
    for _ in range(2):  # alternated, so a warm cache favours neither
        without.append(await issue_path(engine, n, trigger=False))
        with_.append(await issue_path(engine, n, trigger=True))
    on, off = min(with_) / n * 1e6, min(without) / n * 1e6
    print(
        f"issue path ({n:,} issues, a transaction each): {on:.0f} us/issue with the trigger, "
        f"{off:.0f} us without (+{on - off:.0f} us, +{(on / off - 1) * 100:.0f}%)"
    )
    timings = {}
    for on_ in (False, True):
        await set_trigger(engine, on=on_)
        async with engine.begin() as conn:
            t0 = time.perf_counter()
            await conn.execute(text(BULK), {"n": bulk})
            timings[on_] = time.perf_counter() - t0
            await conn.rollback()
    await set_trigger(engine, on=True)
    print(
        f"bulk insert of {bulk:,} rows in one statement: {timings[True] * 1000:.0f} ms with the "
        f"trigger, {timings[False] * 1000:.0f} ms without"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    name = f"wrb_bench_{uuid.uuid4().hex[:8]}"
    asyncio.run(admin(args.admin_url, f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(args.admin_url).set(database=name).render_as_string(hide_password=False)
        asyncio.run(bench(url, args.rows))
    finally:
        asyncio.run(admin(args.admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
