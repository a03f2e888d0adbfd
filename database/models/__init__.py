"""Typed ORM models on one metadata, a module per subsystem; import them from here.

Importing this package imports every model module, so every table is on the metadata and the
trigger listeners (counts.py, balances.py) are attached before anything creates the schema.
"""

from database.models.audit import TransactionLog
from database.models.confirmations import Confirmation
from database.models.counts import RowCount
from database.models.errors import ErrorOccurrence, ErrorRecord
from database.models.health import SystemHealthSnapshot
from database.models.inventory import InventoryItem, InventoryTransaction
from database.models.jobs import JobLease
from database.models.notifications import PendingNotification
from database.models.reconciliation import ReconciliationLog, ReconciliationRun
from database.models.recovery import RecoveryJob, StuckMark, WorkflowRecoveryLog
from database.models.requests import Request, RequestItem, RequestTransition
from database.models.updates import HandledUpdate
from database.models.users import User, UserRole

__all__ = [
    "Confirmation",
    "ErrorOccurrence",
    "ErrorRecord",
    "HandledUpdate",
    "InventoryItem",
    "InventoryTransaction",
    "JobLease",
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
