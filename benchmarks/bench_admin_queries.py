"""The admin screens at 10 k and at 1 M rows: time, ratio, and whether the plan uses an index.

PostgreSQL only. For each size a database is created, migrated with alembic (so the indexes
and triggers measured are the migrations' own), filled inside the server with generate_series,
vacuumed and analysed; then both are measured, and dropped.

What the generated data is (N = 10 000 or 1 000 000):
- 1 000 users (fixed: people do not multiply with history): 62 managers, 31 storekeepers and
  10 admins with ids scattered among the requesters'; 3 managers deactivated, 2 storekeepers
  without their role now.
- N requests over a year: 95.5 % finished, 4.5 % active — 1 % of N late in their stage, 0.2 %
  with a gone assignee (none or deactivated), the rest recent. At 1 M: 45 000 active, 12 000
  stuck (the shape the issue measured).
- N error occurrences at the same rate at both sizes (a busy year is 1 M, so 10 k rows are the
  first 3.65 days): the last hour and day hold the same number at both sizes, the last week
  holds 10 000 at 10 k and 19 000 at 1 M. Over N / 100 error records.
- N recovery-log rows (their count kept in row_counts by the migration's triggers) and N
  notifications (96.9 % sent, 0.1 % waiting, 2 % dead, 1 % retrying).

Each screen is the service call the Telegram screen (or the health check) makes; its time is
the best of 5 medians of 10 runs, the two sizes taking turns round by round (both databases
exist while measuring), so load from elsewhere on a shared machine falls on both alike.
"plan" is EXPLAIN of every statement the call sent: "index" when no big table (requests,
error_occurrences, workflow_recovery_log, pending_notifications) is read by a sequential
scan, else which ones are.

Run from the project root: .venv/bin/python benchmarks/bench_admin_queries.py
    [--admin-url postgresql+asyncpg://postgres@127.0.0.1:5432/test] [--sizes 10000,1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script, not installed

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from benchmarks.postgres_admin import admin
from core.clock import FrozenClock
from core.enums import NotificationStatus
from core.settings import HealthSettings
from core.workflows import load_workflows
from database.engine import create_engine, create_sessionmaker
from database.migrate import upgrade
from services.error_records import ErrorService
from services.health.checks import check_errors
from services.notification_admin import LISTED, NotificationAdminService
from services.recovery.log import RecoveryLogReader
from services.stuck import StuckFilter, StuckService
from services.transactions import TransactionalStateManager
from utils.masking import Masker

NOW = datetime(2027, 1, 1, 12, 0, tzinfo=UTC)
WORKFLOWS = Path(__file__).resolve().parents[1] / "config" / "workflows.toml"
BIG = ("requests", "error_occurrences", "workflow_recovery_log", "pending_notifications")
YEAR_SECONDS = 365 * 24 * 3600
# The error rate of a busy year (1 M occurrences), the same at every size.
ERROR_STEP_SECONDS = YEAR_SECONDS / 1_000_000

SEED = [
    # Holders are scattered among the ids as registration makes them: managers are the ids
    # g % 16 = 1 (17, 33, 49 deactivated), storekeepers g % 32 = 2 (2 and 34 lost the role),
    # admins 991-1000, everyone else a requester.
    "INSERT INTO users (id, telegram_id, full_name, is_active, created_at) "
    "SELECT g, 100000 + g, 'User ' || g, NOT (g IN (17, 33, 49)), :now "
    "FROM generate_series(1, 1000) g",
    "INSERT INTO user_roles (user_id, role, granted_at) "
    "SELECT g, CASE WHEN g > 990 THEN 'admin' WHEN g % 16 = 1 THEN 'manager' "
    "WHEN g % 32 = 2 THEN 'storekeeper' ELSE 'requester' END, :now "
    "FROM generate_series(1, 1000) g WHERE g NOT IN (2, 34)",
    "SELECT setval(pg_get_serial_sequence('users', 'id'), 1000)",
    # Requests: g % 1000 < 955 finished; 955-964 late (1 %); 965-966 assignee gone (0.2 %);
    # the rest active and recent. Even g at manager approval, odd at the warehouse.
    "INSERT INTO requests (workflow, stage, status, requester_id, assignee_id, "
    "stage_entered_at, created_at, updated_at, version) "
    "SELECT 'inventory_request', "
    "CASE WHEN g % 1000 < 955 THEN NULL WHEN g % 2 = 0 THEN 'manager_approval' "
    "ELSE 'warehouse_issue' END, "
    "CASE WHEN g % 1000 < 955 THEN 'completed' ELSE 'active' END, (g % 900) + 1, "
    "CASE WHEN g % 1000 = 965 THEN NULL WHEN g % 1000 = 966 THEN 17 + 16 * (g % 3) "
    "WHEN g % 2 = 0 THEN 65 + 16 * (g % 57) ELSE 66 + 32 * (g % 29) END, "
    "CASE WHEN g % 1000 BETWEEN 955 AND 964 "
    "THEN :now - interval '3 days' - (g % 300) * interval '1 day' "
    "WHEN g % 1000 >= 955 THEN :now - (g % 1200) * interval '1 minute' "
    "ELSE :now - (g::float / :n) * interval '365 days' END, "
    ":now - (g::float / :n) * interval '365 days', :now, 1 FROM generate_series(1, :n) g",
    "INSERT INTO error_records (reference, fingerprint, category, severity, exception_type, "
    "message, handler, context, count, first_seen, last_seen, retry_count) "
    "SELECT 'E-R' || g, 'fp' || g, "
    "(ARRAY['transient','data','business_logic','system','inventory','notification'])"
    "[1 + g % 6], (ARRAY['low','medium','high','critical'])[1 + g % 4], 'ValueError', "
    "'bad value', 'handlers.requests', '{}', 100, :now - interval '365 days', :now, 0 "
    "FROM generate_series(1, :records) g",
    # Occurrence g is g steps before now; a few records are frequent, most are rare.
    "INSERT INTO error_occurrences (error_id, reference, occurred_at, context) "
    "SELECT 1 + ((g::bigint * g) % :records), 'E-O' || g, "
    ":now - (g * :step) * interval '1 second', '{}' FROM generate_series(1, :n) g",
    "INSERT INTO workflow_recovery_log (request_id, actor_id, action, risk, reason, outcome, "
    "from_stage, to_stage, detail, created_at) "
    "SELECT 1 + g % :n, CASE WHEN g % 3 = 0 THEN 991 + g % 10 END, "
    "CASE WHEN g % 3 = 0 THEN 'reassign' ELSE 'nudge' END, 'low', 'stuck detector', "
    "'applied', 'manager_approval', 'manager_approval', 'waiting 30 h', "
    ":now - ((:n - g)::float / :n) * interval '365 days' FROM generate_series(1, :n) g",
    # g % 1000: < 969 sent, 969 waiting (0.1 %), 970-989 dead (2 %), 990-999 retrying (1 %).
    "INSERT INTO pending_notifications (recipient_id, kind, payload, idempotency_key, status, "
    "attempts, last_error, next_attempt_at, created_at, sent_at, dead_reason, dead_at) "
    "SELECT 1 + g % 1000, 'request_completed', '{}', 'bench:' || g, "
    "CASE WHEN g % 1000 < 969 THEN 'sent' WHEN g % 1000 = 969 THEN 'pending' "
    "WHEN g % 1000 < 990 THEN 'dead' ELSE 'retrying' END, "
    "CASE WHEN g % 1000 = 969 THEN 0 ELSE 1 END, "
    "CASE WHEN g % 1000 >= 970 THEN 'TelegramForbiddenError: blocked' END, "
    ":now - ((:n - g)::float / :n) * interval '365 days' + interval '1 minute', "
    ":now - ((:n - g)::float / :n) * interval '365 days', "
    "CASE WHEN g % 1000 < 969 THEN :now - ((:n - g)::float / :n) * interval '365 days' END, "
    "CASE WHEN g % 1000 BETWEEN 970 AND 989 THEN 'blocked' END, "
    "CASE WHEN g % 1000 BETWEEN 970 AND 989 THEN :now END FROM generate_series(1, :n) g",
]


class Statements:
    """Every statement a screen sends, for EXPLAIN."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.seen: list[tuple[str, Any]] = []
        self.recording = False
        event.listen(engine.sync_engine, "before_cursor_execute", self._record)

    def _record(self, conn: Any, cursor: Any, sql: str, params: Any, *args: Any) -> None:
        if self.recording:
            self.seen.append((sql, params))


