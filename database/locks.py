"""Cross-replica job locks. On PostgreSQL a session advisory lock; SQLite runs in one process.
And the name a replica goes by in the job leases (database/repositories/jobs.py)."""

from __future__ import annotations

import hashlib
import os
import secrets
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


def new_replica_id() -> str:
    """host:pid:random: the host and pid say where to look, the random part tells a restarted
    process (same pid in a fresh container) from the one before it."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{secrets.token_hex(3)}"


REPLICA_ID = new_replica_id()  # made once per process


def lock_key(name: str) -> int:
    """A stable signed 64-bit key: the same name gives the same lock in every replica."""
    digest = hashlib.blake2b(f"workflow-bot:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@asynccontextmanager
async def try_lock(engine: AsyncEngine, name: str) -> AsyncIterator[bool]:
    """Yield True when this process may run `name` now, False when another one is running it.

    The lock lives on its own connection, held for the whole run, so the job's own sessions
    commit as usual; the lock is released even when the job fails (or the connection dies).
    """
    if engine.dialect.name != "postgresql":
        yield True
        return
    key = lock_key(name)
    async with engine.connect() as conn:
        got = bool(
            (await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key})).scalar()
        )
        await conn.commit()
        try:
            yield got
        finally:
            if got:
                await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                await conn.commit()
