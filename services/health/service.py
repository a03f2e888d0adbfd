"""The health service: runs every check, stores snapshots and tells admins about changes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock
from core.enums import HealthComponent, HealthStatus, Role
from core.settings import HealthSettings
from database.models import SystemHealthSnapshot
from database.repositories.health import HealthRepository
from database.repositories.users import UserRepository
from outbox.payloads import HealthChanged, HealthRecovered
from outbox.repository import ALERT, enqueue
from services.health import checks
from services.health.jobs import JobMonitor
from services.health.model import Component, Report
from services.transactions import Change, TransactionalStateManager
from utils.circuit_breaker import CircuitBreaker
from utils.latency import LatencyTracker

TREND_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class SnapshotResult:
    snapshot_id: int
    status: HealthStatus
    previous: HealthStatus | None
    alerted: int  # admins told about the change (0: no change)


@dataclass(frozen=True)
class TrendPoint:
    taken_at: datetime
    status: HealthStatus
    errors: float | None
    queue: float | None


class HealthService:
    def __init__(
        self,
        thresholds: HealthSettings,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        stuck_count: Callable[[], Awaitable[int]],
        telegram_breaker: CircuitBreaker | None = None,
        telegram_latency: LatencyTracker | None = None,
        jobs: JobMonitor | None = None,
        in_flight: Callable[[], int] | None = None,
        healing_capacity: int = 0,
        open_findings: Callable[[], Awaitable[int]] | None = None,
        tx: TransactionalStateManager,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.thresholds = thresholds
        self.sessionmaker = sessionmaker
        self.clock = clock
        self.stuck_count = stuck_count
        self.telegram_breaker = telegram_breaker
        self.telegram_latency = telegram_latency
        self.jobs = jobs
        self.in_flight = in_flight
        self.healing_capacity = healing_capacity
        self.open_findings = open_findings  # reconciliation's count of findings left for a person
        self.tx = tx  # snapshots are written through it
        self.timer = timer

    async def check(self) -> Report:
        now = self.clock.now()
        s = self.thresholds

        async def guarded(name: HealthComponent, work: Awaitable[Component]) -> Component:
            # One broken check must not hide the others: it reads as unhealthy, with its cause.
            try:
                return await work
            except Exception as exc:
                return Component(name, HealthStatus.UNHEALTHY, None, {"error": type(exc).__name__})

        database = await checks.check_database(self.sessionmaker, s, self.timer)
        db_down = database.status is HealthStatus.UNHEALTHY and database.value is None
        # Without the database the scheduler reads this process's runs only (no leases).
        jobs = checks.check_scheduler(self.jobs, s, now)
        if db_down:
            # Every other database-backed check would only repeat the same failure slowly.
            down = {"error": "database"}
            queue, errors, stuck, inventory = (
                Component(name, HealthStatus.UNKNOWN, None, down)
                for name in (
                    HealthComponent.QUEUE,
                    HealthComponent.ERRORS,
                    HealthComponent.STUCK,
                    HealthComponent.INVENTORY,
                )
            )
        else:
            leased = checks.check_jobs(self.jobs, self.sessionmaker, s, now)
            queue, errors, stuck, inventory, jobs = await asyncio.gather(
                guarded(HealthComponent.QUEUE, checks.check_queue(self.sessionmaker, s, now)),
                guarded(HealthComponent.ERRORS, checks.check_errors(self.sessionmaker, s, now)),
                guarded(HealthComponent.STUCK, checks.check_stuck(self.stuck_count, s)),
                guarded(HealthComponent.INVENTORY, checks.check_inventory(self.open_findings, s)),
                guarded(HealthComponent.SCHEDULER, leased),
            )
        in_flight = None if self.in_flight is None else self.in_flight()
        return Report(
            taken_at=now,
            components=(
                database,
                checks.check_telegram(self.telegram_breaker, self.telegram_latency, s),
                jobs,
                queue,
                errors,
                stuck,
                inventory,
                checks.check_healing(in_flight, self.healing_capacity, s),
            ),
        )

    async def snapshot(self, report: Report | None = None) -> SnapshotResult:
        """Store the report; when the overall status changed since the last one, tell admins
        (once per change: the next snapshot with the same status says nothing)."""
        report = report or await self.check()
        status = report.status

        async def work(change: Change) -> SnapshotResult:
            session = change.session
            previous_row = await HealthRepository(session).latest()
            previous = HealthStatus(previous_row.status) if previous_row else None
            row = SystemHealthSnapshot(
                taken_at=report.taken_at, status=status.value, components=report.as_json()
            )
            session.add(row)
            await session.flush()
            alerted = 0
            # The very first snapshot has nothing to compare with; a healthy start is no news.
            if status != (previous or HealthStatus.HEALTHY):
                alerted = await self._alert(session, row.id, previous, report)
            change.entity_id, change.after = row.id, {"status": status.value, "alerted": alerted}
            return SnapshotResult(row.id, status, previous, alerted)

        return await self.tx.run("health_snapshot", "system_health", work)

    async def _alert(
        self,
        session: AsyncSession,
        snapshot_id: int,
        previous: HealthStatus | None,
        report: Report,
    ) -> int:
        status = report.status
        kind = HealthRecovered if status is HealthStatus.HEALTHY else HealthChanged
        failing = [c.name for c in report.components if c.status.rank > HealthStatus.HEALTHY.rank]
        payload = kind(
            status=status, previous=previous or HealthStatus.HEALTHY, components=tuple(failing)
        )
        admins = await UserRepository(session).active_holders(Role.ADMIN)
        for admin in admins:
            await enqueue(
                session,
                recipient_id=admin.id,
                payload=payload,
                idempotency_key=f"health:{snapshot_id}:{admin.id}",
                now=report.taken_at,
                priority=ALERT,
            )
        return len(admins)

    async def trend(self, window: timedelta = TREND_WINDOW) -> list[TrendPoint]:
        since = self.clock.now() - window
        async with self.sessionmaker() as session:
            rows = await HealthRepository(session).since(since)
            return [
                TrendPoint(
                    taken_at=row.taken_at,
                    status=HealthStatus(row.status),
                    errors=row.components.get(HealthComponent.ERRORS, {}).get("value"),
                    queue=row.components.get(HealthComponent.QUEUE, {}).get("value"),
                )
                for row in rows
            ]
