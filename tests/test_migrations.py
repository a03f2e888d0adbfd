"""Migrations run both ways on SQLite and PostgreSQL and agree with the models."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from database.base import Base
from database.engine import create_engine
from database.migrate import downgrade, upgrade
from tests.support import db

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


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


def test_notification_retry_queue_is_a_view_of_waiting_and_dead_rows(
    fresh_database_url: str,
) -> None:
    """SPEC §4 keeps the seed's table name: operators' SQL reads the queue under it."""
    upgrade(fresh_database_url)

    async def work() -> tuple[set[str], list[tuple[Any, ...]]]:
        engine = create_engine(fresh_database_url, null_pool=True)
        try:
            async with engine.begin() as conn:
                views = await conn.run_sync(lambda c: set(inspect(c).get_view_names()))
                await conn.execute(
                    text(
                        "INSERT INTO users (id, telegram_id, full_name, is_active, created_at) "
                        "VALUES (1, 7, 'Ann', true, :t)"
                    ),
                    {"t": NOW},
                )
                for i, status in enumerate(("pending", "retrying", "dead", "sent", "discarded")):
                    await conn.execute(
                        text(
                            "INSERT INTO pending_notifications (id, recipient_id, kind, payload, "
                            "idempotency_key, status, attempts, next_attempt_at, created_at) "
                            "VALUES (:id, 1, 'k', '{}', :key, :status, :n, :t, :t)"
                        ),
                        {"id": i + 1, "key": f"k{i}", "status": status, "n": i, "t": NOW},
                    )
                rows = (
                    await conn.execute(
                        text(
                            "SELECT id, status, attempts, next_retry_at IS NOT NULL "
                            "FROM notification_retry_queue ORDER BY id"
                        )
                    )
                ).all()
            return views, [tuple(r) for r in rows]
        finally:
            await engine.dispose()

    views, rows = db.run_in_thread(work())
    assert "notification_retry_queue" in views
    assert rows == [(1, "pending", 0, True), (2, "retrying", 1, True), (3, "dead", 2, True)]
    downgrade(fresh_database_url, "0009")
    tables, _ = inspect_database(fresh_database_url)
    assert "pending_notifications" in tables
