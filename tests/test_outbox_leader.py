"""One notification sender for the whole bot: of two replicas on one database only the holder of
the `outbox_sender` lease sends, so together they keep Telegram's 30/s and 1/s per chat; when the
holder stops renewing the other takes over and finishes, and a holder whose lease ran out starts
nothing more. Without a lease (SQLite, one process) the sender works as it always has."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import pairwise
from typing import Any

import pytest
from aiogram import Bot
from aiogram.methods import SendMessage, TelegramMethod
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.factory import create_app, create_bot, create_dispatcher
from core.enums import NotificationStatus
from core.settings import Settings
from database.models import JobLease, PendingNotification
from outbox.leadership import SENDER_JOB, TAKEOVER_GRACE, SenderLease, lease_seconds
from services.health import checks
from tests.conftest import World
from tests.support import db
from tests.test_outbox_pacing import FakeTime, TimedSession, most_in_any_window, write
from utils.rate_limit import RateLimiter

LEASE = lease_seconds(5.0)  # the default poll's lease, on the fake clock: 15 s
POLL = 0.01  # the run loops' poll, real seconds


@dataclass
class Log:
    """Every message either replica sent, as the strict fake Telegram judges them."""

    sends: list[tuple[float, int, str, str]] = field(default_factory=list)  # time, chat, who, text
    on_send: Callable[[str, int], None] = lambda who, n: None

    def by(self, who: str) -> list[tuple[float, int, str, str]]:
        return [s for s in self.sends if s[2] == who]


class Judged(TimedSession):
    def __init__(self, time: FakeTime, name: str, log: Log) -> None:
        super().__init__(time)
        self.name, self.log = name, log

    async def make_request(
        self, bot: Bot, method: TelegramMethod[Any], timeout: int | None = None
    ) -> Any:
        if isinstance(method, SendMessage):
            self.log.sends.append((self.time.seconds, int(method.chat_id), self.name, method.text))
            self.log.on_send(self.name, len(self.log.by(self.name)))
        return await super().make_request(bot, method, timeout)


@dataclass
class Replica:
    world: World
    lease: SenderLease
    stalled: asyncio.Event  # set: this replica's lease timer never fires again (it "died")
    task: asyncio.Task[None] | None = None


def replica(
    settings: Settings, engine: AsyncEngine, time: FakeTime, name: str, log: Log
) -> Replica:
    """A replica as bot/runner.py starts one: its own engine, bot, sender at Telegram's limits
    on the shared fake clock, and its lease (renewed every few real milliseconds)."""
    session = Judged(time, name, log)
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
    stalled = asyncio.Event()

    async def tick(seconds: float) -> None:
        await asyncio.sleep(0.002)
        if stalled.is_set():
            await asyncio.Event().wait()  # never again: no renewal, no release

    lease = SenderLease(app.sessionmaker, time, name, LEASE, sleep=tick)
    world = World(app=app, bot=bot, dp=create_dispatcher(app), session=session)
    return Replica(world, lease, stalled)


@pytest.fixture
def time() -> FakeTime:
    return FakeTime()


@pytest.fixture
async def pair(
    settings: Settings, engine: AsyncEngine, time: FakeTime
) -> AsyncIterator[tuple[Replica, Replica, Log]]:
    """Two replicas on one database (two engines), each with its own sender and lease."""
    log = Log()
    second: AsyncEngine = db.new_engine(engine.url.render_as_string(False))
    a = replica(settings, engine, time, "replica-a", log)
    b = replica(settings, second, time, "replica-b", log)
    yield a, b, log
    tasks = [r.task for r in (a, b) if r.task is not None]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for r in (a, b):
        await r.world.app.healer.shutdown()
        await r.world.app.bulk.shutdown()
        await r.world.dp.storage.close()
    await second.dispose()


async def statuses(world: World) -> Counter[NotificationStatus]:
    async with world.app.sessionmaker() as session:
        rows = (await session.execute(select(PendingNotification))).unique().scalars().all()
    return Counter(NotificationStatus(r.status) for r in rows)


async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    for _ in range(3000):
        if await check():
            return
        await asyncio.sleep(0.002)
    raise AssertionError(f"never happened: {what}")


def start(*replicas: Replica) -> None:
    for r in replicas:
        r.task = asyncio.create_task(r.world.app.sender.run(POLL, r.lease))


async def leader_of(a: Replica, b: Replica, time: FakeTime) -> tuple[Replica, Replica]:
    """Wait for one to take the lease, then let its take-over grace pass."""

    async def taken() -> bool:
        return a.lease.holds() or b.lease.holds()

    await until(taken, "a replica took the sender's lease")
    time.seconds += TAKEOVER_GRACE
    leader, other = (a, b) if a.lease.holds() else (b, a)
    leader.world.app.sender.kick()
    return leader, other


def judge(log: Log) -> None:
    """Telegram's limits, strictly: at most 30 in any one-second window, one a second per chat."""
    times = [t for t, _, _, _ in log.sends]
    assert most_in_any_window(times, 1.0) <= 30
    per_chat: dict[int, list[float]] = {}
    for t, chat, _, _ in log.sends:
        per_chat.setdefault(chat, []).append(t)
    for chat_times in per_chat.values():
        assert all(later - first >= 1.0 for first, later in pairwise(chat_times))


