"""A claimed notification belongs to its sender until its outcome is written or its claim
expires: an admin's retry or discard leaves a row in flight alone, an outcome from a lost claim
is not written, and a slow Telegram does not let a queued row's claim expire."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramServerError
from aiogram.methods import SendMessage, TelegramMethod
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.factory import create_app, create_bot, create_dispatcher
from core.clock import FrozenClock
from core.enums import NotificationStatus, Role
from core.settings import Settings
from database.models import PendingNotification
from outbox.payloads import RequestCompleted
from outbox.repository import enqueue
from outbox.sender import CONCURRENCY, OutboxSender
from tests.conftest import ADMIN_TG_ID, World
from tests.support.recording import RecordingSession
from utils.rate_limit import RateLimiter


class HeldSession(RecordingSession):
    """The first `hold` sends to recipients are recorded, then wait for `gate` (Telegram is
    slow); `fail` is raised by a held send once the gate opens. Later sends go through."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.hold = 0
        self.held: list[int] = []
        self.fail: BaseException | None = None

    async def make_request(
        self, bot: Bot, method: TelegramMethod[Any], timeout: int | None = None
    ) -> Any:
        if isinstance(method, SendMessage) and method.chat_id != ADMIN_TG_ID and self.hold:
            self.hold -= 1
            self.calls.append(method)
            self.held.append(int(method.chat_id))
            await self.gate.wait()
            if self.fail is not None:
                raise self.fail
            return self._answer(bot, method)
        return await super().make_request(bot, method, timeout)

    def sends(self) -> Counter[int]:
        return Counter(
            int(c.chat_id) for c in self.calls_of(SendMessage) if c.chat_id != ADMIN_TG_ID
        )


@pytest.fixture
async def held(
    settings: Settings, engine: AsyncEngine, clock: FrozenClock
) -> AsyncIterator[tuple[World, HeldSession]]:
    session = HeldSession()
    bot = create_bot(settings, session=session)
    app = create_app(settings, bot, clock=clock, engine=engine)
    world = World(app=app, bot=bot, dp=create_dispatcher(app), session=session)
    yield world, session
    await app.healer.shutdown()
    await app.bulk.shutdown()
    await world.dp.storage.close()


async def write(world: World, chats: list[int]) -> None:
    """One notification per entry of `chats`, request #n for the n-th."""
    for n, chat in enumerate(chats, start=1):
        user = await world.app.users.grant(chat, Role.REQUESTER)
        async with world.app.sessionmaker() as session, session.begin():
            await enqueue(
                session,
                recipient_id=user.id,
                payload=RequestCompleted(request_id=n, workflow="inventory_request"),
                idempotency_key=f"k{n}",
                now=world.app.clock.now(),
            )


async def rows(world: World) -> list[PendingNotification]:
    async with world.app.sessionmaker() as session:
        found = await session.execute(select(PendingNotification).order_by(PendingNotification.id))
        return list(found.unique().scalars())


async def until(condition: Callable[[], bool], what: str) -> None:
    for _ in range(2000):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError(f"never happened: {what}")


def other_sender(world: World, name: str) -> OutboxSender:
    """A second sender on the same database (another process, as far as claims go)."""
    mine = world.app.outbox
    return OutboxSender(
        world.bot,
        world.app.sessionmaker,
        mine.renderer,
        world.app.clock,
        policy=mine.policy,
        limiter=RateLimiter(10_000, 10_000),
        sender_id=name,
    )


def bad_gateway() -> TelegramServerError:
    return TelegramServerError(method=SendMessage(chat_id=1, text="x"), message="Bad Gateway")


async def test_retry_all_while_a_pass_is_mid_flight_sends_each_row_once(
    held: tuple[World, HeldSession],
) -> None:
    world, session = held
    chats = [500 + n for n in range(CONCURRENCY + 2)]
    await write(world, [*chats, 500])  # chat 500's second row waits for its first
    session.hold = CONCURRENCY
    drain = asyncio.create_task(world.deliver())
    await until(lambda: len(session.held) == CONCURRENCY, "the sends in flight")
    admin = world.client(ADMIN_TG_ID)
    await admin.send("/notifications")
    total = len(chats) + 1
    await admin.click(f"Waiting ({total})")
    await admin.click("Retry all")
    await admin.click(f"Yes, retry {total}")
    # 8 in flight and 2 claimed in the sender's queue are left alone; chat 500's second row,
    # not claimed, is retried and sent at once.
    reply = admin.last_reply()
    assert reply.startswith(
        "Delivered.\n"
        f"{len(chats)} notifications are being sent right now and were left alone. "
        "Look again in a moment.\n\n<b>Waiting</b>"
    )
    session.gate.set()
    await drain
    await world.deliver()
    assert session.sends() == Counter({**dict.fromkeys(chats, 1), 500: 2})
    assert [(r.status, r.attempts) for r in await rows(world)] == [
        (NotificationStatus.SENT, 1)
    ] * total


