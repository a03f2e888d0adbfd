"""The shapes of a health report and the rules that grade and roll it up."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.enums import HealthComponent, HealthStatus


def grade(value: float, thresholds: tuple[float, float]) -> HealthStatus:
    """`thresholds` is (degraded, unhealthy): reaching a bound is enough."""
    degraded, unhealthy = thresholds
    if value >= unhealthy:
        return HealthStatus.UNHEALTHY
    if value >= degraded:
        return HealthStatus.DEGRADED
    return HealthStatus.HEALTHY


def worst(*statuses: HealthStatus) -> HealthStatus:
    counted = [s for s in statuses if s is not HealthStatus.UNKNOWN]
    return max(counted, key=lambda s: s.rank, default=HealthStatus.HEALTHY)


@dataclass(frozen=True)
class Component:
    """One check: `value` is its headline figure, `details` what its message is made of."""

    name: HealthComponent
    status: HealthStatus
    value: float | None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Report:
    taken_at: datetime
    components: tuple[Component, ...]

    @property
    def status(self) -> HealthStatus:
        return worst(*(c.status for c in self.components))

    def get(self, name: HealthComponent) -> Component:
        return next(c for c in self.components if c.name == name)

    def as_json(self) -> dict[str, Any]:
        return {
            c.name: {"status": c.status.value, "value": c.value, "details": c.details}
            for c in self.components
        }
