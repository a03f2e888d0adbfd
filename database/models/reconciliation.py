"""Inventory reconciliation: the applied runs and the findings, fixes and overrides they log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.enums import DiscrepancyKind, FindingStatus, ReconciliationAction
from database.base import Base, str_enum


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
