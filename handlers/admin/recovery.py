"""/workflow_recovery: the main menu, stuck workflows, single and bulk recovery actions.

One message is edited in place as the admin navigates. Every callback is checked again on
arrival: the role, the ids, the filter indexes, the pending action's nonce."""

from __future__ import annotations

import math
import secrets
from functools import partial
from html import escape
from typing import Any

from aiogram import Bot, F
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.enums import RecoveryAction, RecoveryOutcome
from core.exceptions import PermissionDenied, ValidationFailed
from core.i18n import N_
from core.workflows import WorkflowRegistry
from database.models import User
from handlers.admin.callbacks import (
    BulkAction,
    ConfirmPending,
    ErrorStatsView,
    JobView,
    ReasonPreset,
    ReassignTo,
    RecoveryLogView,
    RecoveryMenu,
    StuckAction,
    StuckDetail,
    StuckFilterPick,
    StuckList,
)
from handlers.admin.health import health_screen
from handlers.admin.inventory import home_button_data as inventory_home
from handlers.admin.notifications import home_button_data as notifications_home
from handlers.admin.recovery_texts import (
    ACTION_NAMES,
    REASON_PRESETS,
    action_button,
    entry_line,
    history_lines,
    plan_text,
    stage_name,
    state_line,
)
from handlers.admin.states import Recovery
from handlers.edits import safe_answer, safe_edit_text
from handlers.keyboards import add_pager
from handlers.routes import RouteTable
from services.health.service import HealthService
from services.recovery.actions import RecoveryActions
from services.recovery.bulk import BulkRecovery
from services.recovery.plans import BULK_ACTIONS, may_run
from services.requests import RequestService
from services.stuck import StuckFilter as Filter
from services.stuck import StuckService
from services.users import is_staff

routes = RouteTable(__name__)

PAGE_SIZE = 5
SECTIONS = frozenset({"home", "health"})


def require_staff(user: User) -> None:
    if not is_staff(user.role_set):
        raise PermissionDenied(N_("This menu is for admins and support."))


def back_row(builder: InlineKeyboardBuilder, data: str | None = None) -> None:
    builder.button(text="« " + _("Back"), callback_data=data or RecoveryMenu(section="home"))


# -- main menu ------------------------------------------------------------------------------


async def main_menu(stuck: StuckService) -> tuple[str, InlineKeyboardMarkup]:
    count = await stuck.count()
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("Stuck workflows ({count})").format(count=count),
        callback_data=StuckList(page=0, wf=-1, st=-1),
    )
    builder.button(text=_("System health"), callback_data=RecoveryMenu(section="health"))
    builder.button(text=_("Inventory reconciliation"), callback_data=inventory_home())
    builder.button(text=_("Error statistics"), callback_data=ErrorStatsView(period="d"))
    builder.button(text=_("Notification retries"), callback_data=notifications_home())
    builder.button(
        text=_("Recovery log"), callback_data=RecoveryLogView(page=0, actor=0, request=0)
    )
    builder.adjust(1)
    return _("Workflow recovery. What needs attention?"), builder.as_markup()


@routes.message(Command("workflow_recovery"))
async def open_menu(message: Message, user: User, stuck: StuckService, state: FSMContext) -> None:
    require_staff(user)
    await state.clear()
    text, markup = await main_menu(stuck)
    await message.answer(text, reply_markup=markup)


@routes.callback_query(RecoveryMenu.filter())
async def menu_section(
    query: CallbackQuery,
    callback_data: RecoveryMenu,
    user: User,
    stuck: StuckService,
    health: HealthService,
    state: FSMContext,
) -> None:
    require_staff(user)
    if callback_data.section not in SECTIONS:
        raise ValidationFailed(N_("That menu entry does not exist."))
    await safe_answer(query)
    if callback_data.section == "home":
        await state.clear()
        text, markup = await main_menu(stuck)
        await safe_edit_text(query.message, text, reply_markup=markup)
        return
    text, markup = await health_screen(health)  # the only other section kept here
    await safe_edit_text(query.message, text, reply_markup=markup)


# -- stuck workflows ------------------------------------------------------------------------


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


