"""The background jobs on one APScheduler scheduler, built by `create_scheduler`.

Every job has its interval in the settings, runs at most once at a time (`max_instances=1`),
coalesces missed runs into one and may start up to the misfire grace late. Jobs that change
shared rows take a PostgreSQL advisory lock first, so with several replicas only one runs
them; a replica that finds the lock taken skips the run. A job that fails becomes an error
record, shows in health (JobMonitor) and the scheduler keeps going."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.commands import sync_staff_menus
from bot.factory import App
from database.locks import try_lock
from services.failures.classify import FailureContext
from services.health.jobs import JobOutcome, JobResult
from services.reconciliation.service import ReconciliationBusy
from services.retention import cleanup

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobSpec:
    job_id: str
    interval_seconds: float
    work: Callable[[], Awaitable[Any]]
    # True: at most one replica runs it (advisory lock on PostgreSQL).
    exclusive: bool


def guarded(
    app: App,
    name: str,
    job: Callable[[], Awaitable[Any]],
    *,
    exclusive: bool = False,
    timer: Callable[[], float] = time.perf_counter,
) -> Callable[[], Awaitable[JobOutcome]]:
    """Run `job`, never raising: the outcome goes to APScheduler's event as its retval."""

    async def once() -> JobResult:
        if not exclusive:
            await job()
            return JobResult.OK
        async with try_lock(app.engine, name) as got:
            if got:
                await job()
            return JobResult.OK if got else JobResult.SKIPPED

    async def run() -> JobOutcome:
        started = timer()
        result = JobResult.OK
        try:
            # A deadlock or a busy file is retried here, as a person's transaction is: a
            # conflict the next attempt gets past is not an error anyone should read.
            async for attempt in app.tx.retrying():
                with attempt:
                    result = await once()
        except Exception as exc:
            result = JobResult.FAILED
            await app.recorder.record(exc, FailureContext(source=f"job:{name}"))
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
        result = await cleanup(
            app.tx,
            error_retention=timedelta(days=settings.error.retention_days),
            transaction_log_retention=timedelta(days=settings.transaction_log_retention_days),
            snapshot_retention=timedelta(days=settings.health.snapshot_retention_days),
        )
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
        # The spool is a file of this process: every replica flushes its own.
        JobSpec("flush_error_spool", settings.spool_flush_seconds, flush_spool, exclusive=False),
        JobSpec("detect_stuck", settings.stuck_check_minutes * 60, detect_stuck, exclusive=True),
        JobSpec("cleanup", settings.cleanup_hours * 3600, retention, exclusive=True),
        # Replicas share the outbox safely: each claims its own rows (SKIP LOCKED).
        JobSpec("outbox", settings.outbox.job_seconds, deliver_due, exclusive=False),
        JobSpec(
            "notification_cleanup",
            settings.cleanup_hours * 3600,
            notification_retention,
            exclusive=True,
        ),
        # Reconciliation takes its own advisory lock and refuses a second run itself.
        JobSpec(
            "reconcile_inventory",
            settings.reconciliation.interval_minutes * 60,
            reconcile,
            exclusive=False,
        ),
        # The cheap look that calls the run above early. Every replica watches with its own
        # watermark (reads only); the run's lock lets one of them apply at a time.
        JobSpec(
            "watch_inventory",
            settings.reconciliation.watch_seconds,
            watch,
            exclusive=False,
        ),
        # Roles granted on the command line reach the menu here: one replica is enough.
        JobSpec("command_menus", settings.command_menu_seconds, command_menus, exclusive=True),
        JobSpec(
            "health_snapshot",
            settings.health.snapshot_minutes * 60,
            health_snapshot,
            exclusive=True,
        ),
    ]


def create_scheduler(app: App) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(
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
            guarded(app, spec.job_id, spec.work, exclusive=spec.exclusive),
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
    app.jobs.listeners.append(
        lambda job_id, outcome: app.metrics.job_finished(
            job_id, outcome, app.clock.now().timestamp()
        )
    )
    scheduler.add_listener(
        app.jobs.on_event, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED
    )
    return scheduler
