"""Approve / Reject buttons on the notifications that role holders receive. The outcome is added
under the notification's text, which is cut (core/fitting.py) if both would not fit together."""

from __future__ import annotations

from contextlib import suppress
from html import escape

from aiogram import F
from aiogram.exceptions import TelegramBadRequest
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _

from core.enums import RequestStatus
from core.exceptions import DomainError, ValidationFailed
from core.fitting import MESSAGE_LIMIT, cut_html, size
from core.names import stage_title, status_name
from core.workflows import WorkflowRegistry
from database.models import Request, User
from handlers.callbacks import Decision, DecisionCallback
from handlers.edits import safe_edit_text
from handlers.routes import RouteTable
from handlers.states import Rejecting
from services.requests import RequestService

routes = RouteTable(__name__)


def outcome_text(request: Request, workflows: WorkflowRegistry, locale: str) -> str:
    if request.status is RequestStatus.ACTIVE:
        return _("Approved. Request #{request_id} moved to {stage}.").format(
            request_id=request.id,
            stage=stage_title(workflows, request.workflow, request.stage, locale),
        )
    return _("Request #{request_id} is now {status}.").format(
        request_id=request.id, status=status_name(request.status)
    )


@routes.callback_query(DecisionCallback.filter(F.action == Decision.APPROVE))
async def approve(
    query: CallbackQuery,
    callback_answer: CallbackAnswer,
    callback_data: DecisionCallback,
    user: User,
    requests: RequestService,
    workflows: WorkflowRegistry,
    locale: str,
) -> None:
    request = await requests.approve(callback_data.request_id, user.id, callback_data.version)
    callback_answer.text = _("Done.")
    original = query.message.html_text if isinstance(query.message, Message) else ""
    outcome = f"\n\n✅ {outcome_text(request, workflows, locale)}"
    await safe_edit_text(
        query.message, cut_html(original, MESSAGE_LIMIT - size(outcome)) + outcome
    )


@routes.callback_query(DecisionCallback.filter(F.action == Decision.REJECT))
async def reject_asked(
    query: CallbackQuery,
    callback_data: DecisionCallback,
    user: User,
    requests: RequestService,
    state: FSMContext,
) -> None:
    # Refuse at once if the request moved on, rather than after the user typed a reason.
    await requests.check_decision(callback_data.request_id, user.id, callback_data.version)
    await state.set_state(Rejecting.entering_reason)
    await state.update_data(
        request_id=callback_data.request_id,
        version=callback_data.version,
        message_id=query.message.message_id if query.message else None,
    )
    if query.message is not None:
        await query.bot.send_message(  # type: ignore[union-attr]
            query.message.chat.id,
            _("Why do you reject request #{request_id}? Send the reason, or /cancel.").format(
                request_id=callback_data.request_id
            ),
        )


@routes.message(Rejecting.entering_reason, F.text)
async def reject_reason(
    message: Message, state: FSMContext, user: User, requests: RequestService
) -> None:
    data = await state.get_data()
    try:
        request = await requests.reject(
            int(data["request_id"]), user.id, int(data["version"]), message.text or ""
        )
    except ValidationFailed:
        raise  # stay in the state: the user can send a better reason
    except DomainError:
        await state.clear()  # the request moved on; waiting for a reason makes no sense now
        raise
    await state.clear()
    if data.get("message_id") and message.bot is not None:
        # Take the buttons off the notification so nobody presses them again.
        with suppress(TelegramBadRequest):
            await message.bot.edit_message_reply_markup(
                chat_id=message.chat.id, message_id=int(data["message_id"]), reply_markup=None
            )
    await message.answer(
        cut_html(  # a reason of 1,000 quotes escapes to 6,000 characters
            _("Request #{request_id} is rejected. Reason: {reason}").format(
                request_id=request.id, reason=escape(message.text or "")
            )
        )
    )


@routes.message(Rejecting.entering_reason)
async def reject_reason_not_text(message: Message) -> None:
    await message.answer(_("Please send the reason as text, or /cancel."))
