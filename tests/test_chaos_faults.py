"""The chaos run's own instruments: where a kill lands, what a timeout costs, lock conflicts.

They decide what the run's figures mean, so they are held to what they claim: a kill freezes
before exactly the n-th statement, a timeout moves the simulated clock by the real bot's
wait (once for calls waiting side by side), and the database answers a lock conflict with
the code the app retries on."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiogram import Bot
from aiogram.client.session.base import DEFAULT_TIMEOUT
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramNetworkError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from database.engine import create_engine
from simulators.chaos import audit, conflicts
from simulators.chaos.freeze import StatementGate
from simulators.chaos.session import SimTimeoutSession
from simulators.chaos.simclock import SimClock
from simulators.local_api import LocalBotAPI
from simulators.local_api.wire import ApiCall
from utils.db_faults import is_transient


async def test_a_kill_freezes_the_task_just_before_its_nth_statement(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'g.sqlite3'}")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (n INTEGER)"))

        async def work() -> None:
            for n in range(1, 6):
                async with engine.begin() as conn:
                    await conn.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})

        # On SQLite each transaction's BEGIN IMMEDIATE is a statement too: 5 = the third BEGIN.
        gate = StatementGate(engine, 5)
        task = gate.task(work())
        for _ in range(2000):
            if gate.reached:
                break
            await asyncio.sleep(0.001)
        async with engine.connect() as conn:  # another task's statements are not counted
            rows = (await conn.execute(text("SELECT n FROM t ORDER BY n"))).scalars().all()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        gate.close()
    finally:
        await engine.dispose()
    assert gate.reached and gate.count == 5
    assert rows == [1, 2]  # the third transaction never began


async def test_a_timed_out_call_costs_the_real_timeout_on_the_simulated_clock() -> None:
    sim = SimClock()
    async with LocalBotAPI("42:T") as api:
        session = SimTimeoutSession(sim)
        session.timeout = 0.05  # the test's wall time; the clock still moves by aiogram's 60 s
        session.api = TelegramAPIServer.from_base(api.base_url)
        bot = Bot("42:T", session=session)
        try:
            api.fail_for(3600, 504, delay=0.3)
            calls = [bot.send_message(5, f"m{i}") for i in range(3)]
            results = await asyncio.gather(*calls, return_exceptions=True)
            api.calm()
            await bot.send_message(5, "answered")
        finally:
            await bot.session.close()
    assert all(isinstance(r, TelegramNetworkError) for r in results), results
    assert session.timeouts == 3
    assert sim.seconds == DEFAULT_TIMEOUT  # side by side: one wait, not three
    assert [c.params["text"] for c in api.calls_of("sendMessage") if c.ok] == ["answered"]


async def test_postgresql_lock_conflict_fails_the_next_writes_with_a_retried_code(
    pg_url: str,
) -> None:
    engine = create_engine(pg_url)
    failures: list[DBAPIError] = []
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE chaos_probe (n integer)"))
            await conn.execute(text("INSERT INTO chaos_probe VALUES (1)"))
        for statement in conflicts.pg_statements("40P01", 2, table="chaos_probe"):
            async with engine.begin() as conn:
                await conn.execute(text(statement))
        for _ in range(3):
            try:
                async with engine.begin() as conn:
                    await conn.execute(text("UPDATE chaos_probe SET n = n + 1"))
            except DBAPIError as exc:
                failures.append(exc)
        async with engine.connect() as conn:
            n = (await conn.execute(text("SELECT n FROM chaos_probe"))).scalar_one()
    finally:
        await engine.dispose()
    assert len(failures) == 2
    assert all(is_transient(f) for f in failures)  # the state manager retries these
    assert all(getattr(f.orig, "sqlstate", None) == "40P01" for f in failures)
    assert n == 2  # the failed writes left nothing; the third went through


def test_a_repeat_after_telegram_delivered_the_press_again_is_not_a_duplicate() -> None:
    api = LocalBotAPI("1:chaos")
    press = {"update_id": 7, "callback_query": {"id": "c", "from": {"id": 302}, "data": "x"}}

    def call(method: str, at: float, params: dict[str, object], result: object) -> None:
        done = ApiCall(len(api.calls), method, params, at, 200, {"ok": True, "result": result})
        api.calls.append(done)

    ask = {"chat_id": 302, "text": "Why do you reject request #66?"}
    notice = {"chat_id": 301, "text": "Request #5 waits for your decision"}
    call("getUpdates", 10.0, {}, [press])
    call("sendMessage", 11.0, ask, {})
    call("sendMessage", 11.0, notice, {})
    call("getUpdates", 16.0, {"offset": 7}, [press])  # the new process: the batch again
    call("sendMessage", 17.0, ask, {})
    call("sendMessage", 17.0, notice, {})  # 301 sent nothing again: a real duplicate
    assert audit.duplicates(api) == (1, 1)
