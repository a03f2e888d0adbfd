"""Confirmations: what one "Yes" button showed, so that pressing it applies exactly that."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from database.base import Base


class Confirmation(Base):
    """One confirmation screen: who asked, what it would do (the action and its exact scope:
    rows and their versions, findings and their fingerprints), the text shown, until when it
    may be confirmed, and — once confirmed — when and what came of it. Its id is a random
    token that the screen's buttons carry; a guessed or replayed id finds nothing to do."""

    __tablename__ = "confirmations"
    __table_args__ = (Index("ix_confirmations_created_at", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(64))
    scope: Mapped[dict[str, Any]] = mapped_column(JSON)
    summary: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSON)
