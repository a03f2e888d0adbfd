"""A scratch database, the workflow file and the settings of one chaos run."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from core.settings import Settings
from database.engine import create_engine
from simulators.chaos.pgproxy import PgProxy
from simulators.chaos.world import Database

TOKEN = "123456:CHAOS"
ADMIN_ID = 900


@dataclass
class Scratch:
    db: Database
    direct_url: str  # for migrations and the observer: not through the proxy
    drop_database: str | None = None  # PostgreSQL: the scratch database to drop afterwards
    admin_dsn: str | None = None


async def scratch_database(folder: Path, database_url: str | None, seed: int) -> Scratch:
    if not database_url or make_url(database_url).get_backend_name() == "sqlite":
        data = folder / "data"
        data.mkdir(parents=True, exist_ok=True)
        url = f"sqlite+aiosqlite:///{data / 'chaos.sqlite3'}"
        observer = create_engine(url, null_pool=True)
        return Scratch(Database("sqlite", url, observer, sqlite_dir=data), url)
    base = make_url(database_url)
    name = f"chaos_{seed}_{os.getpid()}"
    admin_dsn = base.set(drivername="postgresql", database="postgres").render_as_string(False)
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    direct = base.set(database=name)
    proxy = PgProxy(direct.host or "127.0.0.1", direct.port or 5432)
    await proxy.start()
    app_url = direct.set(host="127.0.0.1", port=proxy.port).render_as_string(False)
    direct_url = direct.render_as_string(False)
    observer = create_engine(direct_url)  # pooled: it reads every tick
    return Scratch(
        Database("postgresql", app_url, observer, proxy=proxy), direct_url, name, admin_dsn
    )


async def drop_scratch(scratch: Scratch) -> None:
    await scratch.db.observer.dispose()
    if scratch.db.proxy is not None:
        await scratch.db.proxy.stop()
    if scratch.drop_database and scratch.admin_dsn:
        conn = await asyncpg.connect(scratch.admin_dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{scratch.drop_database}" WITH (FORCE)')
        finally:
            await conn.close()


def workflow_file(folder: Path, hours: float) -> tuple[Path, float]:
    """The shipped workflow with thresholds a working day can reach (stuck in ~1/6 day)."""
    stuck = max(20, int(hours * 60 / 6))
    path = folder / "workflows.toml"
    path.write_text(
        f"""
[[workflow]]
key = "inventory_request"
default = true
title = {{ en = "Inventory request" }}

[[workflow.stage]]
key = "manager_approval"
role = "manager"
stuck_after = "{stuck}m"
escalate_after = "{stuck * 2}m"
title = {{ en = "Manager approval" }}

[[workflow.stage]]
key = "warehouse_issue"
role = "storekeeper"
stuck_after = "{stuck}m"
escalate_after = "{stuck * 2}m"
issues_stock = true
title = {{ en = "Warehouse issue" }}
""",
        encoding="utf-8",
    )
    return path, stuck * 60.0


def chaos_settings(folder: Path, app_url: str, workflows: Path) -> Settings:
    return Settings(
        bot_token=TOKEN,
        database_url=app_url,
        admin_ids=(ADMIN_ID,),
        workflows_file=workflows,
        error={"spool_path": folder / "spool" / "errors.jsonl"},
        _env_file=None,
    )
