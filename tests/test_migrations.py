"""Migrations run both ways on SQLite and PostgreSQL and agree with the models."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from database.base import Base
from database.engine import create_engine
from database.migrate import downgrade, upgrade
from tests.support import db


def inspect_database(url: str) -> tuple[set[str], list[Any]]:
    async def work() -> tuple[set[str], list[Any]]:
        engine = create_engine(url, null_pool=True)
        try:
            async with engine.connect() as conn:
                tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
                diff = await conn.run_sync(
                    lambda c: compare_metadata(
                        MigrationContext.configure(c, opts={"compare_type": True}), Base.metadata
                    )
                )
            return tables, diff
        finally:
            await engine.dispose()

    return db.run_in_thread(work())


def test_upgrade_downgrade_upgrade(fresh_database_url: str) -> None:
    upgrade(fresh_database_url)
    tables, _ = inspect_database(fresh_database_url)
    assert set(Base.metadata.tables) <= tables
    downgrade(fresh_database_url, "base")
    tables, _ = inspect_database(fresh_database_url)
    assert tables <= {"alembic_version"}
    upgrade(fresh_database_url)
    tables, _ = inspect_database(fresh_database_url)
    assert set(Base.metadata.tables) | {"alembic_version"} == tables


def test_models_and_migrations_agree(fresh_database_url: str) -> None:
    upgrade(fresh_database_url)
    _, diff = inspect_database(fresh_database_url)
    assert diff == []
