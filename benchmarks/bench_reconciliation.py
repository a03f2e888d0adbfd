"""A reconciliation run over a ledger of one million rows, beside one plain aggregate.

PostgreSQL by default (the rows are generated inside the server with generate_series, so the
set-up takes seconds); the database is created for the run and dropped afterwards.

Run from the project root: .venv/bin/python benchmarks/bench_reconciliation.py
    [--admin-url postgresql+asyncpg://postgres@127.0.0.1:5432/test] [--rows 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
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
    await engine.dispose()


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
