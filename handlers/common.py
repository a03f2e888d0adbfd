"""/start, /help, /cancel and /language."""

from __future__ import annotations

from html import escape

from aiogram.filters import Command, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from core.enums import Role
from core.names import role_name
from core.settings import SUPPORTED_LOCALES
from database.models import User
from handlers.callbacks import LanguageCallback
from handlers.edits import safe_edit_text
from handlers.keyboards import LANGUAGE_NAMES, language_keyboard
from handlers.routes import RouteTable
from services.users import UserService, is_staff

routes = RouteTable(__name__)


def help_text(user: User) -> str:
    lines = [
        _("What you can do:"),
        _("/new_request — ask for items from the warehouse"),
        _("/my_requests — your requests, their stage and who has them"),
        _("/language — choose your language"),
        _("/cancel — leave what you are doing"),
        _("/help — this list"),
    ]
    deciders = {Role.MANAGER, Role.STOREKEEPER, Role.ADMIN}
    if user.role_set & deciders:
        lines.append("")
        lines.append(_("Requests that wait for you arrive here with Approve and Reject buttons."))
    if is_staff(user.role_set):
        lines += [
            "",
            _("For staff:"),
            _("/workflow_recovery — stuck requests, errors and the recovery log, fixed by button"),
            _("/reconcile — check stock against the ledger"),
            _("/notifications — notifications waiting or given up on"),
            _("/error E-XXXXXX — look up an error by its reference code"),
        ]
        if Role.ADMIN in user.role_set:
            lines.append(_("/health — system health"))
    return "\n".join(lines)


@routes.message(CommandStart())
async def start(message: Message, user: User, state: FSMContext, new_user: bool = False) -> None:
    await state.clear()
    roles = ", ".join(role_name(r) for r in sorted(user.role_set))
    greeting = (  # new_user: this very update registered them (middlewares/user.py)
        _("Hello, {name}! You are registered. Your roles: {roles}.")
        if new_user
        else _("Welcome back, {name}! Your roles: {roles}.")
    ).format(name=escape(user.display_name), roles=roles)
    await message.answer(f"{greeting}\n\n{help_text(user)}")


@routes.message(Command("help"))
async def help_command(message: Message, user: User) -> None:
    await message.answer(help_text(user))


@routes.message(Command("cancel"))
async def cancel(message: Message, state: FSMContext) -> None:
    if await state.get_state() is None:
        await message.answer(_("There is nothing to cancel."))
        return
    await state.clear()
    await message.answer(_("Cancelled. Nothing was saved."))


@routes.message(Command("language"))
async def language(message: Message) -> None:
    await message.answer(_("Choose your language:"), reply_markup=language_keyboard())


@routes.callback_query(LanguageCallback.filter())
async def language_chosen(
    query: CallbackQuery,
    callback_answer: CallbackAnswer,
    callback_data: LanguageCallback,
    user: User,
    users: UserService,
    i18n: I18n,
) -> None:
    if callback_data.code not in SUPPORTED_LOCALES:
        callback_answer.text = _("This language is not available.")
        callback_answer.show_alert = True
        return
    await users.set_language(user.id, callback_data.code)
    with i18n.use_locale(callback_data.code):
        text = _("Language set: {language}.").format(language=LANGUAGE_NAMES[callback_data.code])
    await safe_edit_text(query.message, text)
