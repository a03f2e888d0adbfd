"""The outbox sender against a local fake Bot API: 429, 5xx, blocked, slow answers, crashes,
two senders sharing PostgreSQL."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.factory import App, create_app, create_bot
from core.clock import FrozenClock
from core.context import HANDLING_UPDATE
from core.enums import DeadReason, NotificationStatus
from core.settings import Settings
from database.models import PendingNotification, User
from outbox.outcomes import Change
from outbox.payloads import RequestCompleted
from outbox.repository import enqueue
from outbox.sender import BATCH_SIZE, CONCURRENCY, OutboxSender
from simulators.local_api import LocalBotAPI
from tests.support import db
from utils.rate_limit import RateLimiter

TOKEN = "123456:FAKE"


@pytest.fixture
async def api() -> AsyncIterator[LocalBotAPI]:
    async with LocalBotAPI(TOKEN) as server:
        yield server


@pytest.fixture
async def app(
    api: LocalBotAPI, settings: Settings, engine: AsyncEngine, clock: FrozenClock
) -> AsyncIterator[App]:
    app = make_app(api, settings, engine, clock)
    yield app
    await app.healer.shutdown()
    await app.outbox.bot.session.close()


def make_app(
    api: LocalBotAPI,
    settings: Settings,
    engine: AsyncEngine,
    clock: FrozenClock,
    *,
    real_time_limits: bool = False,
) -> App:
    live = settings.model_copy(
        update={
            "bot_token": SecretStr(TOKEN),
            "telegram": settings.telegram.model_copy(update={"api_url": api.base_url}),
        }
    )
    app = create_app(live, create_bot(live), clock=clock, engine=engine)
    app.outbox.random = lambda: 0.5  # the exact backoff schedule
    if not real_time_limits:
        # A 429's pause follows the frozen clock, so the test moves time instead of waiting.
        app.outbox.limiter = RateLimiter(
            live.outbox.rate_per_second,
            live.outbox.per_chat_per_second,
            clock=lambda: clock.now().timestamp(),
            spread=False,  # the frozen clock allows a burst, never a spread-out start
        )
    return app


async def write(app: App, count: int, *, chats: int = 1, first_chat: int = 500) -> None:
    async with app.sessionmaker() as session, session.begin():
        for chat in range(chats):
            session.add(
                User(
                    telegram_id=first_chat + chat, full_name=f"U{chat}", created_at=app.clock.now()
                )
            )
    async with app.sessionmaker() as session, session.begin():
        users = list(
            (await session.execute(select(User).where(User.telegram_id >= first_chat))).scalars()
        )
        for n in range(count):
            await enqueue(
                session,
                recipient_id=users[n % len(users)].id,
                payload=RequestCompleted(request_id=n + 1, workflow="inventory_request"),
                idempotency_key=f"k{n}",
                now=app.clock.now(),
            )


async def rows(app: App) -> list[PendingNotification]:
    async with app.sessionmaker() as session:
        found = await session.execute(select(PendingNotification).order_by(PendingNotification.id))
        return list(found.unique().scalars())


def sent_texts(api: LocalBotAPI) -> list[str]:
    return [c.text for c in api.calls_of("sendMessage") if c.ok]


async def test_429_waits_exactly_retry_after_and_uses_no_attempt(
    api: LocalBotAPI, app: App, clock: FrozenClock
) -> None:
    await write(app, 1)
    api.fail_next("sendMessage", 429, retry_after=17)
    assert await app.outbox.flush() == 0
    [row] = await rows(app)
    assert (row.status, row.attempts, row.claimed_by) == (NotificationStatus.PENDING, 0, None)
    assert row.next_attempt_at == clock.now() + timedelta(seconds=17)
    assert row.last_error is not None
    assert row.last_error.startswith("TelegramRetryAfter: Telegram server says - Flood control")
    clock.advance(timedelta(seconds=16))
    assert await app.outbox.flush() == 0
    clock.advance(timedelta(seconds=1))
    assert await app.outbox.flush() == 1
    assert sent_texts(api) == ["Request #1 is completed."]


async def test_5xx_backs_off_exponentially_then_dies(
    api: LocalBotAPI, app: App, clock: FrozenClock
) -> None:
    await write(app, 1)
    api.fail_next("sendMessage", 502, "Bad Gateway", times=5)
    delays = []
    for attempt in range(1, 6):
        before = clock.now()
        assert await app.outbox.flush() == 0
        [row] = await rows(app)
        assert row.attempts == attempt
        if attempt < 5:
            assert row.status is NotificationStatus.RETRYING
            delays.append((row.next_attempt_at - before).total_seconds())
            clock.advance(row.next_attempt_at - before)
    assert delays == [30.0, 60.0, 120.0, 240.0]
    assert (row.status, row.dead_reason) == (
        NotificationStatus.DEAD,
        DeadReason.ATTEMPTS_EXHAUSTED,
    )
    assert row.last_error is not None and "Bad Gateway" in row.last_error
    clock.advance(timedelta(days=1))
    assert await app.outbox.flush() == 0
    assert len(api.calls_of("sendMessage")) == 5


async def test_blocked_is_dead_at_once_and_the_user_unreachable(
    api: LocalBotAPI, app: App, clock: FrozenClock
) -> None:
    await write(app, 2, chats=2)
    api.fail_next(
        "sendMessage",
        403,
        "Forbidden: bot was blocked by the user",
        match=lambda p: p["chat_id"] == 500,
    )
    api.fail_next(
        "sendMessage", 400, "Bad Request: chat not found", match=lambda p: p["chat_id"] == 501
    )
    assert await app.outbox.flush() == 0
    first, second = await rows(app)
    assert (first.status, first.dead_reason, first.attempts) == (
        NotificationStatus.DEAD,
        DeadReason.BLOCKED,
        1,
    )
    assert (second.status, second.dead_reason) == (
        NotificationStatus.DEAD,
        DeadReason.CHAT_NOT_FOUND,
    )
    async with app.sessionmaker() as session:
        users = (await session.execute(select(User).order_by(User.telegram_id))).scalars().all()
        assert [(u.unreachable_since, u.is_active) for u in users] == [(clock.now(), True)] * 2


async def test_slow_answers_are_still_recorded_once(api: LocalBotAPI, app: App) -> None:
    api.latency = 0.05
    await write(app, 6, chats=6)
    assert await app.outbox.flush() == 6
    assert sorted(sent_texts(api)) == sorted(f"Request #{n} is completed." for n in range(1, 7))
    assert {r.status for r in await rows(app)} == {NotificationStatus.SENT}


async def test_killed_mid_batch_loses_nothing(
    api: LocalBotAPI, app: App, clock: FrozenClock, settings: Settings, engine: AsyncEngine
) -> None:
    await write(app, 40, chats=40)
    # The process dies while exactly 10 rows went out and the next sends hang mid-request.
    hang = asyncio.Event()
    delivered: list[int] = []
    deliver = app.outbox.deliver

    async def deliver_then_hang(row: PendingNotification) -> Change | None:
        if len(delivered) >= 10:
            await hang.wait()  # never set: these requests never reach Telegram
        delivered.append(row.id)
        return await deliver(row)

    app.outbox.deliver = deliver_then_hang  # type: ignore[method-assign]
    task = asyncio.create_task(app.outbox.flush())
    await api.wait_for(lambda _: len(sent_texts(api)) == 10, timeout=5, what="10 sends")
    while len(app.outbox.limiter._starts) < 10 + CONCURRENCY:  # the hung ones have started
        await asyncio.sleep(0.001)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # What was sent is recorded; what hung stays claimed, what was never tried is released.
    statuses = Counter((r.status, r.claimed_by is not None) for r in await rows(app))
    assert statuses == {
        (NotificationStatus.SENT, False): 10,
        (NotificationStatus.PENDING, True): CONCURRENCY,
        (NotificationStatus.PENDING, False): 40 - 10 - CONCURRENCY,
    }
    # A new process: its own engine and breakers, the same database.
    fresh = db.new_engine(engine.url.render_as_string(hide_password=False))
    successor = make_app(api, settings, fresh, clock)
    try:
        assert await successor.outbox.flush() == 40 - 10 - CONCURRENCY
        # The hung rows' claims expire; then the successor takes them over too.
        clock.advance(timedelta(seconds=settings.outbox.claim_seconds + 1))
        assert await successor.outbox.flush() == CONCURRENCY
        assert {r.status for r in await rows(successor)} == {NotificationStatus.SENT}
    finally:
        await successor.healer.shutdown()
        await successor.outbox.bot.session.close()
        await fresh.dispose()
    texts = sent_texts(api)
    assert sorted(texts) == sorted(f"Request #{n} is completed." for n in range(1, 41))


# Several processes share one PostgreSQL database; on SQLite one process is the supported setup.
@pytest.mark.parametrize("backend", ["postgresql"])
async def test_two_senders_never_send_a_row_twice(
    api: LocalBotAPI,
    app: App,
    clock: FrozenClock,
    settings: Settings,
    engine: AsyncEngine,
    backend: str,
) -> None:
    assert backend == "postgresql"
    api.latency = 0.01
    await write(app, 2 * BATCH_SIZE, chats=2 * BATCH_SIZE)  # more than one sender's claim
    other = make_app(api, settings, engine, clock)
    assert isinstance(other.outbox, OutboxSender)
    try:
        a, b = await asyncio.gather(app.outbox.flush(), other.outbox.flush())
    finally:
        await other.healer.shutdown()
        await other.outbox.bot.session.close()
    texts = sent_texts(api)
    assert (a + b, len(texts), len(set(texts))) == (2 * BATCH_SIZE,) * 3
    assert a > 0 and b > 0


async def test_breaker_open_sends_nothing_and_keeps_every_row(
    api: LocalBotAPI, app: App, clock: FrozenClock
) -> None:
    await write(app, 3, chats=3)
    api.fail_next("sendMessage", 502, "Bad Gateway", times=100)
    breaker = app.telegram_breaker
    for _ in range(settings_failures(app)):
        breaker.record_failure()
    before = len(api.calls)
    assert await app.outbox.flush() == 0
    assert len(api.calls) == before
    assert [(r.status, r.attempts, r.claimed_by) for r in await rows(app)] == [
        (NotificationStatus.PENDING, 0, None)
    ] * 3


def settings_failures(app: App) -> int:
    return app.settings.telegram.breaker_failures


async def test_burst_drains_at_the_limit_without_429(
    api: LocalBotAPI, settings: Settings, engine: AsyncEngine, clock: FrozenClock
) -> None:
    api.limits = (30, 1)
    limited = settings.model_copy(
        update={
            "outbox": settings.outbox.model_copy(
                update={"rate_per_second": 30.0, "per_chat_per_second": 1.0}
            )
        }
    )
    app = make_app(api, limited, engine, clock, real_time_limits=True)
    try:
        await write(app, 12, chats=6)  # two per chat: the second waits a second
        assert await app.outbox.flush() == 12
    finally:
        await app.healer.shutdown()
        await app.outbox.bot.session.close()
    assert api.limited == []
    assert len(sent_texts(api)) == 12


async def test_a_send_started_inside_an_update_keeps_the_senders_429_policy(
    api: LocalBotAPI, app: App, clock: FrozenClock
) -> None:
    # An admin's "retry now" runs inside an update, where replies that get a 429 are waited
    # for and sent again; the outbox's own sends must not be: one call, the wait on the row.
    await write(app, 1)
    [row] = await rows(app)
    api.fail_next("sendMessage", 429, retry_after=1)
    token = HANDLING_UPDATE.set(True)
    try:
        assert await app.outbox.send_now([row.id]) == []  # a 429 is a wait, not an outcome
    finally:
        HANDLING_UPDATE.reset(token)
    assert [c.status for c in api.calls_of("sendMessage")] == [429]
    [row] = await rows(app)
    assert (row.status, row.attempts) == (NotificationStatus.PENDING, 0)
    assert row.next_attempt_at == clock.now() + timedelta(seconds=1)
    assert app.outbox.limiter.paused_for() > 0
