"""The outbox: notifications waiting to be sent, sent, dead or discarded (SPEC §3)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.enums import DeadReason, NotificationStatus
from database.base import Base, str_enum
from database.models.counts import DEAD_NOTIFICATIONS, counted
from database.models.users import User


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
