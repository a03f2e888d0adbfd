"""What each kind of notification carries: one frozen type per kind, read from and written to
`pending_notifications.payload`.

The stored JSON is a contract with rows already queued (and with whoever reads the table):
`to_json` writes exactly the keys and value types the services always wrote, and `from_json`
reads every row written so far, including older ones that lack an optional key. A row that does
not fit its kind raises `MalformedPayload` (fields.py); the sender records it like any rendering
failure.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar, Self

from core.enums import (
    DiscrepancyKind,
    ErrorCategory,
    ErrorSeverity,
    HealthComponent,
    HealthStatus,
    RecoveryAction,
    RequestStatus,
)
from outbox.fields import Fields, Json


class NotificationKind(StrEnum):
    """`pending_notifications.kind`: the stored values, which rows already queued carry."""

    APPROVAL_NEEDED = "approval_needed"
    REQUEST_ADVANCED = "request_advanced"
    REQUEST_COMPLETED = "request_completed"
    REQUEST_REJECTED = "request_rejected"
    STUCK_NUDGE = "stuck_nudge"
    STUCK_ESCALATION = "stuck_escalation"
    RECOVERY_APPLIED = "recovery_applied"
    HEALTH_CHANGED = "health_changed"
    HEALTH_RECOVERED = "health_recovered"
    ERROR_ALERT = "error_alert"
    RECONCILIATION_ALERT = "reconciliation_alert"


@dataclass(frozen=True)
class Payload(ABC):
    """One notification's parameters; the kind is the type's, so a row cannot mismatch it."""

    kind: ClassVar[NotificationKind]

    @abstractmethod
    def to_json(self) -> dict[str, Json]: ...

    @classmethod
    @abstractmethod
    def from_json(cls, data: object) -> Self: ...


@dataclass(frozen=True)
class ItemLine:
    """One line of a request as a decider sees it."""

    name: str
    quantity: int
    unit: str

    def to_json(self) -> dict[str, Json]:
        return {"name": self.name, "quantity": self.quantity, "unit": self.unit}

    @classmethod
    def read(cls, f: Fields) -> ItemLine:
        return cls(name=f.text("name"), quantity=f.integer("quantity"), unit=f.text("unit"))


@dataclass(frozen=True)
class ApprovalNeeded(Payload):
    """To each holder of the stage's role (or the assignee an admin chose, or reminded)."""

    kind: ClassVar[NotificationKind] = NotificationKind.APPROVAL_NEEDED
    request_id: int
    version: int
    workflow: str
    stage: str | None
    requester: str
    items: tuple[ItemLine, ...]
    reminder: bool = False  # an admin's nudge; the key is written only then

    def to_json(self) -> dict[str, Json]:
        data: dict[str, Json] = {
            "request_id": self.request_id,
            "version": self.version,
            "workflow": self.workflow,
            "stage": self.stage,
            "requester": self.requester,
            "items": [line.to_json() for line in self.items],
        }
        if self.reminder:
            data["reminder"] = True
        return data

    @classmethod
    def from_json(cls, data: object) -> Self:
        f = Fields(cls.kind, data)
        return cls(
            request_id=f.integer("request_id"),
            version=f.integer("version"),
            workflow=f.text("workflow"),
            stage=f.maybe_text("stage"),
            requester=f.text("requester"),
            items=tuple(ItemLine.read(line) for line in f.objects("items")),
            reminder=f.flag("reminder"),
        )


@dataclass(frozen=True)
class RequestAdvanced(Payload):
    """To the requester: approved and moved on, to whom (None: nobody holds the role)."""

    kind: ClassVar[NotificationKind] = NotificationKind.REQUEST_ADVANCED
    request_id: int
    workflow: str
    stage: str
    assignee: str | None

    def to_json(self) -> dict[str, Json]:
        return {
            "request_id": self.request_id,
            "workflow": self.workflow,
            "stage": self.stage,
            "assignee": self.assignee,
        }

    @classmethod
    def from_json(cls, data: object) -> Self:
        f = Fields(cls.kind, data)
        return cls(
            request_id=f.integer("request_id"),
            workflow=f.text("workflow"),
            stage=f.text("stage"),
            assignee=f.maybe_text("assignee"),
        )


@dataclass(frozen=True)
class RequestCompleted(Payload):
    """To the requester: the last stage approved; `issued` when a stage issued the stock."""

    kind: ClassVar[NotificationKind] = NotificationKind.REQUEST_COMPLETED
    request_id: int
    workflow: str
    issued: bool = False

    def to_json(self) -> dict[str, Json]:
        return {"request_id": self.request_id, "workflow": self.workflow, "issued": self.issued}

    @classmethod
    def from_json(cls, data: object) -> Self:
        f = Fields(cls.kind, data)
        return cls(
            request_id=f.integer("request_id"),
            workflow=f.text("workflow"),
            issued=f.flag("issued"),
        )


@dataclass(frozen=True)
class RequestRejected(Payload):
    """To the requester: who rejected it at which stage, and why."""

    kind: ClassVar[NotificationKind] = NotificationKind.REQUEST_REJECTED
    request_id: int
    workflow: str
    stage: str | None
    reason: str
    by: str

    def to_json(self) -> dict[str, Json]:
        return {
            "request_id": self.request_id,
            "workflow": self.workflow,
            "stage": self.stage,
            "reason": self.reason,
            "by": self.by,
        }

    @classmethod
    def from_json(cls, data: object) -> Self:
        f = Fields(cls.kind, data)
        return cls(
            request_id=f.integer("request_id"),
            workflow=f.text("workflow"),
            stage=f.maybe_text("stage"),
            reason=f.text("reason"),
            by=f.text("by"),
        )


