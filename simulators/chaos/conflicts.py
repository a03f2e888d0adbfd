"""Lock conflicts the database itself reports, injected from outside the app.

PostgreSQL: the next few writes of a request fail with deadlock_detected (40P01) or
serialization_failure (40001), raised by a trigger the run installs: what the victim of a
real deadlock gets, through the real driver. A sequence counts the failures (nextval is not
rolled back with the failed transaction). SQLite cannot deadlock (the app's writers take the
lock up front with BEGIN IMMEDIATE); its conflict is another process holding the write lock
for longer than the busy timeout."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import threading
import time

from database.engine import SQLITE_BUSY_TIMEOUT_MS
from simulators.chaos.model import Incident
from simulators.chaos.world import World

SQLITE_HOLD = SQLITE_BUSY_TIMEOUT_MS / 1000 + 0.5  # one busy wait fails, the retry gets in


def pg_statements(code: str, failures: int, table: str = "requests") -> list[str]:
    return [
        "DROP SEQUENCE IF EXISTS chaos_conflicts",
        "CREATE SEQUENCE chaos_conflicts",
        f"""CREATE OR REPLACE FUNCTION chaos_conflict() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF nextval('chaos_conflicts') <= {failures} THEN
        RAISE EXCEPTION 'chaos: lock conflict' USING ERRCODE = '{code}';
    END IF;
    RETURN NEW;
END $$""",
        f"DROP TRIGGER IF EXISTS chaos_conflict ON {table}",
        f"CREATE TRIGGER chaos_conflict BEFORE UPDATE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION chaos_conflict()",
    ]


async def start(world: World, incident: Incident, rng: random.Random) -> None:
    if world.db.engine_name == "postgresql":
        code = rng.choice(("40P01", "40001"))
        failures = rng.randint(1, 3)
        for statement in pg_statements(code, failures):
            await world.db.write(statement)
        name = "deadlock_detected" if code == "40P01" else "serialization_failure"
        incident.detail = f"the next {failures} writes of a request fail with {name} ({code})"
        return
    assert world.db.sqlite_dir is not None
    path = world.db.sqlite_dir / "chaos.sqlite3"
    holding = threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(path, timeout=30)
        try:
            conn.execute("BEGIN IMMEDIATE")
            holding.set()
            time.sleep(SQLITE_HOLD)
            conn.rollback()
        finally:
            holding.set()
            conn.close()

    world.holder = asyncio.create_task(asyncio.to_thread(hold))
    await asyncio.to_thread(holding.wait)
    incident.detail = (
        f"another process holds the write lock for {SQLITE_HOLD:.1f} s of real time "
        f"(the busy timeout is {SQLITE_BUSY_TIMEOUT_MS / 1000:.0f} s)"
    )


async def hits(world: World) -> int | None:
    """PostgreSQL: how many writes the trigger has seen (None on SQLite)."""
    if world.db.engine_name != "postgresql":
        return None
    rows = await world.db.rows("SELECT last_value, is_called FROM chaos_conflicts")
    value, called = rows[0]
    return int(value) if called else 0


async def end(world: World) -> None:
    if world.db.engine_name == "postgresql":
        await world.db.write("DROP TRIGGER IF EXISTS chaos_conflict ON requests")
        return
    if world.holder is not None:
        await world.holder
        world.holder = None
