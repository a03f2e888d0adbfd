"""One function per component: measure, then grade the figure by the configured thresholds."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.enums import ErrorSeverity, HealthComponent, HealthStatus, NotificationStatus
from core.settings import HealthSettings
from database.models import JobLease
from database.repositories.errors import ErrorRepository
from database.repositories.jobs import JobLeaseRepository
from outbox.leadership import SENDER_JOB
from outbox.repository import NotificationRepository
from services.failures.classify import is_refusal
from services.health.jobs import JobMonitor, JobResult
from services.health.model import Component, grade, worst
from utils.circuit_breaker import BreakerState, CircuitBreaker
from utils.latency import LatencyTracker

ERROR_WINDOW = timedelta(hours=1)
# A job is "not running" when its last run is this many intervals (plus the grace) behind.
OVERDUE_INTERVALS = 3


async def check_database(
    sessionmaker: async_sessionmaker[AsyncSession],
    thresholds: HealthSettings,
    monotonic: Callable[[], float] = time.perf_counter,
) -> Component:
    try:
        async with sessionmaker() as session:
            # Connecting is not the round trip: a fresh pool connection would look slow.
            await session.connection()
            started = monotonic()
            await session.execute(text("SELECT 1"))
            ms = round((monotonic() - started) * 1000, 1)
    except Exception as exc:
        return Component(
            HealthComponent.DATABASE, HealthStatus.UNHEALTHY, None, {"error": type(exc).__name__}
        )
    return Component(HealthComponent.DATABASE, grade(ms, thresholds.db_latency_ms), ms, {"ms": ms})


def check_telegram(
    breaker: CircuitBreaker | None, latency: LatencyTracker | None, thresholds: HealthSettings
) -> Component:
    if breaker is None:
        return Component(
            HealthComponent.TELEGRAM, HealthStatus.UNKNOWN, None, {"state": "unknown"}
        )
    state = breaker.state
    ms = None if latency is None or latency.last is None else round(latency.average * 1000, 1)
    by_state = {
        BreakerState.CLOSED: HealthStatus.HEALTHY,
        BreakerState.HALF_OPEN: HealthStatus.DEGRADED,
        BreakerState.OPEN: HealthStatus.UNHEALTHY,
    }[state]
    by_latency = HealthStatus.HEALTHY if ms is None else grade(ms, thresholds.telegram_latency_ms)
    return Component(
        HealthComponent.TELEGRAM, worst(by_state, by_latency), ms, {"state": state.value, "ms": ms}
    )


def check_scheduler(
    monitor: JobMonitor | None,
    thresholds: HealthSettings,
    now: datetime,
    leases: Mapping[str, JobLease] | None = None,
) -> Component:
    """This process's jobs; a job with a lease (once per interval across replicas) reads its
    last run from the lease: when it started, how it went and which replica ran it."""
    if monitor is None or not monitor.running:
        return Component(HealthComponent.SCHEDULER, HealthStatus.UNKNOWN, None, {"jobs": []})
    jobs = []
    failing = overdue = 0
    for job in monitor.jobs():
        next_run = monitor.next_run(job.job_id)
        late = timedelta(
            seconds=job.interval_seconds * OVERDUE_INTERVALS + monitor.misfire_grace_seconds
        )
        is_overdue = next_run is not None and now - next_run > late
        lease = (leases or {}).get(job.job_id)
        last_run, result = job.last_run, job.last_result.value if job.last_result else None
        if lease is not None:
            last_run, result = lease.last_run_started, lease.last_result or "running"
        failing += result == JobResult.FAILED.value
        overdue += is_overdue
        jobs.append(
            {
                "id": job.job_id,
                "last_run": last_run.isoformat() if last_run else None,
                "result": result,
                "runner": lease.last_runner if lease else None,
                "message": lease.last_message if lease else None,
                "next_run": next_run.isoformat() if next_run else None,
                "misfires": job.misfires,
                "overdue": is_overdue,
            }
        )
    status = grade(failing, thresholds.job_failures)
    if overdue:
        status = HealthStatus.UNHEALTHY  # a job that stopped running is worse than one that failed
    return Component(
        HealthComponent.SCHEDULER,
        status,
        failing,
        {"jobs": jobs, "failing": failing, "overdue": overdue},
    )


async def check_jobs(
    monitor: JobMonitor | None,
    sessionmaker: async_sessionmaker[AsyncSession],
    thresholds: HealthSettings,
    now: datetime,
) -> Component:
    """The scheduler with the job leases read: every replica's health tells the same last run."""
    if monitor is None or not monitor.running:
        return check_scheduler(monitor, thresholds, now)
    async with sessionmaker() as session:
        leases = {row.job: row for row in await JobLeaseRepository(session).all()}
    return check_scheduler(monitor, thresholds, now, leases)


