"""The transaction log: the audit row of every state change the state manager runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.enums import TransactionOutcome
from database.base import Base, str_enum


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
