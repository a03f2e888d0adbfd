"""The bot's HTTP session in a chaos run: a short real timeout that costs real-bot time.

A real bot waits aiogram's timeout (60 s) for an answer that never comes; the run cannot
wait that long per call in wall time, so the session gives up after a fraction of a second
and moves the simulated clock to where the real wait would have ended (calls waiting side
by side end together: the clock moves to the latest end, not by the sum)."""

from __future__ import annotations

from typing import Any

from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.base import DEFAULT_TIMEOUT
from aiogram.exceptions import TelegramNetworkError

from simulators.chaos.simclock import SimClock

WALL_TIMEOUT = 1.0  # real seconds before a call counts as timed out (a busy box stays under)


class SimTimeoutSession(AiohttpSession):
    def __init__(self, sim: SimClock, **kwargs: Any) -> None:
        super().__init__(timeout=WALL_TIMEOUT, **kwargs)
        self.sim = sim
        self.timeouts = 0

    async def make_request(self, bot: Any, method: Any, timeout: int | None = None) -> Any:
        started = self.sim.seconds
        try:
            return await super().make_request(bot, method, timeout=None)
        except TelegramNetworkError as exc:
            if "timeout" in exc.message.lower():
                self.timeouts += 1
                self.sim.seconds = max(self.sim.seconds, started + DEFAULT_TIMEOUT)
            raise
