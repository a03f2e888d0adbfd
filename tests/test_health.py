"""Health: every component turning degraded and unhealthy, the roll-up, snapshots with
alert-once and recovery, retention, the scheduler's job monitor and the advisory lock."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiogram.methods import SendMessage
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.scheduler import create_scheduler, guarded
from core.clock import FrozenClock
from core.enums import (
    ErrorCategory,
    ErrorSeverity,
    HealthComponent,
    HealthStatus,
    NotificationStatus,
)
from core.settings import HealthSettings, Settings
from database.locks import try_lock
from database.models import (
    ErrorOccurrence,
    ErrorRecord,
    PendingNotification,
    SystemHealthSnapshot,
    User,
)
from services.health import checks
from services.health.jobs import JobMonitor, JobOutcome, JobResult
from services.health.model import Component, Report, grade, worst
from services.retention import cleanup
from tests.conftest import ADMIN_TG_ID, World, make_world
from tests.support import db

H, D, U, X = (
    HealthStatus.HEALTHY,
    HealthStatus.DEGRADED,
    HealthStatus.UNHEALTHY,
    HealthStatus.UNKNOWN,
)


def tuned(settings: Settings, **thresholds: tuple[float, float]) -> HealthSettings:
    return settings.health.model_copy(update=thresholds)


def timer(*readings: float) -> Any:
    values: Iterator[float] = iter(readings)
    return lambda: next(values)


async def admin_id(world: World) -> int:
    await world.app.users.ensure_admins()
    async with world.app.sessionmaker() as session:
        user = await session.scalar(select(User).where(User.telegram_id == ADMIN_TG_ID))
        assert user is not None
        return user.id


@pytest.fixture(autouse=True)
def steady_database(request: pytest.FixtureRequest) -> None:
    """A machine under load may take 200 ms for SELECT 1; only the latency test measures."""
    if "world" in request.fixturenames:
        world: World = request.getfixturevalue("world")
        world.app.health.timer = lambda: 0.0


# -- grading and roll-up --------------------------------------------------------------------


def test_grade_uses_both_bounds_inclusively() -> None:
    assert [grade(v, (5, 20)) for v in (0, 4.9, 5, 19, 20, 500)] == [H, H, D, D, U, U]


def test_roll_up_is_the_worst_counted_component() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)

    def report(*statuses: HealthStatus) -> Report:
        return Report(now, tuple(Component(f"c{i}", s, 1) for i, s in enumerate(statuses)))

    assert report(H, H, X).status is H  # unknown is not counted
    assert report(H, D, X).status is D
    assert report(D, U, H).status is U
    assert report(X, X).status is H
    assert worst() is H


# -- each component -------------------------------------------------------------------------


async def test_database_latency_grades(world: World, settings: Settings) -> None:
    sm = world.app.sessionmaker
    fast = await checks.check_database(sm, settings.health, timer(0.0, 0.05))
    slow = await checks.check_database(sm, settings.health, timer(0.0, 0.3))
    dead_slow = await checks.check_database(sm, settings.health, timer(0.0, 1.2))
    assert (fast.status, fast.value) == (H, 50.0)
    assert (slow.status, slow.value) == (D, 300.0)
    assert (dead_slow.status, dead_slow.value) == (U, 1200.0)


async def test_database_unreachable_is_unhealthy(settings: Settings, tmp_path: Any) -> None:
    from database.engine import create_engine, create_sessionmaker

    # A PostgreSQL port nobody listens on.
    engine = create_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    try:
        component = await checks.check_database(create_sessionmaker(engine), settings.health)
    finally:
        await engine.dispose()
    assert component.status is U and component.value is None
    assert component.details["error"]


async def test_telegram_breaker_and_latency(world: World, settings: Settings) -> None:
    breaker = world.app.telegram_breaker
    latency = world.app.telegram_latency
    assert checks.check_telegram(breaker, latency, settings.health).status is H
    latency.observe(2.0)  # 2000 ms against (1500, 5000)
    component = checks.check_telegram(breaker, latency, settings.health)
    assert (component.status, component.value) == (D, 2000.0)
    latency.observe(30.0)
    assert checks.check_telegram(breaker, latency, settings.health).status is U
    fresh = type(latency)()
    for _ in range(settings.telegram.breaker_failures):
        breaker.record_failure()
    component = checks.check_telegram(breaker, fresh, settings.health)
    assert (component.status, component.details["state"]) == (U, "open")
    assert checks.check_telegram(None, None, settings.health).status is X


def test_scheduler_failed_and_overdue_jobs(settings: Settings, clock: FrozenClock) -> None:
    monitor = JobMonitor(clock, settings.job_misfire_grace_seconds)
    assert (
        checks.check_scheduler(monitor, settings.health, clock.now()).status is X
    )  # not attached
    next_runs = {"a": clock.now() + timedelta(seconds=60), "b": clock.now(), "c": clock.now()}
    for job in next_runs:
        monitor.watch(job, 60)
    monitor.attach(next_runs.get)
    assert checks.check_scheduler(monitor, settings.health, clock.now()).status is H
    monitor.finished("a", JobOutcome(JobResult.FAILED, 0.1))
    component = checks.check_scheduler(monitor, settings.health, clock.now())
    assert (component.status, component.value) == (D, 1)
    assert component.details["jobs"][0]["result"] == "failed"
    for job in ("b", "c"):
        monitor.finished(job, JobOutcome(JobResult.FAILED, 0.1))
    assert checks.check_scheduler(monitor, settings.health, clock.now()).status is U  # 3 failing
    for job in ("a", "b", "c"):
        monitor.finished(job, JobOutcome(JobResult.OK, 0.1))
    assert checks.check_scheduler(monitor, settings.health, clock.now()).status is H
    # A job whose next run is far behind (3 intervals + the grace) has stopped running.
    later = clock.now() + timedelta(seconds=60 * 3 + settings.job_misfire_grace_seconds + 1)
    component = checks.check_scheduler(monitor, settings.health, later)
    assert (component.status, component.details["overdue"]) == (U, 2)


async def add_notifications(world: World, count: int, status: NotificationStatus) -> None:
    recipient = await admin_id(world)
    async with world.app.sessionmaker() as session, session.begin():
        start = await session.scalar(select(func.count(PendingNotification.id))) or 0
        for i in range(count):
            session.add(
                PendingNotification(
                    recipient_id=recipient,
                    kind="health_recovered",
                    payload={"status": "healthy", "previous": "degraded"},
                    idempotency_key=f"t:{start + i}",
                    status=status,
                    attempts=0,
                    next_attempt_at=world.app.clock.now() + timedelta(days=1),
                    created_at=world.app.clock.now(),
                )
            )


async def test_queue_depth_age_and_dead(
    world: World, settings: Settings, clock: FrozenClock
) -> None:
    s = tuned(settings, queue_pending=(2, 4), queue_oldest_minutes=(10, 60), queue_dead=(1, 3))
    sm = world.app.sessionmaker
    assert (await checks.check_queue(sm, s, clock.now())).status is H
    await add_notifications(world, 1, NotificationStatus.PENDING)
    await add_notifications(world, 1, NotificationStatus.RETRYING)
    component = await checks.check_queue(sm, s, clock.now())
    assert (component.status, component.value) == (D, 2)
    assert component.details | {"oldest_minutes": 0} == {
        "pending": 1,
        "retrying": 1,
        "dead": 0,
        "oldest_minutes": 0,
    }
    await add_notifications(world, 2, NotificationStatus.PENDING)
    assert (await checks.check_queue(sm, s, clock.now())).status is U
    # Age alone: one waiting row, an hour old.
    s = tuned(settings, queue_oldest_minutes=(10, 60))
    clock.advance(timedelta(minutes=15))
    component = await checks.check_queue(sm, s, clock.now())
    assert (component.status, component.details["oldest_minutes"]) == (D, 15.0)
    clock.advance(timedelta(minutes=45))
    assert (await checks.check_queue(sm, s, clock.now())).status is U


async def test_dead_notifications(world: World, settings: Settings, clock: FrozenClock) -> None:
    s = tuned(settings, queue_dead=(1, 3))
    sm = world.app.sessionmaker
    await add_notifications(world, 1, NotificationStatus.DEAD)
    component = await checks.check_queue(sm, s, clock.now())
    assert (component.status, component.details["dead"], component.value) == (D, 1, 0)
    await add_notifications(world, 2, NotificationStatus.DEAD)
    assert (await checks.check_queue(sm, s, clock.now())).status is U


async def add_errors(
    world: World, category: ErrorCategory, severity: ErrorSeverity, count: int, age: timedelta
) -> None:
    now = world.app.clock.now()
    async with world.app.sessionmaker() as session, session.begin():
        n = await session.scalar(select(func.count(ErrorRecord.id))) or 0
        record = ErrorRecord(
            reference=f"E-T{n:04d}",
            fingerprint=f"fp{n}",
            category=category,
            severity=severity,
            exception_type="ValueError",
            message="x",
            context={},
            count=count,
            first_seen=now - age,
            last_seen=now - age,
        )
        session.add(record)
        await session.flush()
        for i in range(count):
            session.add(
                ErrorOccurrence(
                    error_id=record.id,
                    reference=f"O-{n:03d}{i:03d}",
                    occurred_at=now - age,
                    context={},
                )
            )


async def test_error_rate_by_category_and_severity(
    world: World, settings: Settings, clock: FrozenClock
) -> None:
    s = tuned(settings, errors_per_hour=(3, 6), critical_errors_per_hour=(1, 2))
    sm = world.app.sessionmaker
    await add_errors(world, ErrorCategory.DATA, ErrorSeverity.LOW, 5, timedelta(hours=2))
    assert (await checks.check_errors(sm, s, clock.now())).status is H  # older than an hour
    await add_errors(world, ErrorCategory.DATA, ErrorSeverity.LOW, 2, timedelta(minutes=5))
    await add_errors(world, ErrorCategory.TRANSIENT, ErrorSeverity.MEDIUM, 1, timedelta(0))
    component = await checks.check_errors(sm, s, clock.now())
    assert (component.status, component.value) == (D, 3)
    assert sorted(
        (r["category"], r["severity"], r["count"]) for r in component.details["breakdown"]
    ) == [("data", "low", 2), ("transient", "medium", 1)]
    await add_errors(world, ErrorCategory.SYSTEM, ErrorSeverity.LOW, 3, timedelta(0))
    assert (await checks.check_errors(sm, s, clock.now())).status is U  # 6 in the hour
    # Critical ones weigh on their own: one is enough to degrade, two are unhealthy.
    s = tuned(settings, critical_errors_per_hour=(1, 2))
    assert (await checks.check_errors(sm, s, clock.now())).status is H
    await add_errors(world, ErrorCategory.SYSTEM, ErrorSeverity.CRITICAL, 1, timedelta(0))
    component = await checks.check_errors(sm, s, clock.now())
    assert (component.status, component.details["critical"]) == (D, 1)
    await add_errors(world, ErrorCategory.SYSTEM, ErrorSeverity.CRITICAL, 1, timedelta(0))
    assert (await checks.check_errors(sm, s, clock.now())).status is U


@pytest.mark.parametrize(("count", "status"), [(0, H), (5, D), (19, D), (20, U)])
async def test_stuck_workflows(settings: Settings, count: int, status: HealthStatus) -> None:
    async def stuck() -> int:
        return count

    component = await checks.check_stuck(stuck, settings.health)
    assert (component.status, component.value) == (status, count)


async def test_inventory_shows_the_open_findings_count(world: World, settings: Settings) -> None:
    """Through the real factory: reconciliation's count reaches the health roll-up."""
    from tests.reconciliation_world import build_discrepancies

    inventory = (await world.app.health.check()).get(HealthComponent.INVENTORY)
    assert (inventory.status, inventory.value) == (H, 0)
    await build_discrepancies(world)
    report = await world.app.reconciliation.run(apply=True, trigger="admin")
    assert report.needs_admin == 3
    inventory = (await world.app.health.check()).get(HealthComponent.INVENTORY)
    assert (inventory.value, inventory.details) == (3, {"available": True, "count": 3})
    assert inventory.status is grade(3, settings.health.inventory_findings)
    # A health service without reconciliation does not guess.
    alone = await checks.check_inventory(None, settings.health)
    assert (alone.status, alone.details) == (X, {"available": False})


