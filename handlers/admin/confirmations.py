"""Every "Yes" of the staff screens: one button kind that carries a stored confirmation's id.

Its router is made for the table of appliers that handlers/admin/__init__.py assembles from
the sections, and hands it to the handler as `appliers`; confirm.py claims and applies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, TelegramObject
from aiogram.utils.callback_answer import CallbackAnswer

from core.exceptions import ValidationFailed
from database.models import User
from handlers.admin.callbacks import TYPE_OWN, ConfirmYes
from handlers.admin.confirm import UNKNOWN_CHOICE, Appliers, already_text, apply_confirmed
from handlers.edits import safe_edit_text
from handlers.routes import RouteTable
from services.confirmations import ConfirmationService, ConfirmationUsed

routes = RouteTable(__name__)


@routes.callback_query(ConfirmYes.filter())
async def yes_pressed(
    query: CallbackQuery,
    callback_answer: CallbackAnswer,
    callback_data: ConfirmYes,
    user: User,
    state: FSMContext,
    confirmations: ConfirmationService,
    appliers: Appliers,
    **data: Any,  # the services an applier takes by name
) -> None:
    data["confirmations"] = confirmations
    try:
        if callback_data.pick == TYPE_OWN:
            pending = await confirmations.check(callback_data.token, user.id)
            applier = appliers.get(pending.kind)
            if applier is None or applier.type_step is None:
                raise ValidationFailed(UNKNOWN_CHOICE)
            await applier.type_step(pending, state, query)
            return
        result = await apply_confirmed(
            appliers, callback_data.token, user, state, data, pick=callback_data.pick
        )
    except ConfirmationUsed as used:
        callback_answer.text = already_text(used)
        callback_answer.show_alert = True
        return
    if result.answer:
        callback_answer.text = result.answer
    await safe_edit_text(query.message, result.text, reply_markup=result.markup)


class _Given(BaseMiddleware):
    """Hands the handler the table, as the dispatcher hands it its services."""

    def __init__(self, appliers: Appliers) -> None:
        self.appliers = appliers

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        return await handler(event, {**data, "appliers": self.appliers})


def create_router(appliers: Appliers) -> Router:
    router = routes.create_router()
    router.callback_query.middleware(_Given(appliers))
    return router
