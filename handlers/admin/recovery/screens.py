"""The /workflow_recovery screens its handlers share: the stuck filter, one request's detail."""

from __future__ import annotations

from html import escape

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.exceptions import ValidationFailed
from core.fitting import fit_text
from core.i18n import N_
from core.workflows import WorkflowRegistry
from database.models import User
from handlers.admin.callbacks import StuckAction, StuckList
from handlers.admin.recovery.texts import action_button, history_lines, state_line
from handlers.admin.screens import back_row
from services.recovery.actions import RecoveryActions
from services.recovery.spec import may_run
from services.requests import RequestService
from services.stuck import StuckFilter as Filter


def decode_filter(workflows: WorkflowRegistry, wf: int, st: int) -> Filter:
    if wf == -1:
        if st != -1:
            raise ValidationFailed(N_("That filter no longer exists."))
        return Filter()
    if not 0 <= wf < len(workflows.workflows):
        raise ValidationFailed(N_("That filter no longer exists."))
    workflow = workflows.workflows[wf]
    if st == -1:
        return Filter(workflow=workflow.key)
    if not 0 <= st < len(workflow.stages):
        raise ValidationFailed(N_("That filter no longer exists."))
    return Filter(workflow=workflow.key, stage=workflow.stages[st].key)


def filter_title(workflows: WorkflowRegistry, wf: int, st: int, locale: str) -> str:
    if wf == -1:
        return _("all workflows")
    workflow = workflows.workflows[wf]
    name = escape(workflow.display(locale))
    return name if st == -1 else f"{name} › {escape(workflow.stages[st].display(locale))}"


async def detail_screen(
    request_id: int,
    user: User,
    requests: RequestService,
    actions: RecoveryActions,
    workflows: WorkflowRegistry,
    locale: str,
    note: str | None = None,
) -> tuple[str, InlineKeyboardMarkup]:
    request = await requests.get(request_id)
    builder = InlineKeyboardBuilder()
    if request is None:
        back_row(builder, StuckList(page=0, wf=-1, st=-1).pack())
        return _("Request #{request_id} does not exist.").format(
            request_id=request_id
        ), builder.as_markup()
    transitions = list(await requests.history(request_id))
    names = await requests.names([t.actor_id for t in transitions if t.actor_id])
    lines = [note, ""] if note else []
    lines += [
        state_line(request, workflows, locale),
        _("Requester: {name}").format(name=escape(request.requester.display_name)),
        _("In this stage since {since} (UTC).").format(
            since=request.stage_entered_at.strftime("%Y-%m-%d %H:%M")
        ),
        "",
        _("History:"),
    ]
    history = history_lines(transitions, names)
    tail: list[str] = []
    possible = actions.available(request)
    allowed = [a for a in possible if may_run(user.role_set, a)]
    for action in allowed:
        builder.button(
            text=action_button(action),
            callback_data=StuckAction(
                action=action, request_id=request.id, version=request.version
            ),
        )
    if len(allowed) < len(possible):
        tail += ["", _("Other actions need an admin.")]
    if not possible:
        tail += ["", _("No recovery action applies: the request is finished.")]
    back_row(builder, StuckList(page=0, wf=-1, st=-1).pack())
    builder.adjust(1)
    text = fit_text("\n".join(lines), history, "\n".join(tail))
    return text, builder.as_markup()
