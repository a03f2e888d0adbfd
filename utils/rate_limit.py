"""A small asyncio rate limiter: an overall rate and a per-key rate, with injectable time.

Calls are spaced rather than burst: any two calls are at least ``1/rate`` apart and two calls
for one key at least ``1/per_key_rate`` apart, so neither rate is exceeded in any window. A slot
is booked before the caller sleeps; a call waiting for its key does not hold up other keys (it
books a later slot and earlier free slots stay free). ``pause()`` holds every new call back, for
a server that said "come back in N seconds".
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections.abc import Awaitable, Callable, Hashable


class RateLimiter:
    def __init__(
        self,
        rate: float,
        per_key_rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0 or per_key_rate <= 0:
            raise ValueError("rates must be positive")
        self.interval = 1.0 / rate
        self.key_interval = 1.0 / per_key_rate
        self._clock = clock
        self._sleep = sleep
        self._paused_until = 0.0
        self._booked: list[float] = []  # slot times, sorted; past ones are pruned
        self._next_by_key: dict[Hashable, float] = {}

    def reserve(self, key: Hashable) -> float:
        """Book the earliest slot for `key`; returns how long the caller must wait for it."""
        now = self._clock()
        self._prune(now)
        slot = max(now, self._paused_until, self._next_by_key.get(key, now))
        # Move past every booked slot closer than one interval; the list is sorted.
        i = bisect.bisect_left(self._booked, slot - self.interval + 1e-9)
        while i < len(self._booked) and self._booked[i] < slot + self.interval - 1e-9:
            slot = max(slot, self._booked[i] + self.interval)
            i += 1
        bisect.insort(self._booked, slot)
        self._next_by_key[key] = slot + self.key_interval
        return slot - now

    async def acquire(self, key: Hashable) -> None:
        delay = self.reserve(key)
        if delay > 0:
            await self._sleep(delay)

    def pause(self, seconds: float) -> None:
        """Nothing goes out for `seconds` from now (slots already booked keep their order)."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    def _prune(self, now: float) -> None:
        # Slots and keys in the past constrain nothing; dropping them bounds the memory.
        cut = bisect.bisect_left(self._booked, now - self.interval)
        del self._booked[:cut]
        if len(self._next_by_key) > 1024:
            self._next_by_key = {k: t for k, t in self._next_by_key.items() if t > now}