async def test_inventory_grades_the_count(world: World) -> None:
    findings = [3]

    async def provider() -> int:
        return findings[0]

    world.app.health.open_findings = provider
    report = await world.app.health.check()
    assert (report.get(HealthComponent.INVENTORY).status, report.status) == (D, D)
    findings[0] = 10
    assert (await world.app.health.check()).status is U


@pytest.mark.parametrize(("running", "status"), [(0, H), (5, D), (10, U)])
def test_recoveries_in_flight(settings: Settings, running: int, status: HealthStatus) -> None:
    component = checks.check_healing(running, 10, settings.health)
    assert (component.status, component.details) == (status, {"count": running, "capacity": 10})
    assert checks.check_healing(None, 10, settings.health).status is X


async def test_full_report_names_every_component(world: World) -> None:
    report = await world.app.health.check()
    assert [c.name for c in report.components] == list(HealthComponent)
    assert report.status is H


# -- snapshots and alerts -------------------------------------------------------------------


async def test_snapshot_alerts_once_and_again_on_recovery(
    world: World, clock: FrozenClock
) -> None:
    await admin_id(world)
    findings = [0]

    async def provider() -> int:
        return findings[0]

    health = world.app.health
    health.open_findings = provider
    first = await health.snapshot()
    assert (first.status, first.previous, first.alerted) == (H, None, 0)

    findings[0] = 2
    clock.advance(timedelta(minutes=5))
    changed = await health.snapshot()
    assert (changed.status, changed.previous, changed.alerted) == (D, H, 1)
    assert await world.deliver() == 1  # delivered: a waiting alert would age the queue
    clock.advance(timedelta(minutes=5))
    again = await health.snapshot()
    assert (again.status, again.alerted) == (D, 0)  # same status: nobody is told twice

    findings[0] = 0
    clock.advance(timedelta(minutes=5))
    recovered = await health.snapshot()
    assert (recovered.status, recovered.previous, recovered.alerted) == (H, D, 1)

    async with world.app.sessionmaker() as session:
        snaps = (
            await session.scalars(select(SystemHealthSnapshot).order_by(SystemHealthSnapshot.id))
        ).all()
        alerts = (
            await session.scalars(select(PendingNotification).order_by(PendingNotification.id))
        ).all()
    assert [s.status for s in snaps] == ["healthy", "degraded", "degraded", "healthy"]
    assert [s.taken_at - snaps[0].taken_at for s in snaps] == [
        timedelta(minutes=m) for m in (0, 5, 10, 15)
    ]
    assert snaps[1].components["inventory"]["value"] == 2
    assert [(a.kind, a.payload["status"], a.payload["previous"]) for a in alerts] == [
        ("health_changed", "degraded", "healthy"),
        ("health_recovered", "healthy", "degraded"),
    ]
    assert alerts[0].payload["components"] == ["inventory"]

    assert await world.deliver() == 1
    assert world.client(ADMIN_TG_ID).inbox()[-2:] == [
        "⚠️ System health changed from healthy to degraded. Needs attention: Inventory "
        "findings. See /workflow_recovery → System health.",
        "✅ System health recovered: healthy again (was degraded).",
    ]


