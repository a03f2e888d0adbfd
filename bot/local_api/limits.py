"""Telegram's flood limits as the local Bot API server judges them."""

from __future__ import annotations

from typing import Any


class FloodLimits:
    """A rolling one-second window per chat and overall, like Telegram's flood control."""

    def __init__(self) -> None:
        self._sends: list[tuple[float, Any]] = []

    def over(self, limits: tuple[float, float], now: float, chat: Any) -> bool:
        """Whether a send to `chat` at `now` breaks (overall, per chat); if not, count it."""
        overall, per_chat = limits
        # 50 ms of slack for the network between two calls a sender spaced exactly.
        self._sends = [(t, c) for t, c in self._sends if now - t < 0.95]
        if len(self._sends) >= overall or sum(c == chat for _, c in self._sends) >= per_chat:
            return True
        self._sends.append((now, chat))
        return False
