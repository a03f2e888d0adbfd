"""The recovery action being prepared, kept in the admin's FSM data under "pending" between
choosing it, giving a reason and confirming: one request (at the version shown, perhaps with a
new assignee) or a bulk job's (request, version) targets. A random nonce, carried by the reason
and Cancel buttons, ties those buttons to this very step.

The stored keys are the ones the FSM storage (Redis) already holds: "action", "request_id",
"version", "target" or "bulk", "nonce" and, once given, "reason"."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Self

from aiogram.fsm.context import FSMContext

from core.enums import RecoveryAction
from core.exceptions import ValidationFailed
from handlers.admin.texts import STEP_CLOSED

FSMData = dict[str, object]


@dataclass(frozen=True)
class PendingOne:
    """One request's action, exactly at the version shown."""

    action: RecoveryAction
    request_id: int
    version: int
    target: int | None  # the new assignee of a reassignment
    nonce: int
    reason: str | None = None

    def to_data(self) -> FSMData:
        data: FSMData = {
            "action": self.action.value,
            "request_id": self.request_id,
            "version": self.version,
            "target": self.target,
            "nonce": self.nonce,
        }
        return data if self.reason is None else {**data, "reason": self.reason}

    def with_reason(self, reason: str) -> Self:
        return replace(self, reason=reason)


@dataclass(frozen=True)
class PendingBulk:
    """A bulk action over exactly the (request, version) pairs the preview listed."""

    action: RecoveryAction
    bulk: tuple[tuple[int, int], ...]
    nonce: int
    reason: str | None = None

    def to_data(self) -> FSMData:
        data: FSMData = {
            "action": self.action.value,
            "bulk": [[r, v] for r, v in self.bulk],
            "nonce": self.nonce,
        }
        return data if self.reason is None else {**data, "reason": self.reason}

    def with_reason(self, reason: str) -> Self:
        return replace(self, reason=reason)


PendingAction = PendingOne | PendingBulk


def _int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationFailed(STEP_CLOSED)
    return value


def from_data(value: object) -> PendingAction:
    """The stored step, or ValidationFailed: it is gone, or not what this code wrote."""
    if not isinstance(value, Mapping):
        raise ValidationFailed(STEP_CLOSED)
    try:
        action = RecoveryAction(str(value.get("action")))
    except ValueError:
        raise ValidationFailed(STEP_CLOSED) from None
    reason = value.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise ValidationFailed(STEP_CLOSED)
    nonce = _int(value.get("nonce"))
    if "bulk" in value:
        pairs = value["bulk"]
        if not isinstance(pairs, list) or not all(
            isinstance(p, list | tuple) and len(p) == 2 for p in pairs
        ):
            raise ValidationFailed(STEP_CLOSED)
        bulk = tuple((_int(r), _int(v)) for r, v in pairs)
        return PendingBulk(action, bulk, nonce, reason)
    target = value.get("target")
    return PendingOne(
        action,
        _int(value.get("request_id")),
        _int(value.get("version")),
        None if target is None else _int(target),
        nonce,
        reason,
    )


async def pending_of(state: FSMContext, nonce: int | None = None) -> PendingAction:
    """The step in the admin's FSM data; with `nonce`, only if the button belongs to it."""
    pending = from_data((await state.get_data()).get("pending"))
    if nonce is not None and pending.nonce != nonce:
        raise ValidationFailed(STEP_CLOSED)
    return pending
