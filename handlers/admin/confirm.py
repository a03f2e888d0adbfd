"""The confirmation kernel of the staff screens (no routes): ask, claim, apply, settle.

A section shows a confirmation with `ask()`, which stores exactly what the screen shows — a
scope object of its kind's type (services/confirmation_scopes.py) — and gives the token its
buttons carry (`yes()`). The press reaches the one "Yes" handler (confirmations.py), which
calls `apply_confirmed()` with the table of appliers handlers/admin/__init__.py assembled from
the sections: the record is claimed — once, by the admin who asked, before it expires — its
scope read as its kind's type, and the section's applier applies exactly that, re-checking
that it still holds. What came of it is stored, so a second press says it was already done
and what happened. "Type one instead" (pick TYPE_OWN) opens the section's typed step, which
ends in `apply_typed()`.

A press interrupted on the way (the process died after the claim) is told from the record: it
was applied (the apply marked it in its own transaction) and is not applied again, or nothing
was applied and a later press applies it, saying that the earlier one was interrupted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Generic, Protocol, Self, TypeVar

from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from core.exceptions import ValidationFailed
from core.i18n import N_
from database.models import User
from handlers.admin.callbacks import ConfirmYes
from services.confirmations import (
    JSON,
    ConfirmationKind,
    ConfirmationMissing,
    ConfirmationService,
    ConfirmationUsed,
    Pending,
    Scope,
)

ALREADY = N_("This was already confirmed at {time} UTC.")
APPLIED_UNTOLD = N_(
    "This was confirmed at {time} UTC and applied, but interrupted before its result was "
    "shown. Look again to see how things are now."
)
NOT_YET = N_(
    "This was confirmed at {time} UTC and nothing has been applied yet: it is still running "
    "or was interrupted. Look again in a minute, and press again if it is still needed."
)
EARLIER_INTERRUPTED = N_(
    "⚠️ An earlier press at {time} UTC was interrupted before anything was applied."
)
UNKNOWN_CHOICE = N_("That choice does not exist.")

T = TypeVar("T")


class ReadableScope(Scope, Protocol):
    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Self: ...


S = TypeVar("S", bound=ReadableScope)


@dataclass(frozen=True)
class Confirmed(Generic[S]):
    """A claimed confirmation, its scope read as its kind's type, and the press that claimed it."""

    pending: Pending
    scope: S
    user: User
    state: FSMContext
    pick: int | None  # the preset on the pressed button
    typed: str | None  # or what the admin typed instead
    data: Mapping[str, object] = field(repr=False)  # the dispatcher's services, by name

    def service(self, name: str, kind: type[T]) -> T:
        """One of the dispatcher's services (workflow data), checked to be what it should."""
        value = self.data[name]
        if not isinstance(value, kind):
            raise TypeError(f"{name} is a {type(value).__name__}, not a {kind.__name__}")
        return value

    def choice(self, presets: tuple[str, ...]) -> str:
        """The preset pressed (untranslated msgid) or the text typed."""
        if self.typed is not None:
            return self.typed
        if self.pick is None or not 0 <= self.pick < len(presets):
            raise ValidationFailed(UNKNOWN_CHOICE)
        return presets[self.pick]


@dataclass(frozen=True)
class Outcome:
    """What came of a confirmation, stored for a second press: an untranslated message and its
    parameters, shown in the language of whoever presses again."""

    text: str  # an N_()-marked msgid of the section that stored it
    status: str = "applied"
    params: Mapping[str, object] = field(default_factory=dict)

    def to_json(self) -> JSON:
        return {"status": self.status, "text": self.text, "params": dict(self.params)}


def outcome(text: str, status: str = "applied", **params: object) -> Outcome:
    return Outcome(text, status, params)


@dataclass(frozen=True)
class Result:
    text: str  # what the admin sees now
    markup: InlineKeyboardMarkup | None
    outcome: Outcome
    answer: str | None = None  # the button's answer


TypeStep = Callable[[Pending, FSMContext, CallbackQuery], Awaitable[None]]


