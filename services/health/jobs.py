"""What each background job did last, fed by APScheduler's events (one monitor per app)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from core.clock import Clock


class JobResult(StrEnum):
    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"  # another replica held the job's lock


@dataclass(frozen=True)
class JobOutcome:
    """What `guarded()` hands back to APScheduler, which passes it on as the event's retval."""

    result: JobResult
    duration: float


@dataclass
class JobState:
    job_id: str
    interval_seconds: float
    last_run: datetime | None = None
    last_result: JobResult | None = None
    last_duration: float | None = None
    failures_in_a_row: int = 0
    misfires: int = 0
    runs: int = 0


class JobMonitor:
    def __init__(self, clock: Clock, misfire_grace_seconds: float = 60.0) -> None:
        self.clock = clock
        self.misfire_grace_seconds = misfire_grace_seconds  # how late a run may start
        self._jobs: dict[str, JobState] = {}
        self._next_run: Callable[[str], datetime | None] = lambda job_id: None
        self.running = False
        self.listeners: list[Callable[[str, JobOutcome], None]] = []

    def watch(self, job_id: str, interval_seconds: float) -> None:
        self._jobs[job_id] = JobState(job_id, interval_seconds)

    def attach(self, next_run: Callable[[str], datetime | None]) -> None:
        """Called by the scheduler factory: where the next run times come from."""
        self._next_run = next_run
        self.running = True

    def jobs(self) -> list[JobState]:
        return list(self._jobs.values())

    def next_run(self, job_id: str) -> datetime | None:
        return self._next_run(job_id)

    def finished(self, job_id: str, outcome: JobOutcome) -> None:
        state = self._jobs.get(job_id)
        if state is None:
            return
        state.last_run = self.clock.now()
        state.last_result = outcome.result
        state.last_duration = outcome.duration
        state.runs += 1
        if outcome.result is JobResult.FAILED:
            state.failures_in_a_row += 1
        elif outcome.result is JobResult.OK:
            state.failures_in_a_row = 0
        for listener in self.listeners:
            listener(job_id, outcome)

    def missed(self, job_id: str) -> None:
        state = self._jobs.get(job_id)
        if state is not None:
            state.misfires += 1

    def on_event(self, event: Any) -> None:
        """APScheduler listener for EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED."""
        from apscheduler.events import EVENT_JOB_MISSED

        if event.code == EVENT_JOB_MISSED:
            self.missed(event.job_id)
            return
        outcome = getattr(event, "retval", None)
        if not isinstance(outcome, JobOutcome):
            # guarded() never raises, so this is a job added without it: count it as failed.
            outcome = JobOutcome(JobResult.FAILED, 0.0)
        self.finished(event.job_id, outcome)
