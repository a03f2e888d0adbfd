"""Storing failures as error records: grouped by fingerprint, masked, alerted once.

Every recorded failure gets its own reference code (what the person is shown); repeats of an
open fingerprint add to one `error_records` row. A new critical problem alerts the admins
through the outbox, and repeats inside the alert window only raise the count. When the
database cannot take the record it goes to the local spool and is written when it is back.

What one person can make the bot store is bounded, never what it counts: beyond
ERROR_OCCURRENCES_PER_MINUTE occurrence rows of one person (a Telegram user id; "no person"
for a job) and one record in the last minute, a failure only adds to the record's count, and
the person is shown the reference of their newest stored occurrence (it resolves to the same
record). Records written from the spool are all kept: their codes were shown already.
"""

from __future__ import annotations

import logging
import secrets
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock
from core.enums import ErrorCategory, ErrorSeverity, Role
from database.models import ErrorOccurrence, ErrorRecord
from database.repositories.errors import ErrorRepository
from database.repositories.users import UserRepository
from outbox.payloads import ErrorAlert
from outbox.repository import ALERT, enqueue, wrote_outbox
from services.failures.classify import Failure, FailureContext, classify
from services.failures.spool import ErrorSpool, SpoolBatch, dropped_occurrence
from utils.correlation import ErrorCorrelator
from utils.masking import Masker

logger = logging.getLogger(__name__)

REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L to misread
MAX_TRACE = 20_000
OCCURRENCE_WINDOW = timedelta(minutes=1)  # the cap on stored occurrences counts this window
LOG_LEVELS = {
    ErrorSeverity.LOW: logging.INFO,
    ErrorSeverity.MEDIUM: logging.WARNING,
    ErrorSeverity.HIGH: logging.ERROR,
    ErrorSeverity.CRITICAL: logging.CRITICAL,
}


def new_reference() -> str:
    return "E-" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(6))


@dataclass(frozen=True)
class Recorded:
    failure: Failure
    reference: str | None  # None: not kept (input feedback)
    spooled: bool = False