async def test_alert_is_rendered_in_the_admins_language(world: World) -> None:
    await world.app.users.set_language(await admin_id(world), "ru")

    async def provider() -> int:
        return 50

    world.app.health.open_findings = provider
    await world.app.health.snapshot()
    assert (await world.app.health.snapshot()).alerted == 0  # unhealthy since the first
    assert await world.deliver() == 1
    assert world.client(ADMIN_TG_ID).inbox()[-1] == (
        "⚠️ Состояние системы изменилось: исправно → неисправно. Требует внимания: "
        "Расхождения склада. Откройте /workflow_recovery → Состояние системы."
    )


async def test_cleanup_keeps_snapshots_within_retention(world: World, clock: FrozenClock) -> None:
    for _ in range(3):
        await world.app.health.snapshot()
        clock.advance(timedelta(days=7))
    result = await cleanup(
        world.app.tx,
        error_retention=timedelta(days=30),
        transaction_log_retention=timedelta(days=30),
        snapshot_retention=timedelta(days=10),
    )
    assert result.health_snapshots == 2  # taken 21 and 14 days ago; the 7-day one stays
    async with world.app.sessionmaker() as session:
        kept = (await session.scalars(select(SystemHealthSnapshot.taken_at))).all()
    assert kept == [clock.now() - timedelta(days=7)]


