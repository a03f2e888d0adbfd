"""Correlate errors over a sliding time window with bounded memory.

:class:`ErrorCorrelator` keeps the events of the last ``window_seconds`` (at most
``max_events`` of them, oldest dropped first) and per-category and per-fingerprint counters
that are updated as events enter and leave, so :meth:`~ErrorCorrelator.report` costs
O(distinct categories + fingerprints that repeat) however many events are held. An event is in
the window while ``now - recorded_at < window_seconds``. Rates are per minute over the whole
window, so a short burst reads as a low rate until it lasts; a burst of one fingerprint is
caught by ``storm_fingerprint_count`` instead.

Memory does not grow with the length or the variety of fingerprints. Events live in a ring of
flat arrays (time, fingerprint hash) plus a list of shared category strings; each
fingerprint's count sits in an open-addressing table of flat arrays keyed by its hash (the
string's hash, 64 bits: a collision of two fingerprints in one window is not expected). Its
text is kept only while it repeats in the window, and for the newest event: a window where
every error is its own problem holds no fingerprint text at all. So the dominant fingerprint
is the most frequent one, ties broken by name; when none repeats, the newest one. Not
thread-safe: use it from one thread or event loop.
"""

from __future__ import annotations

import math
import time
from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class CorrelationReport:
    window_seconds: float
    total: int
    rate_per_minute: float
    by_category: dict[str, int]
    rate_by_category: dict[str, float]  # per minute
    dominant_fingerprint: str | None
    dominant_count: int
    dominant_category: str | None  # the category with the most events in the window
    storm: bool
    dropped: int = 0  # events pushed out early by max_events since the correlator was made


def _top(counter: Counter[str]) -> tuple[str | None, int]:
    if not counter:
        return None, 0
    key, count = min(counter.items(), key=lambda item: (-item[1], item[0]))  # ties: by name
    return key, count


def _require(condition: bool, name: str, message: str) -> None:
    if not condition:
        raise ValueError(f"{name} {message}")


