"""The sender keeps Telegram's limits by itself, on a fake clock: per chat a second plus the
margin after the previous start, overall the rate in any window, a burst to one chat holding
back nobody else, a 429 pausing exactly `retry_after` and then resuming at once, alerts first,
outcomes written in batches."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import SendMessage, TelegramMethod
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.factory import create_app, create_bot, create_dispatcher
from core.enums import NotificationStatus
from core.settings import Settings
from database.models import PendingNotification, User
from outbox.payloads import RequestCompleted
from outbox.repository import ALERT, enqueue
from outbox.sender import WRITE_EVERY
from tests.conftest import World
from tests.support.recording import RecordingSession
from utils.rate_limit import RateLimiter

START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class FakeTime:
    """Monotonic seconds for the limiter and wall time for the database, moved by sleeping."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def monotonic(self) -> float:
        return self.seconds

    def now(self) -> datetime:
        return START + timedelta(seconds=self.seconds)

    async def sleep(self, seconds: float) -> None:
        for _ in range(5):  # a send finishing meanwhile wins the race with this timer
            await asyncio.sleep(0)
        self.seconds += seconds


class TimedSession(RecordingSession):
    """Records when (on the fake clock) each message was sent, and to whom."""

    def __init__(self, time: FakeTime) -> None:
        super().__init__()
        self.time = time
        self.sends: list[tuple[float, int, str]] = []
        self.refuse: dict[int, BaseException] = {}  # index of a send -> its error answer

    async def make_request(
        self, bot: Bot, method: TelegramMethod[Any], timeout: int | None = None
    ) -> Any:
        if isinstance(method, SendMessage):
            self.sends.append((self.time.seconds, int(method.chat_id), method.text))
            if (refusal := self.refuse.pop(len(self.sends) - 1, None)) is not None:
                raise refusal
        return await super().make_request(bot, method, timeout)


@pytest.fixture
def time() -> FakeTime:
    return FakeTime()


@pytest.fixture
async def paced(
    settings: Settings, engine: AsyncEngine, time: FakeTime
) -> AsyncIterator[tuple[World, TimedSession]]:
    """The bot as production builds it, at Telegram's limits, on the fake clock."""
    session = TimedSession(time)
    bot = create_bot(settings, session=session)
    app = create_app(settings, bot, clock=time, engine=engine, monotonic=time.monotonic)
    outbox = settings.outbox
    app.sender.limiter = RateLimiter(
        30,
        1,
        margin=outbox.rate_margin_seconds,
        key_margin=outbox.per_chat_margin_seconds,
        clock=time.monotonic,
        sleep=time.sleep,
    )
    world = World(app=app, bot=bot, dp=create_dispatcher(app), session=session)
    yield world, session
    await app.healer.shutdown()
    await app.bulk.shutdown()
    await world.dp.storage.close()


async def write(world: World, chats: list[int], *, priority: int = 0, first: int = 0) -> None:
    """One notification per entry of `chats` (a chat id), in that order."""
    async with world.app.sessionmaker() as session, session.begin():
        known = {u.telegram_id: u for u in (await session.execute(select(User))).scalars()}
        for chat in sorted(set(chats) - set(known)):
            known[chat] = User(telegram_id=chat, full_name=f"U{chat}", created_at=START)
            session.add(known[chat])
        await session.flush()
        for n, chat in enumerate(chats, start=first + 1):
            await enqueue(
                session,
                recipient_id=known[chat].id,
                payload=RequestCompleted(request_id=n, workflow="inventory_request"),
                idempotency_key=f"k{n}",
                now=world.app.clock.now(),
                priority=priority,
            )


def most_in_any_window(times: list[float], window: float) -> int:
    return max(sum(t <= u < t + window - 1e-9 for u in times) for t in times)


async def test_one_chat_gets_its_next_message_a_second_and_the_margin_after_the_last_start(
    paced: tuple[World, TimedSession], settings: Settings
) -> None:
    world, session = paced
    await write(world, [7, 7, 7])
    assert await world.deliver() == 3
    gap = 1.0 + settings.outbox.per_chat_margin_seconds
    assert [t for t, _, _ in session.sends] == pytest.approx([0.0, gap, 2 * gap])


