"""Scheduled jobs on several replicas: each exclusive job runs once per interval across all of
them (its lease in `job_leases`), the next interval runs on another replica when the holder
dies, and health names the last run's replica and result. One process runs every interval."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.scheduler import create_scheduler, guarded, job_specs
from core.clock import FrozenClock
from core.enums import HealthComponent
from core.settings import Settings
from database.models import JobLease, SystemHealthSnapshot
from database.repositories.jobs import JobLeaseRepository
from services.health.jobs import JobOutcome, JobResult
from tests.conftest import World, make_world
from tests.support import db

A, B = "host-a:101:aaaaaa", "host-b:202:bbbbbb"


@pytest.fixture
async def other(world: World, settings: Settings, clock: FrozenClock) -> AsyncIterator[World]:
    """A second replica: its own app and engine on the same database, the same clock."""
    engine: AsyncEngine = db.new_engine(world.app.engine.url.render_as_string(False))
    replica = make_world(settings, engine, clock)
    yield replica
    await replica.app.healer.shutdown()
    await replica.app.bulk.shutdown()
    await replica.dp.storage.close()
    await engine.dispose()


def run_of(world: World, job_id: str, replica: str | None = None) -> Callable[[], Awaitable[Any]]:
    scheduler = (
        create_scheduler(world.app) if replica is None else create_scheduler(world.app, replica)
    )
    return scheduler.get_job(job_id).func  # type: ignore[no-any-return]


async def snapshots(world: World) -> int:
    async with world.app.sessionmaker() as session:
        return int(
            await session.scalar(select(func.count()).select_from(SystemHealthSnapshot)) or 0
        )


async def lease(world: World, job: str) -> JobLease | None:
    async with world.app.sessionmaker() as session:
        return await session.get(JobLease, job)


async def test_two_replicas_store_one_health_snapshot_per_interval(
    world: World, other: World, clock: FrozenClock
) -> None:
    """The issue's run: two replicas' timers a second apart stored 20 snapshots where 11 were
    due. Now each interval stores one, whichever replica comes first."""
    interval = timedelta(minutes=world.app.settings.health.snapshot_minutes)
    first, second = run_of(world, "health_snapshot", A), run_of(other, "health_snapshot", B)
    for _ in range(5):
        await first()
        clock.advance(timedelta(seconds=1))
        await second()
        clock.advance(interval - timedelta(seconds=1))
    assert await snapshots(world) == 5


async def test_every_exclusive_job_runs_once_per_interval_across_two_replicas(
    world: World, other: World, clock: FrozenClock
) -> None:
    """Both replicas try every job at the same moment, racing, over four intervals: each
    exclusive job ran four times in all; the per-process jobs ran in both replicas."""
    specs = {spec.job_id: spec for spec in job_specs(world.app)}
    runs = {replica: create_scheduler(w.app, replica) for replica, w in ((A, world), (B, other))}
    for job_id, spec in specs.items():
        outcomes: Counter[JobResult] = Counter()
        for _ in range(4):
            tries = [runs[r].get_job(job_id).func() for r in (A, B)]
            done: list[JobOutcome] = await asyncio.gather(*tries)
            outcomes.update(outcome.result for outcome in done)
            clock.advance(timedelta(seconds=spec.interval_seconds))
        if spec.exclusive:
            assert outcomes == {JobResult.OK: 4, JobResult.SKIPPED: 4}, job_id
            row = await lease(world, job_id)
            assert row is not None and row.runs == 4, job_id
        else:
            assert outcomes == {JobResult.OK: 8}, job_id
            assert await lease(world, job_id) is None
    assert await snapshots(world) == 4


async def test_the_next_interval_runs_on_another_replica_when_the_holder_dies(
    world: World, other: World, clock: FrozenClock
) -> None:
    interval = timedelta(minutes=world.app.settings.stuck_check_minutes)
    on_a, on_b = run_of(world, "detect_stuck", A), run_of(other, "detect_stuck", B)
    assert (await on_a()).result is JobResult.OK
    clock.advance(timedelta(seconds=1))
    assert (await on_b()).result is JobResult.SKIPPED
    # A dies in its next run: it took the lease and never wrote an outcome.
    clock.advance(interval - timedelta(seconds=1))
    async with world.app.sessionmaker() as session, session.begin():
        assert await JobLeaseRepository(session).acquire("detect_stuck", A, clock.now(), interval)
    clock.advance(timedelta(seconds=1))
    assert (await on_b()).result is JobResult.SKIPPED  # A's run may still be going
    # The lease lasts one interval: B's timer at the next interval runs it.
    clock.advance(interval)
    assert (await on_b()).result is JobResult.OK
    row = await lease(world, "detect_stuck")
    assert row is not None
    assert (row.last_runner, row.last_result, row.runs) == (B, "ok", 3)
    # A run that outlived its lease writes nothing over B's.
    async with world.app.sessionmaker() as session, session.begin():
        late = clock.now() - interval - timedelta(seconds=1)
        assert not await JobLeaseRepository(session).finish(
            "detect_stuck", A, late, clock.now(), "failed", "too late"
        )
    assert (await lease(world, "detect_stuck")).last_result == "ok"  # type: ignore[union-attr]


async def test_racing_acquires_give_the_interval_to_exactly_one(
    world: World, other: World, clock: FrozenClock
) -> None:
    """Twenty takes at one instant from two apps' connection pools: one wins, on both engines;
    then nobody until the interval is (nearly) over."""
    interval = timedelta(seconds=15)

    async def take(w: World, holder: str) -> bool:
        async with w.app.sessionmaker() as session, session.begin():
            repo = JobLeaseRepository(session)
            return await repo.acquire("cleanup", holder, clock.now(), interval) is not None

    for _ in range(3):
        won = await asyncio.gather(
            *(take(w, f"{h}:{i}") for i in range(10) for w, h in ((world, A), (other, B)))
        )
        assert sum(won) == 1
        clock.advance(interval * 0.5)
        assert not await take(other, B)  # the winner never wrote its outcome: lease holds
        clock.advance(interval * 0.5)
    row = await lease(world, "cleanup")
    assert row is not None and row.runs == 3


async def test_the_replica_that_ran_a_job_may_run_it_again_another_may_not(
    world: World, other: World, clock: FrozenClock
) -> None:
    """One process runs a job whenever it is called (its timer, or a start-up call), as it
    always has; a second replica gets the next interval only."""
    on_a, on_b = run_of(world, "cleanup", A), run_of(other, "cleanup", B)
    assert [(await run()).result for run in (on_a, on_a, on_b, on_a)] == [
        JobResult.OK,
        JobResult.OK,
        JobResult.SKIPPED,
        JobResult.OK,
    ]
    row = await lease(world, "cleanup")
    assert row is not None and (row.runs, row.last_runner) == (3, A)


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_one_process_runs_every_interval_even_a_little_early(
    world: World, clock: FrozenClock, backend: str
) -> None:
    interval = timedelta(minutes=world.app.settings.health.snapshot_minutes)
    run = run_of(world, "health_snapshot")
    for _ in range(3):
        assert (await run()).result is JobResult.OK
        clock.advance(interval * 0.95)  # the timer drifts a little early: still due
    assert await snapshots(world) == 3


async def test_health_names_the_replica_and_result_of_the_last_run(
    world: World, other: World, clock: FrozenClock
) -> None:
    from core.i18n import create_i18n
    from handlers.admin.health.texts import component_line

    async def boom() -> None:
        raise RuntimeError("disk full")

    create_scheduler(other.app, B)  # B watches the jobs; A runs cleanup, and it fails
    failed = guarded(world.app, "cleanup", boom, exclusive=True, interval_seconds=3600, replica=A)
    assert (await failed()).result is JobResult.FAILED
    clock.advance(timedelta(seconds=30))
    component = (await other.app.health.check()).get(HealthComponent.SCHEDULER)
    [job] = [j for j in component.details["jobs"] if j["id"] == "cleanup"]
    assert (job["runner"], job["result"], job["message"]) == (
        A,
        "failed",
        "RuntimeError: disk full",
    )
    assert job["last_run"] == (clock.now() - timedelta(seconds=30)).isoformat()
    assert component.details["failing"] == 1  # B's health sees A's failure
    i18n = create_i18n("en")
    with i18n.context(), i18n.use_locale("en"):
        line = component_line(component)
    assert (
        "    · cleanup: last run 12:00 on host-a:101:aaaaaa (failed: RuntimeError: disk full)"
        in line
    )
    # A job no replica has run yet, and a per-process one, read as before.
    assert "    · outbox: last run never (-), next never, 0 misfire(s)" in line
