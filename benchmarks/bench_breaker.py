"""Cost of a circuit-breaker decision, against the design seed's target.

Run from the project root: .venv/bin/python benchmarks/bench_breaker.py
"""

from __future__ import annotations

import asyncio
import logging
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script, not installed

from utils.circuit_breaker import CircuitBreaker, CircuitOpenError

ITERATIONS = 200_000
REPEATS = 5  # the best of several runs: the least disturbed by the rest of the machine
DECISION_TARGET_S = 1e-3  # design seed: "< 1 ms circuit breaker decision time"


def noop() -> None:
    pass


async def async_noop() -> None:
    pass


def best_per_op(loop: Callable[[int], None]) -> float:
    """Seconds per iteration of loop(ITERATIONS), best of REPEATS."""
    best = float("inf")
    for _ in range(REPEATS):
        started = time.perf_counter()
        loop(ITERATIONS)
        best = min(best, time.perf_counter() - started)
    return best / ITERATIONS


def baseline_loop(n: int) -> None:
    for _ in range(n):
        noop()


def closed_loop(n: int) -> None:
    breaker = CircuitBreaker("bench")
    for _ in range(n):
        breaker.allow()
        breaker.record_success()


def open_loop(n: int) -> None:
    breaker = CircuitBreaker("bench", failure_threshold=1, reset_timeout=3600.0)
    breaker.record_failure()
    for _ in range(n):
        try:  # noqa: SIM105 - contextlib.suppress would add its own cost to the figure
            breaker.allow()
        except CircuitOpenError:
            pass


def await_baseline_loop(n: int) -> None:
    async def run() -> None:
        for _ in range(n):
            await async_noop()

    asyncio.run(run())


def async_with_loop(n: int) -> None:
    # how bot/telegram.py wraps every Bot API call
    async def run() -> None:
        breaker = CircuitBreaker("bench")
        for _ in range(n):
            async with breaker:
                await async_noop()

    asyncio.run(run())


def fmt_time(seconds: float) -> str:
    return f"{seconds * 1e9:,.0f} ns"


def verdict(seconds: float) -> str:
    met = "met" if seconds < DECISION_TARGET_S else "MISSED"
    return f"{met}, {DECISION_TARGET_S / seconds:,.0f}x under"


def main() -> None:
    logging.getLogger("utils.circuit_breaker").setLevel(logging.ERROR)  # no "opened" lines
    started = time.perf_counter()
    baseline = best_per_op(baseline_loop)
    closed = best_per_op(closed_loop)
    rejected = best_per_op(open_loop)
    await_baseline = best_per_op(await_baseline_loop)
    block = best_per_op(async_with_loop)

    target = f"< {DECISION_TARGET_S * 1e3:g} ms"
    rows = [
        ("measurement", "result", "target", "verdict"),
        ("empty function call (baseline)", fmt_time(baseline), "-", "-"),
        ("CLOSED: allow() + record_success()", fmt_time(closed), target, verdict(closed)),
        ("OPEN: rejected allow() (raise + catch)", fmt_time(rejected), target, verdict(rejected)),
        ("await of an empty coroutine (baseline)", fmt_time(await_baseline), "-", "-"),
        ("CLOSED: async with breaker (empty coro)", fmt_time(block), target, verdict(block)),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    print(
        f"Python {platform.python_version()} on {platform.machine()}; "
        f"times per iteration, {ITERATIONS:,} iterations, best of {REPEATS}"
    )
    print("\n".join(line.rstrip() for line in lines))
    print(f"total run time {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
