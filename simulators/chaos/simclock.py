"""Simulated time: the app's wall clock, its monotonic clock and the local Bot API's clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday morning


class SimClock:
    """A `core.clock.Clock` that moves only when the run advances it; `monotonic` reads the
    same time as seconds since the start, for breakers, rate limiters and caches."""

    def __init__(self, start: datetime = START) -> None:
        self.start = start
        self.seconds = 0.0

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.seconds)

    def monotonic(self) -> float:
        return 1000.0 + self.seconds  # never 0: some code treats 0 as "never"

    def advance(self, seconds: float) -> None:
        self.seconds += seconds

    async def sleep(self, seconds: float) -> None:
        """A wait inside the app (the rate limiter's) passes simulated time, not real time."""
        if seconds > 0:
            self.seconds += seconds
        await asyncio.sleep(0)
