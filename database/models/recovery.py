"""What the recovery layer keeps (SPEC §3): the outbox, error records, audit logs, stuck marks,
bulk jobs, reconciliation findings and health snapshots."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.enums import (
    DeadReason,
    DiscrepancyKind,
    ErrorCategory,
    ErrorSeverity,
    FindingStatus,
    JobStatus,
    NotificationStatus,
    ReconciliationAction,
    RecoveryAction,
    RecoveryOutcome,
    Risk,
    TransactionOutcome,
)
from database.base import Base, str_enum
from database.models.counts import (
    DEAD_NOTIFICATIONS,
    RECOVERY_LOG,
    RECOVERY_LOG_BY_ACTOR,
    counted,
)
from database.models.workflow import User


class PendingNotification(Base):
    __tablename__ = "pending_notifications"
    __table_args__ = (Index("ix_pending_notifications_status_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(64))
    # Template parameters; the text is rendered in the recipient's language at send time.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    status: Mapped[NotificationStatus] = mapped_column(str_enum(NotificationStatus))
    # Higher goes first: admin alerts are not starved by a long queue of routine rows.
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    # A sender process owns the row until claimed_until; after that any process may take it.
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None]
    dead_reason: Mapped[DeadReason | None] = mapped_column(str_enum(DeadReason))
    dead_at: Mapped[datetime | None]
    discarded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    discard_reason: Mapped[str | None] = mapped_column(Text)

    recipient: Mapped[User] = relationship(lazy="joined", foreign_keys=[recipient_id])


# The notifications screen's dead count: they pile up until someone acts or retention.
counted(PendingNotification.__table__, DEAD_NOTIFICATIONS)


class ErrorRecord(Base):
    """One problem: every repeat of the same fingerprint while it is unresolved adds to it."""

    __tablename__ = "error_records"
    __table_args__ = (
        # At most one open record per fingerprint, so repeats group even across processes.
        Index(
            "uq_error_records_open_fingerprint",
            "fingerprint",
            unique=True,
            sqlite_where=text("resolved_at IS NULL"),
            postgresql_where=text("resolved_at IS NULL"),
        ),
        Index("ix_error_records_last_seen", "last_seen"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    category: Mapped[ErrorCategory] = mapped_column(str_enum(ErrorCategory))
    severity: Mapped[ErrorSeverity] = mapped_column(str_enum(ErrorSeverity))
    exception_type: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)
    stack_trace: Mapped[str | None] = mapped_column(Text)
    handler: Mapped[str | None] = mapped_column(String(200))
    # The latest occurrence's context (update, user, chat, handler, callback data), masked.
    context: Mapped[dict[str, Any]] = mapped_column(JSON)
    count: Mapped[int] = mapped_column(Integer)
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    retry_count: Mapped[int] = mapped_column(Integer, default=0)
    alerted_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    resolution_note: Mapped[str | None] = mapped_column(Text)


class ErrorOccurrence(Base):
    """Each time a person met the problem: the reference code they were shown resolves here."""

    __tablename__ = "error_occurrences"
    __table_args__ = (
        Index("ix_error_occurrences_error_id", "error_id"),
        # Error statistics and the health check count a window of time per error: an
        # index-only range scan (services/error_records.py).
        Index("ix_error_occurrences_occurred_at", "occurred_at", "error_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    error_id: Mapped[int] = mapped_column(ForeignKey("error_records.id", ondelete="CASCADE"))
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    occurred_at: Mapped[datetime]
    context: Mapped[dict[str, Any]] = mapped_column(JSON)


class TransactionLog(Base):
    """The audit row of one multi-step state change, committed or rolled back."""

    __tablename__ = "transaction_log"
    __table_args__ = (
        Index("ix_transaction_log_entity", "entity", "entity_id"),
        Index("ix_transaction_log_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    operation: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[int | None] = mapped_column(Integer)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    outcome: Mapped[TransactionOutcome] = mapped_column(str_enum(TransactionOutcome))
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]


class StuckMark(Base):
    """One stuck period of a request: its stay in one stage, from `stage_entered_at`.

    Alerts are sent once per period: a request that moves on and gets stuck again starts a
    new period, and so a new mark."""

    __tablename__ = "stuck_marks"
    __table_args__ = (
        UniqueConstraint("request_id", "stage_entered_at", name="uq_stuck_marks_period"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"))
    stage: Mapped[str] = mapped_column(String(64))
    stage_entered_at: Mapped[datetime]
    detected_at: Mapped[datetime]
    nudged_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]
    assignee_gone: Mapped[bool] = mapped_column(Boolean, default=False)


class RecoveryJob(Base):
    """A bulk recovery run over exactly the requests an admin previewed."""

    __tablename__ = "recovery_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[RecoveryAction] = mapped_column(str_enum(RecoveryAction))
    reason: Mapped[str] = mapped_column(Text)
    # The request ids and versions shown in the preview; nothing else is touched.
    targets: Mapped[list[list[int]]] = mapped_column(JSON)
    status: Mapped[JobStatus] = mapped_column(str_enum(JobStatus))
    total: Mapped[int] = mapped_column(Integer)
    applied: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class WorkflowRecoveryLog(Base):
    """What an admin (or the stuck detector) did to a request, and what really happened."""

    __tablename__ = "workflow_recovery_log"
    __table_args__ = (
        # The log screen's filters, read newest first without sorting the person's whole
        # history (services/recovery/log.py).
        Index("ix_workflow_recovery_log_request_id", "request_id", "id"),
        Index("ix_workflow_recovery_log_actor_id", "actor_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # No foreign key: the audit trail outlives the request rows it mentions.
    request_id: Mapped[int] = mapped_column(Integer)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[RecoveryAction] = mapped_column(str_enum(RecoveryAction))
    risk: Mapped[Risk] = mapped_column(str_enum(Risk))
    reason: Mapped[str] = mapped_column(Text)
    outcome: Mapped[RecoveryOutcome] = mapped_column(str_enum(RecoveryOutcome))
    from_stage: Mapped[str | None] = mapped_column(String(64))
    to_stage: Mapped[str | None] = mapped_column(String(64))
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str | None] = mapped_column(String(32))
    from_assignee_id: Mapped[int | None] = mapped_column(Integer)
    to_assignee_id: Mapped[int | None] = mapped_column(Integer)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("recovery_jobs.id", ondelete="SET NULL"))
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]

    actor: Mapped[User | None] = relationship(lazy="joined")


# The log screen's "N entries" reads row_counts, not count(*) of the whole log.
counted(WorkflowRecoveryLog.__table__, RECOVERY_LOG)
counted(WorkflowRecoveryLog.__table__, RECOVERY_LOG_BY_ACTOR)  # and one person's entries


class ReconciliationRun(Base):
    """One applied reconciliation run (dry runs change nothing, so they leave no row)."""

    __tablename__ = "inventory_reconciliation_runs"
    __table_args__ = (Index("ix_inventory_reconciliation_runs_started_at", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # "scheduled", "admin" or "cli": who asked for it.
    trigger: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Only this item was checked (None: every item).
    item_id: Mapped[int | None] = mapped_column(
        ForeignKey("inventory_items.id", ondelete="SET NULL")
    )
    findings: Mapped[int] = mapped_column(Integer)
    fixed: Mapped[int] = mapped_column(Integer)
    needs_admin: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]


class ReconciliationLog(Base):
    """One finding, fix or manual override: the audit trail of inventory reconciliation."""

    __tablename__ = "inventory_reconciliation_log"
    __table_args__ = (
        Index("ix_inventory_reconciliation_log_run_id", "run_id"),
        Index("ix_inventory_reconciliation_log_status_fingerprint", "status", "fingerprint"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # None for a manual override made outside a run.
    run_id: Mapped[int | None] = mapped_column(
        # Named by hand: the convention's name would pass PostgreSQL's 63-character limit.
        ForeignKey(
            "inventory_reconciliation_runs.id",
            ondelete="CASCADE",
            name="fk_inventory_reconciliation_log_run_id",
        )
    )
    item_id: Mapped[int | None] = mapped_column(ForeignKey("inventory_items.id"))
    # The ledger row concerned; no foreign key, like the ledger's own request references.
    transaction_id: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[DiscrepancyKind] = mapped_column(str_enum(DiscrepancyKind))
    # Stable identity of the discrepancy across runs ("negative_stock:item:7"): it decides
    # whether a finding is new and so whether admins are alerted.
    fingerprint: Mapped[str] = mapped_column(String(128))
    expected: Mapped[int | None] = mapped_column(Integer)
    actual: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[ReconciliationAction] = mapped_column(str_enum(ReconciliationAction))
    status: Mapped[FindingStatus] = mapped_column(str_enum(FindingStatus))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]


class SystemHealthSnapshot(Base):
    """The roll-up and every component's figure at one moment, for the 24-hour trend."""

    __tablename__ = "system_health_snapshots"
    __table_args__ = (Index("ix_system_health_snapshots_taken_at", "taken_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    taken_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    # {component name: {"status": ..., "value": ...}}; the messages are rendered when read.
    components: Mapped[dict[str, Any]] = mapped_column(JSON)