class ErrorRecorder:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        masker: Masker,
        spool: ErrorSpool,
        correlator: ErrorCorrelator,
        alert_window: timedelta,
        wake_outbox: Callable[[], None] = lambda: None,
        on_recorded: Callable[[Failure], None] = lambda failure: None,
        occurrences_per_minute: int = 5,
    ) -> None:
        if occurrences_per_minute < 1:
            raise ValueError("occurrences_per_minute must be >= 1")
        self.occurrences_per_minute = occurrences_per_minute
        self.on_recorded = on_recorded  # metrics count errors by category and severity
        self.sessionmaker = sessionmaker
        self.clock = clock
        self.masker = masker
        self.spool = spool
        self.correlator = correlator
        self.alert_window = alert_window
        self.wake_outbox = wake_outbox  # the state manager's own hook: see store()

    async def record(self, exc: BaseException, context: FailureContext) -> Recorded:
        """Never raises: a failure to record is itself spooled, never lost."""
        failure = classify(exc, context, self._storming)
        if not failure.recorded:
            return Recorded(failure, None)
        occurrence = self._occurrence(exc, context, failure)
        self.on_recorded(failure)
        logger.log(
            LOG_LEVELS[failure.severity],
            "%s %s/%s in %s: %s",
            occurrence["reference"],
            failure.category.value,
            failure.severity.value,
            occurrence["handler"] or context.source,
            occurrence["message"],
        )
        if failure.database_down:
            # Do not knock on a database we know is down: spool straight away.
            return await self._spool(failure, occurrence)
        try:
            [reference] = await self._store([occurrence], capped=True)
        except Exception:
            logger.warning("could not store error %s; spooled", occurrence["reference"])
            return await self._spool(failure, occurrence)
        return Recorded(failure, reference)

    async def flush_spool(self) -> int:
        """Write spooled records to the database; returns how many (0 if still down). Records
        a full spool dropped are reported in the same transaction as a critical error of
        their own (the admins are alerted), saying how many."""

        async def write(batch: SpoolBatch) -> None:
            occurrences = list(batch.records)
            if batch.dropped:
                at = self.clock.now().isoformat()
                reference = new_reference()
                occurrences.append(
                    dropped_occurrence(batch.dropped, reference, at, self.spool.max_bytes)
                )
                logger.critical(
                    "%s: %s error records were dropped by the full spool",
                    reference,
                    batch.dropped,
                )
            await self.store(occurrences)

        written = await self.spool.drain(write)
        if written:
            logger.info("wrote %s spooled error records", written)
        return written

    async def store(self, occurrences: Sequence[dict[str, Any]]) -> None:
        """Write occurrences (the spool's), every one of them: their codes were shown."""
        await self._store(occurrences, capped=False)

    async def _store(self, occurrences: Sequence[dict[str, Any]], *, capped: bool) -> list[str]:
        """The reference each occurrence can be looked up by (see the module's docstring)."""
        # Not through the state manager, on purpose: an error record must be written even when
        # the failure came from the state manager itself, and its retries would only delay the
        # spool; a transaction_log row per error would log the logging.
        async with self.sessionmaker() as session, session.begin():
            references = [
                await self._store_one(session, occurrence, capped=capped)
                for occurrence in occurrences
            ]
        if wrote_outbox(session):
            self.wake_outbox()
        return references

    async def count_retry(self, fingerprint: str) -> None:
        """A healing strategy ran for this problem (an error record's own counter: written
        directly, like the records themselves)."""
        async with self.sessionmaker() as session, session.begin():
            await ErrorRepository(session).count_retry(fingerprint)

    def _storming(self, category: ErrorCategory, fingerprint: str) -> bool:
        self.correlator.record(category.value, fingerprint)
        return self.correlator.is_storm(fingerprint)

    async def _spool(self, failure: Failure, occurrence: dict[str, Any]) -> Recorded:
        try:
            await self.spool.append(occurrence)  # a full spool drops it and counts it
        except OSError:
            # Nowhere left to keep it: the log line above is the last trace of it.
            logger.critical("could not spool error %s", occurrence["reference"], exc_info=True)
        return Recorded(failure, occurrence["reference"], spooled=True)

    def _occurrence(
        self, exc: BaseException, context: FailureContext, failure: Failure
    ) -> dict[str, Any]:
        trace = "".join(traceback.format_exception(exc))[-MAX_TRACE:]
        return {
            "reference": new_reference(),
            "fingerprint": failure.fingerprint,
            "category": failure.category.value,
            "severity": failure.severity.value,
            "exception_type": failure.exception_type[:200],
            "message": self.masker.text(str(exc))[:2000],
            "stack_trace": self.masker.text(trace),
            "handler": (context.handler or context.source)[:200],
            "context": self.masker.data(context.as_dict()),
            "at": self.clock.now().isoformat(),
        }

    async def _store_one(
        self, session: AsyncSession, occurrence: dict[str, Any], *, capped: bool
    ) -> str:
        """Add one occurrence to its open record (its row too, unless the person's cap is
        reached) and alert if due; returns the reference that finds it."""
        at = datetime.fromisoformat(occurrence["at"])
        record = await ErrorRepository(session).locked_open(occurrence["fingerprint"])
        if record is None:
            record = ErrorRecord(
                reference=occurrence["reference"],
                fingerprint=occurrence["fingerprint"],
                category=ErrorCategory(occurrence["category"]),
                severity=ErrorSeverity(occurrence["severity"]),
                exception_type=occurrence["exception_type"],
                message=occurrence["message"],
                stack_trace=occurrence["stack_trace"],
                handler=occurrence["handler"],
                context=occurrence["context"],
                count=1,
                first_seen=at,
                last_seen=at,
                retry_count=0,
            )
            try:
                async with session.begin_nested():
                    session.add(record)
            except IntegrityError:
                # Another process opened the same fingerprint first: add to theirs.
                record = await ErrorRepository(session).locked_open(occurrence["fingerprint"])
                assert record is not None
                self._repeat(record, occurrence, at)
        else:
            self._repeat(record, occurrence, at)
        reference: str = occurrence["reference"]
        kept = await self._kept_of_person(session, record, occurrence, at) if capped else []
        if len(kept) < self.occurrences_per_minute:
            session.add(
                ErrorOccurrence(
                    error_id=record.id,
                    reference=reference,
                    occurred_at=at,
                    context=occurrence["context"],
                )
            )
        else:
            reference = kept[0]  # counted above; their newest stored code stands for it
            await ErrorRepository(session).add_repeat(reference)
        await self._alert_if_due(session, record)
        return reference

    async def _kept_of_person(
        self, session: AsyncSession, record: ErrorRecord, occurrence: dict[str, Any], at: datetime
    ) -> list[str]:
        """The person's occurrence rows of this record in the last minute, newest first."""
        user_id = occurrence["context"].get("user_id")
        await session.flush()  # the record's id, and rows added earlier in this batch
        return await ErrorRepository(session).newest_of_person(
            record.id,
            user_id if isinstance(user_id, int) else None,
            at - OCCURRENCE_WINDOW,
            self.occurrences_per_minute,
        )

    @staticmethod
    def _repeat(record: ErrorRecord, occurrence: dict[str, Any], at: datetime) -> None:
        record.count += 1
        severity = ErrorSeverity(occurrence["severity"])
        if severity.rank > record.severity.rank:
            record.severity = severity
        if at >= record.last_seen:  # spooled records may arrive late
            record.last_seen = at
            record.context = occurrence["context"]
            record.message = occurrence["message"]
            record.stack_trace = occurrence["stack_trace"]

    async def _alert_if_due(self, session: AsyncSession, record: ErrorRecord) -> bool:
        if record.severity is not ErrorSeverity.CRITICAL:
            return False
        now = self.clock.now()
        if record.alerted_at is not None and now - record.alerted_at < self.alert_window:
            return False  # already told within the window: the count keeps growing silently
        await session.flush()
        record.alerted_at = now
        admins = await UserRepository(session).active_holders(Role.ADMIN)
        for admin in admins:
            await enqueue(
                session,
                recipient_id=admin.id,
                payload=ErrorAlert(
                    reference=record.reference,
                    category=record.category,
                    severity=record.severity,
                    count=record.count,
                    where=record.handler,
                    exception=record.exception_type.rsplit(".", 1)[-1],
                ),
                idempotency_key=f"error-alert:{record.id}:{record.count}:{admin.id}",
                now=now,
                priority=ALERT,  # not starved by a long queue of routine notifications
            )
        return bool(admins)
