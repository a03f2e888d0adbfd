"""What each kind of confirmation binds its "Yes" to: one frozen type per ConfirmationKind.

`to_json()` writes, and `from_json()` reads, the JSON keys the confirmations table has held
since confirmations were stored, so a record written before a deploy still applies after it.
A stored scope that does not read as its kind's type is refused as ConfirmationMissing
(nothing is applied), never as a KeyError."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar, Self, TypeVar

from core.enums import NotificationStatus, RecoveryAction
from services.confirmations import JSON, ConfirmationKind, ConfirmationMissing

E = TypeVar("E", bound=StrEnum)


class ScopeUnreadable(ConfirmationMissing):
    """The record exists but does not say what its kind needs: as good as missing."""


def _as_int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ScopeUnreadable()
    return value


def _as_str(value: object) -> str:
    if not isinstance(value, str):
        raise ScopeUnreadable()
    return value


def _int(data: Mapping[str, object], key: str) -> int:
    return _as_int(data.get(key))


def _maybe_int(data: Mapping[str, object], key: str) -> int | None:
    return None if data.get(key) is None else _int(data, key)


def _str(data: Mapping[str, object], key: str) -> str:
    return _as_str(data.get(key))


def _enum(data: Mapping[str, object], key: str, kind: type[E]) -> E:
    try:
        return kind(_str(data, key))
    except ValueError:
        raise ScopeUnreadable() from None


def _rows(data: Mapping[str, object], key: str, width: int) -> list[list[object]]:
    value = data.get(key)
    if not isinstance(value, list) or not all(
        isinstance(row, list) and len(row) == width for row in value
    ):
        raise ScopeUnreadable()
    return value


def _pairs(data: Mapping[str, object], key: str) -> tuple[tuple[int, int], ...]:
    rows = _rows(data, key, 2)
    return tuple((_as_int(r), _as_int(v)) for r, v in rows)


@dataclass(frozen=True)
class RecoveryActionScope:
    """Exactly the request, version, action, target and reason the confirmation showed."""

    KIND: ClassVar[ConfirmationKind] = ConfirmationKind.RECOVERY_ACTION
    action: RecoveryAction
    request_id: int
    version: int
    target: int | None
    reason: str

    def to_json(self) -> JSON:
        return {
            "action": self.action.value,
            "request_id": self.request_id,
            "version": self.version,
            "target": self.target,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Self:
        return cls(
            action=_enum(data, "action", RecoveryAction),
            request_id=_int(data, "request_id"),
            version=_int(data, "version"),
            target=_maybe_int(data, "target"),
            reason=_str(data, "reason"),
        )


@dataclass(frozen=True)
class RecoveryBulkScope:
    """A bulk job over exactly the (request, version) pairs listed."""

    KIND: ClassVar[ConfirmationKind] = ConfirmationKind.RECOVERY_BULK
    action: RecoveryAction
    targets: tuple[tuple[int, int], ...]
    reason: str

    def to_json(self) -> JSON:
        return {
            "action": self.action.value,
            "targets": [[r, v] for r, v in self.targets],
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Self:
        return cls(
            action=_enum(data, "action", RecoveryAction),
            targets=_pairs(data, "targets"),
            reason=_str(data, "reason"),
        )


@dataclass(frozen=True)
class ResolveErrorScope:
    """The error record as shown: resolving refuses if it recurred meanwhile."""

    KIND: ClassVar[ConfirmationKind] = ConfirmationKind.RESOLVE_ERROR
    record_id: int
    reference: str
    count: int

    def to_json(self) -> JSON:
        return {"record_id": self.record_id, "reference": self.reference, "count": self.count}

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Self:
        return cls(_int(data, "record_id"), _str(data, "reference"), _int(data, "count"))


@dataclass(frozen=True)
class ReconcileApplyScope:
    """The findings the preview counted, each with the figures it had (its signature)."""

    KIND: ClassVar[ConfirmationKind] = ConfirmationKind.RECONCILE_APPLY
    findings: tuple[str, ...]

    def to_json(self) -> JSON:
        return {"findings": list(self.findings)}

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Self:
        findings = data.get("findings")
        if not isinstance(findings, list) or not all(isinstance(f, str) for f in findings):
            raise ScopeUnreadable()
        return cls(tuple(findings))


@dataclass(frozen=True)
class SetCountedScope:
    """The count shown, and the item's figure and ledger balance when it was shown."""

    KIND: ClassVar[ConfirmationKind] = ConfirmationKind.SET_COUNTED
    item_id: int
    counted: int
    reason: str
    stock: int
    balance: int

    def to_json(self) -> JSON:
        return {
            "item_id": self.item_id,
            "counted": self.counted,
            "reason": self.reason,
            "stock": self.stock,
            "balance": self.balance,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Self:
        return cls(
            item_id=_int(data, "item_id"),
            counted=_int(data, "counted"),
            reason=_str(data, "reason"),
            stock=_int(data, "stock"),
            balance=_int(data, "balance"),
        )


@dataclass(frozen=True)
class _NotificationRows:
    """The rows of a notification list as shown: (id, status, attempts) each."""

    status: NotificationStatus  # the list they were shown in
    rows: tuple[tuple[int, str, int], ...]
    one: bool  # one row's screen rather than a whole list

    @property
    def shown(self) -> dict[int, tuple[str, int]]:
        return {i: (s, a) for i, s, a in self.rows}

    def to_json(self) -> JSON:
        return {"status": self.status.value, "rows": [list(r) for r in self.rows], "one": self.one}

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Self:
        rows = tuple((_as_int(i), _as_str(s), _as_int(a)) for i, s, a in _rows(data, "rows", 3))
        one = data.get("one", False)
        if not isinstance(one, bool):
            raise ScopeUnreadable()
        return cls(_enum(data, "status", NotificationStatus), rows, one)


@dataclass(frozen=True)
class NotificationRetryScope(_NotificationRows):
    KIND: ClassVar[ConfirmationKind] = ConfirmationKind.NOTIFICATION_RETRY


@dataclass(frozen=True)
class NotificationDiscardScope(_NotificationRows):
    KIND: ClassVar[ConfirmationKind] = ConfirmationKind.NOTIFICATION_DISCARD
