"""The shapes of a health report and the rules that grade and roll it up."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"
    UNKNOWN = "unknown"  # not measured here: left out of the roll-up

    @property
    def rank(self) -> int:
        return {"unknown": -1, "healthy": 0, "degraded": 1, "unhealthy": 2}[self.value]


def grade(value: float, thresholds: tuple[float, float]) -> Status:
    """`thresholds` is (degraded, unhealthy): reaching a bound is enough."""
    degraded, unhealthy = thresholds
    if value >= unhealthy:
        return Status.UNHEALTHY
    if value >= degraded:
        return Status.DEGRADED
    return Status.HEALTHY


def worst(*statuses: Status) -> Status:
    counted = [s for s in statuses if s is not Status.UNKNOWN]
    return max(counted, key=lambda s: s.rank, default=Status.HEALTHY)


@dataclass(frozen=True)
class Component:
    """One check: `value` is its headline figure, `details` what its message is made of."""

    name: str
    status: Status
    value: float | None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Report:
    taken_at: datetime
    components: tuple[Component, ...]

    @property
    def status(self) -> Status:
        return worst(*(c.status for c in self.components))

    def get(self, name: str) -> Component:
        return next(c for c in self.components if c.name == name)

    def as_json(self) -> dict[str, Any]:
        return {
            c.name: {"status": c.status.value, "value": c.value, "details": c.details}
            for c in self.components
        }
