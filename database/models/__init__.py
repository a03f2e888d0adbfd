"""Typed ORM models: the workflow domain and the recovery layer's records, on one metadata."""

from database.models.confirmations import Confirmation
from database.models.counts import RowCount
from database.models.recovery import (
    ErrorOccurrence,
    ErrorRecord,
    PendingNotification,
    ReconciliationLog,
    ReconciliationRun,
    RecoveryJob,
    StuckMark,
    SystemHealthSnapshot,
    TransactionLog,
    WorkflowRecoveryLog,
)
from database.models.workflow import (
    InventoryItem,
    InventoryTransaction,
    Request,
    RequestItem,
    RequestTransition,
    User,
    UserRole,
)

__all__ = [
    "Confirmation",
    "ErrorOccurrence",
    "ErrorRecord",
    "InventoryItem",
    "InventoryTransaction",
    "PendingNotification",
    "ReconciliationLog",
    "ReconciliationRun",
    "RecoveryJob",
    "Request",
    "RequestItem",
    "RequestTransition",
    "RowCount",
    "StuckMark",
    "SystemHealthSnapshot",
    "TransactionLog",
    "User",
    "UserRole",
    "WorkflowRecoveryLog",
]
