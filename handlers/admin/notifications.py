"""Notification retries: admins and support see the queue, retry rows; admins discard them.

One message is edited in place while the admin navigates. Every button is checked again on
arrival (role, filter, ids), because callback data can be forged.
"""

from __future__ import annotations

from aiogram import F
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _

from core.enums import NotificationStatus, Role
from core.exceptions import DomainError, PermissionDenied, ValidationFailed
from core.i18n import N_
from database.models import PendingNotification, User
from handlers.admin.callbacks import NotificationAction as A
from handlers.admin.callbacks import NotificationsMenu as Menu
from handlers.admin.notifications_screens import (
    PRESET_REASONS,
    Markup,
    button,
    home_screen,
    list_screen,
    outcome_text,
    parse_status,
    reasons_keyboard,
    row_screen,
    status_name,
)
from handlers.admin.states import DiscardingNotifications
from handlers.edits import safe_edit_text
from handlers.routes import RouteTable
from services.notification_admin import NotificationAdminService

routes = RouteTable(__name__)


def home_button_data() -> str:
    """Callback data of this section's home screen, for a button in the main menu."""
    return Menu(action=A.HOME).pack()


def require_admin(user: User) -> None:
    if Role.ADMIN not in user.role_set:
        raise PermissionDenied(N_("Only admins can discard notifications."))


# The buttons whose handlers call require_admin: refusals.py tells non-staff the same.
ADMIN_ACTIONS = frozenset(
    {A.DISCARD_ASK, A.DISCARD, A.DISCARD_TYPE, A.BULK_DISCARD_ASK, A.BULK_DISCARD}
)


@routes.message(Command("notifications"))
async def notifications_command(message: Message, notifications: NotificationAdminService) -> None:
    text, markup = await home_screen(notifications)
    await message.answer(text, reply_markup=markup)


@routes.callback_query(Menu.filter(F.action == A.HOME))
async def home(query: CallbackQuery, notifications: NotificationAdminService) -> None:
    text, markup = await home_screen(notifications)
    await safe_edit_text(query.message, text, markup)


@routes.callback_query(Menu.filter(F.action == A.LIST))
async def show_list(
    query: CallbackQuery, callback_data: Menu, user: User, notifications: NotificationAdminService
) -> None:
    status = parse_status(callback_data.status)
    text, markup = await list_screen(notifications, user, status, callback_data.page)
    await safe_edit_text(query.message, text, markup)


async def existing_row(
    notifications: NotificationAdminService, row_id: int
) -> PendingNotification:
    row = await notifications.get(row_id)
    if row is None:
        raise ValidationFailed(N_("Notification #{id} does not exist."), id=row_id)
    return row


@routes.callback_query(Menu.filter(F.action == A.ROW))
async def show_row(
    query: CallbackQuery, callback_data: Menu, user: User, notifications: NotificationAdminService
) -> None:
    status = parse_status(callback_data.status)
    row = await existing_row(notifications, callback_data.row_id)
    text, markup = row_screen(row, user, status, callback_data.page)
    await safe_edit_text(query.message, text, markup)


@routes.callback_query(Menu.filter(F.action == A.RETRY))
async def retry_row(
    query: CallbackQuery, callback_data: Menu, user: User, notifications: NotificationAdminService
) -> None:
    status = parse_status(callback_data.status)
    await existing_row(notifications, callback_data.row_id)
    outcomes = await notifications.retry([callback_data.row_id], user.id)
    row = await existing_row(notifications, callback_data.row_id)
    text, markup = row_screen(row, user, status, callback_data.page)
    await safe_edit_text(query.message, f"{outcome_text(outcomes)}\n\n{text}", markup)


@routes.callback_query(Menu.filter(F.action == A.DISCARD_ASK))
async def discard_ask(
    query: CallbackQuery, callback_data: Menu, user: User, notifications: NotificationAdminService
) -> None:
    require_admin(user)
    parse_status(callback_data.status)
    row = await existing_row(notifications, callback_data.row_id)
    make = callback_data.model_copy(update={"action": A.DISCARD})
    back = callback_data.model_copy(update={"action": A.ROW})
    text = _("Discard notification #{id}? Choose a reason.").format(id=row.id)
    await safe_edit_text(query.message, text, reasons_keyboard(make, back))


def preset_reason(index: int) -> str:
    if not 0 <= index < len(PRESET_REASONS):
        raise ValidationFailed(N_("Unknown reason."))
    return PRESET_REASONS[index]


@routes.callback_query(Menu.filter(F.action == A.DISCARD))
async def discard_row(
    query: CallbackQuery,
    callback_answer: CallbackAnswer,
    callback_data: Menu,
    user: User,
    notifications: NotificationAdminService,
) -> None:
    require_admin(user)
    status = parse_status(callback_data.status)
    reason = preset_reason(callback_data.reason)
    await existing_row(notifications, callback_data.row_id)
    await notifications.discard([callback_data.row_id], user.id, reason)
    text, markup = await list_screen(notifications, user, status, callback_data.page)
    callback_answer.text = _("Discarded.")
    done = _("Notification #{id} discarded.").format(id=callback_data.row_id)
    await safe_edit_text(query.message, f"{done}\n\n{text}", markup)


