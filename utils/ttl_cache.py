"""A short-lived cache: a value is good for `ttl` seconds after it was put, or until the key is
invalidated, whichever comes first.

`generation()` lets a reader that loads a value outside the cache put it only if nothing was
invalidated meanwhile: a load that started before a change and finished after it must not put
the old value back (`put(key, value, since=generation_read_before_loading)`).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """Bounded (least recently put out first); `ttl <= 0` turns it off (it holds nothing)."""

    def __init__(
        self,
        *,
        ttl: float,
        max_items: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_items < 1:
            raise ValueError("max_items must be >= 1")
        self.ttl = ttl
        self.max_items = max_items
        self._clock = clock
        self._items: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._generation = 0

    def get(self, key: K) -> V | None:
        entry = self._items.get(key)
        if entry is None:
            return None
        if self._clock() - entry[0] >= self.ttl:
            del self._items[key]
            return None
        return entry[1]

    def generation(self) -> int:
        return self._generation

    def put(self, key: K, value: V, *, since: int | None = None) -> None:
        """Keep `value`; with `since`, only if nothing was invalidated after that generation."""
        if self.ttl <= 0 or (since is not None and since != self._generation):
            return
        self._items[key] = (self._clock(), value)
        self._items.move_to_end(key)
        while len(self._items) > self.max_items:
            self._items.popitem(last=False)

    def invalidate(self, key: K) -> None:
        self._generation += 1
        self._items.pop(key, None)

    def clear(self) -> None:
        self._generation += 1
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
