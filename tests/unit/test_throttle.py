"""The per-key flood control (utils/throttle.py) on a clock the test moves."""

from __future__ import annotations

import math

import pytest

from utils.throttle import Throttle, Verdict

P, N, D = Verdict.PASS, Verdict.NOTICE, Verdict.DROP


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(clock: Clock, **overrides: float) -> Throttle[int]:
    options: dict[str, float] = {"rate": 1.0, "burst": 10, "quiet_seconds": 30.0, **overrides}
    return Throttle(
        rate=options["rate"],
        burst=int(options["burst"]),
        quiet_seconds=options["quiet_seconds"],
        max_keys=int(options.get("max_keys", 1000)),
        clock=clock,
    )


@pytest.mark.parametrize("rate", [1.0, 1.5, 30.0])
@pytest.mark.parametrize("burst", [1, 10])
def test_one_event_a_second_is_never_throttled(rate: float, burst: int) -> None:
    clock = Clock()
    throttle = make(clock, rate=rate, burst=burst)
    for _ in range(3600):  # an hour, one a second, from the very first
        assert throttle.check(1) is P
        clock.now += 1.0


def test_a_burst_passes_then_one_notice_then_drops_for_the_quiet_period() -> None:
    clock = Clock()
    throttle = make(clock)
    assert [throttle.check(1) for _ in range(60)] == [P] * 10 + [N] + [D] * 49
    clock.now += 29.999
    assert throttle.check(1) is D
    clock.now += 0.001  # the quiet period is over, and the bucket refilled meanwhile
    assert [throttle.check(1) for _ in range(11)] == [P] * 10 + [N]


def test_the_bucket_refills_at_the_rate() -> None:
    clock = Clock()
    throttle = make(clock, rate=2.0, burst=4)
    assert [throttle.check(1) for _ in range(4)] == [P] * 4
    clock.now += 0.5  # one token back
    assert throttle.check(1) is P
    assert throttle.check(1) is N


def test_keys_are_apart() -> None:
    clock = Clock()
    throttle = make(clock, burst=2)
    assert [throttle.check(1) for _ in range(3)] == [P, P, N]
    assert [throttle.check(2) for _ in range(2)] == [P, P]
    assert throttle.check(1) is D


def test_memory_is_bounded_and_forgetting_a_key_loses_nothing_it_needs() -> None:
    clock = Clock()
    throttle = make(clock, burst=2, quiet_seconds=5, max_keys=100)
    for key in range(10_000):
        throttle.check(key)
    assert len(throttle) == 100
    # A key idle for the quiet period plus a full refill is forgotten: it starts full, as it
    # would have been.
    assert [throttle.check(-1) for _ in range(3)] == [P, P, N]
    clock.now += 5 + 2 / 1.0
    assert throttle.check(0) is P  # forgotten long ago, starts full
    assert [throttle.check(-1) for _ in range(3)] == [P, P, N]


def test_a_clock_that_steps_back_takes_nothing_extra() -> None:
    clock = Clock()
    throttle = make(clock, burst=2)
    assert [throttle.check(1) for _ in range(2)] == [P, P]
    clock.now -= 100
    assert throttle.check(1) is N


@pytest.mark.parametrize(
    "bad",
    [
        {"rate": 0.0},
        {"rate": math.nan},
        {"rate": math.inf},
        {"burst": 0},
        {"quiet_seconds": 0.0},
        {"quiet_seconds": math.nan},
    ],
)
def test_bad_arguments_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        make(Clock(), **bad)