CHATS = [1000 + n % 100 for n in range(200)]  # 200 notifications, two to each of 100 chats


async def test_two_replicas_send_200_notifications_once_from_one_sender_within_the_limits(
    pair: tuple[Replica, Replica, Log], time: FakeTime
) -> None:
    a, b, log = pair
    await write(a.world, CHATS)
    start(a, b)
    leader, other = await leader_of(a, b, time)

    async def all_sent() -> bool:
        return await statuses(a.world) == Counter({NotificationStatus.SENT: 200})

    await until(all_sent, "all 200 sent")
    assert len(log.sends) == 200
    assert len({(chat, text) for _, chat, _, text in log.sends}) == 200  # each one once
    assert {who for _, _, who, _ in log.sends} == {leader.lease.holder}
    assert other.world.session.calls_of(SendMessage) == []
    judge(log)  # the strict fake had no reason for a 429
    assert time.seconds == pytest.approx(TAKEOVER_GRACE + 199 / 30, abs=1.0)  # at 30/s


async def test_the_other_replica_takes_over_when_the_sender_dies_and_finishes_the_drain(
    pair: tuple[Replica, Replica, Log], time: FakeTime
) -> None:
    """The holder stops renewing after its 50th send (its clock jumps past the lease): it
    starts nothing more, the other takes the lease and sends the rest, each once."""
    a, b, log = pair
    await write(a.world, CHATS)
    died_at: list[float] = []

    def die(who: str, n: int) -> None:
        if n == 50 and not died_at:
            leader = a if who == a.lease.holder else b
            leader.stalled.set()
            time.seconds += LEASE + 1  # the lease runs out before anything else happens
            died_at.append(time.seconds)

    log.on_send = die
    start(a, b)
    leader, other = await leader_of(a, b, time)

    async def taken_over() -> bool:
        return other.lease.holds()

    await until(taken_over, "the other replica took the lease")
    time.seconds += TAKEOVER_GRACE
    other.world.app.sender.kick()

    async def all_sent() -> bool:
        return await statuses(a.world) == Counter({NotificationStatus.SENT: 200})

    await until(all_sent, "all 200 sent after the take-over")
    assert not leader.lease.holds()
    first, second = log.by(leader.lease.holder), log.by(other.lease.holder)
    assert len(first) >= 50 and len(first) + len(second) == 200
    assert all(t < died_at[0] for t, _, _, _ in first)  # nothing started after it lost
    assert all(t >= died_at[0] + TAKEOVER_GRACE for t, _, _, _ in second)
    assert len({(chat, text) for _, chat, _, text in log.sends}) == 200
    judge(log)
    # The dead holder's loop keeps polling, and sends nothing: it is not the sender.
    assert await leader.world.app.sender.flush() == 0
    assert len(log.by(leader.lease.holder)) == len(first)


