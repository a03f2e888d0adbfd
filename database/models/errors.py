"""Error records: one row per problem (a fingerprint), one per time a person met it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from core.enums import ErrorCategory, ErrorSeverity
from database.base import Base, str_enum


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
        # index-only range scan (database/repositories/errors.py).
        Index("ix_error_occurrences_occurred_at", "occurred_at", "error_id", "repeats"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    error_id: Mapped[int] = mapped_column(ForeignKey("error_records.id", ondelete="CASCADE"))
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    occurred_at: Mapped[datetime]
    context: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The failures this row stands for: itself, and those of its person past the cap on what
    # one person stores (ERROR_OCCURRENCES_PER_MINUTE). Health and Error statistics sum it, so
    # they count every failure while the table holds a bounded number of rows.
    repeats: Mapped[int] = mapped_column(default=1, server_default="1")
