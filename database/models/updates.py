"""Handled updates: the webhook's claim on each Telegram update_id, so a second delivery of
one update (after a timeout, a restart, on another replica) is not handled again."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from database.base import Base


class HandledUpdate(Base):
    """One update taken by a webhook process: `id` is Telegram's update_id (unique per bot),
    `token` the claim of the delivery handling it (a takeover changes it, so a process that
    lost its claim cannot mark it done or release it), `done_at` set once handled. A claim
    without `done_at` older than WEBHOOK_CLAIM_SECONDS belonged to a process that died."""

    __tablename__ = "handled_updates"
    __table_args__ = (Index("ix_handled_updates_claimed_at", "claimed_at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    token: Mapped[str] = mapped_column(String(32))
    claimed_at: Mapped[datetime]
    done_at: Mapped[datetime | None]
