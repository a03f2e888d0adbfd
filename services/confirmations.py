"""Confirmations: a stored, expiring record of exactly what a confirmation screen showed.

`ask()` stores who asked, the scope (the rows and their versions, the findings and their
fingerprints, the reason offered; services/confirmation_scopes.py, one type per kind) and the
text shown, and returns a random token for the screen's buttons. `claim()` is the press of
"Yes": it takes the record once, only for the admin who asked and only until it expires, and
hands back the stored scope — the caller reads it as its kind's type, applies exactly that and
checks that it still holds. `settle()` stores what came of it, so that a second press can say
so. Everything writes through the state manager.

Claim, apply and settle are three transactions, and a process can die between them. So the
apply marks the record applied in its own transaction (`applying()`: the state manager's
rider), and the record always tells the truth: no outcome means nothing was applied. A claim
left without an outcome for longer than CLAIM_GRACE was interrupted and may be claimed again;
an applied one never is, and the mark refuses a second apply even from a press still running.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import ClassVar, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock
from core.exceptions import DomainError, PermissionDenied, ValidationFailed
from core.i18n import N_
from database.models import Confirmation
from services.transactions import RIDER, Change, TransactionalStateManager

JSON = dict[str, object]  # a JSON column as read: its values are checked where they are used
TOKEN_BYTES = 16  # 22 characters of URL-safe base64: fits in callback data, cannot be guessed
MAX_TOKEN = 32
# A claim without an outcome is a press still applying or one that died: after this long it is
# taken for dead and may be claimed again (the applied mark still stops a late second apply).
CLAIM_GRACE = timedelta(seconds=60)
APPLIED_MARK: JSON = {"status": "applied"}  # the outcome until settle() writes the full one


class ConfirmationKind(StrEnum):
    """What a confirmation applies; the value is stored in `confirmations.action`."""

    RECOVERY_ACTION = "recovery_action"
    RECOVERY_BULK = "recovery_bulk"
    RESOLVE_ERROR = "resolve_error"
    RECONCILE_APPLY = "reconcile_apply"
    SET_COUNTED = "set_counted"
    NOTIFICATION_RETRY = "notification_retry"
    NOTIFICATION_DISCARD = "notification_discard"


class Scope(Protocol):
    """Exactly what a confirmation screen showed; its type says its kind."""

    KIND: ClassVar[ConfirmationKind]

    def to_json(self) -> JSON: ...


class ConfirmationMissing(ValidationFailed):
    message = N_(
        "This confirmation does not exist. Nothing was changed. Start again from the menu."
    )


class ConfirmationExpired(ValidationFailed):
    message = N_(
        "This confirmation has expired (it is valid for {minutes} minutes). Nothing was "
        "changed. Look again and confirm anew."
    )


class ConfirmationForeign(PermissionDenied):
    message = N_("Only the admin who asked for this confirmation can confirm it.")


class ConfirmationInterrupted(ValidationFailed):
    message = N_(
        "This was confirmed at {time} UTC but interrupted before anything was applied, and it "
        "has expired since. Nothing was changed. Look again and confirm anew."
    )


class ConfirmationUsed(DomainError):
    """A second press: the record says when it was confirmed and what came of it (no outcome:
    nothing applied yet, the first press still running or interrupted a moment ago)."""

    message = N_("This was already confirmed.")

    def __init__(self, pending: Pending) -> None:
        super().__init__()
        self.pending = pending


@dataclass(frozen=True)
class Pending:
    """A confirmation as stored."""

    token: str
    actor_id: int
    kind: ConfirmationKind
    scope: JSON  # as stored; the applier reads it with its kind's scope type
    summary: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None
    outcome: JSON | None
    interrupted_at: datetime | None = None  # an earlier claim that died without applying


def _pending(row: Confirmation) -> Pending:
    try:
        kind = ConfirmationKind(row.action)
    except ValueError:
        raise ConfirmationMissing() from None  # a kind this code no longer applies
    return Pending(
        token=row.id,
        actor_id=row.actor_id,
        kind=kind,
        scope=dict(row.scope) if isinstance(row.scope, dict) else {},
        summary=row.summary,
        created_at=row.created_at,
        expires_at=row.expires_at,
        used_at=row.used_at,
        outcome=dict(row.outcome) if row.outcome is not None else None,
    )


class ConfirmationService:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        tx: TransactionalStateManager,
        clock: Clock,
        valid_for: timedelta,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.tx = tx
        self.clock = clock
        self.valid_for = valid_for

    @property
    def minutes(self) -> int:
        return int(self.valid_for.total_seconds() // 60)

    async def ask(self, actor_id: int, scope: Scope, summary: str) -> str:
        """Store what the screen shows; the token goes on its buttons."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now = self.clock.now()

        async def work(change: Change) -> str:
            change.session.add(
                Confirmation(
                    id=token,
                    actor_id=actor_id,
                    action=scope.KIND.value,
                    scope=scope.to_json(),
                    summary=summary[:4000],
                    created_at=now,
                    expires_at=now + self.valid_for,
                )
            )
            return token

        # The record is its own account of what was shown; its use is audited by the action.
        return await self.tx.run("ask_confirmation", "confirmation", work, audited=False)

    async def check(self, token: str, actor_id: int) -> Pending:
        """What `claim` would refuse, without using the confirmation (for a typed step)."""
        async with self.sessionmaker() as session:
            row = await session.get(Confirmation, token) if _plausible(token) else None
            return self._usable(row, actor_id)

    async def claim(self, token: str, actor_id: int) -> Pending:
        """Take the confirmation for applying: once, by the admin who asked, before expiry."""

        async def work(change: Change) -> Pending:
            row = (
                await change.session.get(Confirmation, token, with_for_update=True)
                if _plausible(token)
                else None
            )
            pending = self._usable(row, actor_id)
            assert row is not None
            row.used_at = self.clock.now()
            return replace(pending, used_at=row.used_at)

        # Serialised on the row (FOR UPDATE; BEGIN IMMEDIATE on SQLite): two presses, one use.
        return await self.tx.run("claim_confirmation", "confirmation", work, audited=False)

    async def settle(self, token: str, outcome: Mapping[str, object]) -> None:
        """Store what came of the confirmation, for a second press to report."""

        async def work(change: Change) -> None:
            row = await change.session.get(Confirmation, token)
            if row is not None:
                row.outcome = dict(outcome)

        await self.tx.run("settle_confirmation", "confirmation", work, audited=False)

    async def release(self, claimed: Pending) -> None:
        """Nothing was applied (the action refused): the admin may press again. Only this
        claim is released, not a later press's."""

        async def work(change: Change) -> None:
            row = await change.session.get(Confirmation, claimed.token)
            if row is not None and row.outcome is None and row.used_at == claimed.used_at:
                row.used_at = None

        await self.tx.run("release_confirmation", "confirmation", work, audited=False)

    @contextmanager
    def applying(self, claimed: Pending) -> Iterator[None]:
        """The change made inside this block marks the confirmation applied in its own
        transaction; a confirmation already applied refuses it (ConfirmationUsed), and it
        rolls back."""

        async def mark(session: AsyncSession) -> None:
            row = await session.get(
                Confirmation, claimed.token, with_for_update=True, populate_existing=True
            )
            if row is None:
                raise ConfirmationMissing()
            if row.outcome is not None:
                raise ConfirmationUsed(_pending(row))
            row.outcome = dict(APPLIED_MARK)

        token = RIDER.set(mark)
        try:
            yield
        finally:
            RIDER.reset(token)

    def _usable(self, row: Confirmation | None, actor_id: int) -> Pending:
        if row is None:
            raise ConfirmationMissing()
        if row.actor_id != actor_id:
            raise ConfirmationForeign()  # before anything else: it tells nothing of the record
        pending = _pending(row)
        now = self.clock.now()
        if row.outcome is not None:  # applied, or settled as what came of it
            raise ConfirmationUsed(pending)
        if row.used_at is not None:  # claimed, nothing applied
            if now - row.used_at < CLAIM_GRACE:
                raise ConfirmationUsed(pending)  # still running, or died a moment ago
            if now >= row.expires_at:
                raise ConfirmationInterrupted(time=f"{row.used_at:%Y-%m-%d %H:%M}")
            return replace(pending, interrupted_at=row.used_at)
        if now >= row.expires_at:
            raise ConfirmationExpired(minutes=self.minutes)
        return pending


def _plausible(token: str) -> bool:
    return 0 < len(token) <= MAX_TOKEN