class ErrorCorrelator:
    """Sliding-window error counts by category and fingerprint, with storm detection."""

    def __init__(
        self,
        *,
        window_seconds: float = 300.0,
        max_events: int = 10_000,
        storm_rate_per_minute: float = 30.0,
        storm_fingerprint_count: int = 20,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        _require(
            math.isfinite(window_seconds) and window_seconds > 0,
            "window_seconds",
            f"must be a positive finite number, got {window_seconds!r}",
        )
        _require(
            isinstance(max_events, int) and not isinstance(max_events, bool) and max_events > 0,
            "max_events",
            f"must be a positive int, got {max_events!r}",
        )
        _require(
            not math.isnan(storm_rate_per_minute) and storm_rate_per_minute > 0,
            "storm_rate_per_minute",
            f"must be positive, got {storm_rate_per_minute!r}",
        )
        _require(
            isinstance(storm_fingerprint_count, int)
            and not isinstance(storm_fingerprint_count, bool)
            and storm_fingerprint_count > 0,
            "storm_fingerprint_count",
            f"must be a positive int, got {storm_fingerprint_count!r}",
        )
        _require(callable(clock), "clock", f"must be callable, got {clock!r}")
        self._window = float(window_seconds)
        self._max_events = max_events
        self._storm_rate = float(storm_rate_per_minute)
        self._storm_count = storm_fingerprint_count
        self._clock = clock
        # the ring of events: oldest at _head, _size of them
        self._times = array("d", bytes(8 * max_events))
        self._hashes = array("q", bytes(8 * max_events))
        self._categories: list[str] = [""] * max_events
        self._head = 0
        self._size = 0
        # fingerprint hash -> count, open addressing with linear probing; count 0 = free slot
        slots = 8
        while slots < max_events * 3 // 2 + 1:
            slots *= 2
        self._mask = slots - 1
        self._slot_hash = array("q", bytes(8 * slots))
        self._slot_count = array("l", bytes(array("l").itemsize * slots))
        self._by_category: Counter[str] = Counter()
        self._shared: dict[str, str] = {}  # one str object per category held
        self._repeating: Counter[str] = Counter()  # text -> count, for counts of 2 and more
        self._texts: dict[int, str] = {}  # hash -> text, for the same fingerprints
        self._newest: str | None = None  # the newest event's fingerprint
        self._last_time = -math.inf
        self._dropped = 0

    @property
    def window_seconds(self) -> float:
        return self._window

    @property
    def max_events(self) -> int:
        return self._max_events

    def record(self, category: str, fingerprint: str) -> int:
        """Add one error; return its fingerprint's count in the window, this one included."""
        now = self._now()
        self._evict_expired(now)
        if self._size == self._max_events:
            self._pop_oldest()
            self._dropped += 1
        category = self._shared.setdefault(category, category)
        key = hash(fingerprint)
        tail = (self._head + self._size) % self._max_events
        self._times[tail] = now
        self._hashes[tail] = key
        self._categories[tail] = category
        self._size += 1
        self._by_category[category] += 1
        slot = self._find(key)
        count = self._slot_count[slot] + 1
        self._slot_hash[slot] = key
        self._slot_count[slot] = count
        if count >= 2:
            text = self._texts.setdefault(key, fingerprint)
            self._repeating[text] = count
        self._newest = fingerprint
        return count

    def count(self, fingerprint: str) -> int:
        self._evict_expired(self._now())
        return self._slot_count[self._find(hash(fingerprint))]

    def report(self) -> CorrelationReport:
        self._evict_expired(self._now())
        per_minute = 60.0 / self._window
        total = self._size
        fingerprint, fingerprint_count = _top(self._repeating)
        if fingerprint is None and total:
            fingerprint, fingerprint_count = self._newest, 1
        category, _ = _top(self._by_category)
        rate = total * per_minute
        return CorrelationReport(
            window_seconds=self._window,
            total=total,
            rate_per_minute=rate,
            by_category=dict(self._by_category),
            rate_by_category={key: n * per_minute for key, n in self._by_category.items()},
            dominant_fingerprint=fingerprint,
            dominant_count=fingerprint_count,
            dominant_category=category,
            storm=rate >= self._storm_rate or fingerprint_count >= self._storm_count,
            dropped=self._dropped,
        )

    def is_storm(self, fingerprint: str | None = None) -> bool:
        if fingerprint is not None:
            return self.count(fingerprint) >= self._storm_count
        return self.report().storm

    def __len__(self) -> int:
        self._evict_expired(self._now())
        return self._size

    def _now(self) -> float:
        # a clock that steps back must not break the time order eviction relies on
        self._last_time = max(self._last_time, float(self._clock()))
        return self._last_time

    def _find(self, key: int) -> int:
        """The slot holding `key`, or the free slot where it would go."""
        mask, hashes, counts = self._mask, self._slot_hash, self._slot_count
        slot = key & mask
        while counts[slot] and hashes[slot] != key:
            slot = (slot + 1) & mask
        return slot

    def _evict_expired(self, now: float) -> None:
        horizon = now - self._window
        times = self._times
        while self._size and times[self._head] <= horizon:
            self._pop_oldest()

    def _pop_oldest(self) -> None:
        head = self._head
        key = self._hashes[head]
        category = self._categories[head]
        self._categories[head] = ""
        self._head = (head + 1) % self._max_events
        self._size -= 1
        if not self._size:
            self._newest = None
        remaining = self._by_category[category] - 1
        if remaining:
            self._by_category[category] = remaining
        else:
            del self._by_category[category]  # zero entries would keep memory growing
            del self._shared[category]
        slot = self._find(key)
        count = self._slot_count[slot] - 1
        if count >= 2:
            self._repeating[self._texts[key]] = count
        elif count == 1:
            del self._repeating[self._texts.pop(key)]
        if count:
            self._slot_count[slot] = count
        else:
            self._free(slot)

    def _free(self, slot: int) -> None:
        """Empty `slot`, moving later entries of its probe run back (no tombstones)."""
        mask, hashes, counts = self._mask, self._slot_hash, self._slot_count
        hole = slot
        probe = slot
        while True:
            probe = (probe + 1) & mask
            if not counts[probe]:
                break
            home = hashes[probe] & mask
            # the entry at `probe` may move into the hole unless its home lies in (hole, probe]
            if (home - hole - 1) & mask < (probe - hole) & mask:
                continue
            hashes[hole], counts[hole] = hashes[probe], counts[probe]
            hole = probe
        counts[hole] = 0
