"""Text pieces of the /workflow_recovery screens, in the admin's language. Names and reasons in
list rows are clipped, rows cut and confirmations fitted (core/fitting.py)."""

from __future__ import annotations

from datetime import timedelta
from html import escape

from aiogram.utils.i18n import gettext as _

from core.enums import RecoveryAction, RequestStatus, Risk
from core.fitting import MESSAGE_LIMIT, PERSON_LIMIT, REASON_LIMIT, ROW_LIMIT, clip, cut_html
from core.i18n import N_
from core.names import status_name
from core.workflows import WorkflowRegistry
from database.models import Request, RequestTransition, User
from handlers.admin.texts import action_name
from services.confirmation_scopes import RecoveryBulkScope
from services.recovery.plans import Plan
from services.recovery.spec import Move, Told, spec
from services.stuck import StuckEntry

# What each move does to the request, on the confirmation screen (None: nothing moves).
MOVE_LINES = {
    Move.STAY: None,
    Move.CHOSEN_HOLDER: N_("Request #{request_id} will be given to {assignee}, at {stage}."),
    Move.BACK: N_("Request #{request_id} will move from {old} to {new}, with {assignee}."),
    Move.FORWARD: N_("Request #{request_id} will move from {old} to {new}, with {assignee}."),
    Move.COMPLETE: N_("Request #{request_id} will be marked completed."),
}
# Who is told (services/recovery/actions.py:_notify): for one request, for a bulk job.
TOLD_LINES = {
    Told.ASSIGNEE_REMINDER: (
        N_("{assignee} gets a reminder with the Approve and Reject buttons."),
        N_("Each request's assignee gets a reminder; nobody else is told."),
    ),
    Told.REQUESTER_AND_ASSIGNEE: (
        N_("The requester and {assignee} are told."),
        N_("Each request's requester is told, and its new assignee if it has one."),
    ),
    Told.REQUESTER: (
        N_("Only the requester is told."),
        N_("Only each request's requester is told."),
    ),
}
RISK_NAMES = {Risk.LOW: N_("low risk"), Risk.MEDIUM: N_("medium risk"), Risk.HIGH: N_("high risk")}
REASON_PRESETS = (
    N_("Assignee is away"),
    N_("Decided outside the bot"),
    N_("Duplicate or mistaken request"),
    N_("Wrong stage"),
)


def duration(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return _("{days} d {hours} h").format(days=days, hours=hours)
    if hours:
        return _("{hours} h {minutes} min").format(hours=hours, minutes=minutes)
    return _("{minutes} min").format(minutes=minutes)


def stage_name(workflows: WorkflowRegistry, request: Request, locale: str) -> str:
    if request.stage is None:
        return "—"
    workflow = workflows.get(request.workflow)
    stage = workflow.stage(request.stage) if workflow else None
    if stage is None:
        return escape(request.stage) + " " + _("(not in the workflow file)")
    return escape(stage.display(locale))


def who(user: User | None) -> str:
    return escape(clip(user.display_name, PERSON_LIMIT)) if user else _("nobody")


def entry_line(entry: StuckEntry, workflows: WorkflowRegistry, locale: str) -> str:
    request = entry.request
    line = _("#{request_id} {requester} · {stage} · with {assignee}").format(
        request_id=request.id,
        requester=escape(clip(request.requester.display_name, PERSON_LIMIT)),
        stage=stage_name(workflows, request, locale),
        assignee=who(request.assignee),
    )
    waited = _("waiting {waited} (limit {limit})").format(
        waited=duration(entry.waiting), limit=duration(entry.threshold)
    )
    flags = [waited]
    if entry.assignee_gone:
        flags.append(_("⚠️ assignee gone"))
    return cut_html(line, ROW_LIMIT - 120) + "\n   " + ", ".join(flags)


def state_line(request: Request, workflows: WorkflowRegistry, locale: str) -> str:
    if request.status is not RequestStatus.ACTIVE:
        return _("Request #{request_id}: {status}.").format(
            request_id=request.id, status=status_name(request.status)
        )
    return _("Request #{request_id}: {status}, at {stage}, with {assignee}.").format(
        request_id=request.id,
        status=status_name(request.status),
        stage=stage_name(workflows, request, locale),
        assignee=who(request.assignee),
    )


def history_lines(transitions: list[RequestTransition], names: dict[int, str]) -> list[str]:
    lines = []
    for t in transitions[-8:]:  # the latest moves; the full history is in the database
        lines.append(
            "• {at} {action}: {frm} → {to} ({actor}){reason}".format(
                at=t.created_at.strftime("%m-%d %H:%M"),
                action=escape(t.action.value),
                frm=escape(t.from_stage or "—"),
                to=escape(t.to_stage or t.to_status.value),
                actor=escape(clip(names.get(t.actor_id or 0, _("system")), PERSON_LIMIT)),
                reason=f" — {escape(clip(t.reason, REASON_LIMIT))}" if t.reason else "",
            )
        )
    return lines


def action_button(action: RecoveryAction) -> str:
    return f"{action_name(action)} · {_(RISK_NAMES[spec(action).risk])}"


def plan_text(plan: Plan, workflows: WorkflowRegistry, locale: str, reason: str) -> str:
    workflow = workflows.get(plan.workflow)

    def title(key: str | None) -> str:
        stage = workflow.stage(key) if workflow and key else None
        return escape(stage.display(locale)) if stage else escape(key or "—")

    lines = [
        _("Please confirm: {action} ({risk}).").format(
            action=action_name(plan.action), risk=_(RISK_NAMES[plan.risk])
        ),
    ]
    moved = MOVE_LINES[spec(plan.action).move]
    if moved is not None:
        lines.append(
            _(moved).format(
                request_id=plan.request_id,
                assignee=who(plan.to_assignee),
                stage=title(plan.to_stage),
                old=title(plan.from_stage),
                new=title(plan.to_stage),
            )
        )
    if plan.skips_stock_issue:
        lines.append(_("The items will NOT be issued from stock."))
    lines.append(_(TOLD_LINES[plan.told][0]).format(assignee=who(plan.to_assignee)))
    lines.append(_("Reason: {reason}").format(reason=escape(reason)))
    return cut_html("\n".join(lines), MESSAGE_LIMIT)  # the reason, last, is what a cut shortens


def bulk_confirmation(scope: RecoveryBulkScope, locale: str) -> str:
    action = scope.action
    lines = [
        _("Please confirm: {action} for {count} stuck requests: {ids}.").format(
            action=action_name(action),
            count=len(scope.targets),
            ids=", ".join(f"#{r}" for r, _v in scope.targets[:30])
            + (" …" if len(scope.targets) > 30 else ""),
        ),
        _("Only these requests are touched; any that changed since this preview are skipped."),
        _(TOLD_LINES[spec(action).told][1]),
        _("Reason: {reason}").format(reason=escape(scope.reason)),
    ]
    return cut_html("\n".join(lines), MESSAGE_LIMIT)
