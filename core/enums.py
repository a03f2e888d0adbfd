"""The domain's enumerations; the database stores them as their string values."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    REQUESTER = "requester"
    MANAGER = "manager"
    STOREKEEPER = "storekeeper"
    SUPPORT = "support"
    ADMIN = "admin"


class RequestStatus(StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class TransitionAction(StrEnum):
    CREATE = "create"
    APPROVE = "approve"
    REJECT = "reject"
    CANCEL = "cancel"
    # recovery actions taken by an admin
    FORCE_TRANSITION = "force_transition"
    RESET = "reset"
    FORCE_COMPLETE = "force_complete"
    REASSIGN = "reassign"


class TransactionKind(StrEnum):
    ISSUE = "issue"
    RECEIPT = "receipt"
    ADJUSTMENT = "adjustment"
    REVERSAL = "reversal"


class TransactionStatus(StrEnum):
    PENDING = "pending"
    COMMITTED = "committed"


class NotificationStatus(StrEnum):
    PENDING = "pending"  # never tried yet
    RETRYING = "retrying"  # tried, failed, waiting for its next attempt
    SENT = "sent"
    DEAD = "dead"  # gave up: permanent error or out of attempts; an operator decides
    DISCARDED = "discarded"  # an operator decided not to send it


# Rows an operator may act on (and the command line lists): a sent or discarded row is history.
ACTIONABLE_STATUSES = (
    NotificationStatus.PENDING,
    NotificationStatus.RETRYING,
    NotificationStatus.DEAD,
)


class DeadReason(StrEnum):
    BLOCKED = "blocked"  # 403: the user blocked the bot
    CHAT_NOT_FOUND = "chat_not_found"
    BAD_REQUEST = "bad_request"  # any other 400
    ATTEMPTS_EXHAUSTED = "attempts_exhausted"
    RENDER_FAILED = "render_failed"
    QUEUE_FULL = "queue_full"


class ErrorCategory(StrEnum):
    TRANSIENT = "transient"
    DATA = "data"
    BUSINESS_LOGIC = "business_logic"
    SYSTEM = "system"
    INVENTORY = "inventory"
    NOTIFICATION = "notification"


class ErrorSeverity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return list(ErrorSeverity).index(self)


class TransactionOutcome(StrEnum):
    COMMITTED = "committed"
    ROLLED_BACK = "rolled_back"


class RecoveryAction(StrEnum):
    NUDGE = "nudge"
    REASSIGN = "reassign"
    RESET = "reset"
    FORCE_TRANSITION = "force_transition"
    FORCE_COMPLETE = "force_complete"
    ESCALATE = "escalate"  # done by the stuck detector, not offered as a button


class Risk(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class RecoveryOutcome(StrEnum):
    APPLIED = "applied"
    STALE = "stale"  # the request changed after the admin looked: nothing was done
    REFUSED = "refused"
    FAILED = "failed"


class JobStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class DiscrepancyKind(StrEnum):
    STOCK_MISMATCH = "stock_mismatch"
    NEGATIVE_STOCK = "negative_stock"
    ORPHAN_MISSING_REQUEST = "orphan_missing_request"
    ORPHAN_CLOSED_REQUEST = "orphan_closed_request"
    STALE_PENDING = "stale_pending"
    DUPLICATE_MOVEMENT = "duplicate_movement"
    MANUAL_COUNT = "manual_count"


class ReconciliationAction(StrEnum):
    RECOMPUTE_STOCK = "recompute_stock"
    REVERSE_MOVEMENT = "reverse_movement"
    LEAVE_FOR_ADMIN = "leave_for_admin"
    POST_ADJUSTMENT = "post_adjustment"


class FindingStatus(StrEnum):
    FIXED = "fixed"
    NEEDS_ADMIN = "needs_admin"
    RESOLVED = "resolved"


class HealthStatus(StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"
    UNKNOWN = "unknown"  # not measured here: left out of the roll-up

    @property
    def rank(self) -> int:
        return {"unknown": -1, "healthy": 0, "degraded": 1, "unhealthy": 2}[self.value]


class HealthComponent(StrEnum):
    """What a health report grades, in the order the screens list them."""

    DATABASE = "database"
    TELEGRAM = "telegram"
    SCHEDULER = "scheduler"
    QUEUE = "queue"
    ERRORS = "errors"
    STUCK = "stuck"
    INVENTORY = "inventory"
    RECOVERY = "recovery"
