"""The background jobs on one APScheduler scheduler, built by `create_scheduler`.

Every job has its interval in the settings, runs at most once at a time (`max_instances=1`),
coalesces missed runs into one and may start up to the misfire grace late. A job that changes
shared rows is exclusive: it runs once per interval across all replicas. Each replica's timer
tries it; the first to take the job's lease (a `job_leases` row, one conditional upsert:
database/repositories/jobs.py) runs it, the others skip. The lease lasts one interval, so when
the replica holding it dies the next interval runs on another; a PostgreSQL advisory lock
besides keeps a run that outlives its lease from overlapping the next. The lease row keeps the
last run's start, result and runner for health. A job that fails becomes an error record, shows
in health (JobMonitor) and the scheduler keeps going."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.commands import sync_staff_menus
from bot.factory import App
from database.locks import REPLICA_ID, try_lock
from database.repositories.jobs import JobLeaseRepository
from services.failures.classify import FailureContext
from services.health.jobs import JobOutcome, JobResult
from services.reconciliation.service import ReconciliationBusy
from services.retention import cleanup_as_configured

logger = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 5.0  # a job in flight at SIGTERM gets this long to end, then is cancelled


class Scheduler(AsyncIOScheduler):  # type: ignore[misc]  # APScheduler is untyped
    """APScheduler's, knowing the job runs in flight, so a stop lets them end first.

    APScheduler's own shutdown cancels a running job at once and logs its CancelledError as
    "raised an exception" while the process goes on to close the database under it."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.in_flight: set[asyncio.Task[Any]] = set()

    async def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Start nothing new; give the runs in flight `grace` seconds, then cancel the rest
        (each logs one line) and wait for them to unwind: the caller closes the database
        next."""
        self.pause()
        if self.in_flight:
            await asyncio.wait(set(self.in_flight), timeout=grace)
        left = set(self.in_flight)
        self.shutdown(wait=False)  # cancels what is left
        if left:
            await asyncio.wait(left, timeout=grace)


@dataclass(frozen=True)
class JobSpec:
    job_id: str
    interval_seconds: float
    work: Callable[[], Awaitable[Any]]
    # True: once per interval across all replicas (the job's lease), never two runs at once
    # (advisory lock on PostgreSQL). False: every process runs its own, by nature of the job.
    exclusive: bool


def guarded(
    app: App,
    name: str,
    job: Callable[[], Awaitable[Any]],
    *,
    exclusive: bool = False,
    interval_seconds: float | None = None,
    replica: str = REPLICA_ID,
    timer: Callable[[], float] = time.perf_counter,
    in_flight: set[asyncio.Task[Any]] | None = None,
) -> Callable[[], Awaitable[JobOutcome]]:
    """Run `job`, never raising: the outcome goes to APScheduler's event as its retval.

    Exclusive with an interval: only when this replica takes the job's lease for the interval."""
    leased = exclusive and interval_seconds is not None
    interval = timedelta(seconds=interval_seconds or 0)

    async def retried(work: Callable[[], Awaitable[Any]]) -> Any:
        # A deadlock or a busy file is retried here, as a person's transaction is: a
        # conflict the next attempt gets past is not an error anyone should read.
        async for attempt in app.tx.retrying():
            with attempt:
                return await work()
        return None  # pragma: no cover  (retrying() reraises the last failure)

    async def take() -> datetime | None:
        now = app.clock.now()
        async with app.sessionmaker() as session, session.begin():
            return await JobLeaseRepository(session).acquire(name, replica, now, interval)

    async def finish(started: datetime, result: JobResult, message: str) -> None:
        async with app.sessionmaker() as session, session.begin():
            await JobLeaseRepository(session).finish(
                name, replica, started, app.clock.now(), result.value, message
            )

    async def run() -> JobOutcome:
        task = asyncio.current_task()
        if in_flight is not None and task is not None:
            in_flight.add(task)
        started = timer()
        try:
            return await run_once(started)
        except asyncio.CancelledError:
            # Only a stop cancels a run (Scheduler.stop): the top of the job's own task, so
            # ending it here is ending the task. Its lease, if any, ends on its own.
            took = timer() - started
            logger.info("job %s stopped after %.1f s: the process is stopping", name, took)
            return JobOutcome(JobResult.SKIPPED, took)
        finally:
            if in_flight is not None and task is not None:
                in_flight.discard(task)

    async def run_once(started: float) -> JobOutcome:
        result, message, ticket = JobResult.OK, "", None
        try:
            lock = try_lock(app.engine, name) if exclusive else nullcontext(True)
            async with lock as got:
                if got and leased:
                    ticket = await retried(take)
                if not got or (leased and ticket is None):
                    result = JobResult.SKIPPED
                else:
                    await retried(job)
        except Exception as exc:
            result = JobResult.FAILED
            message = app.masker.text(f"{type(exc).__name__}: {exc}")
            await app.recorder.record(exc, FailureContext(source=f"job:{name}"))
        if ticket is not None:
            try:
                await retried(lambda: finish(ticket, result, message))
            except Exception:
                # The lease still ends on its own after one interval; the run itself is done.
                logger.warning("job %s: could not write its lease's outcome", name, exc_info=True)
        return JobOutcome(result, timer() - started)

    # APScheduler names a job after its function: the log says "detect_stuck", not "run".
    run.__name__ = run.__qualname__ = name
    return run


