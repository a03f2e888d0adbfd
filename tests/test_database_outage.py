"""The database going away for real: unreachable (a cut TCP proxy in front of PostgreSQL, a
SQLite file whose folder vanished) and a connection killed in the middle of an update."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

import services.requests as requests_module
from core.clock import FrozenClock
from core.enums import ErrorCategory, ErrorSeverity, Role
from core.settings import DatabaseBreakerSettings, Settings
from database.engine import PING_AFTER_IDLE_SECONDS, create_engine
from database.models import ErrorOccurrence, ErrorRecord, Request, TransactionLog
from services import request_notices
from tests.conftest import make_world
from tests.factories import person, stock
from tests.support import db
from tests.support.client import reference_in, strip_reference
from tests.support.proxy import TcpProxy

OPEN_ERROR = "utils.circuit_breaker.CircuitOpenError"
UNAVAILABLE = "The service is temporarily unavailable. Please try again in a few minutes."


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Outage:
    """A database that a test can take away and bring back."""

    url: str
    proxy: TcpProxy | None = None
    folder: Path | None = None

    async def down(self) -> None:
        if self.proxy is not None:
            await self.proxy.stop()
        else:
            assert self.folder is not None
            self.folder.rename(self.folder.with_name("moved-away"))

    async def up(self) -> None:
        if self.proxy is not None:
            await self.proxy.start()
        else:
            assert self.folder is not None
            self.folder.with_name("moved-away").rename(self.folder)


@pytest.fixture(params=["sqlite", "postgresql"])
async def outage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Outage]:
    if request.param == "sqlite":
        folder = tmp_path / "db"
        folder.mkdir()
        url = f"sqlite+aiosqlite:///{folder / 'bot.sqlite3'}"
        engine = db.new_engine(url)
        await db.create_schema(engine)
        await engine.dispose()
        yield Outage(url=url, folder=folder)
        return
    pg_url = request.getfixturevalue("pg_url")
    engine = db.new_engine(pg_url)
    await db.empty_pg(engine)
    await engine.dispose()
    parsed = make_url(pg_url)
    proxy = TcpProxy(parsed.host or "127.0.0.1", parsed.port or 5432)
    await proxy.start()
    url = parsed.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    yield Outage(url=url, proxy=proxy)
    await proxy.stop()


def outage_settings(settings: Settings) -> Settings:
    breaker = DatabaseBreakerSettings(breaker_failures=3, breaker_reset_seconds=30)
    return settings.model_copy(update={"db": breaker})


async def test_with_the_database_down_every_update_is_answered_and_nothing_is_lost(
    outage: Outage, settings: Settings, clock: FrozenClock
) -> None:
    settings = outage_settings(settings)
    monotonic = FakeMonotonic()
    world = make_world(settings, db.new_engine(outage.url), clock, monotonic)
    await stock(world, ("P-1", "Pens", 5))
    ann = world.client(1, "Ann")
    await ann.send("/start")  # Ann is known from before the outage
    await ann.send("/language")
    language_message = ann.find_button_message("Español")

    await world.app.engine.dispose()  # pooled connections would hide the outage on SQLite
    await outage.down()
    shown: list[str] = []

    await ann.send("/my_requests")
    assert strip_reference(ann.last_reply()) == UNAVAILABLE
    shown.append(str(reference_in(ann.last_reply())))

    # Reduced answer: what needs no database still works for a person we knew.
    await ann.send("/help")
    assert ann.last_reply().startswith("What you can do:")

    bob = world.client(2, "Bob", language_code="es")
    await bob.send("/start")
    assert strip_reference(bob.last_reply()) == (
        "El servicio no está disponible temporalmente. Inténtalo de nuevo en unos minutos."
    )
    shown.append(str(reference_in(bob.last_reply())))

    await ann.click_on(language_message, "Español")
    [answer] = ann.callback_answers()
    assert strip_reference(answer.text) == UNAVAILABLE
    shown.append(str(reference_in(answer.text)))

    # After three failed connects the breaker opens: later updates fail fast, without trying.
    breaker = world.app.db_breaker
    assert breaker.state.value == "open"
    for _ in range(3):
        await ann.send("/my_requests")
        assert strip_reference(ann.last_reply()) == UNAVAILABLE
        shown.append(str(reference_in(ann.last_reply())))
    spooled = [json.loads(line) for line in world.app.recorder.spool.path.read_text().splitlines()]
    assert [r["exception_type"] for r in spooled[-3:]] == [OPEN_ERROR] * 3  # refused, not tried
    assert world.app.recorder.spool.pending() == len(shown)
    await world.app.healer.shutdown()

    # The process restarts while the database is still down, then the database comes back.
    await outage.up()
    restarted = make_world(settings, db.new_engine(outage.url), clock)
    assert restarted.app.recorder.spool.pending() == len(shown)
    assert await restarted.app.recorder.flush_spool() == len(shown)
    assert restarted.app.recorder.spool.pending() == 0
    async with restarted.app.sessionmaker() as session:
        occurrences = (await session.execute(select(ErrorOccurrence))).scalars().all()
        records = (await session.execute(select(ErrorRecord))).scalars().all()
    assert sorted(o.reference for o in occurrences) == sorted(shown)
    assert {(r.category, r.severity) for r in records} == {
        (ErrorCategory.SYSTEM, ErrorSeverity.CRITICAL)
    }
    assert sum(r.count for r in records) == len(shown)
    for reference in shown:  # every code a person was given leads an admin to the record
        assert await restarted.app.errors.find(reference) is not None
    await restarted.app.engine.dispose()
    await world.app.engine.dispose()


async def test_the_recovery_strategy_writes_the_spool_once_the_database_is_back(
    outage: Outage, settings: Settings, clock: FrozenClock
) -> None:
    settings = outage_settings(settings)
    monotonic = FakeMonotonic()
    world = make_world(settings, db.new_engine(outage.url), clock, monotonic)
    await world.app.engine.dispose()
    await outage.down()
    await world.client(1).send("/start")
    [execution] = world.app.healer.executions()
    failed = await world.app.healer.wait(execution.id)
    assert (failed.strategy, failed.status.value) == ("flush_error_spool", "failed")
    await outage.up()
    monotonic.now += 31  # the breaker lets a trial connection through after its timeout
    await world.client(1).send("/start")  # works again: the user is registered now
    assert world.client(1).last_reply().startswith("Hello")
    from services.failures.classify import FailureContext
    from utils.healing import HealingContext

    submitted = world.app.healer.submit(
        HealingContext(category="system", fingerprint="x", details={"database_down": True})
    )
    done = await world.app.healer.wait(submitted.id)
    assert done.status.value == "completed", done.error
    assert done.result == "database reachable; wrote 1 spooled error records"
    assert world.app.recorder.spool.pending() == 0
    assert FailureContext  # imported for readability of the strategy's context
    await world.app.engine.dispose()


async def test_a_connection_killed_mid_update_is_retried_transparently(
    pg_url: str, settings: Settings, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = db.new_engine(pg_url)
    await db.empty_pg(engine)
    world = make_world(settings, engine, clock)
    await stock(world, ("P-1", "Pens", 5))
    await person(world, 2, Role.MANAGER)
    original = request_notices.notify_stage
    killed: list[int] = []

    async def notify_then_die(session: Any, *args: Any) -> None:
        if not killed:
            pid = int(await session.scalar(text("SELECT pg_backend_pid()")))
            admin = await asyncpg.connect(db._dsn(pg_url))
            try:
                await admin.execute("SELECT pg_terminate_backend($1)", pid)
            finally:
                await admin.close()
            killed.append(pid)
        await original(session, *args)

    monkeypatch.setattr(requests_module, "notify_stage", notify_then_die)
    ann = world.client(1, "Ann")
    await ann.send("/new_request")
    await ann.click("Pens (5 pcs)")
    await ann.send("2")
    await ann.click("Submit request")
    assert killed, "the backend was not killed"
    # (#2: PostgreSQL does not give back the id the killed attempt drew from its sequence.)
    assert ann.last_reply().endswith(
        "Request #2 is submitted. It is now at Manager approval, with 2."
    ), ann.last_reply()
    async with world.app.sessionmaker() as session:
        requests = (await session.execute(select(Request))).unique().scalars().all()
        logs = (
            (
                await session.execute(
                    select(TransactionLog).where(TransactionLog.operation == "create_request")
                )
            )
            .scalars()
            .all()
        )
        errors = (await session.execute(select(ErrorRecord))).scalars().all()
    assert len(requests) == 1
    assert [(t.outcome.value, t.attempts) for t in logs] == [("rolled_back", 1), ("committed", 2)]
    assert errors == []  # retried away: nobody saw a failure
    await engine.dispose()


async def _terminate_and_wait(pg_url: str, pid: int) -> None:
    admin = await asyncpg.connect(db._dsn(pg_url))
    try:
        await admin.execute("SELECT pg_terminate_backend($1)", pid)
        for _ in range(100):  # the backend exits shortly after the signal
            if not await admin.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid
            ):
                return
            await asyncio.sleep(0.02)
    finally:
        await admin.close()
    raise AssertionError(f"backend {pid} did not exit")


async def test_an_idle_connection_the_server_dropped_is_replaced_before_use(pg_url: str) -> None:
    monotonic = FakeMonotonic()
    engine = create_engine(pg_url, monotonic=monotonic)
    async with engine.connect() as conn:
        pid = int(await conn.scalar(text("SELECT pg_backend_pid()")))
    await _terminate_and_wait(pg_url, pid)  # dropped while it sat in the pool
    monotonic.now += PING_AFTER_IDLE_SECONDS
    async with engine.connect() as conn:  # a plain read, no retry around it
        assert int(await conn.scalar(text("SELECT pg_backend_pid()"))) != pid
    await engine.dispose()


async def test_a_busy_connection_that_dropped_fails_once_and_the_pool_starts_afresh(
    pg_url: str,
) -> None:
    monotonic = FakeMonotonic()
    engine = create_engine(pg_url, monotonic=monotonic)
    async with engine.connect() as conn:
        pid = int(await conn.scalar(text("SELECT pg_backend_pid()")))
    await _terminate_and_wait(pg_url, pid)  # not idle long enough to be pinged
    with pytest.raises(DBAPIError) as failed:
        async with engine.connect() as conn:
            await conn.scalar(text("SELECT 1"))
    assert failed.value.connection_invalidated  # what the state manager retries
    async with engine.connect() as conn:
        assert await conn.scalar(text("SELECT 1")) == 1
    await engine.dispose()
