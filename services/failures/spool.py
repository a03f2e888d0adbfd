"""A local append-only file for error records made while the database is unreachable.

Each record is one JSON line, flushed and fsynced before `append` returns, so a crash or a
restart loses nothing. `drain` moves the file aside first: records appended meanwhile go to a
fresh file, and a batch that could not be written stays on disk for the next try.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


class ErrorSpool:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.draining = path.with_name(path.name + ".draining")
        self.rejected = path.with_name(path.name + ".rejected")
        self._lock = threading.Lock()  # appends may come from a thread (logging) too

    def append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False, default=str) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fp:
                fp.write(line)
                fp.flush()
                os.fsync(fp.fileno())

    def pending(self) -> int:
        return sum(self._count(p) for p in (self.draining, self.path))

    async def drain(self, write: Callable[[list[dict[str, Any]]], Awaitable[None]]) -> int:
        """Hand every spooled record to `write` (one batch); returns how many were written.

        If `write` raises, the records stay spooled and the error propagates."""
        with self._lock:
            if not self.draining.exists():
                if not self.path.exists():
                    return 0
                self.path.replace(self.draining)
        records = self._read(self.draining)
        if records:
            await write(records)
        self.draining.unlink(missing_ok=True)
        return len(records)

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
