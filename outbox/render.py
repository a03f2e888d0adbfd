"""Rendering outbox rows into messages, in the recipient's language at send time.

The Approve / Reject buttons belong to the screen that handles them (handlers/): the composition
root hands their builder in, so the outbox never imports a screen."""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from core.enums import DiscrepancyKind
from core.i18n import pick_locale
from core.names import (
    category_name,
    component_name,
    health_status_name,
    item_lines,
    kind_name,
    stage_title,
)
from core.workflows import WorkflowRegistry
from database.models import PendingNotification

# (request id, version) -> the Approve / Reject keyboard of a decision
DecisionButtons = Callable[[int, int], InlineKeyboardMarkup]


class UnknownNotification(Exception):
    """An outbox row of a kind this version cannot render."""


class Renderer:
    def __init__(
        self, i18n: I18n, workflows: WorkflowRegistry, decision_buttons: DecisionButtons
    ) -> None:
        self.i18n = i18n
        self.workflows = workflows
        self.decision_buttons = decision_buttons

    def render(self, row: PendingNotification) -> tuple[str, InlineKeyboardMarkup | None]:
        user = row.recipient
        locale = pick_locale(user.language, user.telegram_language, self.i18n.default_locale)
        with self.i18n.context(), self.i18n.use_locale(locale):
            return self._render(row.kind, row.payload, locale)

    def _render(
        self, kind: str, p: dict[str, object], locale: str
    ) -> tuple[str, InlineKeyboardMarkup | None]:
        # Alerts to admins carry no request; everything else is about one request.
        if kind in ("health_changed", "health_recovered"):
            return self._health(kind, p), None
        alerts: dict[str, Callable[[dict[str, object]], str]] = {
            "error_alert": self._error_alert,
            "reconciliation_alert": self._reconciliation_alert,
        }
        if kind in alerts:
            return alerts[kind](p), None
        return self._request_kinds(kind, p, locale)

    def _request_kinds(
        self, kind: str, p: dict[str, object], locale: str
    ) -> tuple[str, InlineKeyboardMarkup | None]:
        request_id = int(str(p["request_id"]))
        if kind == "approval_needed":
            stage = stage_title(self.workflows, str(p["workflow"]), str(p["stage"]), locale)
            text = _(
                "Request #{request_id} from {requester} waits for your decision ({stage}):"
            ).format(request_id=request_id, requester=escape(str(p["requester"])), stage=stage)
            if p.get("reminder"):
                text = _("Reminder from an admin.") + " " + text
            items = p["items"]
            assert isinstance(items, list)
            return f"{text}\n{item_lines(items)}", self.decision_buttons(
                request_id, int(str(p["version"]))
            )
        if kind == "request_advanced":
            stage = stage_title(self.workflows, str(p["workflow"]), str(p["stage"]), locale)
            assignee = p.get("assignee")
            if assignee:
                text = _("Request #{request_id} was approved and moved to {stage} ({assignee}).")
            else:
                text = _(
                    "Request #{request_id} was approved and moved to {stage}. Nobody holds "
                    "that role yet; an admin has to assign someone."
                )
            return text.format(
                request_id=request_id, stage=stage, assignee=escape(str(assignee))
            ), None
        if kind == "request_completed":
            if p.get("issued"):
                text = _("Request #{request_id} is completed: the items were issued to you.")
            else:
                text = _("Request #{request_id} is completed.")
            return text.format(request_id=request_id), None
        if kind == "request_rejected":
            text = _("Request #{request_id} was rejected by {by}. Reason: {reason}").format(
                request_id=request_id, by=escape(str(p["by"])), reason=escape(str(p["reason"]))
            )
            return text, None
        return self._recovery_kinds(kind, p, request_id, locale)

    def _recovery_kinds(
        self, kind: str, p: dict[str, object], request_id: int, locale: str
    ) -> tuple[str, InlineKeyboardMarkup | None]:
        if kind in ("stuck_nudge", "stuck_escalation"):
            return self._stuck(kind, p, request_id, locale)
        if kind == "recovery_applied":
            return self._recovery(p, request_id, locale), None
        raise UnknownNotification(kind)

    def _stuck(
        self, kind: str, p: dict[str, object], request_id: int, locale: str
    ) -> tuple[str, InlineKeyboardMarkup | None]:
        stage = stage_title(self.workflows, str(p["workflow"]), str(p.get("stage")), locale)
        if kind == "stuck_nudge":
            text = _(
                "Request #{request_id} has been waiting for you for {hours} h ({stage}). "
                "Please decide on it."
            ).format(request_id=request_id, hours=p["hours"], stage=stage)
            return text, self.decision_buttons(request_id, int(str(p["version"])))
        if p.get("assignee_gone"):
            text = _(
                "Request #{request_id} is stuck at {stage} for {hours} h: nobody who can act "
                "on it is assigned. Reassign it in /workflow_recovery."
            )
        else:
            text = _(
                "Request #{request_id} is stuck at {stage} for {hours} h despite a reminder "
                "to {assignee}. See /workflow_recovery."
            )
        return text.format(
            request_id=request_id,
            stage=stage,
            hours=p["hours"],
            assignee=escape(str(p.get("assignee"))),
        ), None

    def _recovery(self, p: dict[str, object], request_id: int, locale: str) -> str:
        if p["status"] == "completed":
            what = _("it is now completed")
        else:
            what = _("it is now at {stage}").format(
                stage=stage_title(self.workflows, str(p["workflow"]), str(p["stage"]), locale)
            )
        return _("An admin ({by}) changed request #{request_id}: {what}. Reason: {reason}").format(
            by=escape(str(p["by"])),
            request_id=request_id,
            what=what,
            reason=escape(str(p["reason"])),
        )

    @staticmethod
    def _health(kind: str, p: dict[str, object]) -> str:
        if kind == "health_recovered":
            return _("✅ System health recovered: healthy again (was {previous}).").format(
                previous=health_status_name(str(p["previous"]))
            )
        names = p.get("components") or []
        assert isinstance(names, list)
        return _(
            "⚠️ System health changed from {previous} to {status}. Needs attention: "
            "{components}. See /workflow_recovery → System health."
        ).format(
            previous=health_status_name(str(p["previous"])),
            status=health_status_name(str(p["status"])),
            components=", ".join(component_name(str(n)) for n in names) or "-",
        )

    @staticmethod
    def _error_alert(p: dict[str, object]) -> str:
        return _(
            "⚠️ Critical problem {reference}: {category}, {exception} in {where}. "
            "Seen {count} time(s) so far. Repeats will only raise the count."
        ).format(
            reference=escape(str(p["reference"])),
            category=category_name(str(p["category"])),
            exception=escape(str(p["exception"])),
            where=escape(str(p["where"])),
            count=p["count"],
        )

    @staticmethod
    def _reconciliation_alert(p: dict[str, object]) -> str:
        return _(
            "⚠️ Inventory discrepancy that needs a person: {kind} for {sku} (expected {expected}, "
            "actual {actual}). See /reconcile."
        ).format(
            kind=kind_name(DiscrepancyKind(str(p["kind"]))),
            sku=escape(str(p["sku"])),
            expected=_dash(p.get("expected")),
            actual=_dash(p.get("actual")),
        )


def _dash(value: object) -> str:
    return "—" if value is None else str(value)