@routes.callback_query(StuckList.filter())
async def stuck_list(
    query: CallbackQuery,
    callback_data: StuckList,
    user: User,
    stuck: StuckService,
    workflows: WorkflowRegistry,
    locale: str,
) -> None:
    require_staff(user)
    selected = decode_filter(workflows, callback_data.wf, callback_data.st)
    page = max(0, callback_data.page)
    entries, total = await stuck.page(selected, page * PAGE_SIZE, PAGE_SIZE)
    if not entries and page:
        page = 0
        entries, total = await stuck.page(selected, 0, PAGE_SIZE)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    where = filter_title(workflows, callback_data.wf, callback_data.st, locale)
    head = _("Stuck workflows in {where}: {count} (page {page} of {pages}), oldest first.").format(
        where=where, count=total, page=page + 1, pages=pages
    )
    lines = [head, ""] + [entry_line(e, workflows, locale) for e in entries]
    if not entries:
        lines.append(_("Nothing is stuck here."))
    builder = InlineKeyboardBuilder()
    for entry in entries:
        builder.button(
            text=f"#{entry.request.id}", callback_data=StuckDetail(request_id=entry.request.id)
        )
    nav = add_pager(
        builder, page, pages, partial(StuckList, wf=callback_data.wf, st=callback_data.st)
    )
    builder.button(
        text=_("Filter"), callback_data=StuckFilterPick(wf=callback_data.wf, st=callback_data.st)
    )
    if entries:
        builder.button(
            text=_("Bulk action…"),
            callback_data=BulkAction(
                action=RecoveryAction.NUDGE, wf=callback_data.wf, st=callback_data.st
            ),
        )
    back_row(builder)
    builder.adjust(*([len(entries)] if entries else []), *([nav] if nav else []), 2, 1)
    await safe_answer(query)
    await safe_edit_text(query.message, "\n".join(lines), reply_markup=builder.as_markup())


@routes.callback_query(StuckFilterPick.filter())
async def stuck_filter(
    query: CallbackQuery,
    callback_data: StuckFilterPick,
    user: User,
    workflows: WorkflowRegistry,
    locale: str,
) -> None:
    require_staff(user)
    decode_filter(workflows, callback_data.wf, callback_data.st)
    builder = InlineKeyboardBuilder()
    builder.button(text=_("All workflows"), callback_data=StuckList(page=0, wf=-1, st=-1))
    for w_index, workflow in enumerate(workflows.workflows):
        builder.button(
            text=workflow.display(locale), callback_data=StuckList(page=0, wf=w_index, st=-1)
        )
        for s_index, stage in enumerate(workflow.stages):
            builder.button(
                text="› " + stage.display(locale),
                callback_data=StuckList(page=0, wf=w_index, st=s_index),
            )
    back_row(builder, StuckList(page=0, wf=callback_data.wf, st=callback_data.st).pack())
    builder.adjust(1)
    await safe_answer(query)
    await safe_edit_text(
        query.message, _("Show stuck workflows of:"), reply_markup=builder.as_markup()
    )


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
        *history_lines(transitions, names),
    ]
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
        lines += ["", _("Other actions need an admin.")]
    if not possible:
        lines += ["", _("No recovery action applies: the request is finished.")]
    back_row(builder, StuckList(page=0, wf=-1, st=-1).pack())
    builder.adjust(1)
    return "\n".join(lines), builder.as_markup()


@routes.callback_query(StuckDetail.filter())
async def stuck_detail(
    query: CallbackQuery,
    callback_data: StuckDetail,
    user: User,
    requests: RequestService,
    actions: RecoveryActions,
    workflows: WorkflowRegistry,
    locale: str,
    state: FSMContext,
) -> None:
    require_staff(user)
    await state.set_state(None)
    text, markup = await detail_screen(
        callback_data.request_id, user, requests, actions, workflows, locale
    )
    await safe_answer(query)
    await safe_edit_text(query.message, text, reply_markup=markup)


# -- one action: choose, give a reason, confirm ----------------------------------------------


async def ask_reason(
    query: CallbackQuery, state: FSMContext, pending: dict[str, Any], title: str
) -> None:
    nonce = secrets.randbelow(10**9)
    menu = query.message
    await state.set_state(Recovery.reason)
    await state.update_data(
        pending={**pending, "nonce": nonce},
        menu=[menu.chat.id, menu.message_id] if menu else None,
    )
    builder = InlineKeyboardBuilder()
    for index, preset in enumerate(REASON_PRESETS):
        builder.button(text=_(preset), callback_data=ReasonPreset(nonce=nonce, preset=index))
    builder.button(text=_("Cancel"), callback_data=ConfirmPending(nonce=nonce, go=False))
    builder.adjust(1)
    text = title + "\n\n" + _("Why? Choose a reason or type your own.")
    await safe_answer(query)
    await safe_edit_text(query.message, text, reply_markup=builder.as_markup())


