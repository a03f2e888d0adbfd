"""Engine and session factory; SQLite gets WAL, a busy timeout and foreign keys (SPEC §6).

No ping on every checkout (`pool_pre_ping` would cost a round trip per transaction): a pooled
connection is pinged only when it has sat unused for `ping_after_idle` seconds, which is when
servers and middleboxes drop them; a dead one is replaced before anyone uses it. A connection
that dies while in steady use fails its statement instead: SQLAlchemy then discards the whole
pool, and the transactional state manager retries the unit of work on a fresh connection
(`connection_invalidated` is transient, utils/db_faults.py); a plain read fails once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from utils.circuit_breaker import CircuitBreaker
from utils.db_faults import is_unavailable

SQLITE_BUSY_TIMEOUT_MS = 5000
PING_AFTER_IDLE_SECONDS = 10.0
AUTOCOMMIT_READ = "autocommit_read"  # execution option, see read_connection()


def ensure_sqlite_dir(url: str) -> None:
    """Create the folder of a SQLite file so a fresh checkout starts without setup."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, issue BEGIN (see _sqlite_on_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _sqlite_on_begin(connection: Any) -> None:
    if connection.get_execution_options().get(AUTOCOMMIT_READ):
        return  # one read statement: the driver runs it in autocommit, no write lock taken
    # Take the write lock up front: two read-then-write transactions would otherwise both
    # read, and the second would fail with "database is locked" instead of waiting its turn
    # and then seeing the first one's change (the optimistic lock needs that).
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(
    url: str,
    *,
    null_pool: bool = False,
    echo: bool = False,
    ping_after_idle: float = PING_AFTER_IDLE_SECONDS,
    monotonic: Callable[[], float] = time.monotonic,
) -> AsyncEngine:
    ensure_sqlite_dir(url)
    kwargs: dict[str, Any] = {"echo": echo}
    if null_pool:
        kwargs["poolclass"] = NullPool
    engine = create_async_engine(url, **kwargs)
    if not null_pool:
        ping_idle_connections(engine, ping_after_idle, monotonic)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        event.listen(engine.sync_engine, "begin", _sqlite_on_begin)
    return engine


def ping_idle_connections(
    engine: AsyncEngine, idle_seconds: float, monotonic: Callable[[], float] = time.monotonic
) -> None:
    """Ping a pooled connection at checkout if it was idle for `idle_seconds` or longer; a dead
    one is thrown away and the pool connects afresh (up to three tries, SQLAlchemy's rule)."""
    dialect = engine.sync_engine.dialect
    pool = engine.sync_engine.pool

    def on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = monotonic()

    def on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop("idle_since", None)
        if since is None or monotonic() - since < idle_seconds:
            return
        try:
            alive = dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError("a pooled connection did not answer a ping") from exc
        if alive is False:
            raise DisconnectionError("a pooled connection did not answer a ping")

    event.listen(pool, "checkin", on_checkin)
    event.listen(pool, "checkout", on_checkout)


async def read_connection(session: AsyncSession) -> AsyncConnection:
    """The session's connection for a read that needs no transaction: a single statement, or
    statements that may each see the latest data. PostgreSQL runs it in autocommit (no BEGIN
    and ROLLBACK round trips); SQLite skips the BEGIN IMMEDIATE that would take the write
    lock (its driver autocommits outside an explicit BEGIN). Call it before anything else in
    the session: execution options apply only when the session first takes its connection."""
    if session.get_bind().dialect.name == "sqlite":
        options: dict[str, Any] = {AUTOCOMMIT_READ: True}
    else:
        options = {"isolation_level": "AUTOCOMMIT"}
    return await session.connection(execution_options=options)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def guard_with_breaker(engine: AsyncEngine, breaker: CircuitBreaker) -> None:
    """Route every new connection through `breaker`, and count dropped connections against it.

    While it is open, connecting fails at once with CircuitOpenError instead of waiting for a
    connection timeout on every update; pooled connections that still work keep working."""

    def do_connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        breaker.allow()
        try:
            connection = dialect.connect(*cargs, **cparams)
        except Exception as exc:
            breaker.record_failure(exc)
            raise
        except BaseException:
            breaker.release()  # cancelled while connecting says nothing about the database
            raise
        breaker.record_success()
        return connection

    def handle_error(context: ExceptionContext) -> None:
        if context.is_disconnect or is_unavailable(context.original_exception):
            breaker.record_failure(context.original_exception)

    event.listen(engine.sync_engine, "do_connect", do_connect)
    event.listen(engine.sync_engine, "handle_error", handle_error)