def job_specs(app: App) -> list[JobSpec]:
    settings = app.settings

    async def flush_spool() -> None:
        if app.recorder.spool.has_work():
            await app.recorder.flush_spool()

    async def detect_stuck() -> None:
        result = await app.stuck.detect()
        logger.info(
            "stuck check: %s newly stuck, %s nudged, %s escalated",
            result.new,
            result.nudged,
            result.escalated,
        )

    async def retention() -> None:
        result = await cleanup_as_configured(app.tx, settings)
        logger.info("cleanup removed %s", result.summary())

    async def health_snapshot() -> None:
        result = await app.health.snapshot()
        logger.info("health snapshot %s: %s", result.snapshot_id, result.status.value)

    async def deliver_due() -> None:
        await app.notifications.enforce_limit(settings.outbox.max_queue)
        await app.sender.flush()

    async def notification_retention() -> None:
        await app.notifications.cleanup(timedelta(days=settings.outbox.retention_days))

    async def reconcile() -> None:
        try:
            report = await app.reconciliation.run(apply=True, trigger="scheduled")
        except ReconciliationBusy:
            # Another process (or an admin's run) holds the lock: that run does the work.
            logger.info("reconciliation skipped: another run is in progress")
            return
        logger.info(
            "reconciliation run %s: %s findings, %s fixed, %s need an admin (%s new)",
            report.run_id,
            len(report.findings),
            report.fixes,
            report.needs_admin,
            report.new_for_admin,
        )

    async def watch() -> None:
        # Busy is the watch's own business: it tries again next time (services/.../watch.py).
        result = await app.reconciliation.watch()
        if result.report is not None:
            logger.info(
                "reconciliation watch saw %s new, run %s: %s fixed, %s need an admin (%s new)",
                len(result.new),
                result.report.run_id,
                result.report.fixes,
                result.report.needs_admin,
                result.report.new_for_admin,
            )
        elif result.busy:
            logger.info("reconciliation watch: a run is in progress, looking again next time")

    async def command_menus() -> None:
        changed = await sync_staff_menus(app.sender.bot, app.users, app.i18n)
        if changed:
            logger.info("command menus updated for %s staff chats", changed)

    return [
        # Per process: the spool is a file of this process; only it can flush it.
        JobSpec("flush_error_spool", settings.spool_flush_seconds, flush_spool, exclusive=False),
        # Once per interval: two replicas would nudge and escalate the same requests twice.
        JobSpec("detect_stuck", settings.stuck_check_minutes * 60, detect_stuck, exclusive=True),
        JobSpec("cleanup", settings.cleanup_hours * 3600, retention, exclusive=True),
        # Per process: the drain is each replica's sender (its bot, its queue, its wake-ups);
        # replicas share the outbox safely, each claims its own rows (SKIP LOCKED).
        JobSpec("outbox", settings.outbox.job_seconds, deliver_due, exclusive=False),
        JobSpec(
            "notification_cleanup",
            settings.cleanup_hours * 3600,
            notification_retention,
            exclusive=True,
        ),
        # Once per interval: a run per replica would only repeat the same findings. The run
        # keeps its own lock besides, against an admin's run.
        JobSpec(
            "reconcile_inventory",
            settings.reconciliation.interval_minutes * 60,
            reconcile,
            exclusive=True,
        ),
        # The cheap look that calls the run above early: one watcher per interval is enough.
        # Its watermark lives in the process, so a replica taking over reads from its own
        # older one: at most one extra run, never a missed one.
        JobSpec(
            "watch_inventory",
            settings.reconciliation.watch_seconds,
            watch,
            exclusive=True,
        ),
        # Roles granted on the command line reach the menu here: one replica is enough.
        JobSpec("command_menus", settings.command_menu_seconds, command_menus, exclusive=True),
        # Once per interval: a snapshot per replica doubled the trend's points.
        JobSpec(
            "health_snapshot",
            settings.health.snapshot_minutes * 60,
            health_snapshot,
            exclusive=True,
        ),
    ]


def create_scheduler(app: App, replica: str = REPLICA_ID) -> Scheduler:
    """`replica` names this process in the job leases (tests run two in one process)."""
    scheduler = Scheduler(
        timezone="UTC",
        job_defaults={
            "max_instances": 1,
            "coalesce": True,
            "misfire_grace_time": app.settings.job_misfire_grace_seconds,
        },
    )
    started = app.clock.now().timestamp()
    for spec in job_specs(app):
        scheduler.add_job(
            guarded(
                app,
                spec.job_id,
                spec.work,
                exclusive=spec.exclusive,
                interval_seconds=spec.interval_seconds,
                replica=replica,
                in_flight=scheduler.in_flight,
            ),
            "interval",
            seconds=spec.interval_seconds,
            id=spec.job_id,
            name=spec.job_id,
        )
        app.jobs.watch(spec.job_id, spec.interval_seconds)
        app.metrics.watch_job(spec.job_id, started)

    def next_run(job_id: str) -> Any:
        job = scheduler.get_job(job_id)
        # A job of a scheduler not started yet has no next run time at all.
        return None if job is None else getattr(job, "next_run_time", None)

    app.jobs.attach(next_run)
    logger.info("scheduler on replica %s", replica)
    app.jobs.listeners.append(
        lambda job_id, outcome: app.metrics.job_finished(
            job_id, outcome, app.clock.now().timestamp()
        )
    )
    scheduler.add_listener(
        app.jobs.on_event, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED
    )
    return scheduler