@routes.callback_query(StuckAction.filter())
async def action_chosen(
    query: CallbackQuery,
    callback_data: StuckAction,
    user: User,
    actions: RecoveryActions,
    state: FSMContext,
) -> None:
    require_staff(user)
    action = callback_data.action
    # Validates the role, the request, its version and that the action applies — now.
    await actions.plan(callback_data.request_id, action, user, callback_data.version)
    if action is RecoveryAction.REASSIGN:
        candidates = await actions.candidates(callback_data.request_id)
        builder = InlineKeyboardBuilder()
        for candidate in candidates:
            builder.button(
                text=candidate.display_name,
                callback_data=ReassignTo(
                    request_id=callback_data.request_id,
                    version=callback_data.version,
                    user_id=candidate.id,
                ),
            )
        back_row(builder, StuckDetail(request_id=callback_data.request_id).pack())
        builder.adjust(1)
        text = (
            _("Reassign request #{request_id} to:").format(request_id=callback_data.request_id)
            if candidates
            else _(
                "Nobody else holds this stage's role. Grant it first: "
                "python -m bot users grant <id> <role>"
            )
        )
        await safe_answer(query)
        await safe_edit_text(query.message, text, reply_markup=builder.as_markup())
        return
    pending = {
        "action": action.value,
        "request_id": callback_data.request_id,
        "version": callback_data.version,
        "target": None,
    }
    await ask_reason(
        query, state, pending, _(ACTION_NAMES[action]) + f" · #{callback_data.request_id}"
    )


@routes.callback_query(ReassignTo.filter())
async def reassign_target(
    query: CallbackQuery,
    callback_data: ReassignTo,
    user: User,
    actions: RecoveryActions,
    state: FSMContext,
) -> None:
    require_staff(user)
    plan = await actions.plan(
        callback_data.request_id,
        RecoveryAction.REASSIGN,
        user,
        callback_data.version,
        target_user_id=callback_data.user_id,
    )
    pending = {
        "action": RecoveryAction.REASSIGN.value,
        "request_id": plan.request_id,
        "version": plan.version,
        "target": callback_data.user_id,
    }
    await ask_reason(
        query, state, pending, _(ACTION_NAMES[RecoveryAction.REASSIGN]) + f" · #{plan.request_id}"
    )


async def pending_of(state: FSMContext, nonce: int | None = None) -> dict[str, Any]:
    data = await state.get_data()
    pending = data.get("pending")
    if not isinstance(pending, dict) or (nonce is not None and pending.get("nonce") != nonce):
        raise ValidationFailed(N_("This step is no longer open. Start again from the menu."))
    return pending


async def show_confirmation(
    bot: Bot,
    state: FSMContext,
    user: User,
    actions: RecoveryActions,
    workflows: WorkflowRegistry,
    locale: str,
    reason: str,
    edit: Message | None,
) -> None:
    pending = await pending_of(state)
    pending["reason"] = reason.strip()
    if not pending["reason"]:
        raise ValidationFailed(N_("Please give a reason."))
    await state.update_data(pending=pending)
    await state.set_state(None)
    builder = InlineKeyboardBuilder()
    if "bulk" in pending:
        text = bulk_confirmation(pending, locale)
    else:
        plan = await actions.plan(
            int(pending["request_id"]),
            RecoveryAction(pending["action"]),
            user,
            int(pending["version"]),
            pending.get("target"),
        )
        text = plan_text(plan, workflows, locale, pending["reason"])
    builder.button(
        text=_("Confirm"), callback_data=ConfirmPending(nonce=pending["nonce"], go=True)
    )
    builder.button(
        text=_("Cancel"), callback_data=ConfirmPending(nonce=pending["nonce"], go=False)
    )
    await edit_menu(bot, state, edit, text, builder.as_markup())


