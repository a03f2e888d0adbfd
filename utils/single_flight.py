"""One computation shared by everyone who asks at once, its result kept for a few seconds.

Callers arriving while a computation runs await that same run (single flight), so a burst of
200 requests costs one run, not 200. The result is then answered for `ttl` seconds. A failure
is not kept: every waiter of that run gets it, and the next caller starts a new run.
`ttl <= 0` turns all of it off: every caller runs its own computation (the uncached way).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class CachedCall(Generic[V]):
    def __init__(
        self,
        load: Callable[[], Awaitable[V]],
        *,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.load = load
        self.ttl = ttl
        self._clock = clock
        self._kept: tuple[float, V] | None = None
        self._running: asyncio.Task[V] | None = None
        self.runs = 0  # computations started: what the cache saves is visible

    async def get(self) -> V:
        if self.ttl <= 0:
            self.runs += 1
            return await self.load()
        if self._kept is not None and self._clock() - self._kept[0] < self.ttl:
            return self._kept[1]
        if self._running is None:
            self.runs += 1
            self._running = asyncio.create_task(self._run())
            # Read the outcome even if every waiter left, so a failure is not reported as
            # "never retrieved".
            self._running.add_done_callback(_retrieve)
        # shield: a caller that gives up (a scraper disconnecting) must not cancel the run
        # the others are waiting for.
        return await asyncio.shield(self._running)

    def clear(self) -> None:
        self._kept = None

    async def _run(self) -> V:
        try:
            value = await self.load()
        finally:
            self._running = None
        self._kept = (self._clock(), value)
        return value


def _retrieve(task: asyncio.Task[V]) -> None:
    if not task.cancelled():
        task.exception()
