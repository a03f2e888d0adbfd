"""Bulk recovery jobs: one action over exactly the (request, version) pairs an admin previewed.

The job row is written first, so its progress survives a restart of the screen; each request
is then applied on its own, paced, and a request that moved since the preview is skipped."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock
from core.enums import JobStatus, RecoveryAction, RecoveryOutcome
from core.exceptions import (
    InvalidTransition,
    NotFound,
    PermissionDenied,
    StaleVersion,
    ValidationFailed,
)
from core.i18n import N_
from database.models import RecoveryJob, User
from services.recovery.actions import RecoveryActions
from services.recovery.spec import bulk_actions, may_run
from services.transactions import Change, TransactionalStateManager
from services.users import acting

logger = logging.getLogger(__name__)
ROLE_MAY_NOT = N_("Your role may not run this action.")

# Jobs running at once in this process. Each is paced at `per_second` against the same Telegram
# limits, so more at once would not finish sooner; and a job's task is held until it ends.
MAX_RUNNING = 5


class BulkRecovery:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        tx: TransactionalStateManager,
        actions: RecoveryActions,
        clock: Clock,
        *,
        per_second: float = 5.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_running: int = MAX_RUNNING,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.tx = tx
        self.actions = actions
        self.clock = clock
        self.per_second = per_second
        self.sleep = sleep
        self.max_running = max_running
        self._jobs: dict[int, asyncio.Task[RecoveryJob]] = {}  # running only: bounded

    async def start(
        self,
        actor: User,
        action: RecoveryAction,
        reason: str,
        targets: Sequence[tuple[int, int]],
    ) -> RecoveryJob:
        """Record the job for exactly the previewed (request, version) pairs and run it."""
        if action not in bulk_actions():
            raise InvalidTransition(N_("This action cannot run in bulk."))
        if not may_run(actor.role_set, action):
            raise PermissionDenied(ROLE_MAY_NOT)
        if not reason.strip():
            raise ValidationFailed(N_("Please give a reason."))
        if not targets:
            raise ValidationFailed(N_("Nothing matches this filter any more."))
        if len(self._jobs) >= self.max_running:
            raise ValidationFailed(
                N_("Too many bulk actions are running. Try again when one of them has finished.")
            )

        async def work(change: Change) -> RecoveryJob:
            # `actor` is the handler's cached copy: the roles as they are now decide.
            await acting(
                change.session, actor.id, lambda roles: may_run(roles, action), ROLE_MAY_NOT
            )
            job = RecoveryJob(
                actor_id=actor.id,
                action=action,
                reason=reason.strip(),
                targets=[[r, v] for r, v in targets],
                status=JobStatus.RUNNING,
                total=len(targets),
                applied=0,
                skipped=0,
                failed=0,
                created_at=self.clock.now(),
            )
            change.session.add(job)
            await change.session.flush()
            change.entity_id = job.id
            change.after = {"action": action.value, "requests": [r for r, _v in targets]}
            return job

        job = await self.tx.run("start_bulk_recovery", "recovery_job", work, actor_id=actor.id)
        task = asyncio.create_task(self._run(job.id, actor.id))
        self._jobs[job.id] = task
        # A finished job is read from its row: the task is let go, so the map stays small.
        task.add_done_callback(functools.partial(self._forget, job.id))
        return job

    def _forget(self, job_id: int, _task: asyncio.Task[RecoveryJob]) -> None:
        self._jobs.pop(job_id, None)

    def running(self) -> int:
        """Jobs of this process still running (at most `max_running`)."""
        return len(self._jobs)

    async def wait(self, job_id: int) -> RecoveryJob:
        task = self._jobs.get(job_id)
        if task is not None:
            await task
        job = await self.job(job_id)
        assert job is not None
        return job

    async def job(self, job_id: int) -> RecoveryJob | None:
        async with self.sessionmaker() as session:
            return await session.get(RecoveryJob, job_id)

    async def shutdown(self) -> None:
        tasks = list(self._jobs.values())  # each leaves the map as it ends
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self, job_id: int, actor_id: int) -> RecoveryJob:
        job = await self.job(job_id)
        assert job is not None
        counts = {"applied": 0, "skipped": 0, "failed": 0}
        status = JobStatus.COMPLETED
        try:
            for index, (request_id, version) in enumerate(job.targets):
                if index:
                    await self.sleep(1 / self.per_second)  # be gentle with Telegram
                try:
                    result = await self.actions.apply(
                        request_id, job.action, actor_id, version, job.reason, job_id=job.id
                    )
                except (InvalidTransition, NotFound, StaleVersion):
                    counts["skipped"] += 1  # no longer applicable: it moved or finished
                    continue
                except Exception:
                    logger.exception("bulk job %s failed on request %s", job_id, request_id)
                    counts["failed"] += 1
                    continue
                key = "applied" if result.outcome is RecoveryOutcome.APPLIED else "skipped"
                counts[key] += 1
                await self._progress(job_id, counts, None)
        except asyncio.CancelledError:
            status = JobStatus.FAILED
            raise
        finally:
            await self._progress(job_id, counts, status)
        finished = await self.job(job_id)
        assert finished is not None
        return finished

    async def _progress(
        self, job_id: int, counts: dict[str, int], status: JobStatus | None
    ) -> None:
        async def work(change: Change) -> None:
            job = await change.session.get(RecoveryJob, job_id)
            if job is None:
                return
            job.applied, job.skipped, job.failed = (
                counts["applied"],
                counts["skipped"],
                counts["failed"],
            )
            if status is not None:
                job.status, job.finished_at = status, self.clock.now()

        # Counters of a job whose requests each wrote their own audit rows.
        await self.tx.run("bulk_recovery_progress", "recovery_job", work, audited=False)