async def bulk_preview(
    notifications: NotificationAdminService, status: NotificationStatus
) -> tuple[int, int]:
    """How many rows the filter shows now, and the highest id among them."""
    ids = await notifications.selection(status, up_to_id=2**62)
    return len(ids), max(ids, default=0)


@routes.callback_query(Menu.filter(F.action == A.BULK_RETRY_ASK))
async def bulk_retry_ask(
    query: CallbackQuery, callback_data: Menu, notifications: NotificationAdminService
) -> None:
    status = parse_status(callback_data.status)
    count, top = await bulk_preview(notifications, status)
    back = Menu(action=A.LIST, status=status.value)
    text = _("Retry all {count} in “{name}” now?").format(count=count, name=status_name(status))
    go = Menu(action=A.BULK_RETRY, status=status.value, arg=top, count=count)
    rows = [[button(_("Yes, retry {count}").format(count=count), go)], [button(_("« Back"), back)]]
    await safe_edit_text(query.message, text, Markup(inline_keyboard=rows))


@routes.callback_query(Menu.filter(F.action == A.BULK_DISCARD_ASK))
async def bulk_discard_ask(
    query: CallbackQuery, callback_data: Menu, user: User, notifications: NotificationAdminService
) -> None:
    require_admin(user)
    status = parse_status(callback_data.status)
    count, top = await bulk_preview(notifications, status)
    back = Menu(action=A.LIST, status=status.value)
    text = _("Discard all {count} in “{name}”? Choose a reason.").format(
        count=count, name=status_name(status)
    )
    make = Menu(action=A.BULK_DISCARD, status=status.value, arg=top, count=count)
    await safe_edit_text(query.message, text, reasons_keyboard(make, back))


async def confirmed_selection(
    notifications: NotificationAdminService, status: NotificationStatus, top: int, count: int
) -> list[int]:
    """Exactly what the preview counted; if the list changed since, ask again."""
    ids = await notifications.selection(status, top)
    if len(ids) != count or count == 0:
        raise ValidationFailed(
            N_("The list changed since the preview ({count} now). Open it again."),
            count=len(ids),
        )
    return ids


@routes.callback_query(Menu.filter(F.action == A.BULK_RETRY))
async def bulk_retry(
    query: CallbackQuery, callback_data: Menu, user: User, notifications: NotificationAdminService
) -> None:
    status = parse_status(callback_data.status)
    ids = await confirmed_selection(notifications, status, callback_data.arg, callback_data.count)
    outcomes = await notifications.retry(ids, user.id)
    text, markup = await list_screen(notifications, user, status, 0)
    await safe_edit_text(query.message, f"{outcome_text(outcomes)}\n\n{text}", markup)


@routes.callback_query(Menu.filter(F.action == A.BULK_DISCARD))
async def bulk_discard(
    query: CallbackQuery,
    callback_answer: CallbackAnswer,
    callback_data: Menu,
    user: User,
    notifications: NotificationAdminService,
) -> None:
    require_admin(user)
    status = parse_status(callback_data.status)
    reason = preset_reason(callback_data.reason)
    ids = await confirmed_selection(notifications, status, callback_data.arg, callback_data.count)
    count = await notifications.discard(ids, user.id, reason)
    text, markup = await list_screen(notifications, user, status, 0)
    callback_answer.text = _("Discarded.")
    done = _("{count} notifications discarded.").format(count=count)
    await safe_edit_text(query.message, f"{done}\n\n{text}", markup)


@routes.callback_query(Menu.filter(F.action == A.DISCARD_TYPE))
async def discard_type(
    query: CallbackQuery,
    callback_data: Menu,
    user: User,
    state: FSMContext,
    notifications: NotificationAdminService,
) -> None:
    require_admin(user)
    status = parse_status(callback_data.status)
    if callback_data.row_id:
        await existing_row(notifications, callback_data.row_id)
    else:
        await confirmed_selection(notifications, status, callback_data.arg, callback_data.count)
    await state.set_state(DiscardingNotifications.entering_reason)
    await state.update_data(nq=callback_data.pack())
    await safe_edit_text(query.message, _("Send the reason for discarding, or /cancel."))


@routes.message(DiscardingNotifications.entering_reason, F.text)
async def discard_reason_typed(
    message: Message, user: User, state: FSMContext, notifications: NotificationAdminService
) -> None:
    require_admin(user)
    data = Menu.unpack(str((await state.get_data())["nq"]))
    status = parse_status(data.status)
    reason = message.text or ""
    if data.row_id:
        ids = [data.row_id]
    else:
        ids = await confirmed_selection(notifications, status, data.arg, data.count)
    try:
        count = await notifications.discard(ids, user.id, reason)
    except ValidationFailed:
        raise  # stay in the state: a better reason can follow
    except DomainError:
        await state.clear()  # the rows moved on; waiting for a reason makes no sense now
        raise
    await state.clear()
    text, markup = await list_screen(notifications, user, status, 0)
    done = _("{count} notifications discarded.").format(count=count)
    await message.answer(f"{done}\n\n{text}", reply_markup=markup)