@dataclass(frozen=True)
class _Stuck(Payload):
    """A stuck request: the nudge to its assignee and the escalation to admins carry the same."""

    request_id: int
    version: int
    workflow: str
    stage: str | None
    hours: int
    assignee: str | None
    assignee_gone: bool

    def to_json(self) -> dict[str, Json]:
        return {
            "request_id": self.request_id,
            "version": self.version,
            "workflow": self.workflow,
            "stage": self.stage,
            "hours": self.hours,
            "assignee": self.assignee,
            "assignee_gone": self.assignee_gone,
        }

    @classmethod
    def from_json(cls, data: object) -> Self:
        f = Fields(cls.kind, data)
        return cls(
            request_id=f.integer("request_id"),
            version=f.integer("version"),
            workflow=f.text("workflow"),
            stage=f.maybe_text("stage"),
            hours=f.integer("hours"),
            assignee=f.maybe_text("assignee"),
            assignee_gone=f.flag("assignee_gone"),
        )


@dataclass(frozen=True)
class StuckNudge(_Stuck):
    kind: ClassVar[NotificationKind] = NotificationKind.STUCK_NUDGE


@dataclass(frozen=True)
class StuckEscalation(_Stuck):
    kind: ClassVar[NotificationKind] = NotificationKind.STUCK_ESCALATION


@dataclass(frozen=True)
class RecoveryApplied(Payload):
    """To the requester: an admin's recovery action changed their request."""

    kind: ClassVar[NotificationKind] = NotificationKind.RECOVERY_APPLIED
    request_id: int
    action: RecoveryAction
    workflow: str
    stage: str | None
    status: RequestStatus
    reason: str
    by: str

    def to_json(self) -> dict[str, Json]:
        return {
            "request_id": self.request_id,
            "action": self.action.value,
            "workflow": self.workflow,
            "stage": self.stage,
            "status": self.status.value,
            "reason": self.reason,
            "by": self.by,
        }

    @classmethod
    def from_json(cls, data: object) -> Self:
        f = Fields(cls.kind, data)
        return cls(
            request_id=f.integer("request_id"),
            action=f.member("action", RecoveryAction),
            workflow=f.text("workflow"),
            stage=f.maybe_text("stage"),
            status=f.member("status", RequestStatus),
            reason=f.text("reason"),
            by=f.text("by"),
        )


@dataclass(frozen=True)
class _Health(Payload):
    """A change of the system's health, to every admin; `components` are the failing ones."""

    status: HealthStatus
    previous: HealthStatus
    components: tuple[HealthComponent, ...]

    def to_json(self) -> dict[str, Json]:
        return {
            "status": self.status.value,
            "previous": self.previous.value,
            "components": [c.value for c in self.components],
        }

    @classmethod
    def from_json(cls, data: object) -> Self:
        f = Fields(cls.kind, data)
        return cls(
            status=f.member("status", HealthStatus),
            previous=f.member("previous", HealthStatus),
            components=f.members("components", HealthComponent),
        )


@dataclass(frozen=True)
class HealthChanged(_Health):
    kind: ClassVar[NotificationKind] = NotificationKind.HEALTH_CHANGED


@dataclass(frozen=True)
class HealthRecovered(_Health):
    kind: ClassVar[NotificationKind] = NotificationKind.HEALTH_RECOVERED


@dataclass(frozen=True)
class ErrorAlert(Payload):
    """A new critical problem, to every admin; `where` is the handler (None: not in one)."""

    kind: ClassVar[NotificationKind] = NotificationKind.ERROR_ALERT
    reference: str
    category: ErrorCategory
    severity: ErrorSeverity
    count: int
    where: str | None
    exception: str

    def to_json(self) -> dict[str, Json]:
        return {
            "reference": self.reference,
            "category": self.category.value,
            "severity": self.severity.value,
            "count": self.count,
            "where": self.where,
            "exception": self.exception,
        }

    @classmethod
    def from_json(cls, data: object) -> Self:
        f = Fields(cls.kind, data)
        return cls(
            reference=f.text("reference"),
            category=f.member("category", ErrorCategory),
            severity=f.member("severity", ErrorSeverity),
            count=f.integer("count"),
            where=f.maybe_text("where"),
            exception=f.text("exception"),
        )


@dataclass(frozen=True)
class ReconciliationAlert(Payload):
    """An inventory discrepancy that needs a person, to every admin.

    `discrepancy` is stored under the key "kind" (the row's own kind is the notification's)."""

    kind: ClassVar[NotificationKind] = NotificationKind.RECONCILIATION_ALERT
    finding_id: int
    discrepancy: DiscrepancyKind
    sku: str
    expected: int | None
    actual: int | None
    transaction_id: int | None

    def to_json(self) -> dict[str, Json]:
        return {
            "finding_id": self.finding_id,
            "kind": self.discrepancy.value,
            "sku": self.sku,
            "expected": self.expected,
            "actual": self.actual,
            "transaction_id": self.transaction_id,
        }

    @classmethod
    def from_json(cls, data: object) -> Self:
        f = Fields(cls.kind, data)
        return cls(
            finding_id=f.integer("finding_id"),
            discrepancy=f.member("kind", DiscrepancyKind),
            sku=f.text("sku"),
            expected=f.maybe_integer("expected"),
            actual=f.maybe_integer("actual"),
            transaction_id=f.maybe_integer("transaction_id"),
        )