async def test_discard_while_the_send_is_in_flight_never_lets_it_go_out(
    held: tuple[World, HeldSession], clock: FrozenClock
) -> None:
    world, session = held
    await write(world, [77])
    session.hold, session.fail = 1, bad_gateway()
    drain = asyncio.create_task(world.deliver())
    await until(lambda: len(session.held) == 1, "the send in flight")
    admin = world.client(ADMIN_TG_ID)
    await admin.send("/notifications")
    await admin.click("Waiting (1)")
    await admin.click("#1")
    await admin.click("Discard")
    await admin.click("Sent another way")
    [answer] = admin.callback_answers()
    assert answer.text == "Notification #1 is being sent right now. Look again in a moment."
    [row] = await rows(world)
    assert (row.status, row.claimed_by is not None) == (NotificationStatus.PENDING, True)
    # Telegram answers 5xx: the sender's outcome is written, nothing was discarded yet.
    session.gate.set()
    await drain
    [row] = await rows(world)
    assert (row.status, row.attempts) == (NotificationStatus.RETRYING, 1)
    # The same press a moment later sees the row changed; discarded from its new list, it is
    # never sent after that.
    await admin.click("Sent another way")
    assert admin.last_reply().startswith("⚠️ The list changed since the preview (0 now).")
    await admin.send("/notifications")
    await admin.click("Retrying (1)")
    await admin.click("#1")
    await admin.click("Discard")
    await admin.click("Sent another way")
    assert admin.last_reply().startswith("Notification #1 discarded.")
    clock.advance(timedelta(hours=2))
    assert await world.deliver() == 0
    [row] = await rows(world)
    assert row.status is NotificationStatus.DISCARDED
    assert session.sends() == Counter({77: 1})


async def test_an_outcome_from_a_claim_taken_over_is_not_written_but_counted(
    held: tuple[World, HeldSession], clock: FrozenClock
) -> None:
    world, session = held
    await write(world, [77])
    session.hold, session.fail = 1, bad_gateway()
    mine = world.app.outbox
    drain = asyncio.create_task(mine.flush())
    await until(lambda: len(session.held) == 1, "the send in flight")
    # This sender stalls past its claim; another one takes the row over and delivers it.
    clock.advance(timedelta(seconds=mine.policy.claim_seconds + 1))
    other = other_sender(world, "other-process")
    assert await other.flush() == 1
    session.gate.set()  # the stalled send now answers 5xx
    assert await drain == 0
    [row] = await rows(world)
    assert (row.status, row.attempts, row.last_error, row.claimed_by) == (
        NotificationStatus.SENT,
        1,
        None,
        None,
    )
    assert (mine.lost_claims, other.lost_claims) == (1, 0)
    assert session.sends() == Counter({77: 2})


async def test_a_slow_telegram_does_not_let_a_queued_rows_claim_expire(
    held: tuple[World, HeldSession], clock: FrozenClock
) -> None:
    world, session = held
    chats = [600 + n for n in range(CONCURRENCY + 4)]
    await write(world, chats)
    mine = world.app.outbox
    # A claim of 0.09 s (renewed every 0.03 s of real time, due by the test's clock).
    claim = 0.09
    mine.policy = replace(mine.policy, claim_seconds=claim)
    session.hold = CONCURRENCY
    drain = asyncio.create_task(mine.flush())
    await until(lambda: len(session.held) == CONCURRENCY, "the sends in flight")
    # The sends hang for three claims; 4 rows wait in the sender's queue all that time.
    for _ in range(6):
        clock.advance(timedelta(seconds=claim / 2))
        await asyncio.sleep(0.1)
    other = other_sender(world, "other-process")
    assert await other.flush() == 0  # every row is still claimed: nothing to take over
    session.gate.set()
    assert await drain == len(chats)
    assert session.sends() == Counter(dict.fromkeys(chats, 1))
    assert {r.status for r in await rows(world)} == {NotificationStatus.SENT}
    assert mine.lost_claims == 0


async def test_discard_all_leaves_the_row_in_flight_alone_and_says_so(
    held: tuple[World, HeldSession], clock: FrozenClock
) -> None:
    world, session = held
    await write(world, [500, 500])  # the second waits, unclaimed, for the first
    session.hold = 1
    drain = asyncio.create_task(world.deliver())
    await until(lambda: len(session.held) == 1, "the send in flight")
    admin = world.client(ADMIN_TG_ID)
    await admin.send("/notifications")
    await admin.click("Waiting (2)")
    await admin.click("Discard all")
    await admin.click("Sent another way")
    assert admin.last_reply().startswith(
        "1 notifications discarded.\n1 notification is being sent right now and was left "
        "alone. Look again in a moment.\n\n<b>Waiting</b>: 1"
    )
    session.gate.set()
    await drain
    clock.advance(timedelta(hours=2))
    assert await world.deliver() == 0
    assert [r.status for r in await rows(world)] == [
        NotificationStatus.SENT,
        NotificationStatus.DISCARDED,
    ]
    assert session.sends() == Counter({500: 1})
