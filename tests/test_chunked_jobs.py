"""The stuck check and retention work in chunks, each its own transaction (SQLite and
PostgreSQL): every row is handled, more than one commit is made, and a failure in a later chunk
keeps the earlier chunks' work, which the next run does not repeat. Retention prunes old
occurrences of open records too, leaving the record's count and first/last seen."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.clock import FrozenClock
from core.enums import ErrorCategory, ErrorSeverity, Role
from database.models import (
    ErrorOccurrence,
    ErrorRecord,
    PendingNotification,
    Request,
    StuckMark,
    TransactionLog,
)
from database.repositories import retention as retention_queries
from services.requests import Line
from services.retention import cleanup
from tests.conftest import World
from tests.factories import person, stock

REQUESTER, MANAGER = 101, 201


@contextmanager
def commits(engine: AsyncEngine) -> Iterator[list[int]]:
    """Counts the commits made on `engine` inside the block (one per transaction)."""
    seen: list[int] = []

    def on_commit(_connection: Any) -> None:
        seen.append(1)

    event.listen(engine.sync_engine, "commit", on_commit)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "commit", on_commit)


async def count(world: World, model: Any, *where: Any) -> int:
    async with world.app.sessionmaker() as session:
        return int(
            await session.scalar(select(func.count()).select_from(model).where(*where)) or 0
        )


# -- the stuck check ----------------------------------------------------------------------


async def stuck_requests(world: World, clock: FrozenClock, n: int) -> list[int]:
    await stock(world, ("P-1", "Paper", 100))
    await person(world, REQUESTER, Role.REQUESTER)
    await person(world, MANAGER, Role.MANAGER)
    users = {u.telegram_id: u.id for u in await world.app.users.list_users()}
    made = [await world.app.requests.create(users[REQUESTER], [Line(1, 1)]) for _ in range(n)]
    clock.advance(timedelta(hours=25))  # past the manager stage's 24 h
    return [r.id for r in made]


async def nudges(world: World) -> int:
    return await count(world, PendingNotification, PendingNotification.kind == "stuck_nudge")


async def test_the_stuck_check_handles_every_request_a_chunk_per_transaction(
    world: World, clock: FrozenClock, engine: AsyncEngine
) -> None:
    await stuck_requests(world, clock, 5)
    world.app.stuck.chunk = 2
    with commits(engine) as made:
        result = await world.app.stuck.detect()
    assert (result.new, result.nudged, result.escalated) == (5, 5, 0)
    assert await count(world, StuckMark) == 5
    assert await nudges(world) == 5
    # 5 stuck, 2 a chunk: three transactions, each audited as the one check was before.
    audits = await count(world, TransactionLog, TransactionLog.operation == "detect_stuck")
    assert audits == 3
    assert len(made) >= 3
    # Same outcome as one transaction: nothing twice on the next run.
    again = await world.app.stuck.detect()
    assert (again.new, again.nudged, again.escalated) == (0, 0, 0)


async def test_a_failure_in_a_later_stuck_chunk_keeps_the_earlier_ones(
    world: World, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = await stuck_requests(world, clock, 5)
    service = world.app.stuck
    service.chunk = 2
    alert = service._alert

    async def failing(session: Any, request: Request, *args: Any) -> None:
        if request.id == ids[2]:  # the first of the second chunk
            raise RuntimeError("the second chunk breaks")
        await alert(session, request, *args)

    monkeypatch.setattr(service, "_alert", failing)
    with pytest.raises(RuntimeError, match="second chunk"):
        await service.detect()
    marked = await count(world, StuckMark)
    assert marked == 2  # the first chunk committed; the failed one left nothing
    assert await nudges(world) == 2
    monkeypatch.setattr(service, "_alert", alert)
    rest = await service.detect()  # resumes: the marked ones are not sent anything again
    assert (rest.new, rest.nudged) == (3, 3)
    assert await nudges(world) == 5
    async with world.app.sessionmaker() as session:
        marks = (await session.scalars(select(StuckMark.request_id))).all()
    assert sorted(marks) == sorted(ids)


async def test_the_stuck_check_runs_once_when_nothing_is_stuck(world: World) -> None:
    result = await world.app.stuck.detect()
    assert (result.new, result.nudged, result.escalated, result.assignee_gone) == (0, 0, 0, 0)
    assert await count(world, TransactionLog, TransactionLog.operation == "detect_stuck") == 1


# -- retention ------------------------------------------------------------------------------


async def error_record(
    world: World,
    fingerprint: str,
    occurred: list[datetime],
    *,
    resolved_at: datetime | None = None,
) -> int:
    async with world.app.sessionmaker.begin() as session:
        record = ErrorRecord(
            reference=f"R-{fingerprint}",
            fingerprint=fingerprint,
            category=ErrorCategory.SYSTEM,
            severity=ErrorSeverity.HIGH,
            exception_type="RuntimeError",
            message="boom",
            stack_trace=None,
            handler="h",
            context={},
            count=len(occurred),
            first_seen=min(occurred),
            last_seen=max(occurred),
            retry_count=0,
            resolved_at=resolved_at,
        )
        session.add(record)
        await session.flush()
        for index, at in enumerate(occurred):
            session.add(
                ErrorOccurrence(
                    error_id=record.id,
                    reference=f"{fingerprint}-{index}",
                    occurred_at=at,
                    context={},
                )
            )
        return record.id


async def cleanup_errors(world: World, chunk: int) -> Any:
    return await cleanup(
        world.app.tx,
        error_retention=timedelta(days=30),
        transaction_log_retention=timedelta(days=90),
        chunk=chunk,
    )


async def test_retention_prunes_old_occurrences_of_an_open_record_and_keeps_its_figures(
    world: World, clock: FrozenClock
) -> None:
    now = clock.now()
    old = [now - timedelta(days=40, minutes=i) for i in range(7)]
    recent = [now - timedelta(days=1, minutes=i) for i in range(3)]
    open_id = await error_record(world, "open", old + recent)
    result = await cleanup_errors(world, chunk=1000)
    assert result.error_occurrences == 7
    assert result.error_records == 0  # open: kept whatever its age
    async with world.app.sessionmaker() as session:
        record = await session.get(ErrorRecord, open_id)
        assert record is not None
        assert (record.count, record.first_seen, record.last_seen) == (10, min(old), max(recent))
        left = (await session.scalars(select(ErrorOccurrence.occurred_at))).all()
    assert sorted(left) == sorted(recent)


async def test_retention_deletes_in_chunks_each_committed(
    world: World, clock: FrozenClock, engine: AsyncEngine
) -> None:
    now = clock.now()
    old = [now - timedelta(days=40, minutes=i) for i in range(25)]
    open_id = await error_record(world, "open", [*old[:15], now])
    await error_record(world, "done", old[15:], resolved_at=now - timedelta(days=35))
    with commits(engine) as made:
        result = await cleanup_errors(world, chunk=10)
    assert (result.error_occurrences, result.error_records) == (25, 1)
    assert len(made) >= 4  # 25 occurrences in 10s: three chunks, then the record's
    assert await count(world, ErrorOccurrence) == 1  # the open record's recent one
    assert [r.id for r in await all_records(world)] == [open_id]


async def test_a_failure_in_a_later_retention_chunk_keeps_the_earlier_ones(
    world: World, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = clock.now()
    await error_record(world, "open", [now - timedelta(days=40, minutes=i) for i in range(25)])
    real = retention_queries.delete_old_occurrences
    calls: list[int] = []

    async def second_fails(session: Any, before: datetime, limit: int) -> int:
        calls.append(limit)
        if len(calls) == 2:
            raise RuntimeError("the second chunk breaks")
        return await real(session, before, limit)

    monkeypatch.setattr(retention_queries, "delete_old_occurrences", second_fails)
    with pytest.raises(RuntimeError, match="second chunk"):
        await cleanup_errors(world, chunk=10)
    assert await count(world, ErrorOccurrence) == 15  # the first chunk's 10 stay deleted
    monkeypatch.setattr(retention_queries, "delete_old_occurrences", real)
    result = await cleanup_errors(world, chunk=10)  # the next run goes on from there
    assert result.error_occurrences == 15
    assert await count(world, ErrorOccurrence) == 0


async def all_records(world: World) -> list[ErrorRecord]:
    async with world.app.sessionmaker() as session:
        return list((await session.scalars(select(ErrorRecord).order_by(ErrorRecord.id))).all())


def test_a_chunk_must_hold_a_row() -> None:
    from services.stuck import StuckService

    with pytest.raises(ValueError, match="chunk"):
        StuckService(None, None, None, None, chunk=0)  # type: ignore[arg-type]


async def test_retention_refuses_an_empty_chunk(world: World) -> None:
    with pytest.raises(ValueError, match="chunk"):
        await cleanup_errors(world, chunk=0)
