"""What each kind of notification carries: one frozen type per kind, read from and written to
`pending_notifications.payload`.

The stored JSON is a contract with rows already queued (and with whoever reads the table):
`to_json` writes exactly the keys and value types the services always wrote — a type's fields,
in their order (utils/records.py) — and `from_json` reads every row written so far, including
older ones that lack an optional key. A row that does not fit its kind raises
`MalformedPayload`; the sender records it like any rendering failure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
from utils.records import WRITTEN_WHEN_SET, Json, Unreadable, dump, load


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


class MalformedPayload(Unreadable):
    """A stored payload that does not fit its kind: a key missing, or a value of the wrong type."""


@dataclass(frozen=True)
class Payload:
    """One notification's parameters; the kind is the type's, so a row cannot mismatch it."""

    kind: ClassVar[NotificationKind]

    def to_json(self) -> dict[str, Json]:
        return dump(self)

    @classmethod
    def from_json(cls, data: object) -> Self:
        try:
            return load(cls, data, cls.kind)
        except Unreadable as exc:
            raise MalformedPayload(str(exc)) from None


@dataclass(frozen=True)
class ItemLine:
    """One line of a request as a decider sees it."""

    name: str
    quantity: int
    unit: str


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
    reminder: bool = field(default=False, metadata=WRITTEN_WHEN_SET)  # an admin's nudge


@dataclass(frozen=True)
class RequestAdvanced(Payload):
    """To the requester: approved and moved on, to whom (None: nobody holds the role)."""

    kind: ClassVar[NotificationKind] = NotificationKind.REQUEST_ADVANCED
    request_id: int
    workflow: str
    stage: str
    assignee: str | None


@dataclass(frozen=True)
class RequestCompleted(Payload):
    """To the requester: the last stage approved; `issued` when a stage issued the stock."""

    kind: ClassVar[NotificationKind] = NotificationKind.REQUEST_COMPLETED
    request_id: int
    workflow: str
    issued: bool = False


@dataclass(frozen=True)
class RequestRejected(Payload):
    """To the requester: who rejected it at which stage, and why."""

    kind: ClassVar[NotificationKind] = NotificationKind.REQUEST_REJECTED
    request_id: int
    workflow: str
    stage: str | None
    reason: str
    by: str


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


@dataclass(frozen=True)
class _Health(Payload):
    """A change of the system's health, to every admin; `components` are the failing ones."""

    status: HealthStatus
    previous: HealthStatus
    components: tuple[HealthComponent, ...] = ()  # older rows may lack the key


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


@dataclass(frozen=True)
class ReconciliationAlert(Payload):
    """An inventory discrepancy that needs a person, to every admin.

    `discrepancy` is stored under the key "kind" (the row's own kind is the notification's)."""

    kind: ClassVar[NotificationKind] = NotificationKind.RECONCILIATION_ALERT
    finding_id: int
    discrepancy: DiscrepancyKind = field(metadata={"key": "kind"})
    sku: str
    expected: int | None
    actual: int | None
    transaction_id: int | None
