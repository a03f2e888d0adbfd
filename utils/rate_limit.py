"""An asyncio rate limiter over sliding windows of *starts*, with injectable time.

Telegram judges its flood limits by when each request arrives, so this limiter counts when each
call *started*, never when it was answered: overall, at most ``rate`` starts in any window of
one second plus ``margin``; per key (a chat), at most ``per_key_rate`` starts in any window of
one second plus ``key_margin``. A rate below one a second widens the window instead (0.5/s: one
start in any two seconds). The margins absorb the jitter between a call leaving here and
arriving there.

Overall starts are also spread out rather than burst (unless ``spread=False``, for a clock that
never moves): each is at least ``window / rate`` after the one before, with a little slack
(`SPREAD_SLACK` intervals) so a start that came late is made up for instead of lost. The hard
window above holds whatever the slack.

`ready_at(key)` says when a start for `key` is allowed, `start(key)` counts one now (checking
and counting are one synchronous step, so callers sharing the limiter cannot both take the last
slot), `acquire(key)` waits for and takes a slot. A caller that must wait for its key does not
hold back other keys: nothing is booked ahead. `pause()` holds every start back, for a server
that said "come back in N seconds"; a start is checked again after every sleep, so a pause that
came while a caller slept is kept too.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable

_PRUNE_AT = 4096  # keys remembered before the idle ones are dropped
SPREAD_SLACK = 2.0  # intervals a start may come early after late ones
EPSILON = 1e-6  # seconds: a start this close to its time is on time (float sums never meet)


class RateLimiter:
    def __init__(
        self,
        rate: float,
        per_key_rate: float,
        *,
        margin: float = 0.0,
        key_margin: float = 0.0,
        spread: bool = True,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0 or per_key_rate <= 0:
            raise ValueError("rates must be positive")
        if margin < 0 or key_margin < 0:
            raise ValueError("margins must not be negative")
        self.count = max(1, math.floor(rate))
        self.window = self.count / rate + margin
        self.key_count = max(1, math.floor(per_key_rate))
        self.key_window = self.key_count / per_key_rate + key_margin
        self._clock = clock
        self._sleep = sleep
        self.paused_until = 0.0
        self.interval = self.window / self.count if spread else 0.0
        self._due = 0.0  # when the next start is due if starts are spread evenly
        self._starts: deque[float] = deque(maxlen=self.count)
        self._key_starts: dict[Hashable, deque[float]] = {}

    def now(self) -> float:
        return self._clock()

    def ready_at(self, key: Hashable) -> float:
        """The earliest time a start for `key` keeps every limit and any pause."""
        at = max(self.paused_until, self._due - SPREAD_SLACK * self.interval)
        if len(self._starts) == self.count:
            at = max(at, self._starts[0] + self.window)
        starts = self._key_starts.get(key)
        if starts is not None and len(starts) == self.key_count:
            at = max(at, starts[0] + self.key_window)
        return at

    def start(self, key: Hashable) -> bool:
        """Count a start for `key` now if the limits allow it; False (nothing counted) if not."""
        now = self._clock()
        if self.ready_at(key) > now + EPSILON:
            return False
        self._starts.append(now)
        self._due = max(self._due, now) + self.interval
        starts = self._key_starts.get(key)
        if starts is None:
            if len(self._key_starts) >= _PRUNE_AT:
                self._prune(now)
            starts = self._key_starts[key] = deque(maxlen=self.key_count)
        starts.append(now)
        return True

    async def acquire(self, key: Hashable) -> None:
        """Wait until a start for `key` is allowed, and count it."""
        while not self.start(key):
            await self._sleep(self.ready_at(key) - self._clock())

    async def sleep(self, seconds: float) -> None:
        """Sleep on this limiter's time (a fake one in tests)."""
        await self._sleep(max(0.0, seconds))

    def pause(self, seconds: float) -> None:
        """No start for `seconds` from now (a later pause may extend it, never shorten it)."""
        self.paused_until = max(self.paused_until, self._clock() + seconds)

    def paused_for(self) -> float:
        """Seconds left of the current pause (0 when there is none)."""
        return max(0.0, self.paused_until - self._clock())

    def _prune(self, now: float) -> None:
        # A key whose last start is a window old constrains nothing: forget it.
        self._key_starts = {
            key: starts
            for key, starts in self._key_starts.items()
            if starts[-1] + self.key_window > now
        }
