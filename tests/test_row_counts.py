"""The recovery log's "N entries" and the dead notifications' count are trigger-kept counters:
each stays exactly its count(*) through the services' inserts and status changes, bulk
inserts, rolled-back transactions, retention and hand-made deletes (and TRUNCATE on
PostgreSQL); migration 0013 back-fills them and creates the same triggers as the models do;
downgrading removes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.clock import FrozenClock
from core.enums import DeadReason, NotificationStatus, RecoveryAction, RecoveryOutcome, Risk, Role
from database.engine import create_engine
from database.migrate import downgrade, upgrade
from database.models import PendingNotification, RowCount, User, WorkflowRecoveryLog
from services.notification_admin import LISTED, NotificationAdminService
from services.recovery.log import RecoveryLogReader
from services.requests import Line
from services.retention import cleanup
from tests.conftest import ADMIN_TG_ID, World
from tests.factories import person, stock
from tests.support import db

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
LOG = "workflow_recovery_log"


def entry(request_id: int, days_ago: int = 0, actor_id: int | None = None) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "actor_id": actor_id,
        "action": RecoveryAction.NUDGE,
        "risk": Risk.LOW,
        "reason": "stuck detector",
        "outcome": RecoveryOutcome.APPLIED,
        "created_at": NOW - timedelta(days=days_ago),
    }


async def counted(sessionmaker: async_sessionmaker[AsyncSession]) -> tuple[int | None, int]:
    """(the counter, count(*) of the log)."""
    async with sessionmaker() as session:
        counter = await session.scalar(select(RowCount.row_count).where(RowCount.name == LOG))
        real = await session.scalar(select(func.count()).select_from(WorkflowRecoveryLog))
        return counter, int(real or 0)


async def assert_exact(sessionmaker: async_sessionmaker[AsyncSession], expected: int) -> None:
    """The whole log's counter, and each person's, are their counts (and what the screen
    says); a person with entries has a kept counter, not the fallback."""
    assert await counted(sessionmaker) == (expected, expected)
    reader = RecoveryLogReader(sessionmaker)
    _rows, total = await reader.page(0, 5)
    assert total == expected
    async with sessionmaker() as session:
        per_actor = dict(
            (
                await session.execute(
                    select(WorkflowRecoveryLog.actor_id, func.count())
                    .where(WorkflowRecoveryLog.actor_id.is_not(None))
                    .group_by(WorkflowRecoveryLog.actor_id)
                )
            ).all()
        )
        kept = dict(
            (
                await session.execute(
                    select(RowCount.name, RowCount.row_count).where(
                        RowCount.name.startswith(f"{LOG}.actor_id=")
                    )
                )
            ).all()
        )
    assert {k: v for k, v in kept.items() if v} == {
        f"{LOG}.actor_id={a}": n for a, n in per_actor.items()
    }
    for actor in {*per_actor, *ACTORS}:
        _rows, total = await reader.page(0, 5, actor_id=actor)
        assert total == per_actor.get(actor, 0)


ACTORS = (3, 5)


async def people(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker.begin() as session:
        for uid in ACTORS:
            session.add(User(id=uid, telegram_id=500 + uid, full_name=f"U{uid}", created_at=NOW))


async def test_the_counter_follows_every_insert_and_delete(
    sessionmaker: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    await people(sessionmaker)
    await assert_exact(sessionmaker, 0)
    async with sessionmaker.begin() as session:  # one row, as the services add them
        session.add(WorkflowRecoveryLog(**entry(1, 0, 3)))
    await assert_exact(sessionmaker, 1)
    async with sessionmaker.begin() as session:  # many rows (and people) in one statement
        await session.execute(
            insert(WorkflowRecoveryLog),
            [entry(i, i, (None, 3, 5)[i % 3]) for i in range(2, 52)],
        )
    await assert_exact(sessionmaker, 51)
    async with sessionmaker.begin() as session:  # entries moved to another person
        await session.execute(
            update(WorkflowRecoveryLog).where(WorkflowRecoveryLog.id < 10).values(actor_id=5)
        )
    await assert_exact(sessionmaker, 51)
    async with sessionmaker.begin() as session:  # a person deleted: their entries stay, unnamed
        await session.execute(delete(User).where(User.id == 5))
    await assert_exact(sessionmaker, 51)
    with pytest.raises(RuntimeError):  # a rolled-back insert leaves the counter as it was
        async with sessionmaker.begin() as session:
            session.add(WorkflowRecoveryLog(**entry(99)))
            await session.flush()
            raise RuntimeError
    await assert_exact(sessionmaker, 51)
    async with sessionmaker.begin() as session:  # an operator trimming by hand
        await session.execute(text(f"DELETE FROM {LOG} WHERE created_at < :t"), {"t": NOW})
    await assert_exact(sessionmaker, 1)
    async with sessionmaker.begin() as session:
        await session.execute(
            insert(WorkflowRecoveryLog), [entry(100 + i, 0, 3) for i in range(4)]
        )
    await assert_exact(sessionmaker, 5)
    async with sessionmaker.begin() as session:
        await session.execute(
            delete(WorkflowRecoveryLog).where(WorkflowRecoveryLog.request_id >= 100)
        )
    await assert_exact(sessionmaker, 1)
    async with sessionmaker.begin() as session:  # deleting nothing changes nothing
        await session.execute(delete(WorkflowRecoveryLog).where(WorkflowRecoveryLog.id < 0))
    await assert_exact(sessionmaker, 1)
    async with sessionmaker.begin() as session:  # every row (SQLite's shortcut is off)
        await session.execute(text(f"DELETE FROM {LOG}"))
    await assert_exact(sessionmaker, 0)
    if engine.dialect.name == "postgresql":
        async with sessionmaker.begin() as session:
            await session.execute(
                insert(WorkflowRecoveryLog), [entry(i, 0, (None, 3)[i % 2]) for i in range(7)]
            )
        await assert_exact(sessionmaker, 7)
        async with sessionmaker.begin() as session:
            await session.execute(text(f"TRUNCATE {LOG}"))
        await assert_exact(sessionmaker, 0)


async def test_actions_the_stuck_job_and_retention_keep_the_count_exact(
    world: World, clock: FrozenClock
) -> None:
    """The real writers (an admin's action, the stuck detector) and the cleanup job."""
    sessionmaker = world.app.sessionmaker
    await stock(world, ("P-1", "Paper", 10))
    for telegram_id, role in ((101, Role.REQUESTER), (201, Role.MANAGER)):
        await person(world, telegram_id, role)
        await world.client(telegram_id).send("/start")
    await world.app.users.ensure_admins()
    await world.client(ADMIN_TG_ID, "Root").send("/start")
    users = {u.telegram_id: u.id for u in await world.app.users.list_users()}
    one = await world.app.requests.create(users[101], [Line(1, 1)])
    await world.app.requests.create(users[101], [Line(1, 1)])
    await world.app.actions.apply(
        one.id, RecoveryAction.NUDGE, users[ADMIN_TG_ID], one.version, "ping"
    )
    await assert_exact(sessionmaker, 1)
    clock.advance(timedelta(hours=25))
    detected = await world.app.stuck.detect()
    assert detected.nudged == 2
    await assert_exact(sessionmaker, 3)
    clock.advance(timedelta(days=400))
    await cleanup(
        world.app.tx,
        error_retention=timedelta(days=30),
        transaction_log_retention=timedelta(days=90),
        snapshot_retention=timedelta(days=14),
    )
    await assert_exact(sessionmaker, 3)  # retention keeps the audit trail, and its count
    async with sessionmaker.begin() as session:
        await session.execute(delete(WorkflowRecoveryLog).where(WorkflowRecoveryLog.id == 1))
    await assert_exact(sessionmaker, 2)
    rows, total = await RecoveryLogReader(sessionmaker).page(0, 5, actor_id=users[201])
    assert (rows, total) == ([], 0)  # a filter still counts its own range


def triggers(url: str) -> list[tuple[str, ...]]:
    """The counting triggers as the database holds them (and the PG function's body)."""

    async def work() -> list[tuple[str, ...]]:
        engine = create_engine(url, null_pool=True)
        try:
            async with engine.connect() as conn:
                if engine.dialect.name == "sqlite":
                    rows = await conn.execute(
                        text(
                            "SELECT name, tbl_name, sql FROM sqlite_master "
                            "WHERE type = 'trigger' ORDER BY name"
                        )
                    )
                    return [tuple(r) for r in rows]
                rows = await conn.execute(
                    text(
                        "SELECT tgname, tgrelid::regclass::text, pg_get_triggerdef(oid) "
                        "FROM pg_trigger WHERE NOT tgisinternal ORDER BY tgname"
                    )
                )
                found = [tuple(r) for r in rows]
                body = await conn.scalar(
                    text("SELECT prosrc FROM pg_proc WHERE proname = 'row_counts_track'")
                )
                return [*found, ("function", str(body).strip())] if body else found
        finally:
            await engine.dispose()

    return db.run_in_thread(work())


def execute(url: str, *statements: tuple[str, dict[str, Any]]) -> list[Any]:
    async def work() -> list[Any]:
        engine = create_engine(url, null_pool=True)
        try:
            async with engine.begin() as conn:
                found = []
                for sql, params in statements:
                    result = await conn.execute(text(sql), params)
                    found.append(result.all() if result.returns_rows else [])
                return found
        finally:
            await engine.dispose()

    return db.run_in_thread(work())


LOG_ROW = (
    f"INSERT INTO {LOG} (request_id, action, risk, reason, outcome, created_at) "
    "VALUES (:r, 'nudge', 'low', 'stuck detector', 'applied', :t) RETURNING id"
)
COUNTER = f"SELECT row_count FROM row_counts WHERE name = '{LOG}'"
DEAD_COUNTER = "SELECT row_count FROM row_counts WHERE name = 'pending_notifications.dead'"
USER_ROW = (
    "INSERT INTO users (id, telegram_id, full_name, is_active, created_at) "
    "VALUES (1, 7, 'Ann', true, :t)"
)
NOTIFICATION_ROW = (
    "INSERT INTO pending_notifications (recipient_id, kind, payload, idempotency_key, status, "
    "attempts, next_attempt_at, created_at) VALUES (1, 'k', '{}', :key, :status, 1, :t, :t)"
)


def test_the_migration_back_fills_and_matches_the_models(
    fresh_database_url: str, tmp_path: Any
) -> None:
    upgrade(fresh_database_url, "0011")
    execute(
        fresh_database_url,
        *[(LOG_ROW, {"r": i, "t": NOW}) for i in range(5)],
        (USER_ROW, {"t": NOW}),
        *[
            (NOTIFICATION_ROW, {"key": f"k{i}", "status": status, "t": NOW})
            for i, status in enumerate(["dead", "sent", "dead", "pending", "dead"])
        ],
    )
    execute(
        fresh_database_url,
        *[(f"UPDATE {LOG} SET actor_id = 1 WHERE request_id = {i}", {}) for i in (1, 3)],
    )
    upgrade(fresh_database_url, "0013")
    [[(back_filled,)], [(dead,)], [(by_ann,)]] = execute(
        fresh_database_url,
        (COUNTER, {}),
        (DEAD_COUNTER, {}),
        (f"SELECT row_count FROM row_counts WHERE name = '{LOG}.actor_id=1'", {}),
    )
    assert (back_filled, dead, by_ann) == (5, 3, 2)
    execute(
        fresh_database_url,
        ("UPDATE pending_notifications SET status = 'dead' WHERE status = 'pending'", {}),
        ("DELETE FROM pending_notifications WHERE idempotency_key = 'k0'", {}),
    )
    [[(dead,)]] = execute(fresh_database_url, (DEAD_COUNTER, {}))
    assert dead == 3
    execute(
        fresh_database_url,
        (LOG_ROW, {"r": 9, "t": NOW}),
        (f"DELETE FROM {LOG} WHERE request_id < 2", {}),
    )
    [[(now_counted,)], [(real,)]] = execute(
        fresh_database_url, (COUNTER, {}), (f"SELECT count(*) FROM {LOG}", {})
    )
    assert now_counted == real == 4
    upgrade(fresh_database_url)  # head: the models also hold the later triggers (0014)
    migrated = triggers(fresh_database_url)
    assert {t[0] for t in migrated} >= {
        "trg_workflow_recovery_log_count_insert",
        "trg_workflow_recovery_log_count_delete",
    }

    # The same triggers when the schema comes from the models (as the tests build it).
    with db.schema_from_models(fresh_database_url, tmp_path / "data") as from_models:
        assert triggers(from_models) == migrated

    downgrade(fresh_database_url, "0011")
    assert triggers(fresh_database_url) == []
    [[(still,)]] = execute(fresh_database_url, (LOG_ROW, {"r": 10, "t": NOW}))
    assert still > 0  # the log takes rows without the counter table


async def test_the_by_admin_list_is_everyone_in_the_log(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """The skip scan finds exactly the distinct actors, in id order, the system's NULL not."""
    async with sessionmaker.begin() as session:
        for uid in (3, 5, 8, 13, 21):
            session.add(User(id=uid, telegram_id=500 + uid, full_name=f"U{uid}", created_at=NOW))
        await session.flush()
        actors = [None, 13, 3, None, 13, 21, 3, 3, None]
        await session.execute(
            insert(WorkflowRecoveryLog), [entry(i, 0, a) for i, a in enumerate(actors)]
        )
    reader = RecoveryLogReader(sessionmaker)
    assert [u.id for u in await reader.actors()] == [3, 13, 21]
    async with sessionmaker.begin() as session:
        await session.execute(delete(WorkflowRecoveryLog).where(WorkflowRecoveryLog.actor_id == 3))
    assert [u.id for u in await reader.actors()] == [13, 21]
    async with sessionmaker.begin() as session:
        await session.execute(delete(WorkflowRecoveryLog).where(WorkflowRecoveryLog.actor_id > 0))
    assert await reader.actors() == []


def notification(key: str, status: NotificationStatus, at: datetime) -> dict[str, Any]:
    dead = status is NotificationStatus.DEAD
    return {
        "recipient_id": 1,
        "kind": "request_completed",
        "payload": {},
        "idempotency_key": key,
        "status": status,
        "attempts": 1,
        "next_attempt_at": at,
        "created_at": at,
        "sent_at": at if status is NotificationStatus.SENT else None,
        "dead_reason": DeadReason.BLOCKED if dead else None,
        "dead_at": at if dead else None,
    }


async def test_the_dead_count_follows_every_way_in_and_out(
    world: World, clock: FrozenClock, engine: AsyncEngine
) -> None:
    """Dead by the queue limit, out by retry and discard, deleted by retention and by hand."""
    sessionmaker = world.app.sessionmaker
    service = NotificationAdminService(sessionmaker, world.app.tx, clock, None)  # no sending
    S = NotificationStatus
    now = clock.now()
    long_ago = now - timedelta(days=400)

    async def assert_dead(expected: int) -> None:
        async with sessionmaker() as session:
            kept = await session.scalar(
                select(RowCount.row_count).where(RowCount.name == "pending_notifications.dead")
            )
            real = await session.scalar(
                select(func.count())
                .select_from(PendingNotification)
                .where(PendingNotification.status == S.DEAD)
            )
        assert (kept, real) == (expected, expected)
        assert (await service.stats(LISTED))[S.DEAD] == expected
        assert (await service.page(S.DEAD, 0, 5)).total == expected
        assert (await service.rows(S.DEAD, 0, 5))[1] == expected

    async with sessionmaker.begin() as session:
        session.add(User(id=1, telegram_id=7, full_name="Ann", created_at=now))
        await session.flush()
        await session.execute(
            insert(PendingNotification),
            [notification(f"old-dead-{i}", S.DEAD, long_ago) for i in range(3)]
            + [notification(f"new-dead-{i}", S.DEAD, now) for i in range(4)]
            + [notification(f"sent-{i}", S.SENT, long_ago) for i in range(5)]
            + [notification(f"wait-{i}", S.PENDING, now) for i in range(6)],
        )
    await assert_dead(7)
    assert await service.stats(LISTED) == {S.PENDING: 6, S.RETRYING: 0, S.DEAD: 7}
    assert await service.stats() == {
        S.PENDING: 6,
        S.RETRYING: 0,
        S.SENT: 5,
        S.DEAD: 7,
        S.DISCARDED: 0,
    }
    assert await service.enforce_limit(2) == 4  # four waiting rows to dead
    await assert_dead(11)
    new_dead = [r.id for r in (await service.rows(S.DEAD, 0, 20))[0]][-4:]
    await service.retry(new_dead[:2], None)  # dead -> pending
    await assert_dead(9)
    await service.discard(new_dead[2:], None, "obsolete")  # dead -> discarded
    await assert_dead(7)
    with pytest.raises(RuntimeError):  # a rolled-back change leaves the count as it was
        async with sessionmaker.begin() as session:
            await session.execute(
                update(PendingNotification)
                .where(PendingNotification.status == S.PENDING)
                .values(status=S.DEAD)
            )
            raise RuntimeError
    await assert_dead(7)
    removed = await service.cleanup(timedelta(days=30))  # retention: the 3 old dead, 5 sent
    assert removed == 8
    await assert_dead(4)
    async with sessionmaker.begin() as session:  # an operator by hand
        await session.execute(text("DELETE FROM pending_notifications WHERE status = 'dead'"))
    await assert_dead(0)
    if engine.dialect.name == "postgresql":
        async with sessionmaker.begin() as session:
            # the 4 waiting and 2 discarded left, in one statement
            await session.execute(text("UPDATE pending_notifications SET status = 'dead'"))
        await assert_dead(6)
        async with sessionmaker.begin() as session:
            await session.execute(text("TRUNCATE pending_notifications"))
        await assert_dead(0)
