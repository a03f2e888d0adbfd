"""The foundation's simple outbox sender: rows go out after commit, failures wait and retry."""

from __future__ import annotations

from datetime import timedelta

from aiogram.exceptions import TelegramServerError
from aiogram.methods import SendMessage
from sqlalchemy import select

from core.clock import FrozenClock
from core.enums import NotificationStatus, Role
from database.models import PendingNotification
from outbox.payloads import RequestCompleted
from outbox.repository import enqueue
from tests.conftest import World


async def outbox_rows(world: World) -> list[PendingNotification]:
    async with world.app.sessionmaker() as session:
        rows = await session.execute(select(PendingNotification).order_by(PendingNotification.id))
        return list(rows.unique().scalars())


async def write_one(world: World, key: str = "k1") -> None:
    user = await world.app.users.grant(77, Role.REQUESTER)
    async with world.app.sessionmaker() as session, session.begin():
        for _ in range(2):  # the same key twice writes one row
            await enqueue(
                session,
                recipient_id=user.id,
                payload=RequestCompleted(request_id=5, workflow="inventory_request"),
                idempotency_key=key,
                now=world.app.clock.now(),
            )


async def test_idempotency_key_writes_once_and_sends_once(world: World) -> None:
    await write_one(world)
    assert len(await outbox_rows(world)) == 1
    assert await world.deliver() == 1
    assert await world.deliver() == 0
    [call] = world.session.calls_of(SendMessage)
    assert (call.chat_id, call.text) == (77, "Request #5 is completed.")


async def test_failure_waits_then_retries_and_finally_dies(
    world: World, clock: FrozenClock
) -> None:
    await write_one(world)
    world.app.outbox.random = lambda: 0.5  # no jitter: the exact schedule
    world.session.queue(TelegramServerError(method=None, message="Bad Gateway"))  # type: ignore[arg-type]
    assert await world.deliver() == 0
    [row] = await outbox_rows(world)
    assert (row.status, row.attempts) == (NotificationStatus.RETRYING, 1)
    assert row.last_error == "TelegramServerError: Telegram server says - Bad Gateway"
    assert row.next_attempt_at == clock.now() + timedelta(seconds=30)
    assert await world.deliver() == 0  # not due yet: nothing is even tried
    assert len(world.session.calls_of(SendMessage)) == 1
    clock.advance(timedelta(seconds=31))
    assert await world.deliver() == 1
    [row] = await outbox_rows(world)
    assert (row.status, row.attempts, row.last_error) == (NotificationStatus.SENT, 2, None)


async def test_dead_after_the_last_attempt(world: World, clock: FrozenClock) -> None:
    await write_one(world)
    for _ in range(5):
        world.session.queue(TelegramServerError(method=None, message="Bad Gateway"))  # type: ignore[arg-type]
        await world.deliver()
        clock.advance(timedelta(hours=1))
    [row] = await outbox_rows(world)
    assert (row.status, row.attempts) == (NotificationStatus.DEAD, 5)
    assert await world.deliver() == 0


async def test_429_waits_exactly_retry_after_without_using_an_attempt(
    world: World, clock: FrozenClock
) -> None:
    from aiogram.exceptions import TelegramRetryAfter
    from aiogram.methods import SendMessage as Send

    await write_one(world)
    world.session.queue(
        TelegramRetryAfter(
            method=Send(chat_id=77, text="x"), message="Too Many Requests", retry_after=7
        )
    )
    assert await world.deliver() == 0
    [row] = await outbox_rows(world)
    assert (row.status, row.attempts) == (NotificationStatus.PENDING, 0)
    assert row.next_attempt_at == clock.now() + timedelta(seconds=7)


async def test_blocked_by_the_user_is_dead_at_once(world: World) -> None:
    from aiogram.exceptions import TelegramForbiddenError
    from aiogram.methods import SendMessage as Send

    await write_one(world)
    world.session.queue(
        TelegramForbiddenError(
            method=Send(chat_id=77, text="x"), message="Forbidden: bot was blocked by the user"
        )
    )
    assert await world.deliver() == 0
    [row] = await outbox_rows(world)
    assert (row.status, row.attempts) == (NotificationStatus.DEAD, 1)
    assert row.last_error is not None and "bot was blocked" in row.last_error


async def test_queue_limit_moves_the_oldest_waiting_rows_to_dead(
    world: World, clock: FrozenClock
) -> None:
    from core.enums import DeadReason

    user = await world.app.users.grant(77, Role.REQUESTER)
    async with world.app.sessionmaker() as session, session.begin():
        for n in range(5):
            await enqueue(
                session,
                recipient_id=user.id,
                payload=RequestCompleted(request_id=n, workflow="inventory_request"),
                idempotency_key=f"q{n}",
                now=clock.now(),
            )
    assert await world.app.notifications.enforce_limit(3) == 2
    assert [(r.status, r.dead_reason) for r in await outbox_rows(world)] == [
        (NotificationStatus.DEAD, DeadReason.QUEUE_FULL)
    ] * 2 + [(NotificationStatus.PENDING, None)] * 3
    assert await world.app.notifications.enforce_limit(3) == 0


async def test_retention_deletes_only_finished_rows_past_it(
    world: World, clock: FrozenClock
) -> None:
    await write_one(world, "old")
    await world.deliver()
    clock.advance(timedelta(days=31))
    await write_one(world, "new")
    assert await world.app.notifications.cleanup(timedelta(days=30)) == 1
    [row] = await outbox_rows(world)
    assert (row.idempotency_key, row.status) == ("new", NotificationStatus.PENDING)
