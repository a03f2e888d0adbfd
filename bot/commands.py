"""Telegram's command menus: everyone's (default scope, one per language) and each staff
member's own (their chat's scope, in their language, with the staff commands).

A staff menu is set when a role or language makes it due and removed when the person is no
longer staff; `users.command_menu` remembers what Telegram was told, so the scheduled sync
(`command_menus` job, and once at start) calls the Bot API only for what changed — whichever
process granted the role, the bot's or the command line's."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from core.enums import Role
from core.i18n import pick_locale
from core.settings import SUPPORTED_LOCALES
from database.models import User
from services.users import UserService, is_staff

logger = logging.getLogger(__name__)

EVERYONE = ("new_request", "my_requests", "language", "help", "cancel")
SUPPORT = (*EVERYONE, "workflow_recovery", "reconcile", "notifications", "error")
ADMIN = (*SUPPORT, "health")
MENUS = {"admin": ADMIN, "support": SUPPORT}


def command_description(name: str) -> str:
    descriptions = {
        "new_request": _("Ask for items from the warehouse"),
        "my_requests": _("Your requests and where they are"),
        "language": _("Choose your language"),
        "help": _("What this bot can do"),
        "cancel": _("Leave what you are doing"),
        "workflow_recovery": _("Stuck requests, errors, recovery log"),
        "reconcile": _("Check stock against the ledger"),
        "notifications": _("Notifications waiting or given up on"),
        "error": _("Look up an error by its reference code"),
        "health": _("System health"),
    }
    return descriptions[name]


def commands(names: tuple[str, ...], i18n: I18n, locale: str) -> list[BotCommand]:
    with i18n.context(), i18n.use_locale(locale):
        return [BotCommand(command=n, description=command_description(n)) for n in names]


async def set_commands(bot: Bot, i18n: I18n) -> None:
    """Everyone's menu once per language, plus the default-language fallback."""
    for locale in (None, *SUPPORTED_LOCALES):
        menu = commands(EVERYONE, i18n, locale or i18n.default_locale)
        await bot.set_my_commands(menu, BotCommandScopeDefault(), language_code=locale)


def menu_for(user: User, default_locale: str) -> str | None:
    """The menu this person's chat should have: "admin:ru", "support:en", or None."""
    if not user.is_active or not is_staff(user.role_set):
        return None
    kind = "admin" if Role.ADMIN in user.role_set else "support"
    return f"{kind}:{pick_locale(user.language, user.telegram_language, default_locale)}"


async def sync_staff_menus(bot: Bot, users: UserService, i18n: I18n) -> int:
    """Tell Telegram every staff menu that changed; returns how many chats were updated."""
    changed = 0
    for user in await users.menu_holders():
        wanted = menu_for(user, i18n.default_locale)
        if wanted == user.command_menu:
            continue
        scope = BotCommandScopeChat(chat_id=user.telegram_id)
        try:
            if wanted is None:
                await bot.delete_my_commands(scope=scope)
            else:
                kind, locale = wanted.split(":")
                await bot.set_my_commands(commands(MENUS[kind], i18n, locale), scope=scope)
        except TelegramBadRequest as exc:
            # Typically "chat not found": an admin from ADMIN_IDS who never wrote to the bot.
            # Not remembered, so the menu is set on a later run, once the chat exists.
            logger.info("command menu for %s not set: %s", user.telegram_id, exc.message)
            continue
        await users.set_command_menu(user.id, wanted)
        changed += 1
    return changed
