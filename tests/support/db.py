"""Test databases: a SQLite file per test, and one PostgreSQL database per run, emptied per test.

PostgreSQL is required: when it cannot be reached the tests fail, they are never skipped.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from database.base import Base
from database.engine import create_engine

T = TypeVar("T")

PG_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin(sql: str) -> None:
    try:
        conn = await asyncpg.connect(_dsn(PG_ADMIN_URL), timeout=10)
    except (OSError, asyncpg.PostgresError) as exc:
        msg = (
            f"PostgreSQL is not reachable at {make_url(PG_ADMIN_URL).render_as_string()}: {exc}. "
            "Start it (.ci/run does) or set TEST_POSTGRES_URL."
        )
        raise RuntimeError(msg) from exc
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def run_in_thread(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, even while an event loop runs here."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def create_pg_database() -> str:
    name = f"wrb_test_{uuid.uuid4().hex[:12]}"
    run_in_thread(_admin(f'CREATE DATABASE "{name}"'))
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def drop_pg_database(url: str) -> None:
    name = make_url(url).database
    run_in_thread(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def schema_from_models(like: str, folder: Path) -> Iterator[str]:
    """A second database of `like`'s engine with the schema built from the models (as the
    tests build it), to compare with what the migrations made; dropped afterwards."""
    sqlite = like.startswith("sqlite")
    url = f"sqlite+aiosqlite:///{folder / 'models.sqlite3'}" if sqlite else create_pg_database()

    async def create() -> None:
        engine = create_engine(url, null_pool=True)
        try:
            await create_schema(engine)
        finally:
            await engine.dispose()

    try:
        run_in_thread(create())
        yield url
    finally:
        if not sqlite:
            drop_pg_database(url)


async def create_schema(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)


async def empty_pg(engine: AsyncEngine) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


def new_engine(url: str) -> AsyncEngine:
    return create_engine(url)
