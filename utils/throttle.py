"""Per-key flood control over a token bucket, with a quiet period and bounded memory.

Each key (a person) has a bucket of ``burst`` tokens that refills at ``rate`` tokens a second;
an event takes one. With ``rate >= 1`` a key that sends at most one event a second always finds
a token, so it is never throttled. The first event that finds the bucket empty is the one to
answer (`Verdict.NOTICE`), and every event of that key is then dropped (`Verdict.DROP`) for
``quiet_seconds``, while the bucket keeps refilling. After the quiet period the key starts
again with what the bucket holds by then (a full bucket when ``quiet_seconds * rate >=
burst``); a flood that goes on is answered once more per quiet period at most.

The keys live in a `TtlCache` (least recently seen out first, at most ``max_keys``) for as long
as their state matters: a key idle for ``quiet_seconds + burst / rate`` has a full bucket and no
quiet period, which is what a forgotten key starts with, so forgetting it changes nothing.
Under more than ``max_keys`` busy keys at once the least recent ones are forgotten early and
start again with a full bucket: memory stays bounded, at the price of a few extra events let
through. Not thread-safe: use it from one event loop.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from enum import Enum
from typing import Generic, TypeVar

from utils.ttl_cache import TtlCache

K = TypeVar("K", bound=Hashable)
EPSILON = 1e-9  # tokens: a refill this close to a whole token is one (float sums never meet)


class Verdict(Enum):
    PASS = "pass"  # handle it
    NOTICE = "notice"  # the first one over the limit: tell the person, do not handle it
    DROP = "drop"  # within the quiet period: do nothing


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float  # when `tokens` was last brought up to date
    quiet_until: float = -math.inf


class Throttle(Generic[K]):
    def __init__(
        self,
        *,
        rate: float,
        burst: int,
        quiet_seconds: float,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not (math.isfinite(rate) and rate > 0):
            raise ValueError(f"rate must be a positive number, got {rate!r}")
        if burst < 1:
            raise ValueError(f"burst must be >= 1, got {burst!r}")
        if not (math.isfinite(quiet_seconds) and quiet_seconds > 0):
            raise ValueError(f"quiet_seconds must be a positive number, got {quiet_seconds!r}")
        self.rate = rate
        self.burst = burst
        self.quiet_seconds = quiet_seconds
        self._clock = clock
        self._buckets: TtlCache[K, _Bucket] = TtlCache(
            ttl=quiet_seconds + burst / rate, max_items=max_keys, clock=clock
        )

    def check(self, key: K) -> Verdict:
        """Take one event of `key` now and say what to do with it."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(tokens=float(self.burst), at=now)
        if now < bucket.quiet_until:
            verdict = Verdict.DROP  # nothing taken: the bucket refills meanwhile
        else:
            bucket.tokens = min(self.burst, bucket.tokens + max(0.0, now - bucket.at) * self.rate)
            bucket.at = max(bucket.at, now)
            if bucket.tokens >= 1 - EPSILON:
                bucket.tokens = max(0.0, bucket.tokens - 1)
                verdict = Verdict.PASS
            else:
                bucket.quiet_until = now + self.quiet_seconds
                verdict = Verdict.NOTICE
        self._buckets.put(key, bucket)  # also the key's recency and its time to live
        return verdict

    def __len__(self) -> int:
        return len(self._buckets)
