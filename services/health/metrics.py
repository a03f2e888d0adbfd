"""Prometheus metrics on a registry of the app's own (several apps may live in one process).

Counters move as things happen; gauges are set from a fresh health report on every scrape."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from core.enums import (
    ErrorCategory,
    ErrorSeverity,
    HealthComponent,
    HealthStatus,
    RecoveryAction,
    RecoveryOutcome,
)
from services.failures.classify import Failure
from services.health.jobs import JobOutcome
from services.health.model import Report
from utils.circuit_breaker import BreakerState, CircuitBreaker

STATUS_VALUES = {
    HealthStatus.HEALTHY: 0,
    HealthStatus.DEGRADED: 1,
    HealthStatus.UNHEALTHY: 2,
    HealthStatus.UNKNOWN: -1,
}
BREAKER_VALUES = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.updates = Counter("bot_updates", "Telegram updates handled", ["type"], registry=r)
        self.errors = Counter(
            "bot_errors", "Errors recorded", ["category", "severity"], registry=r
        )
        # Refusals are answers, not errors: their own counter, outside bot_errors (and its alert).
        self.refusals = Counter(
            "bot_refusals", "Actions refused to a person (kept as error records)", registry=r
        )
        self.throttled = Counter(
            "bot_throttled_updates",
            "Updates dropped by the per-person flood control",
            ["type"],
            registry=r,
        )
        self.throttle_notices = Counter(
            "bot_throttle_notices",
            "Floods answered with the notice (one per person and quiet period)",
            registry=r,
        )
        self.notifications = Counter(
            "bot_notifications", "Notification delivery attempts", ["outcome"], registry=r
        )
        self.recovery_actions = Counter(
            "bot_recovery_actions",
            "Recovery actions applied to workflows",
            ["kind", "outcome"],
            registry=r,
        )
        self.job_runs = Counter(
            "bot_job_runs", "Background job runs", ["job", "result"], registry=r
        )
        self.job_duration = Histogram(
            "bot_job_duration_seconds", "Background job run time", ["job"], registry=r
        )
        self.job_last_success = Gauge(
            "bot_job_last_success_timestamp_seconds",
            "When each job last finished successfully (Unix time)",
            ["job"],
            registry=r,
        )
        self.telegram_latency = Histogram(
            "bot_telegram_api_latency_seconds", "Bot API call time", registry=r
        )
        self.breaker_state = Gauge(
            "bot_breaker_state",
            "Circuit breaker: 0 closed, 1 half-open, 2 open",
            ["breaker"],
            registry=r,
        )
        self.queue_depth = Gauge(
            "bot_queue_depth", "Notifications in the outbox by status", ["status"], registry=r
        )
        self.queue_oldest = Gauge(
            "bot_queue_oldest_pending_seconds",
            "Age of the oldest undelivered notification",
            registry=r,
        )
        self.errors_last_hour = Gauge(
            "bot_errors_last_hour",
            "Error occurrences in the last hour",
            ["category", "severity"],
            registry=r,
        )
        self.stuck = Gauge("bot_stuck_workflows", "Stuck workflows", registry=r)
        # The healer's executions; the exported name and help predate the rename (dashboards).
        self.healing = Gauge("bot_recoveries_in_flight", "Recovery executions running", registry=r)
        self.health = Gauge(
            "bot_health_status", "Overall health: 0 healthy, 1 degraded, 2 unhealthy", registry=r
        )
        self.component = Gauge(
            "bot_health_component_status",
            "Each health component: -1 unknown, 0 healthy, 1 degraded, 2 unhealthy",
            ["component"],
            registry=r,
        )
        # Every label combination shows from the start: a rule on a missing series never fires.
        for category in ErrorCategory:
            for severity in ErrorSeverity:
                self.errors.labels(category.value, severity.value)
                self.errors_last_hour.labels(category.value, severity.value)
        for outcome in ("sent", "retry", "dead", "lost"):
            self.notifications.labels(outcome)
        for update_type in ("message", "callback_query"):
            self.updates.labels(update_type)
            self.throttled.labels(update_type)
        for action in RecoveryAction:
            for result in (RecoveryOutcome.APPLIED, RecoveryOutcome.STALE):
                self.recovery_actions.labels(action.value, result.value)

    def failure_recorded(self, failure: Failure) -> None:
        if failure.refusal:
            self.refusals.inc()
        else:
            self.errors.labels(failure.category.value, failure.severity.value).inc()

    def job_finished(self, job_id: str, outcome: JobOutcome, at_unix: float) -> None:
        self.job_runs.labels(job_id, outcome.result.value).inc()
        self.job_duration.labels(job_id).observe(outcome.duration)
        if outcome.result.value == "ok":
            self.job_last_success.labels(job_id).set(at_unix)

    def watch_job(self, job_id: str, started_unix: float) -> None:
        """A job that has not succeeded yet counts from the start, so "not running" can fire."""
        self.job_last_success.labels(job_id).set(started_unix)
        self.job_duration.labels(job_id)
        for result in ("ok", "failed", "skipped"):
            self.job_runs.labels(job_id, result)

    def refresh(self, report: Report, breakers: list[CircuitBreaker]) -> None:
        for breaker in breakers:
            self.breaker_state.labels(breaker.name).set(BREAKER_VALUES[breaker.state])
        self.health.set(STATUS_VALUES[report.status])
        for component in report.components:
            self.component.labels(component.name).set(STATUS_VALUES[component.status])
        queue = report.get(HealthComponent.QUEUE)
        if queue.value is not None:
            for status in ("pending", "retrying", "dead"):
                self.queue_depth.labels(status).set(queue.details[status])
            self.queue_oldest.set(queue.details["oldest_minutes"] * 60)
        errors = report.get(HealthComponent.ERRORS)
        if errors.value is not None:
            for category in ErrorCategory:
                for severity in ErrorSeverity:
                    self.errors_last_hour.labels(category.value, severity.value).set(0)
            for row in errors.details["breakdown"]:
                self.errors_last_hour.labels(row["category"], row["severity"]).set(row["count"])
        stuck = report.get(HealthComponent.STUCK)
        if stuck.value is not None:
            self.stuck.set(stuck.value)
        healing = report.get(HealthComponent.RECOVERY)
        if healing.value is not None:
            self.healing.set(healing.value)

    def render(self) -> bytes:
        return generate_latest(self.registry)
