"""The typed confirmation scopes and the pending recovery action: they read exactly what the
code before them stored (so a confirmation or a step started before a deploy still works after
it), write it back unchanged, and refuse anything malformed cleanly."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.memory import MemoryStorage

from core.enums import NotificationStatus, RecoveryAction
from core.exceptions import ValidationFailed
from handlers.admin.recovery.pending import PendingBulk, PendingOne, from_data, pending_of
from services.confirmation_scopes import (
    NotificationDiscardScope,
    NotificationRetryScope,
    ReconcileApplyScope,
    RecoveryActionScope,
    RecoveryBulkScope,
    ResolveErrorScope,
    ScopeUnreadable,
    SetCountedScope,
)
from services.confirmations import ConfirmationKind, ConfirmationMissing

STEP_CLOSED = "This step is no longer open. Start again from the menu."

# What the code before the typed scopes stored, key for key, for each kind.
STORED: dict[ConfirmationKind, tuple[Any, dict[str, Any]]] = {
    ConfirmationKind.RECOVERY_ACTION: (
        RecoveryActionScope,
        {"action": "reassign", "request_id": 7, "version": 3, "target": 12, "reason": "Away"},
    ),
    ConfirmationKind.RECOVERY_BULK: (
        RecoveryBulkScope,
        {"action": "nudge", "targets": [[1, 2], [5, 1]], "reason": "Wrong stage"},
    ),
    ConfirmationKind.RESOLVE_ERROR: (
        ResolveErrorScope,
        {"record_id": 4, "reference": "E-ABC234", "count": 9},
    ),
    ConfirmationKind.RECONCILE_APPLY: (
        ReconcileApplyScope,
        {"findings": ["stock_mismatch:item:1|20|15|recompute_stock"]},
    ),
    ConfirmationKind.SET_COUNTED: (
        SetCountedScope,
        {"item_id": 1, "counted": 18, "reason": "Damaged", "stock": 20, "balance": 20},
    ),
    ConfirmationKind.NOTIFICATION_RETRY: (
        NotificationRetryScope,
        {"status": "dead", "rows": [[1, "dead", 5]], "one": True},
    ),
    ConfirmationKind.NOTIFICATION_DISCARD: (
        NotificationDiscardScope,
        {"status": "retrying", "rows": [[1, "retrying", 2], [2, "retrying", 3]], "one": False},
    ),
}


def test_every_kind_has_a_scope_type_that_says_so() -> None:
    assert set(STORED) == set(ConfirmationKind)
    for kind, (scope_type, _stored) in STORED.items():
        assert scope_type.KIND is kind


@pytest.mark.parametrize("kind", list(ConfirmationKind))
def test_a_stored_scope_reads_and_writes_back_unchanged(kind: ConfirmationKind) -> None:
    scope_type, stored = STORED[kind]
    scope = scope_type.from_json(stored)
    assert scope.to_json() == stored
    assert scope_type.from_json(scope.to_json()) == scope


def test_the_fields_read_are_typed() -> None:
    action = RecoveryActionScope.from_json(STORED[ConfirmationKind.RECOVERY_ACTION][1])
    assert action == RecoveryActionScope(RecoveryAction.REASSIGN, 7, 3, 12, "Away")
    no_target = {**STORED[ConfirmationKind.RECOVERY_ACTION][1], "target": None}
    assert RecoveryActionScope.from_json(no_target).target is None
    bulk = RecoveryBulkScope.from_json(STORED[ConfirmationKind.RECOVERY_BULK][1])
    assert bulk.targets == ((1, 2), (5, 1))
    rows = NotificationDiscardScope.from_json(STORED[ConfirmationKind.NOTIFICATION_DISCARD][1])
    assert rows.status is NotificationStatus.RETRYING
    assert rows.shown == {1: ("retrying", 2), 2: ("retrying", 3)}


# Keys that may be absent: read as "no new assignee" and "a whole list", as before.
OPTIONAL = {"target", "one"}


def spoiled(stored: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each required key missing, and each value of a wrong type."""
    cases: list[dict[str, Any]] = []
    for key in stored:
        if key not in OPTIONAL:
            cases.append({k: v for k, v in stored.items() if k != key})
        cases.append({**stored, key: {"x": 1}})
    return cases


