"""What each kind of confirmation binds its "Yes" to: one frozen type per ConfirmationKind.

`to_json()` writes, and `from_json()` reads, the JSON keys the confirmations table has held
since confirmations were stored — a type's fields, in their order (utils/records.py) — so a
record written before a deploy still applies after it. A stored scope that does not read as
its kind's type is refused as ConfirmationMissing (nothing is applied), never as a KeyError."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Self

from core.enums import NotificationStatus, RecoveryAction
from services.confirmations import JSON, ConfirmationKind, ConfirmationMissing
from utils.records import Unreadable, dump, load


class ScopeUnreadable(ConfirmationMissing):
    """The record exists but does not say what its kind needs: as good as missing."""


@dataclass(frozen=True)
class StoredScope:
    """A scope written and read by its fields (the kind's own type says which)."""

    KIND: ClassVar[ConfirmationKind]

    def to_json(self) -> JSON:
        return dict(dump(self))

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Self:
        try:
            return load(cls, dict(data), cls.KIND)
        except Unreadable:
            raise ScopeUnreadable() from None


@dataclass(frozen=True)
class RecoveryActionScope(StoredScope):
    """Exactly the request, version, action, target and reason the confirmation showed."""

    KIND: ClassVar[ConfirmationKind] = ConfirmationKind.RECOVERY_ACTION
    action: RecoveryAction
    request_id: int
    version: int
    target: int | None
    reason: str


@dataclass(frozen=True)
class RecoveryBulkScope(StoredScope):
    """A bulk job over exactly the (request, version) pairs listed."""

    KIND: ClassVar[ConfirmationKind] = ConfirmationKind.RECOVERY_BULK
    action: RecoveryAction
    targets: tuple[tuple[int, int], ...]
    reason: str


@dataclass(frozen=True)
class ResolveErrorScope(StoredScope):
    """The error record as shown: resolving refuses if it recurred meanwhile."""

    KIND: ClassVar[ConfirmationKind] = ConfirmationKind.RESOLVE_ERROR
    record_id: int
    reference: str
    count: int


@dataclass(frozen=True)
class ReconcileApplyScope(StoredScope):
    """The findings the preview counted, each with the figures it had (its signature)."""

    KIND: ClassVar[ConfirmationKind] = ConfirmationKind.RECONCILE_APPLY
    findings: tuple[str, ...]


@dataclass(frozen=True)
class SetCountedScope(StoredScope):
    """The count shown, and the item's figure and ledger balance when it was shown."""

    KIND: ClassVar[ConfirmationKind] = ConfirmationKind.SET_COUNTED
    item_id: int
    counted: int
    reason: str
    stock: int
    balance: int


@dataclass(frozen=True)
class _NotificationRows(StoredScope):
    """The rows of a notification list as shown: (id, status, attempts) each."""

    status: NotificationStatus  # the list they were shown in
    rows: tuple[tuple[int, str, int], ...]
    one: bool  # one row's screen rather than a whole list

    @property
    def shown(self) -> dict[int, tuple[str, int]]:
        return {i: (s, a) for i, s, a in self.rows}


@dataclass(frozen=True)
class NotificationRetryScope(_NotificationRows):
    KIND: ClassVar[ConfirmationKind] = ConfirmationKind.NOTIFICATION_RETRY


@dataclass(frozen=True)
class NotificationDiscardScope(_NotificationRows):
    KIND: ClassVar[ConfirmationKind] = ConfirmationKind.NOTIFICATION_DISCARD
