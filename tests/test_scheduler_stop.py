"""SIGTERM while a job runs: the scheduler's stop lets the job end within its grace, cancels it
past that with one log line (no "raised an exception" traceback), and returns only when the
run has unwound, before the runner closes the database under it."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.scheduler import create_scheduler, guarded
from tests.conftest import World


async def start_job(world: World, work: object) -> tuple[object, asyncio.Event]:
    scheduler = create_scheduler(world.app)
    for job in scheduler.get_jobs():
        job.pause()  # only the job under test runs
    started = asyncio.Event()

    async def job() -> None:
        started.set()
        await work()  # type: ignore[operator]

    scheduler.add_job(guarded(world.app, "slow", job, in_flight=scheduler.in_flight), id="slow")
    scheduler.start()
    await asyncio.wait_for(started.wait(), 2)
    return scheduler, started


async def test_a_job_in_flight_ends_within_the_grace(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    done = []

    async def work() -> None:
        await asyncio.sleep(0.05)
        done.append("finished")

    scheduler, _ = await start_job(world, work)
    await scheduler.stop(grace=2)  # type: ignore[attr-defined]
    assert done == ["finished"]
    assert not scheduler.in_flight  # type: ignore[attr-defined]
    assert "raised an exception" not in caplog.text


async def test_a_job_past_the_grace_is_cancelled_cleanly(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    unwound = []

    async def work() -> None:
        try:
            await asyncio.sleep(60)
        finally:
            unwound.append("cleaned up")

    scheduler, _ = await start_job(world, work)
    await scheduler.stop(grace=0.1)  # type: ignore[attr-defined]
    assert unwound == ["cleaned up"]  # unwound before stop returned
    assert not scheduler.in_flight  # type: ignore[attr-defined]
    assert "job slow stopped after" in caplog.text
    assert "raised an exception" not in caplog.text
    assert "Traceback" not in caplog.text
