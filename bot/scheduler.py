"""The background jobs on one APScheduler scheduler. A job that fails becomes an error record
and the scheduler keeps going."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.factory import App
from bot.failures.classify import FailureContext
from bot.failures.cleanup import cleanup
from bot.services.reconciliation import ReconciliationBusy

logger = logging.getLogger(__name__)

CLEANUP_INTERVAL = timedelta(hours=6)


def guarded(
    app: App, name: str, job: Callable[[], Awaitable[Any]]
) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        try:
            await job()
        except Exception as exc:
            await app.recorder.record(exc, FailureContext(source=f"job:{name}"))

    run.__name__ = name
    return run


def create_scheduler(app: App) -> AsyncIOScheduler:
    settings = app.settings
    scheduler = AsyncIOScheduler(
        timezone="UTC",
        job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": 60},
    )

    async def flush_spool() -> None:
        if app.recorder.spool.pending():
            await app.recorder.flush_spool()

    async def retention() -> None:
        result = await cleanup(
            app.sessionmaker,
            app.clock,
            error_retention=timedelta(days=settings.error_retention_days),
            transaction_log_retention=timedelta(days=settings.transaction_log_retention_days),
        )
        logger.info(
            "cleanup removed %s error records, %s transaction log rows",
            result.error_records,
            result.transaction_log,
        )

    async def deliver_due() -> None:
        await app.notifications.enforce_limit(settings.outbox_max_queue)
        await app.outbox.flush()

    async def notification_retention() -> None:
        await app.notifications.cleanup(timedelta(days=settings.outbox_retention_days))

    scheduler.add_job(
        guarded(app, "outbox", deliver_due),
        "interval",
        seconds=settings.outbox_job_seconds,
        id="outbox",
    )
    scheduler.add_job(
        guarded(app, "notification_cleanup", notification_retention),
        "interval",
        seconds=CLEANUP_INTERVAL.total_seconds(),
        id="notification_cleanup",
    )
    scheduler.add_job(
        guarded(app, "flush_error_spool", flush_spool),
        "interval",
        seconds=settings.spool_flush_seconds,
        id="flush_error_spool",
    )

    async def detect_stuck() -> None:
        result = await app.stuck.detect()
        logger.info(
            "stuck check: %s newly stuck, %s nudged, %s escalated",
            result.new,
            result.nudged,
            result.escalated,
        )

    scheduler.add_job(
        guarded(app, "detect_stuck", detect_stuck),
        "interval",
        minutes=settings.stuck_check_minutes,
        id="detect_stuck",
    )

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

    scheduler.add_job(
        guarded(app, "reconcile_inventory", reconcile),
        "interval",
        minutes=settings.reconciliation_interval_minutes,
        id="reconcile_inventory",
    )
    scheduler.add_job(
        guarded(app, "cleanup", retention),
        "interval",
        seconds=CLEANUP_INTERVAL.total_seconds(),
        id="cleanup",
    )
    return scheduler
