"""Workflow recovery (SPEC §3): stuck marks, bulk recovery jobs, and the recovery log of what
admins and the stuck detector did to requests."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.enums import JobStatus, RecoveryAction, RecoveryOutcome, Risk
from database.base import Base, str_enum
from database.models.counts import RECOVERY_LOG, RECOVERY_LOG_BY_ACTOR, counted
from database.models.users import User


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
        # history (database/repositories/recovery_log.py).
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
