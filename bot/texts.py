"""Shared pieces of text: status names, stage titles and item lists, in the current locale."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape
from typing import Any

from aiogram.utils.i18n import gettext as _

from bot.i18n import N_
from bot.workflows import WorkflowRegistry
from database.enums import ErrorCategory, ErrorSeverity, RequestStatus, Role

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


def item_lines(items: Iterable[Mapping[str, Any]]) -> str:
    return "\n".join(
        f"• {escape(str(i['name']))}: {i['quantity']} {escape(str(i['unit']))}" for i in items
    )
