"""The seeded fault plan, and how each fault is injected into the real dependencies.

Faults that take the bot's dependencies away (Telegram, the database, the process) get a
time slot of their own, so each incident's recovery is measured alone; workflow and
inventory faults land anywhere in the day."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

from simulators.chaos import conflicts
from simulators.chaos.model import Incident
from simulators.chaos.session import WALL_TIMEOUT
from simulators.chaos.world import World

EXCLUSIVE = (
    "tg_429_burst",
    "tg_5xx",
    "tg_outage",
    "db_outage",
    "db_drop",
    "tg_429_burst",
    "kill_mid_drain",
    "db_lock_conflict",  # before the day's last part: it needs request writes to bite
    "tg_5xx",
    "kill_mid_transaction",
    "db_outage",
    "kill_mid_reconciliation",
    "db_drop",
    "tg_timeout",
)
ANYTIME = (
    "tg_blocked",
    "wf_deactivated_assignee",
    "wf_role_revoked",
    "inv_stock_mismatch",
    "inv_orphan",
    "inv_duplicate_issue",
    "inv_negative_stock",
)
# The kinds start_fault() injects (prefixes): Telegram answering badly, the database away.
STARTED_HERE = ("tg_4", "tg_5", "tg_o", "tg_t", "db_")
LEFT_OUT: dict[str, str] = {}  # kinds of the issue not in the run, and why
SQLITE_LEFT_OUT = {
    "db_drop": "SQLite has no connection to drop (the file is opened in the process)",
}


@dataclass
class Planned:
    at: float
    kind: str
    duration: float


def plan(rng: random.Random, hours: float, engine: str) -> list[Planned]:
    day = hours * 3600
    kinds = [k for k in EXCLUSIVE if not (engine == "sqlite" and k in SQLITE_LEFT_OUT)]
    # Seen at least once each even on a short day; a long day repeats the list.
    rounds = max(1, int(hours // 8))
    exclusive = kinds * rounds
    start, end = 0.1 * day, 0.85 * day
    slot = (end - start) / len(exclusive)
    out: list[Planned] = []
    for i, kind in enumerate(exclusive):
        at = start + i * slot + rng.uniform(0, slot * 0.2)
        out.append(Planned(at, kind, _duration(rng, kind, slot)))
    for kind in ANYTIME:
        out.append(Planned(rng.uniform(0.15 * day, 0.6 * day), kind, 0.0))
    # Late: after it nothing is issued, and the inventory faults need issues to corrupt.
    out.append(Planned(rng.uniform(0.65 * day, 0.75 * day), "wf_stage_removed", 0.0))
    # Later still: a silent sole approver stops the day's flow, and what they hold must be
    # overdue (stuck_after, ~1/6 day) before the day and its catch-up end.
    out.append(Planned(rng.uniform(0.76 * day, 0.8 * day), "wf_silent_assignee", 0.0))
    return sorted(out, key=lambda p: (p.at, p.kind))


def _duration(rng: random.Random, kind: str, slot: float) -> float:
    low, high = {
        "tg_429_burst": (20, 90),
        "tg_5xx": (10, 60),
        "tg_outage": (180, 480),
        "db_outage": (60, 240),
        "tg_timeout": (60, 180),
        "db_lock_conflict": (900, 1800),  # it bites the first writes after it starts
    }.get(kind, (0, 0))
    return min(rng.uniform(low, high), slot * 0.4)


async def start_fault(world: World, incident: Incident, rng: random.Random) -> None:
    """Inject the fault of a Telegram or database incident (the rest are in run.py)."""
    api, kind, seconds = world.api, incident.kind, incident.duration
    if kind == "tg_429_burst":
        retry = rng.randint(3, 30)
        api.fail_for(seconds, 429, method="sendMessage", retry_after=retry)
        incident.detail = f"sendMessage answered 429 retry_after={retry} for {seconds:.0f} s"
    elif kind == "tg_5xx":
        code = rng.choice((500, 502))
        api.fail_for(seconds, code, method="*")
        incident.detail = f"every call answered {code} for {seconds:.0f} s"
    elif kind == "tg_outage":
        api.fail_for(seconds, 502, method="*")
        incident.detail = f"Telegram unreachable (502 to every call) for {seconds:.0f} s"
    elif kind == "db_drop":
        proxy = world.db.proxy
        assert proxy is not None
        await proxy.drop()
        incident.detail = "every open connection to PostgreSQL cut (proxy dropped them)"
    elif kind == "tg_timeout":
        # Taken and never answered (nothing is processed): each call waits out the timeout.
        api.fail_for(seconds, 504, method="*", delay=2 * WALL_TIMEOUT)
        incident.detail = f"Telegram takes every call and never answers for {seconds:.0f} s"
    elif kind == "db_lock_conflict":
        await conflicts.start(world, incident, rng)
    elif kind == "db_outage":
        await database_down(world)
        incident.detail = f"database unreachable for {seconds:.0f} s ({_how(world)})"


def _how(world: World) -> str:
    if world.db.proxy is not None:
        return "the proxy to PostgreSQL stopped: connections cut and refused"
    return "the SQLite file's folder vanished and open connections closed"


async def database_down(world: World) -> None:
    db = world.db
    if db.proxy is not None:
        await db.proxy.stop()
        return
    assert db.sqlite_dir is not None
    if world.app is not None:
        await world.app.engine.dispose()  # what the OS does to a file that is gone: no handle
    os.rename(db.sqlite_dir, db.sqlite_dir.with_name(db.sqlite_dir.name + ".gone"))


async def database_up(world: World) -> None:
    db = world.db
    if db.proxy is not None:
        await db.proxy.start()
        return
    assert db.sqlite_dir is not None
    os.rename(db.sqlite_dir.with_name(db.sqlite_dir.name + ".gone"), db.sqlite_dir)


async def end_fault(world: World, incident: Incident) -> None:
    if incident.kind == "db_outage":
        await database_up(world)
    elif incident.kind == "db_lock_conflict":
        hits = await conflicts.hits(world)
        await conflicts.end(world)
        if hits is not None:
            incident.affected = [hits]
            incident.effect = hits > 0
            incident.detail += f"; {hits} writes of a request met it"
    # Telegram faults end by themselves on the server's clock.