# -- the scheduler --------------------------------------------------------------------------


async def test_failing_job_becomes_an_error_record_and_shows_in_health(world: World) -> None:
    scheduler = create_scheduler(world.app)
    assert sorted(j.id for j in scheduler.get_jobs()) == [
        "cleanup",
        "command_menus",
        "detect_stuck",
        "flush_error_spool",
        "health_snapshot",
        "notification_cleanup",
        "outbox",
        "reconcile_inventory",
        "watch_inventory",
    ]
    assert scheduler.get_job("health_snapshot").trigger.interval == timedelta(minutes=5)

    async def boom() -> None:
        raise RuntimeError("job broke")

    scheduler.add_job(guarded(world.app, "broken", boom), id="broken")
    world.app.jobs.watch("broken", 60)
    scheduler.start()
    try:
        for job in scheduler.get_jobs():
            assert (job.max_instances, job.coalesce) == (1, True)
            assert job.misfire_grace_time == world.app.settings.job_misfire_grace_seconds
        for _ in range(100):  # at most 2 s
            if world.app.jobs.jobs()[-1].runs:
                break
            await asyncio.sleep(0.02)
    finally:
        scheduler.shutdown(wait=False)
    state = world.app.jobs.jobs()[-1]
    assert (state.job_id, state.last_result, state.failures_in_a_row) == (
        "broken",
        JobResult.FAILED,
        1,
    )
    async with world.app.sessionmaker() as session:
        [record] = (await session.scalars(select(ErrorRecord))).all()
    assert (record.handler, record.message) == ("job:broken", "job broke")
    component = (await world.app.health.check()).get(HealthComponent.SCHEDULER)
    assert (component.status, component.details["failing"]) == (D, 1)
    metrics = world.app.metrics.render().decode()
    assert 'bot_job_runs_total{job="broken",result="failed"} 1.0' in metrics