async def check_queue(
    sessionmaker: async_sessionmaker[AsyncSession], thresholds: HealthSettings, now: datetime
) -> Component:
    statuses = (NotificationStatus.PENDING, NotificationStatus.RETRYING, NotificationStatus.DEAD)
    async with sessionmaker() as session:
        repo = NotificationRepository(session)
        found = await repo.counts_of(statuses)
        oldest = await repo.oldest(statuses[:2])
        lease = await session.get(JobLease, SENDER_JOB)
    counts = {status.value: found.get(status, 0) for status in statuses}
    age_minutes = 0.0 if oldest is None else max(0.0, (now - oldest).total_seconds() / 60)
    waiting = counts["pending"] + counts["retrying"]
    status = worst(
        grade(waiting, thresholds.queue_pending),
        grade(age_minutes, thresholds.queue_oldest_minutes),
        grade(counts["dead"], thresholds.queue_dead),
    )
    details: dict[str, Any] = {**counts, "oldest_minutes": round(age_minutes, 1)}
    if lease is not None:  # several replicas: which one sends (None: none now, a fail-over)
        details["sender"] = lease.holder if lease.leased_until > now else None
    return Component(HealthComponent.QUEUE, status, waiting, details)


async def check_errors(
    sessionmaker: async_sessionmaker[AsyncSession], thresholds: HealthSettings, now: datetime
) -> Component:
    async with sessionmaker() as session:
        rows = await ErrorRepository(session).breakdown_since(now - ERROR_WINDOW)
    # Refusals (a person not allowed, a request that moved on) are answers, not incidents:
    # shown apart, never graded, so nobody who can message the bot can page the admins.
    breakdown: list[dict[str, Any]] = [
        {"category": str(category), "severity": str(severity), "count": n}
        for category, severity, n in rows
        if not is_refusal(category, severity)
    ]
    refusals = sum(n for category, severity, n in rows if is_refusal(category, severity))
    total = sum(row["count"] for row in breakdown)
    critical = sum(
        row["count"] for row in breakdown if row["severity"] == ErrorSeverity.CRITICAL.value
    )
    status = worst(
        grade(total, thresholds.errors_per_hour),
        grade(critical, thresholds.critical_errors_per_hour),
    )
    details = {"total": total, "critical": critical, "breakdown": breakdown, "refusals": refusals}
    return Component(HealthComponent.ERRORS, status, total, details)


async def check_stuck(
    count: Callable[[], Awaitable[int]], thresholds: HealthSettings
) -> Component:
    stuck = await count()
    return Component(
        HealthComponent.STUCK,
        grade(stuck, thresholds.stuck_workflows),
        stuck,
        {"count": stuck},
    )


async def check_inventory(
    provider: Callable[[], Awaitable[int]] | None, thresholds: HealthSettings
) -> Component:
    if provider is None:
        # Reconciliation is a separate feature; until it registers itself nothing is known.
        return Component(
            HealthComponent.INVENTORY, HealthStatus.UNKNOWN, None, {"available": False}
        )
    findings = await provider()
    status = grade(findings, thresholds.inventory_findings)
    return Component(
        HealthComponent.INVENTORY, status, findings, {"available": True, "count": findings}
    )


def check_healing(in_flight: int | None, capacity: int, thresholds: HealthSettings) -> Component:
    # The healer's executions running; the component keeps its stored name "recovery".
    if in_flight is None:
        return Component(
            HealthComponent.RECOVERY, HealthStatus.UNKNOWN, None, {"capacity": capacity}
        )
    status = grade(in_flight, thresholds.recoveries_in_flight)
    return Component(
        HealthComponent.RECOVERY, status, in_flight, {"count": in_flight, "capacity": capacity}
    )
