"""/error CODE: admins and support look up what a person's reference code points at."""

from __future__ import annotations

from html import escape

from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from core.names import category_name, severity_name
from database.models import ErrorRecord
from handlers.routes import RouteTable
from services.error_records import ErrorService

routes = RouteTable(__name__)


def describe(record: ErrorRecord) -> str:
    lines = [
        _("Error {reference}: {category}, severity {severity}").format(
            reference=record.reference,
            category=category_name(record.category),
            severity=severity_name(record.severity),
        ),
        _("Where: {where}").format(where=escape(record.handler or "?")),
        _("What: {exception}: {message}").format(
            exception=escape(record.exception_type.rsplit(".", 1)[-1]),
            message=escape(record.message[:500]),
        ),
        _("Seen {count} time(s), first {first}, last {last} (UTC)").format(
            count=record.count,
            first=record.first_seen.strftime("%Y-%m-%d %H:%M"),
            last=record.last_seen.strftime("%Y-%m-%d %H:%M"),
        ),
    ]
    if record.resolved_at is not None:
        lines.append(
            _("Resolved {when}: {note}").format(
                when=record.resolved_at.strftime("%Y-%m-%d %H:%M"),
                note=escape(record.resolution_note or ""),
            )
        )
    else:
        lines.append(_("Open."))
    return "\n".join(lines)


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
