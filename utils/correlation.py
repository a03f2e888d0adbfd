"""Correlate errors over a sliding time window with bounded memory.

:class:`ErrorCorrelator` keeps the events of the last ``window_seconds`` (at most
``max_events`` of them, oldest dropped first) and per-category and per-fingerprint counters
that are updated as events enter and leave, so :meth:`~ErrorCorrelator.report` costs
O(distinct categories + distinct fingerprints) however many events are held. An event is in
the window while ``now - recorded_at < window_seconds``. Rates are per minute over the whole
window, so a short burst reads as a low rate until it lasts; a burst of one fingerprint is
caught by ``storm_fingerprint_count`` instead.

Events live in three parallel deques (times, categories, fingerprints) rather than one deque
of tuples, which halves the memory per event, and equal category and fingerprint strings are
shared, so ten thousand events of one fingerprint hold one copy of its text. Not thread-safe:
use it from one thread or event loop.
"""

from __future__ import annotations

import math
import time
from collections import Counter, deque
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
        # three parallel deques, not one of tuples: a 3-tuple per event doubles the memory
        self._times: deque[float] = deque()
        self._categories: deque[str] = deque()
        self._fingerprints: deque[str] = deque()
        self._by_category: Counter[str] = Counter()
        self._by_fingerprint: Counter[str] = Counter()
        self._shared: dict[str, str] = {}  # one str object per distinct value held
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
        category = self._share(category)
        fingerprint = self._share(fingerprint)
        self._times.append(now)
        self._categories.append(category)
        self._fingerprints.append(fingerprint)
        self._by_category[category] += 1
        self._by_fingerprint[fingerprint] += 1
        while len(self._times) > self._max_events:
            self._pop_oldest()
            self._dropped += 1
        return self._by_fingerprint[fingerprint]

    def count(self, fingerprint: str) -> int:
        self._evict_expired(self._now())
        return self._by_fingerprint.get(fingerprint, 0)

    def report(self) -> CorrelationReport:
        self._evict_expired(self._now())
        per_minute = 60.0 / self._window
        total = len(self._times)
        fingerprint, fingerprint_count = _top(self._by_fingerprint)
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
        return len(self._times)

    def _now(self) -> float:
        # a clock that steps back must not break the time order eviction relies on
        self._last_time = max(self._last_time, float(self._clock()))
        return self._last_time

    def _share(self, value: str) -> str:
        return self._shared.setdefault(value, value)

    def _evict_expired(self, now: float) -> None:
        horizon = now - self._window
        times = self._times
        while times and times[0] <= horizon:
            self._pop_oldest()

    def _pop_oldest(self) -> None:
        self._times.popleft()
        self._forget(self._by_category, self._categories.popleft())
        self._forget(self._by_fingerprint, self._fingerprints.popleft())

    def _forget(self, counter: Counter[str], key: str) -> None:
        remaining = counter[key] - 1
        if remaining:
            counter[key] = remaining
            return
        del counter[key]  # zero entries would keep memory growing with every fingerprint seen
        if key not in self._by_category and key not in self._by_fingerprint:
            del self._shared[key]