def busy_file() -> OperationalError:
    error = sqlite3.OperationalError("database is locked")
    error.sqlite_errorcode = 5  # type: ignore[attr-defined]  # SQLITE_BUSY
    return OperationalError("BEGIN IMMEDIATE", {}, error)


async def test_job_retries_a_lock_conflict_without_an_error_record(world: World) -> None:
    calls: list[int] = []
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    world.app.tx.sleep = sleep

    async def watch() -> None:
        calls.append(len(calls))
        if len(calls) == 1:
            raise busy_file()

    outcome = await guarded(world.app, "watch_inventory", watch)()
    assert (outcome.result, calls, len(waits)) == (JobResult.OK, [0, 1], 1)
    async with world.app.sessionmaker() as session:
        assert (await session.scalars(select(ErrorRecord))).all() == []

    async def locked() -> None:
        calls.append(len(calls))
        raise busy_file()

    outcome = await guarded(world.app, "watch_inventory", locked)()
    assert outcome.result is JobResult.FAILED
    assert len(calls) == 2 + world.app.tx.policy.attempts  # then it is recorded, once
    async with world.app.sessionmaker() as session:
        [record] = (await session.scalars(select(ErrorRecord))).all()
    assert (record.handler, record.category) == ("job:watch_inventory", ErrorCategory.TRANSIENT)


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_sqlite_needs_no_lock(world: World, backend: str) -> None:
    assert backend == "sqlite"
    async with try_lock(world.app.engine, "x") as first, try_lock(world.app.engine, "x") as again:
        assert (first, again) == (True, True)  # one process is the supported setup


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_advisory_lock_lets_one_replica_run_the_job(
    world: World, backend: str, settings: Settings, clock: FrozenClock
) -> None:
    assert backend == "postgresql"
    other_engine: AsyncEngine = db.new_engine(str(world.app.engine.url.render_as_string(False)))
    other = make_world(settings, other_engine, clock)
    started: list[str] = []
    release = asyncio.Event()

    def job(name: str) -> Any:
        async def work() -> None:
            started.append(name)
            await release.wait()

        return work

    try:
        runs = [
            asyncio.create_task(guarded(w.app, "detect_stuck", job(n), exclusive=True)())
            for w, n in ((world, "a"), (other, "b"))
        ]
        for _ in range(100):
            if started and (runs[0].done() or runs[1].done()):
                break
            await asyncio.sleep(0.02)
        release.set()
        outcomes = [(await run).result for run in runs]
    finally:
        await other.app.healer.shutdown()
        await other.dp.storage.close()
        await other_engine.dispose()
    assert len(started) == 1
    assert sorted(outcomes) == sorted([JobResult.OK, JobResult.SKIPPED])
    # Released afterwards: the next run takes it again.
    async with try_lock(world.app.engine, "detect_stuck") as got:
        assert got


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_two_replicas_deliver_each_notification_once(
    world: World, backend: str, settings: Settings, clock: FrozenClock
) -> None:
    assert backend == "postgresql"
    other_engine: AsyncEngine = db.new_engine(str(world.app.engine.url.render_as_string(False)))
    other = make_world(settings, other_engine, clock)
    await add_notifications(world, 5, NotificationStatus.PENDING)
    async with world.app.sessionmaker() as session, session.begin():
        for row in (await session.scalars(select(PendingNotification))).all():
            row.next_attempt_at = clock.now()
    try:
        sent = await asyncio.gather(world.app.outbox.flush(), other.app.outbox.flush())
        sent_later = await asyncio.gather(world.app.outbox.flush(), other.app.outbox.flush())
    finally:
        await other.app.healer.shutdown()
        await other.dp.storage.close()
        await other_engine.dispose()
    assert sum(sent) + sum(sent_later) == 5
    deliveries = len(world.session.calls_of(SendMessage)) + len(
        other.session.calls_of(SendMessage)
    )
    assert deliveries == 5


