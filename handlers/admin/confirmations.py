"""Every "Yes" of the staff screens: one button kind that carries a stored confirmation's id.

A section shows a confirmation with `ask()`, which stores exactly what the screen shows
(services/confirmations.py) and gives the token its buttons carry (`yes()`). The press comes
here: the record is claimed — once, by the admin who asked, before it expires — and the
section's registered applier applies exactly the stored scope, re-checking that it still holds.
What came of it is stored, so a second press says it was already done and what happened.

A section registers its action with `@confirms("action")`; "Type one instead" (pick -1) asks
the section to open its typed step, which ends in `apply_typed()`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _

from core.exceptions import ValidationFailed
from core.i18n import N_
from database.models import User
from handlers.admin.callbacks import ConfirmYes
from handlers.edits import safe_edit_text
from handlers.routes import RouteTable
from services.confirmations import (
    ConfirmationMissing,
    ConfirmationService,
    ConfirmationUsed,
    Pending,
)

routes = RouteTable(__name__)

TYPE_OWN = -1  # the "type one instead" button of a confirmation that offers presets
ALREADY = N_("This was already confirmed at {time} UTC.")
UNKNOWN_CHOICE = N_("That choice does not exist.")


@dataclass(frozen=True)
class Confirmed:
    """A claimed confirmation, with the press that claimed it."""

    pending: Pending
    user: User
    state: FSMContext
    pick: int | None  # the preset on the pressed button
    typed: str | None  # or what the admin typed instead
    data: dict[str, Any] = field(repr=False)  # the dispatcher's services

    @property
    def scope(self) -> dict[str, Any]:
        return self.pending.scope

    def choice(self, presets: tuple[str, ...]) -> str:
        """The preset pressed (untranslated msgid) or the text typed."""
        if self.typed is not None:
            return self.typed
        if self.pick is None or not 0 <= self.pick < len(presets):
            raise ValidationFailed(UNKNOWN_CHOICE)
        return presets[self.pick]


@dataclass(frozen=True)
class Result:
    text: str  # what the admin sees now
    markup: InlineKeyboardMarkup | None
    outcome: dict[str, Any]  # stored for a second press: outcome(msgid, **params)
    answer: str | None = None  # the button's answer


Applier = Callable[[Confirmed], Awaitable[Result]]
TypeStep = Callable[[Pending, FSMContext, CallbackQuery], Awaitable[None]]


@dataclass(frozen=True)
class Kind:
    apply: Applier
    type_step: TypeStep | None = None


KINDS: dict[str, Kind] = {}


def confirms(action: str, *, type_step: TypeStep | None = None) -> Callable[[Applier], Applier]:
    """Register what applies confirmations of `action`."""

    def register(applier: Applier) -> Applier:
        KINDS[action] = Kind(applier, type_step)
        return applier

    return register


def outcome(text: str, status: str = "applied", **params: Any) -> dict[str, Any]:
    """A stored outcome: an untranslated message and its parameters (shown in any language)."""
    return {"status": status, "text": text, "params": params}


def outcome_text(stored: dict[str, Any] | None) -> str:
    if not stored or "text" not in stored:
        return ""
    message = str(stored["text"])  # an N_()-marked msgid of the section that stored it
    try:
        return str(_(message).format(**stored.get("params", {})))
    except (KeyError, IndexError, ValueError):
        return str(_(message))


def already_text(used: ConfirmationUsed) -> str:
    pending = used.pending
    when = pending.used_at.strftime("%Y-%m-%d %H:%M") if pending.used_at else "?"
    lines = [_(ALREADY).format(time=when), outcome_text(pending.outcome)]
    return "\n".join(line for line in lines if line)


def yes(token: str, pick: int = 0) -> str:
    return ConfirmYes(token=token, pick=pick).pack()


async def ask(
    confirmations: ConfirmationService,
    user: User,
    action: str,
    scope: dict[str, Any],
    summary: str,
) -> str:
    """Store what the confirmation screen shows; its buttons carry the returned token."""
    if action not in KINDS:
        raise AssertionError(f"no applier registered for {action!r}")
    return await confirmations.ask(user.id, action, scope, summary)


async def apply_confirmed(
    token: str,
    user: User,
    state: FSMContext,
    data: dict[str, Any],
    *,
    pick: int | None = None,
    typed: str | None = None,
) -> Result:
    """Claim the confirmation and apply it. If the applier refuses (raises), nothing was
    applied: the claim is released so the admin may press again (or type a better reason)."""
    confirmations: ConfirmationService = data["confirmations"]
    pending = await confirmations.claim(token, user.id)
    kind = KINDS.get(pending.action)
    try:
        if kind is None:
            raise ConfirmationMissing()
        result = await kind.apply(Confirmed(pending, user, state, pick, typed, data))
    except BaseException:
        await confirmations.release(token)
        raise
    await confirmations.settle(token, result.outcome)
    return result


async def apply_typed(
    message: Message, user: User, state: FSMContext, token: str, data: dict[str, Any]
) -> Result | None:
    """A typed step's end: apply with the text; a second use is answered here."""
    try:
        return await apply_confirmed(token, user, state, data, typed=message.text or "")
    except ConfirmationUsed as used:
        await state.set_state(None)
        await message.answer(already_text(used))
        return None


@routes.callback_query(ConfirmYes.filter())
async def yes_pressed(
    query: CallbackQuery,
    callback_answer: CallbackAnswer,
    callback_data: ConfirmYes,
    user: User,
    state: FSMContext,
    **data: Any,
) -> None:
    confirmations: ConfirmationService = data["confirmations"]
    try:
        if callback_data.pick == TYPE_OWN:
            pending = await confirmations.check(callback_data.token, user.id)
            kind = KINDS.get(pending.action)
            if kind is None or kind.type_step is None:
                raise ValidationFailed(UNKNOWN_CHOICE)
            await kind.type_step(pending, state, query)
            return
        result = await apply_confirmed(
            callback_data.token, user, state, data, pick=callback_data.pick
        )
    except ConfirmationUsed as used:
        callback_answer.text = already_text(used)
        callback_answer.show_alert = True
        return
    if result.answer:
        callback_answer.text = result.answer
    await safe_edit_text(query.message, result.text, reply_markup=result.markup)
