"""Telling database faults apart by exception type and error code (never by message text).

transient:   worth retrying the same transaction (deadlock, serialization failure, a busy
             SQLite file, a connection that dropped under us);
unavailable: the database cannot be reached at all (refused, shut down, cannot open the file).
"""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Iterator

import asyncpg.exceptions
from sqlalchemy.exc import DBAPIError

# PostgreSQL SQLSTATE codes
PG_TRANSIENT = frozenset({"40001", "40P01", "55P03"})  # serialization, deadlock, lock not free
PG_UNAVAILABLE_CLASSES = ("08",)  # connection exception class
PG_UNAVAILABLE = frozenset({"57P01", "57P02", "57P03", "53300"})  # shutdown, starting, too many
# SQLite primary result codes
SQLITE_TRANSIENT = frozenset({5, 6})  # BUSY, LOCKED
SQLITE_UNAVAILABLE = frozenset(
    {8, 10, 11, 13, 14, 26}
)  # READONLY IOERR CORRUPT FULL CANTOPEN NOTADB


def chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, what it wraps (`orig`) and what caused it, without looping."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        orig = getattr(current, "orig", None)
        stack.extend([current.__cause__, current.__context__])
        if isinstance(orig, BaseException):
            stack.append(orig)


def _sqlstate(exc: BaseException) -> str | None:
    value = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    return value if isinstance(value, str) else None


def _sqlite_code(exc: BaseException) -> int | None:
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        return code & 0xFF if isinstance(code, int) else None  # extended -> primary code
    return None


def is_unavailable(exc: BaseException) -> bool:
    for item in chain(exc):
        state = _sqlstate(item)
        if state and (state in PG_UNAVAILABLE or state.startswith(PG_UNAVAILABLE_CLASSES)):
            return True
        if _sqlite_code(item) in SQLITE_UNAVAILABLE:
            return True
        if isinstance(item, ConnectionRefusedError | ConnectionAbortedError | socket.gaierror):
            return True
    return False


def is_transient(exc: BaseException) -> bool:
    """Worth one more try of the whole transaction."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    for item in chain(exc):
        if _sqlstate(item) in PG_TRANSIENT or _sqlite_code(item) in SQLITE_TRANSIENT:
            return True
        if isinstance(item, ConnectionResetError | BrokenPipeError | TimeoutError):
            return True
        if isinstance(item, asyncpg.exceptions.ConnectionDoesNotExistError):
            return True  # the server closed our connection mid-transaction
    return is_unavailable(exc)  # it may be back a moment later: the retry budget is small
