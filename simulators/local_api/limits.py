"""Telegram's flood limits as the local Bot API server judges them: strictly.

Telegram documents "no more than one message per second" to a chat and "about 30 messages
per second" overall. The server judges both over a sliding one-second window measured from
when each request *arrived*: a send is refused when, counting back one second from its arrival,
`overall` sends were already accepted, or `per_chat` sends to its chat. There is no slack, so
two messages to one chat 950 ms apart are refused, and a sender that paces itself by when its
calls were *answered* (not when they left) trips it. Refused sends do not count: they made no
message. A refusal is a 429 with `parameters.retry_after`, whole seconds and at least 1, as
Telegram sends it.
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Callable
from typing import Any

WINDOW = 1.0  # seconds


class FloodLimits:
    """A sliding one-second window per chat and overall. `clock` is injectable for tests."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        # Arrival times of accepted sends, sorted (a slow request may be judged after a later
        # one), and the chat of each.
        self._times: list[float] = []
        self._chats: list[Any] = []

    def over(self, limits: tuple[float, float], now: float, chat: Any) -> int | None:
        """The `retry_after` for a send to `chat` that arrived at `now`, or None (then it counts).

        `limits` is (overall, per chat) per second."""
        overall, per_chat = (max(1, math.floor(limit)) for limit in limits)
        newest = self._times[-1] if self._times else now
        # Sends a second older than anything still to be judged constrain nothing.
        cut = bisect.bisect_right(self._times, min(now, newest) - WINDOW)
        del self._times[:cut], self._chats[:cut]
        # Every accepted send that arrived in the second up to this one's arrival counts.
        start = bisect.bisect_right(self._times, now - WINDOW)
        end = bisect.bisect_right(self._times, now)
        window = self._times[start:end]
        in_chat = [t for t, c in zip(window, self._chats[start:end], strict=True) if c == chat]
        frees_at = now
        if len(window) >= overall:
            frees_at = window[len(window) - overall] + WINDOW
        if len(in_chat) >= per_chat:
            frees_at = max(frees_at, in_chat[len(in_chat) - per_chat] + WINDOW)
        if frees_at > now:
            return max(1, math.ceil(frees_at - now))
        self._times.insert(end, now)
        self._chats.insert(end, chat)
        return None

    def check(self, limits: tuple[float, float], chat: Any) -> int | None:
        """`over` for a send arriving now, by this object's clock."""
        return self.over(limits, self.clock(), chat)
