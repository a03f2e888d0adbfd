"""Job leases: take a job's run for this interval with one conditional upsert, write how it went,
read them all for health. Atomic on both engines: PostgreSQL's INSERT … ON CONFLICT DO UPDATE …
WHERE locks the row and judges the condition on its newest committed version, so of two
replicas racing exactly one gets a row back; SQLite runs every write transaction alone."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import case, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from database.models import JobLease

# A run is due when the last one started this share of an interval ago: replicas' timers drift
# a little, and a run a moment early must not skip a whole interval.
DUE_SHARE = 0.9


# What a new run (or holding) writes into the job's row, taken or inserted.
RUN_COLUMNS = (
    "job",
    "holder",
    "leased_until",
    "last_run_started",
    "last_run_finished",
    "last_result",
    "last_message",
    "last_runner",
    "runs",
)


class JobLeaseRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _new_run(
        self, job: str, holder: str, now: datetime, until: datetime
    ) -> postgresql.Insert | sqlite.Insert:
        """The INSERT of a run of `job` by `holder` from `now` to `until`, in this engine's
        dialect (both have ON CONFLICT DO UPDATE … WHERE)."""
        values: dict[str, object] = dict.fromkeys(RUN_COLUMNS)
        values.update(
            job=job,
            holder=holder,
            leased_until=until,
            last_run_started=now,
            last_runner=holder,
            runs=1,
        )
        if self.session.get_bind().dialect.name == "postgresql":
            return postgresql.insert(JobLease).values(values)
        return sqlite.insert(JobLease).values(values)

    async def acquire(
        self, job: str, holder: str, now: datetime, interval: timedelta
    ) -> datetime | None:
        """Take `job` for a run starting `now`: when no live run holds it (its lease ended:
        finished, or its replica died) and no other replica started one in the last 0.9
        interval. The replica that ran it last may run it again at once: its own timer fires
        once per interval, and one process runs a job as often as it is called, as it always
        has. Returns the run's start (the ticket `finish` names), or None when another replica
        has this interval."""
        insert = self._new_run(job, holder, now, now + interval)
        current = JobLease.__table__.c
        taken_over = {k: insert.excluded[k] for k in RUN_COLUMNS if k != "runs"}
        statement = insert.on_conflict_do_update(
            index_elements=[current.job],
            set_={**taken_over, "runs": current.runs + 1},
            where=(
                (current.last_run_started <= now - interval * DUE_SHARE)
                | (current.holder == holder)
            )
            & (current.leased_until <= now),
        ).returning(current.job)
        taken = await self.session.scalar(statement)
        return now if taken is not None else None

    async def hold(self, job: str, holder: str, now: datetime, until: datetime) -> datetime | None:
        """Take `job` until `until`, or renew it, for a holder that runs all the time (the
        outbox's one sender): taken when it is free (its lease ended: released, or its holder
        died) or already this holder's. Returns since when the holder has held it without a
        break (the ticket `finish` names to give it up), or None when another holder has it."""
        insert = self._new_run(job, holder, now, until)
        current = JobLease.__table__.c
        renewing = (current.holder == holder) & (current.leased_until > now)
        kept = ("runs", "leased_until")
        taken_over = {k: insert.excluded[k] for k in RUN_COLUMNS if k not in kept}
        statement = insert.on_conflict_do_update(
            index_elements=[current.job],
            set_={
                # A renewal only moves the end; a take-over starts a new holding.
                **{k: case((renewing, current[k]), else_=v) for k, v in taken_over.items()},
                "leased_until": insert.excluded.leased_until,
                "runs": case((renewing, current.runs), else_=current.runs + 1),
            },
            where=(current.holder == holder) | (current.leased_until <= now),
        ).returning(current.last_run_started)
        since: datetime | None = await self.session.scalar(statement)
        return since

    async def finish(
        self, job: str, holder: str, started: datetime, now: datetime, result: str, message: str
    ) -> bool:
        """Write the run's outcome and free the lease; only the run that holds it does (a run
        that outlived its lease, taken since by another replica, writes nothing)."""
        done = await self.session.execute(
            update(JobLease)
            .where(
                JobLease.job == job,
                JobLease.holder == holder,
                JobLease.last_run_started == started,
            )
            .values(
                leased_until=now,
                last_run_finished=now,
                last_result=result,
                last_message=message[:200] or None,
            )
        )
        return bool(getattr(done, "rowcount", 0))

    async def all(self) -> Sequence[JobLease]:
        return (await self.session.scalars(select(JobLease).order_by(JobLease.job))).all()
