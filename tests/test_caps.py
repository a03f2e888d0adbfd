"""Every in-memory collection that grows with input has a cap: fed more than the cap, it stays
bounded and keeps the newest or most important entries."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from core.clock import FrozenClock
from core.enums import RecoveryAction, Role
from core.exceptions import ValidationFailed
from outbox.payloads import RequestCompleted
from outbox.repository import enqueue
from outbox.sender import _Pass
from services.recovery.bulk import BulkRecovery
from services.requests import Line
from simulators.local_api import LocalBotAPI
from simulators.local_api.calllog import CallLog, CallsDropped
from simulators.local_api.wire import ApiCall
from tests.conftest import ADMIN_TG_ID, World
from tests.factories import person, stock
from tests.test_reconciliation_watch import insert_move, sql, started
from tests.unit.test_ttl_cache import Clock
from utils.circuit_breaker import CircuitBreaker, CircuitOpenError
from utils.correlation import ErrorCorrelator
from utils.healing import (
    DROPPED_NOTE,
    ExecutionStatus,
    FunctionStrategy,
    Healer,
    HealingContext,
)
from utils.rate_limit import _PRUNE_AT, RateLimiter
from utils.ttl_cache import TtlCache

# -- the healer: executions waiting for a slot ------------------------------------------------


async def test_the_healer_keeps_at_most_max_pending_waiting_and_the_most_important() -> None:
    gate = asyncio.Event()

    async def blocked(context: HealingContext) -> str:
        await gate.wait()
        return context.fingerprint

    healer = Healer(max_concurrent=1, max_pending=3, history=100)
    healer.register(FunctionStrategy("low", blocked, priority=1), ["low"])
    healer.register(FunctionStrategy("high", blocked, priority=9), ["high"])
    try:
        running = healer.submit(HealingContext("low", "running"))
        await asyncio.sleep(0)  # it takes the one slot
        flood = [healer.submit(HealingContext("low", f"f{i}")) for i in range(50)]
        assert healer.waiting() == 3
        assert [e.status for e in flood[:3]] == [ExecutionStatus.PENDING] * 3
        dropped = flood[3:]
        assert {e.status for e in dropped} == {ExecutionStatus.DROPPED}
        assert {e.error for e in dropped} == {DROPPED_NOTE}
        assert healer.dropped == 47
        # A more important one takes the place of the newest of the least important.
        urgent = healer.submit(HealingContext("high", "urgent"))
        assert urgent.status is ExecutionStatus.PENDING
        assert healer.waiting() == 3
        assert flood[2].status is ExecutionStatus.DROPPED
        assert healer.dropped == 48
        # However many came, what is remembered stays bounded: 1 running, 3 waiting, history.
        assert len(healer.executions()) <= 1 + 3 + 100
        gate.set()
        for execution in (running, flood[0], flood[1], urgent):
            assert (await healer.wait(execution.id)).status is ExecutionStatus.COMPLETED
        assert healer.waiting() == 0 and healer.in_flight() == 0
    finally:
        await healer.shutdown()


def test_the_healer_refuses_a_queue_of_nothing() -> None:
    with pytest.raises(ValueError, match="max_pending"):
        Healer(max_pending=0)


# -- bulk recovery jobs ---------------------------------------------------------------------


async def test_bulk_jobs_run_at_most_max_running_and_finished_ones_are_let_go(
    world: World, clock: FrozenClock
) -> None:
    await stock(world, ("P-1", "Paper", 10))
    await person(world, 101, Role.REQUESTER)
    await person(world, 201, Role.MANAGER)
    await world.app.users.ensure_admins()
    users = {u.telegram_id: u for u in await world.app.users.list_users()}
    request = await world.app.requests.create(users[101].id, [Line(1, 1)])
    gate = asyncio.Event()

    async def held(_seconds: float) -> None:
        await gate.wait()  # between a job's requests: the job stays running

    app = world.app
    bulk = BulkRecovery(app.sessionmaker, app.tx, app.actions, clock, sleep=held, max_running=2)
    admin, targets = users[ADMIN_TG_ID], [(request.id, request.version)] * 2
    try:
        running = [await bulk.start(admin, RecoveryAction.NUDGE, "ping", targets) for _ in "ab"]
        with pytest.raises(ValidationFailed, match="Too many bulk actions"):
            await bulk.start(admin, RecoveryAction.NUDGE, "ping", targets)
        assert bulk.running() == 2
        gate.set()
        for job in running:
            assert (await bulk.wait(job.id)).finished_at is not None
        assert bulk.running() == 0  # finished jobs are read from their rows, not held
        for _ in range(5):  # more jobs than the cap, one after another: none is refused
            job = await bulk.start(admin, RecoveryAction.NUDGE, "ping", targets)
            await bulk.wait(job.id)
        assert bulk.running() == 0
    finally:
        gate.set()
        await bulk.shutdown()


# -- the local Bot API's call list ----------------------------------------------------------


def test_the_call_log_holds_the_newest_and_counts_them_all() -> None:
    log = CallLog(keep=5)
    mark = len(log)
    for index in range(12):
        log.append(ApiCall(len(log), "sendMessage", {"chat_id": 1, "text": str(index)}, 0.0))
    assert (len(log), log.dropped) == (12, 7)
    assert [c.index for c in log.recent()] == [7, 8, 9, 10, 11]
    assert [c.index for c in log[10:]] == [10, 11]
    assert [c.index for c in log[7:9]] == [7, 8]
    assert log[-1].index == 11 and log[8].index == 8
    assert log[12:] == []
    for dropped in (lambda: log[mark:], lambda: list(log), lambda: log[2]):
        with pytest.raises(CallsDropped):  # told, never half an answer
            dropped()
    with pytest.raises(IndexError):
        log[12]


async def test_the_local_api_keeps_a_bounded_call_list_and_its_marks_work() -> None:
    token = "42:CAPS"
    async with LocalBotAPI(token) as api, aiohttp.ClientSession() as http:
        api.calls = CallLog(keep=5)
        url = f"{api.base_url}/bot{token}/getMe"
        for _ in range(8):
            async with http.post(url, json={}) as answer:
                assert answer.status == 200
        mark = api.mark()
        for _ in range(3):
            async with http.post(url, json={}) as answer:
                assert answer.status == 200
        assert len(api.calls) == api.mark() == 11  # every call counted
        assert len(api.calls.recent()) == 5  # the newest held
        assert [c.index for c in api.calls_of("getMe", since=mark)] == [8, 9, 10]
        found = await api.wait_for(lambda c: c.method == "getMe", since=mark, timeout=1)
        assert found.index == 8


# -- the outbox sender's pass ---------------------------------------------------------------


async def test_a_drain_counts_what_it_sent_without_keeping_each_outcome(world: World) -> None:
    user = await world.app.users.grant(77, Role.REQUESTER)
    async with world.app.sessionmaker() as session, session.begin():
        for index in range(30):
            await enqueue(
                session,
                recipient_id=user.id,
                payload=RequestCompleted(request_id=index, workflow="inventory_request"),
                idempotency_key=f"k{index}",
                now=world.app.clock.now(),
            )
    assert world.app.outbox is not None
    drain = _Pass(world.app.outbox, ())
    assert await drain.run() == []  # a queue of any length: nothing kept per row
    assert drain.sent == 30
    assert len(world.session.calls) >= 30  # they did go out


# -- the reconciliation watch ---------------------------------------------------------------


async def test_the_watch_reads_at_most_a_batch_of_ledger_rows_and_misses_none(
    world: World,
) -> None:
    ids = await started(world)
    watch = world.app.reconciliation._watch
    watch.batch = 3
    start = watch.watermark
    assert start is not None
    for _ in range(6):  # receipts the stock figure agrees with: nothing suspicious
        await insert_move(world, ids["A"], 1, kind="receipt")
    await sql(world, "UPDATE inventory_items SET stock = stock + 6 WHERE id = :i", i=ids["A"])
    orphan = await insert_move(world, ids["B"], -1, request_id=990001)  # the 7th row
    await sql(world, "UPDATE inventory_items SET stock = stock - 1 WHERE id = :i", i=ids["B"])
    marks, news = [], []
    for _ in range(3):
        result = await world.app.reconciliation.watch()
        marks.append(watch.watermark - start)
        news.append(result.new)
    assert marks[:2] == [3, 6]  # a batch a watch
    assert news[:2] == [frozenset(), frozenset()]
    assert news[2] == {f"orphan:tx:{orphan}"}  # the last batch: nothing was skipped


# -- the bounded-by-construction ones: fed past their bound, they hold it ---------------------


def test_the_rate_limiter_forgets_idle_chats_and_keeps_the_newest() -> None:
    clock = Clock()
    limiter = RateLimiter(30.0, 1.0, clock=clock)  # the outbox's defaults
    largest = 0
    for chat in range(3 * _PRUNE_AT):
        clock.now += 1 / 30
        assert limiter.start(chat)
        largest = max(largest, len(limiter._key_starts))
    # Idle chats go once the map is full; only the last window's chats are ever added to it.
    assert largest <= _PRUNE_AT + 31
    assert 3 * _PRUNE_AT - 1 in limiter._key_starts
    assert not limiter.start(3 * _PRUNE_AT - 1)  # the newest still limits its chat


def test_the_ttl_cache_holds_max_items_and_the_newest() -> None:
    cache: TtlCache[int, int] = TtlCache(ttl=30, max_items=100, clock=Clock())
    for key in range(1000):
        cache.put(key, key)
    assert len(cache) == 100
    assert cache.get(999) == 999 and cache.get(900) == 900 and cache.get(899) is None


def test_the_correlator_holds_max_events_and_the_newest() -> None:
    clock = Clock()
    correlator = ErrorCorrelator(window_seconds=1e6, max_events=50, clock=clock)
    for index in range(500):
        clock.now += 1
        correlator.record("system", f"fp{index % 7}" if index < 450 else "storm")
    report = correlator.report()
    assert len(correlator) == report.total == 50 and report.dropped == 450
    assert (report.dominant_fingerprint, report.dominant_count) == ("storm", 50)


async def test_the_circuit_breaker_holds_nothing_per_call_once_calls_end() -> None:
    breaker = CircuitBreaker("db", failure_threshold=1_000_000)

    async def call(fail: bool) -> None:
        async with breaker:
            await asyncio.sleep(0)
            if fail:
                raise RuntimeError("down")

    results = await asyncio.gather(*(call(i % 2 == 0) for i in range(500)), return_exceptions=True)
    assert sum(isinstance(r, RuntimeError) for r in results) == 250
    assert not any(isinstance(r, CircuitOpenError) for r in results)
    assert breaker._entered == {}  # per task while inside; nothing left behind
