"""Catch-alls, registered last: stale or forged buttons and text nobody expected."""

from __future__ import annotations

from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _

from handlers.routes import RouteTable

routes = RouteTable(__name__)


@routes.callback_query()
async def stale_button(query: CallbackQuery, callback_answer: CallbackAnswer) -> None:
    callback_answer.text = _("This button is no longer active. Start again from the menu: /help")
    callback_answer.show_alert = True


@routes.message()
async def unknown_message(message: Message) -> None:
    await message.answer(_("I did not understand that. Send /help to see what I can do."))
