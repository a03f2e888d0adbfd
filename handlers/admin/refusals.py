"""What people without the role hear from the staff screens: one rule, registered after them.

The staff router is closed to everyone else by its filter, so their updates arrive here. A
press of a staff button (any CallbackData class of callbacks.py, recognised by its prefix and
read as that class: a button that does not parse stays "no longer active"), a text in a staff
conversation state, or a staff command, from someone without the role, is refused with the
words of the menu it belongs to: raised as PermissionDenied, ErrorMiddleware records the
attempt and answers with the reference code (as an alert on a button).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from aiogram import Bot
from aiogram.filters import Command, CommandObject, Filter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.state import StatesGroup
from aiogram.types import CallbackQuery, Message, TelegramObject
from aiogram.utils.i18n import gettext as _

from core.enums import Role
from core.exceptions import PermissionDenied
from core.i18n import N_
from database.models import User
from handlers.admin import callbacks, states
from handlers.admin.access import (
    CHANGE_INVENTORY,
    DISCARD_NOTIFICATIONS,
    is_admin,
)
from handlers.admin.texts import SEND_TEXT
from handlers.routes import RouteTable
from services.users import is_staff

routes = RouteTable(__name__)


@dataclass(frozen=True)
class Refusal:
    """The words of one staff menu for whoever may not use it."""

    text: str
    allowed: Callable[[frozenset[Role]], bool] = is_staff
    admin_text: str | None = None  # for its admin-only buttons (`admin_actions`) and steps
    admin_actions: frozenset[StrEnum] = frozenset()

    def of_button(self, data: CallbackData) -> str:
        action = getattr(data, "action", None)
        return self.admin_text if self.admin_text and action in self.admin_actions else self.text


RECOVERY = Refusal(N_("This menu is for admins and support."))
RECONCILE = Refusal(
    N_("Only admins and support can use inventory reconciliation."),
    admin_text=CHANGE_INVENTORY,
    admin_actions=callbacks.RECONCILE_ADMIN_ONLY,
)
NOTIFICATIONS = Refusal(
    N_("Only admins and support can manage notifications."),
    admin_text=DISCARD_NOTIFICATIONS,
    admin_actions=callbacks.NOTIFICATIONS_ADMIN_ONLY,
)

# Every staff button is the /workflow_recovery menu's but those of the other two menus.
MENU_OF_PREFIX = {
    callbacks.ReconcileCallback.__prefix__: RECONCILE,
    callbacks.NotificationsMenu.__prefix__: NOTIFICATIONS,
}
COMMANDS = {
    "workflow_recovery": RECOVERY,
    "error": Refusal(N_("Only admins and support can look up errors.")),
    "health": Refusal(N_("Only admins can see system health."), allowed=is_admin),
    "reconcile": RECONCILE,
    "notifications": NOTIFICATIONS,
}


@dataclass(frozen=True)
class StepRefusal:
    text: str
    wants_text: bool = False  # anything but text is answered SEND_TEXT, as it was for staff


# A text typed in a conversation of the menu; a count asked before the role was taken away
# still wants text.
STEPS: dict[type[StatesGroup], StepRefusal] = {
    states.Recovery: StepRefusal(RECOVERY.text),
    states.Counting: StepRefusal(CHANGE_INVENTORY, wants_text=True),
    states.DiscardingNotifications: StepRefusal(DISCARD_NOTIFICATIONS),
}


def staff_buttons() -> dict[str, type[CallbackData]]:
    """Every CallbackData class of callbacks.py, by prefix."""
    found = (getattr(callbacks, name) for name in dir(callbacks))
    return {
        cls.__prefix__: cls
        for cls in found
        if isinstance(cls, type) and issubclass(cls, CallbackData) and cls is not CallbackData
    }


BUTTONS = staff_buttons()
STEP_OF_GROUP = {group.__full_group_name__: step for group, step in STEPS.items()}


def holds(user: User | None, allowed: Callable[[frozenset[Role]], bool]) -> bool:
    return user is not None and allowed(user.role_set)


class Refused(Filter):
    """Matches what the staff screens would take from someone without the role, and gives
    the `refusal` to raise, or the `reply` of a typed step that wants text."""

    COMMAND = Command(*COMMANDS)

    async def __call__(
        self,
        event: TelegramObject,
        bot: Bot,
        user: User | None = None,
        raw_state: str | None = None,
    ) -> bool | dict[str, str]:
        if isinstance(event, CallbackQuery):
            return self.button(event, user)
        if isinstance(event, Message):
            return self.step(event, user, raw_state) or await self.command(event, bot, user)
        return False

    @staticmethod
    def button(query: CallbackQuery, user: User | None) -> bool | dict[str, str]:
        prefix = (query.data or "").split(":", 1)[0]
        button = BUTTONS.get(prefix)
        if button is None:
            return False
        try:
            data = button.unpack(query.data or "")
        except (TypeError, ValueError):
            return False  # not a button we ever made: "no longer active"
        refusal = MENU_OF_PREFIX.get(prefix, RECOVERY)
        return False if holds(user, refusal.allowed) else {"refusal": refusal.of_button(data)}

    @staticmethod
    def step(message: Message, user: User | None, raw_state: str | None) -> bool | dict[str, str]:
        refusal = STEP_OF_GROUP.get((raw_state or "").split(":", 1)[0])
        if refusal is None or holds(user, is_staff):
            return False
        if message.text is not None:
            return {"refusal": refusal.text}
        return {"reply": SEND_TEXT} if refusal.wants_text else False

    async def command(
        self, message: Message, bot: Bot, user: User | None
    ) -> bool | dict[str, str]:
        found = await self.COMMAND(message, bot)
        if not isinstance(found, dict):
            return False
        command: CommandObject = found["command"]
        refusal = COMMANDS[command.command]
        return False if holds(user, refusal.allowed) else {"refusal": refusal.text}


@routes.message(Refused())
@routes.callback_query(Refused())
async def refuse(event: TelegramObject, refusal: str = "", reply: str = "") -> None:
    if reply and isinstance(event, Message):
        await event.answer(_(reply))
        return
    raise PermissionDenied(refusal)
