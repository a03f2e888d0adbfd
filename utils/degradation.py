"""Graceful degradation: when a dependency fails, answer with the last good value (marked
stale) instead of nothing, for as long as that value is still worth showing."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True)
class Fetched(Generic[V]):
    value: V
    stale: bool  # True: the live source failed and this is the last good value
    age: float  # seconds since the value was fetched live


class LastGoodCache(Generic[K, V]):
    """Bounded (least recently used out first) cache of the last good value per key."""

    def __init__(
        self,
        *,
        max_age: float,
        max_items: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_age <= 0:
            raise ValueError("max_age must be > 0")
        if max_items < 1:
            raise ValueError("max_items must be >= 1")
        self.max_age = max_age
        self.max_items = max_items
        self._clock = clock
        self._items: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def put(self, key: K, value: V) -> None:
        self._items[key] = (self._clock(), value)
        self._items.move_to_end(key)
        while len(self._items) > self.max_items:
            self._items.popitem(last=False)

    def get(self, key: K) -> Fetched[V] | None:
        entry = self._items.get(key)
        if entry is None:
            return None
        age = self._clock() - entry[0]
        if age > self.max_age:
            del self._items[key]
            return None
        return Fetched(entry[1], stale=True, age=age)

    def __len__(self) -> int:
        return len(self._items)

    async def fetch(
        self,
        key: K,
        load: Callable[[], Awaitable[V]],
        degrade_on: Callable[[BaseException], bool],
    ) -> Fetched[V]:
        """Live value if `load` works; on a failure that `degrade_on` accepts, the last good
        value if one is young enough; otherwise the failure propagates."""
        try:
            value = await load()
        except Exception as exc:
            cached = self.get(key) if degrade_on(exc) else None
            if cached is None:
                raise
            return cached
        self.put(key, value)
        return Fetched(value, stale=False, age=0.0)
