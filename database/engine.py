"""Engine and session factory; SQLite gets WAL, a busy timeout and foreign keys (SPEC §6)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from utils.circuit_breaker import CircuitBreaker
from utils.db_faults import is_unavailable

SQLITE_BUSY_TIMEOUT_MS = 5000


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
    # Take the write lock up front: two read-then-write transactions would otherwise both
    # read, and the second would fail with "database is locked" instead of waiting its turn
    # and then seeing the first one's change (the optimistic lock needs that).
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(url: str, *, null_pool: bool = False, echo: bool = False) -> AsyncEngine:
    ensure_sqlite_dir(url)
    kwargs: dict[str, Any] = {"echo": echo}
    if null_pool:
        kwargs["poolclass"] = NullPool
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_async_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        event.listen(engine.sync_engine, "begin", _sqlite_on_begin)
    return engine


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