async def test_overall_never_more_than_the_rate_in_any_window(
    paced: tuple[World, TimedSession], settings: Settings
) -> None:
    world, session = paced
    await write(world, list(range(1000, 1090)))
    assert await world.deliver() == 90
    times = [t for t, _, _ in session.sends]
    window = 1.0 + settings.outbox.rate_margin_seconds
    assert most_in_any_window(times, window) == 30
    assert times[-1] == pytest.approx(89 * window / 30 - 2 * window / 30)  # spread evenly


async def test_a_burst_to_one_chat_does_not_hold_back_the_others(
    paced: tuple[World, TimedSession],
) -> None:
    world, session = paced
    await write(world, [7] * 20)  # written first: the oldest rows in the queue
    await write(world, list(range(1000, 1030)), first=20)
    assert await world.deliver() == 50
    others = [t for t, chat, _ in session.sends if chat != 7]
    burst = [t for t, chat, _ in session.sends if chat == 7]
    assert len(others) == 30
    # All within about the first window: the burst took one slot, not a second each.
    assert max(others) <= 1.04 + 1e-9
    assert len(burst) == 20
    assert all(b - a >= 1.1 - 1e-9 for a, b in itertools.pairwise(burst))


async def test_a_429_pauses_everything_exactly_retry_after_then_resumes_at_once(
    paced: tuple[World, TimedSession], time: FakeTime
) -> None:
    world, session = paced
    await write(world, list(range(1000, 1010)))
    session.refuse[3] = TelegramRetryAfter(
        method=SendMessage(chat_id=1003, text="x"),
        message="Too Many Requests: retry after 3",
        retry_after=3,
    )
    # The bot's loop, polling only every hour: what comes next is the 429's timer.
    loop = asyncio.create_task(world.app.sender.run(poll_seconds=3600))

    async def statuses() -> set[NotificationStatus]:
        async with world.app.sessionmaker() as db:
            rows = (await db.execute(select(PendingNotification))).unique().scalars().all()
        return {r.status for r in rows}

    try:
        # Until the outcomes are written: a loop cancelled inside its write transaction
        # would leave SQLite's write lock with a connection nobody closes.
        for _ in range(500):
            if len(session.sends) >= 11 and await statuses() == {NotificationStatus.SENT}:
                break
            await asyncio.sleep(0.001)
    finally:
        loop.cancel()
        with pytest.raises(asyncio.CancelledError):
            await loop
    times = [t for t, _, _ in session.sends]
    refused_at = times[3]  # the 4th send was answered 429 (the refusal is recorded, too)
    assert all(not refused_at < t < refused_at + 3 for t in times)  # nothing inside the pause
    assert times[4] == pytest.approx(refused_at + 3)  # and at once after it
    assert await statuses() == {NotificationStatus.SENT}
    assert sorted(chat for _, chat, _ in session.sends) == sorted([*range(1000, 1010), 1003])


async def test_alerts_go_before_routine_notifications(
    paced: tuple[World, TimedSession],
) -> None:
    world, session = paced
    await write(world, list(range(1000, 1040)))
    await write(world, [900, 901], priority=ALERT, first=40)
    assert await world.deliver() == 42
    assert [chat for _, chat, _ in session.sends[:2]] == [900, 901]


async def test_outcomes_are_claimed_and_written_in_batches(
    paced: tuple[World, TimedSession], engine: AsyncEngine
) -> None:
    world, _ = paced
    await write(world, list(range(1000, 1300)))
    commits: list[object] = []

    def count(connection: object) -> None:
        commits.append(connection)

    event.listen(engine.sync_engine, "commit", count)
    try:
        assert await world.deliver() == 300
    finally:
        event.remove(engine.sync_engine, "commit", count)
    # Not a commit (and two UPDATEs) per row: at 30/s an outcome waits up to WRITE_EVERY for
    # its batch, so 1 / WRITE_EVERY transactions a second of sending, each writing and
    # claiming (10 s of sending: about 50, where a commit per row would be 300).
    assert len(commits) <= (300 / 30) / WRITE_EVERY + 10
    lifted = RateLimiter(10_000, 10_000, clock=world.app.sender.limiter.now, spread=False)
    world.app.sender.limiter = lifted
    await write(world, list(range(2000, 2300)), first=300)
    commits.clear()
    event.listen(engine.sync_engine, "commit", count)
    try:
        assert await world.deliver() == 300
    finally:
        event.remove(engine.sync_engine, "commit", count)
    assert len(commits) <= 5  # with nothing to wait for: a few batches of up to 200