class Applies(Protocol):
    """A table row: what applies confirmations of one kind."""

    @property
    def kind(self) -> ConfirmationKind: ...

    @property
    def type_step(self) -> TypeStep | None: ...

    async def __call__(
        self,
        pending: Pending,
        user: User,
        state: FSMContext,
        data: Mapping[str, object],
        pick: int | None,
        typed: str | None,
    ) -> Result: ...


@dataclass(frozen=True)
class Applier(Generic[S]):
    """Applies confirmations of `scope`'s kind; `type_step` opens a typed step instead of a
    preset ("Type a reason")."""

    scope: type[S]
    apply: Callable[[Confirmed[S]], Awaitable[Result]]
    type_step: TypeStep | None = None

    @property
    def kind(self) -> ConfirmationKind:
        return self.scope.KIND

    async def __call__(
        self,
        pending: Pending,
        user: User,
        state: FSMContext,
        data: Mapping[str, object],
        pick: int | None,
        typed: str | None,
    ) -> Result:
        scope = self.scope.from_json(pending.scope)
        return await self.apply(Confirmed(pending, scope, user, state, pick, typed, data))


Appliers = Mapping[ConfirmationKind, Applies]


def table(*appliers: Applies) -> Appliers:
    """Kind → applier; a kind twice is a mistake in the sections' lists."""
    rows = {applier.kind: applier for applier in appliers}
    if len(rows) != len(appliers):
        raise ValueError("two appliers for one confirmation kind")
    return rows


def outcome_text(stored: JSON | None) -> str:
    text = stored.get("text") if stored else None
    if not isinstance(text, str):
        return ""
    params = stored.get("params") if stored else None
    try:
        return str(_(text).format(**(params if isinstance(params, dict) else {})))
    except (KeyError, IndexError, ValueError):
        return str(_(text))


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "?"


def already_text(used: ConfirmationUsed) -> str:
    """What the record says of an earlier press: what came of it, or, when that was never
    stored, whether anything was applied."""
    pending = used.pending
    when = _when(pending.used_at)
    if pending.outcome is None:
        return _(NOT_YET).format(time=when)
    said = outcome_text(pending.outcome)
    if not said:
        return _(APPLIED_UNTOLD).format(time=when)
    return _(ALREADY).format(time=when) + "\n" + said


def yes(token: str, pick: int = 0) -> str:
    return ConfirmYes(token=token, pick=pick).pack()


async def ask(confirmations: ConfirmationService, user: User, scope: Scope, summary: str) -> str:
    """Store what the confirmation screen shows; its buttons carry the returned token."""
    return await confirmations.ask(user.id, scope, summary)


async def apply_confirmed(
    appliers: Appliers,
    token: str,
    user: User,
    state: FSMContext,
    data: Mapping[str, object],
    *,
    pick: int | None = None,
    typed: str | None = None,
) -> Result:
    """Claim the confirmation and apply it. If the applier refuses (raises), or the stored scope
    cannot be read, nothing was applied: the claim is released so the admin may press again
    (or type a better reason)."""
    confirmations = data["confirmations"]
    assert isinstance(confirmations, ConfirmationService)
    pending = await confirmations.claim(token, user.id)
    try:
        applier = appliers.get(pending.kind)
        if applier is None:
            raise ConfirmationMissing()
        with confirmations.applying(pending):
            result = await applier(pending, user, state, data, pick, typed)
    except BaseException:
        await confirmations.release(pending)
        raise
    await confirmations.settle(token, result.outcome.to_json())
    if pending.interrupted_at is not None:
        note = _(EARLIER_INTERRUPTED).format(time=_when(pending.interrupted_at))
        result = replace(result, text=f"{note}\n\n{result.text}")
    return result


async def apply_typed(
    applier: Applies,
    message: Message,
    user: User,
    state: FSMContext,
    token: str,
    data: Mapping[str, object],
) -> Result | None:
    """A typed step's end: apply the section's own kind with the text; a second use is
    answered here."""
    try:
        return await apply_confirmed(
            {applier.kind: applier}, token, user, state, data, typed=message.text or ""
        )
    except ConfirmationUsed as used:
        await state.set_state(None)
        await message.answer(already_text(used))
        return None
