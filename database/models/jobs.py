"""Job leases: which replica runs each scheduled job this interval, and how its last run went."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from database.base import Base


class JobLease(Base):
    """One row per job that runs once per interval across replicas (bot/scheduler.py).

    A replica takes the row for a run with one conditional upsert (database/repositories/
    jobs.py); `leased_until` is how long the run may hold it, so a replica that dies mid-run
    leaves it to another after about one interval."""

    __tablename__ = "job_leases"

    job: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))  # replica id: host:pid:random
    leased_until: Mapped[datetime]
    last_run_started: Mapped[datetime]
    last_run_finished: Mapped[datetime | None]
    last_result: Mapped[str | None] = mapped_column(String(16))  # ok / failed; None: running
    last_message: Mapped[str | None] = mapped_column(String(200))  # a failure, masked and cut
    last_runner: Mapped[str] = mapped_column(String(128))
    runs: Mapped[int] = mapped_column(default=0, server_default="0")