@pytest.mark.parametrize("kind", list(ConfirmationKind))
def test_a_malformed_stored_scope_is_refused_as_missing(kind: ConfirmationKind) -> None:
    scope_type, stored = STORED[kind]
    for bad in spoiled(stored):
        with pytest.raises(ConfirmationMissing):
            scope_type.from_json(bad)


@pytest.mark.parametrize(
    ("kind", "bad"),
    [
        (ConfirmationKind.RECOVERY_ACTION, {"action": "explode"}),
        (ConfirmationKind.RECOVERY_ACTION, {"request_id": True}),  # a bool is not an id
        (ConfirmationKind.RECOVERY_BULK, {"targets": [[1, 2, 3]]}),
        (ConfirmationKind.RECOVERY_BULK, {"targets": [[1, "2"]]}),
        (ConfirmationKind.RECONCILE_APPLY, {"findings": [1]}),
        (ConfirmationKind.NOTIFICATION_RETRY, {"status": "sent?"}),
        (ConfirmationKind.NOTIFICATION_RETRY, {"rows": [[1, 5, "dead"]]}),
        (ConfirmationKind.NOTIFICATION_DISCARD, {"one": "yes"}),
    ],
)
def test_wrong_values_are_refused(kind: ConfirmationKind, bad: dict[str, Any]) -> None:
    scope_type, stored = STORED[kind]
    with pytest.raises(ScopeUnreadable):
        scope_type.from_json({**stored, **bad})


# -- the pending recovery action (FSM key "pending") ----------------------------------------

ONE = {"action": "force_complete", "request_id": 4, "version": 2, "target": None, "nonce": 99}
BULK = {"action": "nudge", "bulk": [[1, 1], [3, 2]], "nonce": 7}


@pytest.mark.parametrize("stored", [ONE, {**ONE, "reason": "Wrong stage"}, BULK])
def test_a_stored_step_reads_and_writes_back_unchanged(stored: dict[str, Any]) -> None:
    assert from_data(stored).to_data() == stored


def test_a_step_reads_as_its_kind() -> None:
    assert from_data(ONE) == PendingOne(RecoveryAction.FORCE_COMPLETE, 4, 2, None, 99)
    assert from_data({**ONE, "target": 5, "action": "reassign"}).action is RecoveryAction.REASSIGN
    bulk = from_data(BULK)
    assert bulk == PendingBulk(RecoveryAction.NUDGE, ((1, 1), (3, 2)), 7)
    assert bulk.with_reason("Away").to_data() == {**BULK, "reason": "Away"}


@pytest.mark.parametrize(
    "stored",
    [
        None,
        "pending",
        {},
        {**ONE, "action": "explode"},
        {**ONE, "nonce": "99"},
        {**ONE, "request_id": None},
        {**ONE, "version": True},
        {**ONE, "target": "5"},
        {**ONE, "reason": 5},
        {k: v for k, v in ONE.items() if k != "nonce"},
        {**BULK, "bulk": [[1]]},
        {**BULK, "bulk": "1,1"},
        {**BULK, "bulk": [[1, "1"]]},
    ],
)
def test_a_malformed_step_is_no_longer_open(stored: object) -> None:
    with pytest.raises(ValidationFailed) as refused:
        from_data(stored)
    assert refused.value.message == STEP_CLOSED


async def test_a_button_of_another_step_is_refused() -> None:
    state = FSMContext(MemoryStorage(), StorageKey(bot_id=1, chat_id=2, user_id=2))
    with pytest.raises(ValidationFailed):
        await pending_of(state)  # nothing pending
    await state.update_data(pending=ONE)
    assert (await pending_of(state, 99)).nonce == 99
    with pytest.raises(ValidationFailed) as refused:
        await pending_of(state, 98)
    assert refused.value.message == STEP_CLOSED
