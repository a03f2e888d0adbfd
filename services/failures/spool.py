"""A local append-only file for error records made while the database is unreachable.

Each record is one JSON line, flushed and fsynced before `append` returns, so a crash or a
restart loses nothing; the file work runs in a thread, never on the event loop. The spool is
capped (`max_bytes`, ERROR_SPOOL_MAX_BYTES, over the file and the one being drained): a record
that does not fit is dropped and counted in a small state file beside it, and the next drain
hands that count to the writer, which records it as an error of its own.

`drain` claims the file by moving it aside: records appended meanwhile go to a fresh file, and
a batch that could not be written stays on disk for the next try. One drain at a time: an
asyncio lock in the process and an exclusive file lock (flock) across processes, so the bot and
`python -m bot errors flush-spool` never write the same records twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

logger = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class SpoolBatch:
    records: list[dict[str, Any]]
    dropped: int  # records refused while the spool was full, not yet reported


class ErrorSpool:
    def __init__(self, path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.draining = path.with_name(path.name + ".draining")
        self.rejected = path.with_name(path.name + ".rejected")
        self.dropped_path = path.with_name(path.name + ".dropped")
        self._state_lock = path.with_name(path.name + ".lock")  # appends, the count, the claim
        self._drain_lock = path.with_name(path.name + ".drain.lock")  # held for a whole drain
        self._lock = threading.Lock()  # the file lock is per process: threads take this first
        self._draining = asyncio.Lock()

    async def append(self, record: dict[str, Any]) -> bool:
        """Keep `record` (True), or drop and count it when the spool is full (False)."""
        return await asyncio.to_thread(self.append_now, record)

    def append_now(self, record: dict[str, Any]) -> bool:
        """`append` for a caller that is not on the event loop (a thread)."""
        line = (json.dumps(record, ensure_ascii=False, default=str) + "\n").encode("utf-8")
        with self._state():
            if self._size() + len(line) > self.max_bytes:
                self._count_dropped(1)
                logger.error("error spool %s is full: a record was dropped", self.path)
                return False
            with self.path.open("ab") as fp:
                fp.write(line)
                fp.flush()
                os.fsync(fp.fileno())
        return True

    def pending(self) -> int:
        """Records waiting (a file read only when there is a file)."""
        return sum(self._count(p) for p in (self.draining, self.path))

    def has_work(self) -> bool:
        """Records or a drop count wait. Stat calls only: the scheduler asks every few seconds
        on the event loop, where counting a 50 MiB file's lines would stall people's updates."""
        return any(_has_bytes(p) for p in (self.draining, self.path, self.dropped_path))

    def dropped(self) -> int:
        """Records dropped while full and not yet reported by a drain."""
        with self._state():
            return self._read_dropped()

    async def drain(self, write: Callable[[SpoolBatch], Awaitable[None]]) -> int:
        """Hand every spooled record, and the count of dropped ones, to `write` (one batch);
        returns how many records were written. 0 while another process drains this file.

        If `write` raises, the records (and the count) stay spooled and the error propagates."""
        async with self._draining:
            claim = await asyncio.to_thread(self._claim)
            if claim is None:
                logger.info("error spool %s is being drained by another process", self.path)
                return 0
            lock, batch = claim
            try:
                if batch.records or batch.dropped:
                    await write(batch)
                await asyncio.to_thread(self._settle, batch)
            finally:
                lock.close()  # releases the flock
            return len(batch.records)

    # -- in a thread ---------------------------------------------------------------------------

    def _claim(self) -> tuple[IO[bytes], SpoolBatch] | None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = self._drain_lock.open("ab")
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            return None
        try:
            with self._state():
                if not self.draining.exists() and self.path.exists():
                    self.path.replace(self.draining)
                dropped = self._read_dropped()
            records = self._read(self.draining) if self.draining.exists() else []
        except BaseException:
            lock.close()
            raise
        return lock, SpoolBatch(records, dropped)

    def _settle(self, batch: SpoolBatch) -> None:
        with self._state():
            self.draining.unlink(missing_ok=True)
            if batch.dropped:
                # Drops counted while the batch was written stay for the next drain.
                self._count_dropped(-batch.dropped)

    @contextlib.contextmanager
    def _state(self) -> Iterator[None]:
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._state_lock.open("ab") as lock:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX)  # released when the file closes
                yield

    def _size(self) -> int:
        total = 0
        for path in (self.path, self.draining):
            with contextlib.suppress(FileNotFoundError):
                total += path.stat().st_size
        return total

    def _read_dropped(self) -> int:
        try:
            return int(self.dropped_path.read_text(encoding="utf-8").strip() or 0)
        except FileNotFoundError:
            return 0
        except ValueError:
            logger.error("%s is not a count; starting it again", self.dropped_path)
            return 0

    def _count_dropped(self, delta: int) -> None:
        total = max(0, self._read_dropped() + delta)
        if total == 0:
            self.dropped_path.unlink(missing_ok=True)
            return
        scratch = self.dropped_path.with_name(self.dropped_path.name + ".new")
        scratch.write_text(str(total), encoding="utf-8")
        scratch.replace(self.dropped_path)

    def _read(self, path: Path) -> list[dict[str, Any]]:
        records = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                value = None
            if not isinstance(value, dict):
                # Keep what cannot be read (a line cut by a crash) rather than drop it.
                logger.error(
                    "unreadable spool line %s of %s kept in %s", number, path, self.rejected
                )
                with self.rejected.open("a", encoding="utf-8") as fp:
                    fp.write(line + "\n")
                continue
            records.append(value)
        return records

    @staticmethod
    def _count(path: Path) -> int:
        try:
            with path.open("rb") as fp:
                return sum(1 for line in fp if line.strip())
        except FileNotFoundError:
            return 0


def _has_bytes(path: Path) -> bool:
    # One stat, no exists() before it: another process's drain may remove the file between.
    try:
        return path.stat().st_size > 0
    except FileNotFoundError:
        return False


def dropped_occurrence(dropped: int, reference: str, at: str, max_bytes: int) -> dict[str, Any]:
    """The error record that reports `dropped` records refused by a full spool: critical, so
    the admins are alerted, and its own fingerprint per report, so each report alerts."""
    return {
        "reference": reference,
        "fingerprint": f"error-spool-full:{reference}",
        "category": "system",
        "severity": "critical",
        "exception_type": "ErrorSpoolFull",
        "message": (
            f"{dropped} error record(s) were dropped: the error spool was full "
            f"(ERROR_SPOOL_MAX_BYTES={max_bytes}) while the database was unreachable"
        ),
        "stack_trace": "",
        "handler": f"error spool ({dropped} records dropped)",
        "context": {"source": "error_spool", "dropped": dropped},
        "at": at,
    }
