"""Choosing a category, a severity and the user's message for a failure.

Rules look at exception types, database error codes and the context (where it happened, how
often it repeats) — never at message text. The first rule that matches wins.
"""

from __future__ import annotations

import hashlib
import json
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy.exc import DataError, IntegrityError

from core.enums import ErrorCategory, ErrorSeverity
from core.exceptions import (
    DomainError,
    InsufficientStock,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    StaleVersion,
    ValidationFailed,
)
from core.i18n import N_
from utils.circuit_breaker import CircuitOpenError
from utils.db_faults import is_transient, is_unavailable

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
DATABASE_BREAKER = "database"

TRY_AGAIN = N_("Please try again in a moment.")
UNAVAILABLE = N_("The service is temporarily unavailable. Please try again in a few minutes.")
CHECK_INPUT = N_("Please check what you entered and try again.")
NOT_ALLOWED = N_("This action is not allowed now.")
BROKEN = N_("Something went wrong on our side. Please try again later.")

# A refusal: the domain said no to a person's action (not allowed, changed meanwhile, no longer
# waiting for it). It is kept as an error record, so admins see who tried what, but it is an
# answer, not an incident: health and the error metrics do not count it, it alerts nobody. Such
# failures are never raised by the storm rule; a background job's is raised to high, which
# makes it an incident again (nobody asked for it).
REFUSAL_CATEGORY = ErrorCategory.BUSINESS_LOGIC
REFUSAL_SEVERITIES = frozenset({ErrorSeverity.LOW, ErrorSeverity.MEDIUM})


def is_refusal(category: ErrorCategory | str, severity: ErrorSeverity | str) -> bool:
    """Read from the stored record as well: its category and severity say it."""
    return category == REFUSAL_CATEGORY and severity in REFUSAL_SEVERITIES


@dataclass(frozen=True)
class FailureContext:
    """Where a failure happened. `source` is "update" for handlers, "job:<name>" for jobs."""

    source: str = "update"
    handler: str | None = None
    update_id: int | None = None
    user_id: int | None = None
    chat_id: int | None = None
    callback_data: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        data = {
            "source": self.source,
            "handler": self.handler,
            "update_id": self.update_id,
            "user_id": self.user_id,
            "chat_id": self.chat_id,
            "callback_data": self.callback_data,
            **self.extra,
        }
        return {k: v for k, v in data.items() if v is not None}


@dataclass(frozen=True)
class Failure:
    category: ErrorCategory
    severity: ErrorSeverity
    message: str  # gettext msgid the person reads
    params: dict[str, Any]
    fingerprint: str
    exception_type: str
    database_down: bool = False
    recorded: bool = True

    @property
    def refusal(self) -> bool:
        return is_refusal(self.category, self.severity)


Matcher = Callable[[BaseException], bool]


@dataclass(frozen=True)
class Rule:
    matches: Matcher
    category: ErrorCategory
    severity: ErrorSeverity
    message: str | None  # None: the domain error's own message
    database_down: bool = False
    recorded: bool = True  # input feedback (a mistyped quantity) is a reply, not a failure


def _is(*types: type[BaseException]) -> Matcher:
    return lambda exc: isinstance(exc, types)


def _db_breaker_open(exc: BaseException) -> bool:
    return isinstance(exc, CircuitOpenError) and exc.name == DATABASE_BREAKER


C, S = ErrorCategory, ErrorSeverity
RULES: tuple[Rule, ...] = (
    Rule(_is(ValidationFailed), C.DATA, S.LOW, None, recorded=False),
    Rule(_is(StaleVersion, InvalidTransition), C.BUSINESS_LOGIC, S.LOW, None),
    Rule(_is(PermissionDenied), C.BUSINESS_LOGIC, S.MEDIUM, None),
    Rule(_is(InsufficientStock), C.INVENTORY, S.MEDIUM, None),
    Rule(_is(NotFound), C.DATA, S.MEDIUM, None),
    Rule(_is(DomainError), C.BUSINESS_LOGIC, S.LOW, None),
    Rule(_db_breaker_open, C.SYSTEM, S.CRITICAL, UNAVAILABLE, database_down=True),
    Rule(is_unavailable, C.SYSTEM, S.CRITICAL, UNAVAILABLE, database_down=True),
    Rule(is_transient, C.TRANSIENT, S.MEDIUM, TRY_AGAIN),
    Rule(_is(CircuitOpenError), C.TRANSIENT, S.HIGH, TRY_AGAIN),
    Rule(_is(TelegramRetryAfter), C.NOTIFICATION, S.LOW, TRY_AGAIN),
    Rule(_is(TelegramForbiddenError), C.NOTIFICATION, S.LOW, TRY_AGAIN),
    Rule(_is(TelegramNetworkError, TelegramServerError), C.NOTIFICATION, S.MEDIUM, TRY_AGAIN),
    Rule(_is(TelegramBadRequest, TelegramAPIError), C.NOTIFICATION, S.HIGH, BROKEN),
    Rule(
        _is(IntegrityError, DataError, PydanticValidationError, UnicodeError),
        C.DATA,
        S.MEDIUM,
        CHECK_INPUT,
    ),
    Rule(_is(MemoryError, RecursionError), C.SYSTEM, S.CRITICAL, BROKEN),
    Rule(lambda exc: True, C.SYSTEM, S.HIGH, BROKEN),
)


def raise_one(severity: ErrorSeverity) -> ErrorSeverity:
    order = list(ErrorSeverity)
    return order[min(order.index(severity) + 1, len(order) - 1)]


def where(exc: BaseException) -> str:
    """The innermost frame of our own code: repeats of one bug share it, whatever the data."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if str(PROJECT_ROOT) in f.filename and "/.venv/" not in f.filename]
    candidates = ours or frames
    if not candidates:
        return "?"
    frame = candidates[-1]
    path = Path(frame.filename)
    name = path.relative_to(PROJECT_ROOT) if path.is_relative_to(PROJECT_ROOT) else path.name
    return f"{name}:{frame.name}"


def fingerprint(category: ErrorCategory, exc: BaseException, context: FailureContext) -> str:
    # Domain refusals group by what they say; bugs by where they are raised.
    detail = exc.message if isinstance(exc, DomainError) else where(exc)
    parts = [category.value, type(exc).__qualname__, context.handler or context.source, detail]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]


def classify(
    exc: BaseException,
    context: FailureContext,
    repeats: Callable[[ErrorCategory, str], bool] = lambda _c, _f: False,
) -> Failure:
    """`repeats(category, fingerprint)` says whether this is part of an error storm."""
    rule = next(r for r in RULES if r.matches(exc))
    severity = rule.severity
    fp = fingerprint(rule.category, exc, context)
    if context.source != "update" and severity.rank < ErrorSeverity.HIGH.rank:
        severity = ErrorSeverity.HIGH  # nobody is looking at a background job's failure
    if rule.category is not REFUSAL_CATEGORY and repeats(rule.category, fp):
        severity = raise_one(severity)  # the storm rule: see utils/correlation.py
    if isinstance(exc, DomainError) and rule.message is None:
        message, params = exc.message, dict(exc.params)
    else:
        message, params = rule.message or BROKEN, {}
    return Failure(
        category=rule.category,
        severity=severity,
        message=message,
        params=params,
        fingerprint=fp,
        exception_type=f"{type(exc).__module__}.{type(exc).__qualname__}",
        database_down=rule.database_down,
        recorded=rule.recorded,
    )


def database_unreachable(exc: BaseException) -> bool:
    """The database cannot be reached now (its breaker is open, or it refuses us)."""
    return _db_breaker_open(exc) or is_unavailable(exc)