def seq_scans(plan: dict[str, Any]) -> set[str]:
    found = set()
    if plan.get("Node Type") == "Seq Scan" and plan.get("Relation Name") in BIG:
        found.add(plan["Relation Name"])
    for child in plan.get("Plans", []):
        found |= seq_scans(child)
    return found


async def generate(url: str, n: int) -> float:
    started = time.perf_counter()
    engine = create_engine(url)
    params = {"n": n, "now": NOW, "records": max(1, n // 100), "step": ERROR_STEP_SECONDS}
    async with engine.begin() as conn:
        for sql in SEED:
            # asyncpg needs the parameters' types where PostgreSQL cannot infer them.
            typed = sql.replace(":now", "CAST(:now AS timestamptz)")
            typed = typed.replace(":step", "CAST(:step AS float8)")
            await conn.execute(text(typed), params)
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE"))
    await engine.dispose()
    return time.perf_counter() - started


ROUNDS = 5  # per screen and size, alternating between the sizes
RUNS = 10  # calls per round; the round's figure is their median


def sized(result: Any) -> str:
    """What the screen got, to show next to its time."""
    if isinstance(result, tuple):  # (page, total)
        return f"{len(result[0])} of {result[1]:,}"
    if isinstance(result, int | dict):  # a count, or counts by status
        counts = result.items() if isinstance(result, dict) else [("", result)]
        return ", ".join(f"{getattr(k, 'value', k)} {v:,}".strip() for k, v in counts)
    if hasattr(result, "total") and hasattr(result, "top"):
        return f"{result.total:,} errors, top {len(result.top)}"
    if hasattr(result, "rows"):
        return f"{len(result.rows)} of {result.total:,}"
    if isinstance(result, list | tuple) or hasattr(result, "__len__"):
        return f"{len(result)} people"
    return f"{result.value:,}" if hasattr(result, "value") else ""


class Screens:
    """Each screen's service call on one database, and what it sends (for EXPLAIN)."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)
        sessionmaker = create_sessionmaker(self.engine)
        self.statements = Statements(self.engine)
        clock = FrozenClock(NOW)
        tx = TransactionalStateManager(sessionmaker, clock, Masker([]))
        stuck = StuckService(sessionmaker, tx, load_workflows(WORKFLOWS), clock)
        errors = ErrorService(sessionmaker, tx, clock)
        log = RecoveryLogReader(sessionmaker)
        notes = NotificationAdminService(sessionmaker, tx, clock, None)
        health = HealthSettings()
        dead, waiting = NotificationStatus.DEAD, NotificationStatus.PENDING
        self.calls: dict[str, Callable[[], Awaitable[Any]]] = {
            "stuck workflows, page of 5 + count": lambda: stuck.page(StuckFilter(), 0, 5),
            "stuck workflows, count (menu button)": stuck.count,
            "stuck workflows, page 3 of one stage": lambda: stuck.page(
                StuckFilter("inventory_request", "warehouse_issue"), 10, 5
            ),
            # One call is the whole screen: by category, by severity and the top 5 problems.
            "error statistics + top problems, hour": lambda: errors.stats(
                NOW - timedelta(hours=1)
            ),
            "error statistics + top problems, day": lambda: errors.stats(NOW - timedelta(days=1)),
            "error statistics + top problems, week": lambda: errors.stats(NOW - timedelta(days=7)),
            "health: errors of the last hour": lambda: check_errors(sessionmaker, health, NOW),
            "recovery log, page of 5": lambda: log.page(0, 5),
            "recovery log, one admin's page": lambda: log.page(0, 5, actor_id=991),
            "recovery log, 'by admin' list": log.actors,
            "notifications menu (3 counts)": lambda: notes.stats(LISTED),
            "waiting notifications, page of 20": lambda: notes.page(waiting, 0, 20),
            "dead notifications, page of 20": lambda: notes.page(dead, 0, 20),
            "retrying notifications, page of 20": lambda: notes.page(
                NotificationStatus.RETRYING, 0, 20
            ),
        }

    async def median(self, name: str) -> tuple[float, Any]:
        times, result = [], None
        for _run in range(RUNS):
            t0 = time.perf_counter()
            result = await self.calls[name]()
            times.append(time.perf_counter() - t0)
        return statistics.median(times), result

    async def plan(self, name: str) -> str:
        self.statements.seen.clear()
        self.statements.recording = True
        await self.calls[name]()
        self.statements.recording = False
        scanned: set[str] = set()
        async with self.engine.connect() as conn:
            for sql, params in self.statements.seen:
                raw = await conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + sql, params)
                plan = raw.scalar_one()
                plan = json.loads(plan) if isinstance(plan, str) else plan
                scanned |= seq_scans(plan[0]["Plan"])
        return "index" if not scanned else "seq scan: " + ", ".join(sorted(scanned))


async def measure(urls: dict[int, str]) -> dict[int, dict[str, tuple[float, str, str]]]:
    """Every screen at every size, the sizes taking turns round by round: on a shared
    machine a burst of load then falls on both sizes alike instead of on one of them."""
    dbs = {n: Screens(url) for n, url in urls.items()}
    results: dict[int, dict[str, tuple[float, str, str]]] = {n: {} for n in urls}
    for name in next(iter(dbs.values())).calls:
        for db in dbs.values():
            await db.calls[name]()  # warm the cache and the connection
        best: dict[int, float] = {}
        last: dict[int, Any] = {}
        for _round in range(ROUNDS):
            for n, db in dbs.items():
                took, last[n] = await db.median(name)
                best[n] = min(best.get(n, took), took)
        for n, db in dbs.items():
            results[n][name] = (best[n] * 1000, await db.plan(name), sized(last[n]))
    for db in dbs.values():
        await db.engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--sizes", default="10000,1000000")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    sizes = [int(s) for s in args.sizes.split(",")]
    names = {n: f"wrb_bench_{uuid.uuid4().hex[:8]}" for n in sizes}
    try:
        urls = {}
        for n, name in names.items():
            asyncio.run(admin(args.admin_url, f'CREATE DATABASE "{name}"'))
            url = make_url(args.admin_url).set(database=name).render_as_string(hide_password=False)
            upgrade(url)
            took = asyncio.run(generate(url, n))
            print(f"{n:,} rows in each big table: generated in {took:.1f} s", flush=True)
            urls[n] = url
        measured = asyncio.run(measure(urls))
    finally:
        for name in names.values():
            asyncio.run(admin(args.admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    small, large = sizes[0], sizes[-1]
    head = f"{'screen':<42}{small:>10,}{large:>12,}{'ratio':>8}  plan at {large:,}"
    print("\n" + head + "  (result at " + f"{large:,})")
    print("-" * len(head))
    worst = 0.0
    for name, (t_small, _plan, _size) in measured[small].items():
        t_large, plan, size = measured[large][name]
        ratio = t_large / t_small
        worst = max(worst, ratio)
        print(f"{name:<42}{t_small:>8.1f}ms{t_large:>10.1f}ms{ratio:>7.1f}x  {plan}  ({size})")
    print(
        f"\nworst ratio {worst:.1f}x (times: best of {ROUNDS} medians of {RUNS} runs, the sizes "
        "taking turns; page 1 unless said)"
    )


if __name__ == "__main__":
    main()