async def test_a_replica_that_is_not_the_sender_sends_nothing_and_leaves_retries_due(
    pair: tuple[Replica, Replica, Log], time: FakeTime
) -> None:
    """An admin's "retry now" on a replica that is not the sender: the rows stay due for the
    sender's next poll, nothing goes out from here (one budget for the bot)."""
    a, b, log = pair
    await write(a.world, CHATS[:3])
    assert await a.lease.hold()
    time.seconds += TAKEOVER_GRACE
    assert not await b.lease.hold()
    b.world.app.sender.lease = b.lease
    a.world.app.sender.lease = a.lease
    async with a.world.app.sessionmaker() as session:
        ids = list(await session.scalars(select(PendingNotification.id)))
    assert await b.world.app.sender.flush() == 0
    assert await b.world.app.sender.send_now(ids) == []
    assert log.sends == []
    assert await statuses(a.world) == Counter({NotificationStatus.PENDING: 3})
    assert [o.status for o in await a.world.app.sender.send_now(ids)] == [
        NotificationStatus.SENT
    ] * 3
    assert {who for _, _, who, _ in log.sends} == {"replica-a"}


async def test_the_lease_is_taken_renewed_refused_taken_over_and_released(
    pair: tuple[Replica, Replica, Log], time: FakeTime
) -> None:
    a, b, _ = pair
    assert await a.lease.hold()
    since = a.lease.since
    assert not a.lease.ready()  # the take-over's grace
    time.seconds += TAKEOVER_GRACE
    assert a.lease.ready()
    assert not await b.lease.hold()
    time.seconds += LEASE / 3
    assert await a.lease.hold() and a.lease.since == since  # a renewal keeps the holding
    time.seconds += LEASE - 0.5
    assert a.lease.holds() and not await b.lease.hold()  # renewed: not run out yet
    time.seconds += 1
    assert not a.lease.holds()  # ran out by its own clock: it stops, renewed or not
    assert await b.lease.hold()
    assert not await a.lease.hold()
    async with a.world.app.sessionmaker() as session:
        row = await session.get(JobLease, SENDER_JOB)
    assert row is not None and (row.holder, row.runs) == ("replica-b", 2)
    # Health names the sender, from any replica.
    s = a.world.app.settings.health
    queue = await checks.check_queue(a.world.app.sessionmaker, s, time.now())
    assert queue.details["sender"] == "replica-b"
    await b.lease.release()  # shutting down: the other takes it at its next try
    queue = await checks.check_queue(a.world.app.sessionmaker, s, time.now())
    assert queue.details["sender"] is None
    assert await a.lease.hold()


async def test_one_process_with_the_lease_drains_as_always(
    settings: Settings, engine: AsyncEngine, time: FakeTime
) -> None:
    """A single replica always gets the lease and delivers everything."""
    log = Log()
    one = replica(settings, engine, time, "only", log)
    await write(one.world, CHATS[:20])
    start(one)
    try:

        async def taken() -> bool:
            return one.lease.holds()

        await until(taken, "the lease taken")
        time.seconds += TAKEOVER_GRACE
        one.world.app.sender.kick()

        async def all_sent() -> bool:
            return await statuses(one.world) == Counter({NotificationStatus.SENT: 20})

        await until(all_sent, "all 20 sent")
    finally:
        assert one.task is not None
        one.task.cancel()
        await asyncio.gather(one.task, return_exceptions=True)
        await one.world.app.healer.shutdown()
        await one.world.app.bulk.shutdown()
        await one.world.dp.storage.close()
    assert len(log.sends) == 20
    async with one.world.app.sessionmaker() as session:
        row = await session.get(JobLease, SENDER_JOB)
    assert row is not None and row.leased_until == time.now()  # released on the way out
    assert timedelta(0) <= time.now() - row.last_run_started


async def test_without_a_lease_the_sender_sends_as_it_always_has(
    settings: Settings, engine: AsyncEngine, time: FakeTime
) -> None:
    log = Log()
    one = replica(settings, engine, time, "only", log)
    await write(one.world, CHATS[:5])
    assert one.world.app.sender.leading()
    assert await one.world.app.sender.flush() == 5
    await one.world.app.healer.shutdown()
    await one.world.app.bulk.shutdown()
    await one.world.dp.storage.close()
