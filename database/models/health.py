"""Health snapshots: the system's roll-up over time, for the trend and change alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from database.base import Base


class SystemHealthSnapshot(Base):
    """The roll-up and every component's figure at one moment, for the 24-hour trend."""

    __tablename__ = "system_health_snapshots"
    __table_args__ = (Index("ix_system_health_snapshots_taken_at", "taken_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    taken_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    # {component name: {"status": ..., "value": ...}}; the messages are rendered when read.
    components: Mapped[dict[str, Any]] = mapped_column(JSON)
