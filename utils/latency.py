"""How long calls take: the last one and a smoothed average, in seconds."""

from __future__ import annotations

SMOOTHING = 0.2  # weight of the newest sample: a single slow call moves the average a little


class LatencyTracker:
    def __init__(self) -> None:
        self.last: float | None = None
        self.average = 0.0
        self.samples = 0

    def observe(self, seconds: float) -> None:
        self.last = seconds
        self.average = (
            seconds
            if self.samples == 0
            else (SMOOTHING * seconds + (1 - SMOOTHING) * self.average)
        )
        self.samples += 1