async def edit_menu(
    bot: Bot, state: FSMContext, edit: Message | None, text: str, markup: InlineKeyboardMarkup
) -> None:
    """Edit the menu message in place, also when the step was a typed message."""
    if edit is not None:
        await safe_edit_text(edit, text, reply_markup=markup)
        return
    menu = (await state.get_data()).get("menu")
    if menu:
        from aiogram.exceptions import TelegramBadRequest

        try:
            await bot.edit_message_text(
                text, chat_id=menu[0], message_id=menu[1], reply_markup=markup
            )
            return
        except TelegramBadRequest:
            pass
        await bot.send_message(menu[0], text, reply_markup=markup)


@routes.callback_query(ReasonPreset.filter())
async def reason_preset(
    query: CallbackQuery,
    callback_data: ReasonPreset,
    user: User,
    bot: Bot,
    actions: RecoveryActions,
    workflows: WorkflowRegistry,
    locale: str,
    state: FSMContext,
) -> None:
    require_staff(user)
    await pending_of(state, callback_data.nonce)
    if not 0 <= callback_data.preset < len(REASON_PRESETS):
        raise ValidationFailed(N_("That reason does not exist."))
    await safe_answer(query)
    message = query.message if isinstance(query.message, Message) else None
    await show_confirmation(
        bot,
        state,
        user,
        actions,
        workflows,
        locale,
        _(REASON_PRESETS[callback_data.preset]),
        message,
    )


@routes.message(Recovery.reason, F.text)
async def reason_typed(
    message: Message,
    user: User,
    bot: Bot,
    actions: RecoveryActions,
    workflows: WorkflowRegistry,
    locale: str,
    state: FSMContext,
) -> None:
    require_staff(user)
    await show_confirmation(bot, state, user, actions, workflows, locale, message.text or "", None)


@routes.callback_query(ConfirmPending.filter())
async def confirm(
    query: CallbackQuery,
    callback_data: ConfirmPending,
    user: User,
    requests: RequestService,
    actions: RecoveryActions,
    bulk: BulkRecovery,
    workflows: WorkflowRegistry,
    locale: str,
    state: FSMContext,
) -> None:
    require_staff(user)
    pending = await pending_of(state, callback_data.nonce)
    await state.update_data(pending=None)
    await state.set_state(None)
    if not callback_data.go:
        await safe_answer(query, _("Cancelled. Nothing was changed."))
        text, markup = await main_menu_or_detail(
            pending, user, requests, actions, workflows, locale
        )
        await safe_edit_text(query.message, text, reply_markup=markup)
        return
    if "reason" not in pending:
        raise ValidationFailed(N_("Please give a reason."))
    if "bulk" in pending:
        await run_bulk(query, pending, user, bulk, locale)
        return
    result = await actions.apply(
        int(pending["request_id"]),
        RecoveryAction(pending["action"]),
        user.id,
        int(pending["version"]),
        pending["reason"],
        pending.get("target"),
    )
    if result.outcome is RecoveryOutcome.APPLIED:
        note = "✅ " + _("Done.")
    else:
        note = "⚠️ " + _("Not applied: the request changed meanwhile. This is how it is now:")
    await safe_answer(query)
    text, markup = await detail_screen(
        int(pending["request_id"]), user, requests, actions, workflows, locale, note=note
    )
    await safe_edit_text(query.message, text, reply_markup=markup)


async def main_menu_or_detail(
    pending: dict[str, Any],
    user: User,
    requests: RequestService,
    actions: RecoveryActions,
    workflows: WorkflowRegistry,
    locale: str,
) -> tuple[str, InlineKeyboardMarkup]:
    if "request_id" in pending:
        return await detail_screen(
            int(pending["request_id"]), user, requests, actions, workflows, locale
        )
    builder = InlineKeyboardBuilder()
    back_row(builder)
    return _("Cancelled. Nothing was changed."), builder.as_markup()


# -- bulk --------------------------------------------------------------------------------------


def bulk_confirmation(pending: dict[str, Any], locale: str) -> str:
    action = RecoveryAction(pending["action"])
    lines = [
        _("Please confirm: {action} for {count} stuck requests: {ids}.").format(
            action=_(ACTION_NAMES[action]),
            count=len(pending["bulk"]),
            ids=", ".join(f"#{r}" for r, _v in pending["bulk"][:30])
            + (" …" if len(pending["bulk"]) > 30 else ""),
        ),
        _("Only these requests are touched; any that changed since this preview are skipped."),
        _("Reason: {reason}").format(reason=escape(pending["reason"])),
    ]
    return "\n".join(lines)


