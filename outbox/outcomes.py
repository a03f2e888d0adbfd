"""What one send did to its outbox row, as the values to write: decided here, written in batches.

* sent: done, the recipient is reachable again;
* 429: back after exactly ``retry_after``; no attempt is used;
* network errors, 5xx, anything unknown: exponential backoff with jitter until the attempts run
  out, then dead (``attempts_exhausted``);
* 403 blocked, 400 chat not found, any other 400 or 404: dead at once, the user is marked
  unreachable.

Every change carries the same columns, so a batch of them is one executemany.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramNotFound

from core.enums import DeadReason, NotificationStatus
from database.models import PendingNotification
from utils.backoff import backoff_seconds
from utils.masking import Masker

UNREACHABLE = (DeadReason.BLOCKED, DeadReason.CHAT_NOT_FOUND, DeadReason.BAD_REQUEST)


@dataclass(frozen=True)
class SenderPolicy:
    max_attempts: int = 5
    backoff_base: float = 30.0
    backoff_cap: float = 3600.0
    claim_seconds: float = 120.0


@dataclass(frozen=True)
class Outcome:
    """What one send did: sent, or the error and what became of the row."""

    row_id: int
    status: NotificationStatus
    error: str | None = None


@dataclass(frozen=True)
class Change:
    """An outcome waiting to be written: the row's new values and what it means for its user."""

    row_id: int
    recipient_id: int
    values: dict[str, object]
    metric: str  # "sent", "retry" or "dead": for the metrics
    outcome: Outcome | None  # None for a 429: not an attempt, so not reported as one
    reachable: bool | None = None  # True: reached; False: unreachable now; None: unknown


def classify_permanent(exc: Exception) -> DeadReason | None:
    """The reason a send can never succeed, or None when trying again may help."""
    if isinstance(exc, TelegramForbiddenError):
        return DeadReason.BLOCKED
    if isinstance(exc, TelegramBadRequest):
        if "chat not found" in str(exc).lower():
            return DeadReason.CHAT_NOT_FOUND
        return DeadReason.BAD_REQUEST
    if isinstance(exc, TelegramNotFound):
        return DeadReason.BAD_REQUEST
    return None


def describe(exc: Exception, masker: Masker) -> str:
    """The error as `last_error` stores it: masked as error records are (Telegram's
    description may quote the text sent, a phone in it, a token in a URL), then cut."""
    return masker.text(f"{type(exc).__name__}: {exc}")[:2000]


def _values(row: PendingNotification, **changed: object) -> dict[str, object]:
    values = {
        "id": row.id,
        "status": row.status,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "last_attempt_at": row.last_attempt_at,
        "next_attempt_at": row.next_attempt_at,
        "sent_at": row.sent_at,
        "dead_reason": row.dead_reason,
        "dead_at": row.dead_at,
        "claimed_by": None,
        "claimed_until": None,
    }
    values.update(changed)
    return values


def sent(row: PendingNotification, now: datetime) -> Change:
    values = _values(
        row,
        status=NotificationStatus.SENT,
        attempts=row.attempts + 1,
        sent_at=now,
        last_attempt_at=now,
        last_error=None,
    )
    outcome = Outcome(row.id, NotificationStatus.SENT)
    return Change(row.id, row.recipient_id, values, "sent", outcome, reachable=True)


def wait(row: PendingNotification, error: str, seconds: float, now: datetime) -> Change:
    """Telegram said exactly when to come back; that is not a failed attempt."""
    status = NotificationStatus.RETRYING if row.attempts else row.status
    values = _values(
        row,
        status=status,
        last_error=error,
        last_attempt_at=now,
        next_attempt_at=now + timedelta(seconds=seconds),
    )
    return Change(row.id, row.recipient_id, values, "retry", None)


def failed(
    row: PendingNotification,
    error: str,
    now: datetime,
    policy: SenderPolicy,
    random: Callable[[], float],
) -> Change:
    attempts = row.attempts + 1
    if attempts >= policy.max_attempts:
        return dead(row, error, DeadReason.ATTEMPTS_EXHAUSTED, now, count=True)
    delay = backoff_seconds(
        attempts, base=policy.backoff_base, cap=policy.backoff_cap, random=random
    )
    values = _values(
        row,
        status=NotificationStatus.RETRYING,
        attempts=attempts,
        last_error=error,
        last_attempt_at=now,
        next_attempt_at=now + timedelta(seconds=delay),
    )
    outcome = Outcome(row.id, NotificationStatus.RETRYING, error)
    return Change(row.id, row.recipient_id, values, "retry", outcome)


def dead(
    row: PendingNotification, error: str, reason: DeadReason, now: datetime, *, count: bool
) -> Change:
    values = _values(
        row,
        status=NotificationStatus.DEAD,
        attempts=row.attempts + 1 if count else row.attempts,
        last_error=error,
        last_attempt_at=now,
        dead_reason=reason,
        dead_at=now,
    )
    outcome = Outcome(row.id, NotificationStatus.DEAD, error)
    reachable = False if reason in UNREACHABLE else None
    return Change(row.id, row.recipient_id, values, "dead", outcome, reachable=reachable)
