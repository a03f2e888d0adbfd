"""Exponential backoff with a cap and jitter, as a pure function of the attempt number."""

from __future__ import annotations

from collections.abc import Callable

JITTER = 0.2  # +/- 20 %: retries from one outage do not all come back in the same second


def backoff_seconds(
    attempt: int, *, base: float, cap: float, random: Callable[[], float]
) -> float:
    """Delay after failed attempt number `attempt` (1-based): base * 2^(attempt-1), capped.

    `random()` returns a float in [0, 1); 0.5 gives the exact schedule without jitter.
    """
    delay = min(cap, base * 2.0 ** max(attempt - 1, 0))
    return min(cap, delay * (1 - JITTER + 2 * JITTER * random()))
