"""One renderer per notification kind, each taking its kind's payload, and the table that pairs
them: the text in the current locale (render.py sets it) and the buttons, if any. Each text fits
Telegram (core/fitting.py): a request's lines are narrowed or counted ("… and N more") so an
approver is always told, and render.py cuts whatever a long reason or name still makes too long."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from typing import Any, Generic, TypeVar

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from core.enums import RequestStatus
from core.fitting import MESSAGE_LIMIT, item_lines, size
from core.names import (
    category_name,
    component_name,
    health_status_name,
    kind_name,
    stage_title,
)
from core.workflows import WorkflowRegistry
from outbox.payloads import (
    ApprovalNeeded,
    ErrorAlert,
    HealthChanged,
    HealthRecovered,
    NotificationKind,
    Payload,
    ReconciliationAlert,
    RecoveryApplied,
    RequestAdvanced,
    RequestCompleted,
    RequestRejected,
    StuckEscalation,
    StuckNudge,
)
from utils.records import dump

# (request id, version) -> the Approve / Reject keyboard of a decision
DecisionButtons = Callable[[int, int], InlineKeyboardMarkup]
Rendered = tuple[str, InlineKeyboardMarkup | None]
P = TypeVar("P", bound=Payload)
# Left free on a decision's notification for the line the approver's press adds under it
# (handlers/approvals.py: "✅ Approved. Request #N moved to <stage>.").
DECISION_ROOM = 400


@dataclass(frozen=True)
class Context:
    """What a renderer needs besides its payload."""

    workflows: WorkflowRegistry
    locale: str
    decision_buttons: DecisionButtons

    def stage(self, workflow: str, stage: str | None) -> str:
        return stage_title(self.workflows, workflow, stage, self.locale)


def approval_needed(p: ApprovalNeeded, c: Context) -> Rendered:
    text = _("Request #{request_id} from {requester} waits for your decision ({stage}):").format(
        request_id=p.request_id, requester=escape(p.requester), stage=c.stage(p.workflow, p.stage)
    )
    if p.reminder:
        text = _("Reminder from an admin.") + " " + text
    budget = MESSAGE_LIMIT - DECISION_ROOM - size(text) - 1
    lines = item_lines((dump(line) for line in p.items), budget)
    return f"{text}\n{lines}", c.decision_buttons(p.request_id, p.version)


def request_advanced(p: RequestAdvanced, c: Context) -> Rendered:
    if p.assignee:
        text = _("Request #{request_id} was approved and moved to {stage} ({assignee}).")
    else:
        text = _(
            "Request #{request_id} was approved and moved to {stage}. Nobody holds "
            "that role yet; an admin has to assign someone."
        )
    return text.format(
        request_id=p.request_id,
        stage=c.stage(p.workflow, p.stage),
        assignee=escape(str(p.assignee)),
    ), None


def request_completed(p: RequestCompleted, c: Context) -> Rendered:
    if p.issued:
        text = _("Request #{request_id} is completed: the items were issued to you.")
    else:
        text = _("Request #{request_id} is completed.")
    return text.format(request_id=p.request_id), None


def request_rejected(p: RequestRejected, c: Context) -> Rendered:
    text = _("Request #{request_id} was rejected by {by}. Reason: {reason}").format(
        request_id=p.request_id, by=escape(p.by), reason=escape(p.reason)
    )
    return text, None


def stuck_nudge(p: StuckNudge, c: Context) -> Rendered:
    text = _(
        "Request #{request_id} has been waiting for you for {hours} h ({stage}). "
        "Please decide on it."
    ).format(request_id=p.request_id, hours=p.hours, stage=c.stage(p.workflow, p.stage))
    return text, c.decision_buttons(p.request_id, p.version)


def stuck_escalation(p: StuckEscalation, c: Context) -> Rendered:
    if p.assignee_gone:
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
        request_id=p.request_id,
        stage=c.stage(p.workflow, p.stage),
        hours=p.hours,
        assignee=escape(str(p.assignee)),
    ), None


def recovery_applied(p: RecoveryApplied, c: Context) -> Rendered:
    if p.status is RequestStatus.COMPLETED:
        what = _("it is now completed")
    else:
        what = _("it is now at {stage}").format(stage=c.stage(p.workflow, p.stage))
    text = _("An admin ({by}) changed request #{request_id}: {what}. Reason: {reason}").format(
        by=escape(p.by), request_id=p.request_id, what=what, reason=escape(p.reason)
    )
    return text, None


def health_changed(p: HealthChanged, c: Context) -> Rendered:
    text = _(
        "⚠️ System health changed from {previous} to {status}. Needs attention: "
        "{components}. See /workflow_recovery → System health."
    ).format(
        previous=health_status_name(p.previous),
        status=health_status_name(p.status),
        components=", ".join(component_name(n) for n in p.components) or "-",
    )
    return text, None


def health_recovered(p: HealthRecovered, c: Context) -> Rendered:
    text = _("✅ System health recovered: healthy again (was {previous}).").format(
        previous=health_status_name(p.previous)
    )
    return text, None


def error_alert(p: ErrorAlert, c: Context) -> Rendered:
    text = _(
        "⚠️ Critical problem {reference}: {category}, {exception} in {where}. "
        "Seen {count} time(s) so far. Repeats will only raise the count."
    ).format(
        reference=escape(p.reference),
        category=category_name(p.category),
        exception=escape(p.exception),
        where=escape(str(p.where)),
        count=p.count,
    )
    return text, None


def reconciliation_alert(p: ReconciliationAlert, c: Context) -> Rendered:
    text = _(
        "⚠️ Inventory discrepancy that needs a person: {kind} for {sku} (expected {expected}, "
        "actual {actual}). See /reconcile."
    ).format(
        kind=kind_name(p.discrepancy),
        sku=escape(p.sku),
        expected=_dash(p.expected),
        actual=_dash(p.actual),
    )
    return text, None


def _dash(value: int | None) -> str:
    return "—" if value is None else str(value)


@dataclass(frozen=True)
class Entry(Generic[P]):
    """A kind's payload type and its renderer; mypy checks that the two agree."""

    payload: type[P]
    render: Callable[[P, Context], Rendered]

    def __call__(self, data: object, context: Context) -> Rendered:
        return self.render(self.payload.from_json(data), context)


RENDERERS: dict[NotificationKind, Entry[Any]] = {
    entry.payload.kind: entry
    for entry in (
        Entry(ApprovalNeeded, approval_needed),
        Entry(RequestAdvanced, request_advanced),
        Entry(RequestCompleted, request_completed),
        Entry(RequestRejected, request_rejected),
        Entry(StuckNudge, stuck_nudge),
        Entry(StuckEscalation, stuck_escalation),
        Entry(RecoveryApplied, recovery_applied),
        Entry(HealthChanged, health_changed),
        Entry(HealthRecovered, health_recovered),
        Entry(ErrorAlert, error_alert),
        Entry(ReconciliationAlert, reconciliation_alert),
    )
}
