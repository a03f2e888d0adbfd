"""/error CODE: admins and support look up what a person's reference code points at."""

from __future__ import annotations

from html import escape

from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from handlers.admin.errors.texts import describe
from handlers.routes import RouteTable
from services.error_records import ErrorService

routes = RouteTable(__name__)


@routes.message(Command("error"))
async def error_lookup(message: Message, command: CommandObject, errors: ErrorService) -> None:
    if not command.args:
        await message.answer(_("Send the reference code after the command: /error E-ABC234"))
        return
    record = await errors.find(command.args.split()[0])
    if record is None:
        await message.answer(
            _("No error with reference {reference}.").format(
                reference=escape(command.args.split()[0][:20])
            )
        )
        return
    await message.answer(describe(record))
