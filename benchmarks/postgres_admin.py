"""Statements the benchmarks run on PostgreSQL outside SQLAlchemy (create and drop their
throwaway databases), shared by every benchmark that needs them."""

from __future__ import annotations

import asyncpg
from sqlalchemy.engine import make_url


def dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn(url))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()
