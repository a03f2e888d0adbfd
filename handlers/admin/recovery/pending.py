"""The recovery action being prepared, kept in the admin's FSM data under "pending" between
choosing it, giving a reason and confirming: one request (at the version shown, perhaps with a
new assignee) or a bulk job's (request, version) targets. A random nonce, carried by the reason
and Cancel buttons, ties those buttons to this very step.

The stored keys are the ones the FSM storage (Redis) already holds: "action", "request_id",
"version", "target" or "bulk", "nonce" and, once given, "reason"."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Self

from aiogram.fsm.context import FSMContext

from core.enums import RecoveryAction
from core.exceptions import ValidationFailed
from handlers.admin.texts import STEP_CLOSED
from utils.records import WRITTEN_WHEN_SET, Json, Unreadable, dump, load


@dataclass(frozen=True)
class _Step:
    """Stored by its fields, in their order (utils/records.py); "reason" only once given."""

    def to_data(self) -> dict[str, Json]:
        return dump(self)


@dataclass(frozen=True)
class PendingOne(_Step):
    """One request's action, exactly at the version shown."""

    action: RecoveryAction
    request_id: int
    version: int
    target: int | None  # the new assignee of a reassignment
    nonce: int
    reason: str | None = field(default=None, metadata=WRITTEN_WHEN_SET)

    def with_reason(self, reason: str) -> Self:
        return replace(self, reason=reason)


@dataclass(frozen=True)
class PendingBulk(_Step):
    """A bulk action over exactly the (request, version) pairs the preview listed."""

    action: RecoveryAction
    bulk: tuple[tuple[int, int], ...]
    nonce: int
    reason: str | None = field(default=None, metadata=WRITTEN_WHEN_SET)

    def with_reason(self, reason: str) -> Self:
        return replace(self, reason=reason)


PendingAction = PendingOne | PendingBulk


def from_data(value: object) -> PendingAction:
    """The stored step, or ValidationFailed: it is gone, or not what this code wrote."""
    kind: type[PendingAction] = (
        PendingBulk if isinstance(value, dict) and "bulk" in value else PendingOne
    )
    try:
        return load(kind, value, "pending")
    except Unreadable:
        raise ValidationFailed(STEP_CLOSED) from None


async def pending_of(state: FSMContext, nonce: int | None = None) -> PendingAction:
    """The step in the admin's FSM data; with `nonce`, only if the button belongs to it."""
    pending = from_data((await state.get_data()).get("pending"))
    if nonce is not None and pending.nonce != nonce:
        raise ValidationFailed(STEP_CLOSED)
    return pending
