"""Every in-memory collection that grows with input has a cap: fed more than the cap, it stays
bounded and keeps the newest or most important entries."""

from __future__ import annotations

import asyncio

from utils.healing import (
    DROPPED_NOTE,
    ExecutionStatus,
    FunctionStrategy,
    Healer,
    HealingContext,
)

# -- the healer: executions waiting for a slot ------------------------------------------------


async def test_the_healer_keeps_at_most_max_pending_waiting_and_the_most_important() -> None:
    gate = asyncio.Event()

    async def blocked(context: HealingContext) -> str:
        await gate.wait()
        return context.fingerprint

    healer = Healer(max_concurrent=1, max_pending=3, history=100)
    healer.register(FunctionStrategy("low", blocked, priority=1), ["low"])
    healer.register(FunctionStrategy("high", blocked, priority=9), ["high"])
    try:
        running = healer.submit(HealingContext("low", "running"))
        await asyncio.sleep(0)  # it takes the one slot
        flood = [healer.submit(HealingContext("low", f"f{i}")) for i in range(50)]
        assert healer.waiting() == 3
        assert [e.status for e in flood[:3]] == [ExecutionStatus.PENDING] * 3
        dropped = flood[3:]
        assert {e.status for e in dropped} == {ExecutionStatus.DROPPED}
        assert {e.error for e in dropped} == {DROPPED_NOTE}
        assert healer.dropped == 47
        # A more important one takes the place of the newest of the least important.
        urgent = healer.submit(HealingContext("high", "urgent"))
        assert urgent.status is ExecutionStatus.PENDING
        assert healer.waiting() == 3
        assert flood[2].status is ExecutionStatus.DROPPED
        assert healer.dropped == 48
        # However many came, what is remembered stays bounded: 1 running, 3 waiting, history.
        assert len(healer.executions()) <= 1 + 3 + 100
        gate.set()
        for execution in (running, flood[0], flood[1], urgent):
            assert (await healer.wait(execution.id)).status is ExecutionStatus.COMPLETED
        assert healer.waiting() == 0 and healer.in_flight() == 0
    finally:
        await healer.shutdown()


def test_the_healer_refuses_a_queue_of_nothing() -> None:
    import pytest

    with pytest.raises(ValueError, match="max_pending"):
        Healer(max_pending=0)
