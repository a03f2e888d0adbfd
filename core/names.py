"""The words every screen and notification shares, in the current locale: the names of roles,
statuses, error categories, discrepancy kinds and health components, stage titles (a request's
item lines, fitted to Telegram's limits, are in core/fitting.py)."""

from __future__ import annotations

from html import escape

from aiogram.utils.i18n import gettext as _

from core.enums import (
    DiscrepancyKind,
    ErrorCategory,
    ErrorSeverity,
    HealthComponent,
    HealthStatus,
    RequestStatus,
    Role,
)
from core.i18n import N_
from core.workflows import WorkflowRegistry

STATUS_NAMES = {
    RequestStatus.ACTIVE: N_("in progress"),
    RequestStatus.COMPLETED: N_("completed"),
    RequestStatus.REJECTED: N_("rejected"),
    RequestStatus.CANCELLED: N_("cancelled"),
}

ROLE_NAMES = {
    Role.REQUESTER: N_("requester"),
    Role.MANAGER: N_("manager"),
    Role.STOREKEEPER: N_("storekeeper"),
    Role.SUPPORT: N_("support"),
    Role.ADMIN: N_("admin"),
}


CATEGORY_NAMES = {
    ErrorCategory.TRANSIENT: N_("transient"),
    ErrorCategory.DATA: N_("data"),
    ErrorCategory.BUSINESS_LOGIC: N_("business logic"),
    ErrorCategory.SYSTEM: N_("system"),
    ErrorCategory.INVENTORY: N_("inventory"),
    ErrorCategory.NOTIFICATION: N_("notification"),
}

SEVERITY_NAMES = {
    ErrorSeverity.LOW: N_("low"),
    ErrorSeverity.MEDIUM: N_("medium"),
    ErrorSeverity.HIGH: N_("high"),
    ErrorSeverity.CRITICAL: N_("critical"),
}


def category_name(category: ErrorCategory | str) -> str:
    return _(CATEGORY_NAMES[ErrorCategory(category)])


def severity_name(severity: ErrorSeverity | str) -> str:
    return _(SEVERITY_NAMES[ErrorSeverity(severity)])


def status_name(status: RequestStatus) -> str:
    return _(STATUS_NAMES[status])


def role_name(role: Role | str) -> str:
    return _(ROLE_NAMES[Role(role)])


def stage_title(workflows: WorkflowRegistry, workflow: str, stage: str | None, locale: str) -> str:
    """The stage's title from the workflow file; a stage removed from the file shows its key."""
    if stage is None:
        return "—"
    definition = workflows.get(workflow)
    found = definition.stage(stage) if definition else None
    return escape(found.display(locale) if found else stage)


HEALTH_STATUS_NAMES = {
    HealthStatus.HEALTHY: N_("healthy"),
    HealthStatus.DEGRADED: N_("degraded"),
    HealthStatus.UNHEALTHY: N_("unhealthy"),
    HealthStatus.UNKNOWN: N_("unknown"),
}
COMPONENT_NAMES = {
    HealthComponent.DATABASE: N_("Database"),
    HealthComponent.TELEGRAM: N_("Telegram API"),
    HealthComponent.SCHEDULER: N_("Background jobs"),
    HealthComponent.QUEUE: N_("Notification queue"),
    HealthComponent.ERRORS: N_("Errors in the last hour"),
    HealthComponent.STUCK: N_("Stuck workflows"),
    HealthComponent.INVENTORY: N_("Inventory findings"),
    HealthComponent.RECOVERY: N_("Recoveries in flight"),
}
KIND_NAMES = {
    DiscrepancyKind.STOCK_MISMATCH: N_("stock figure disagrees with the ledger"),
    DiscrepancyKind.NEGATIVE_STOCK: N_("negative stock"),
    DiscrepancyKind.ORPHAN_MISSING_REQUEST: N_("movement of a request that does not exist"),
    DiscrepancyKind.ORPHAN_CLOSED_REQUEST: N_("movement of a rejected or cancelled request"),
    DiscrepancyKind.STALE_PENDING: N_("pending movement too old"),
    DiscrepancyKind.DUPLICATE_MOVEMENT: N_("duplicate movement for one request line"),
    DiscrepancyKind.MANUAL_COUNT: N_("counted quantity set by an admin"),
}


def health_status_name(status: HealthStatus | str) -> str:
    return _(HEALTH_STATUS_NAMES[HealthStatus(status)])


def component_name(component: HealthComponent | str) -> str:
    return _(COMPONENT_NAMES[HealthComponent(component)])


def kind_name(kind: DiscrepancyKind | str) -> str:
    return _(KIND_NAMES[DiscrepancyKind(kind)])