def test_job_monitor_counts_misfires_from_scheduler_events(clock: FrozenClock) -> None:
    from apscheduler.events import (
        EVENT_JOB_ERROR,
        EVENT_JOB_EXECUTED,
        EVENT_JOB_MISSED,
        JobExecutionEvent,
    )

    from core.i18n import create_i18n
    from handlers.admin.health.texts import component_line

    monitor = JobMonitor(clock)
    monitor.watch("cleanup", 3600)
    next_run = clock.now() + timedelta(minutes=30)
    monitor.attach(lambda job_id: next_run)
    now = clock.now()
    monitor.on_event(JobExecutionEvent(EVENT_JOB_MISSED, "cleanup", None, now))
    monitor.on_event(JobExecutionEvent(EVENT_JOB_MISSED, "cleanup", None, now))
    outcome = JobOutcome(JobResult.OK, 0.5)
    monitor.on_event(JobExecutionEvent(EVENT_JOB_EXECUTED, "cleanup", None, now, retval=outcome))
    [state] = monitor.jobs()
    assert (state.misfires, state.runs, state.last_result, state.last_duration) == (
        2,
        1,
        JobResult.OK,
        0.5,
    )
    # A job raising past guarded() (it cannot, but a job added without it could) is a failure.
    monitor.on_event(JobExecutionEvent(EVENT_JOB_ERROR, "cleanup", None, now, RuntimeError()))
    assert (state.last_result, state.failures_in_a_row) == (JobResult.FAILED, 1)
    component = checks.check_scheduler(monitor, HealthSettings(), clock.now())
    i18n = create_i18n("en")
    with i18n.context(), i18n.use_locale("en"):
        assert component_line(component) == (
            "🟡 Background jobs: 1 job(s), 1 failed last time, 0 not running\n"
            "    · cleanup: last run 12:00 (failed), next 12:30, 2 misfire(s)"
        )


async def test_half_open_telegram_breaker_is_degraded(settings: Settings) -> None:
    from utils.circuit_breaker import CircuitBreaker

    now = [0.0]
    breaker = CircuitBreaker(
        "telegram", failure_threshold=1, reset_timeout=10, clock=lambda: now[0]
    )
    breaker.record_failure()
    assert checks.check_telegram(breaker, None, settings.health).status is U
    now[0] = 11.0  # past the reset timeout: the next call is a trial
    component = checks.check_telegram(breaker, None, settings.health)
    assert (component.status, component.details["state"]) == (D, "half_open")