@routes.callback_query(BulkAction.filter())
async def bulk_preview(
    query: CallbackQuery,
    callback_data: BulkAction,
    user: User,
    stuck: StuckService,
    actions: RecoveryActions,
    workflows: WorkflowRegistry,
    locale: str,
    state: FSMContext,
) -> None:
    require_staff(user)
    selected = decode_filter(workflows, callback_data.wf, callback_data.st)
    action = callback_data.action
    if action not in BULK_ACTIONS:
        raise ValidationFailed(N_("This action cannot run in bulk."))
    if not may_run(user.role_set, action):
        raise PermissionDenied(N_("Your role may not run this action."))
    entries = await stuck.all(selected)
    targets = [
        [e.request.id, e.request.version]
        for e in entries
        if action in actions.available(e.request)
    ]
    builder = InlineKeyboardBuilder()
    for other in BULK_ACTIONS:
        if other is not action and may_run(user.role_set, other):
            builder.button(
                text=_(ACTION_NAMES[other]),
                callback_data=BulkAction(action=other, wf=callback_data.wf, st=callback_data.st),
            )
    where = filter_title(workflows, callback_data.wf, callback_data.st, locale)
    text = _(
        "Bulk: {action} in {where}. {count} of the {total} stuck requests shown can take it."
    ).format(action=_(ACTION_NAMES[action]), where=where, count=len(targets), total=len(entries))
    if targets:
        nonce = secrets.randbelow(10**9)
        await state.update_data(
            pending={"action": action.value, "bulk": targets, "nonce": nonce},
            menu=[query.message.chat.id, query.message.message_id] if query.message else None,
        )
        await state.set_state(Recovery.reason)
        for index, preset in enumerate(REASON_PRESETS):
            builder.button(text=_(preset), callback_data=ReasonPreset(nonce=nonce, preset=index))
        text += "\n\n" + _("Why? Choose a reason or type your own.")
    back_row(builder, StuckList(page=0, wf=callback_data.wf, st=callback_data.st).pack())
    builder.adjust(1)
    await safe_answer(query)
    await safe_edit_text(query.message, text, reply_markup=builder.as_markup())


async def run_bulk(
    query: CallbackQuery,
    pending: dict[str, Any],
    user: User,
    bulk: BulkRecovery,
    locale: str,
) -> None:
    targets = [(int(r), int(v)) for r, v in pending["bulk"]]
    job = await bulk.start(user, RecoveryAction(pending["action"]), pending["reason"], targets)
    await safe_answer(query, _("Started."))
    text, markup = job_screen(job.id, job.status.value, job.total, 0, 0, 0)
    await safe_edit_text(query.message, text, reply_markup=markup)


def job_screen(
    job_id: int, status: str, total: int, applied: int, skipped: int, failed: int
) -> tuple[str, InlineKeyboardMarkup]:
    status_text = _("running") if status == "running" else _("finished")
    text = _(
        "Bulk job #{job_id}: {status}. {applied} applied, {skipped} skipped (changed "
        "meanwhile or no longer applicable), {failed} failed, of {total}."
    ).format(
        job_id=job_id,
        status=status_text,
        applied=applied,
        skipped=skipped,
        failed=failed,
        total=total,
    )
    builder = InlineKeyboardBuilder()
    builder.button(text=_("Refresh"), callback_data=JobView(job_id=job_id))
    builder.button(
        text=_("Recovery log"), callback_data=RecoveryLogView(page=0, actor=0, request=0)
    )
    back_row(builder)
    builder.adjust(1)
    return text, builder.as_markup()


@routes.callback_query(JobView.filter())
async def job_view(
    query: CallbackQuery, callback_data: JobView, user: User, bulk: BulkRecovery
) -> None:
    require_staff(user)
    job = await bulk.job(callback_data.job_id)
    if job is None:
        raise ValidationFailed(N_("That job does not exist."))
    await safe_answer(query)
    text, markup = job_screen(
        job.id, job.status.value, job.total, job.applied, job.skipped, job.failed
    )
    await safe_edit_text(query.message, text, reply_markup=markup)


__all__ = ["routes", "stage_name"]
