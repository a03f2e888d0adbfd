"""The local Bot API's record of the bot's calls: the newest `keep` calls and the count of all.

Read as the list of every call would be — `len()` is the number of calls ever made (so a
`mark()` and a call's `index` stay valid), `log[since:]` the calls from number `since` on,
`log[i]` call number `i` — but only the newest are held: a sandbox left running for days, or a
page flooding it, does not grow without bound. Asking for a call that was let go raises
`CallsDropped` instead of answering with part of what was asked (a chaos run that outgrew the
cap fails loudly rather than reporting on half its calls).
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterator
from typing import overload

from simulators.local_api.wire import ApiCall

# Calls held. A chaos day at its defaults makes a few thousand and the tests far fewer; at
# about a kilobyte or two a call (parameters and answer) this is tens of megabytes at most.
KEEP = 20_000


class CallsDropped(LookupError):
    """The calls asked for are older than the ones still held."""


class CallLog:
    def __init__(self, keep: int = KEEP) -> None:
        if keep < 1:
            raise ValueError(f"keep must be >= 1, got {keep!r}")
        self.keep = keep
        self._calls: deque[ApiCall] = deque(maxlen=keep)
        self._total = 0

    @property
    def dropped(self) -> int:
        """Calls let go to stay within `keep` (the oldest)."""
        return self._total - len(self._calls)

    def append(self, call: ApiCall) -> None:
        self._calls.append(call)
        self._total += 1

    def recent(self) -> list[ApiCall]:
        """The calls still held, oldest first."""
        return list(self._calls)

    def __len__(self) -> int:
        return self._total

    def __iter__(self) -> Iterator[ApiCall]:
        return iter(self[0:])

    @overload
    def __getitem__(self, key: int) -> ApiCall: ...

    @overload
    def __getitem__(self, key: slice) -> list[ApiCall]: ...

    def __getitem__(self, key: int | slice) -> ApiCall | list[ApiCall]:
        first = self.dropped
        if isinstance(key, slice):
            start, stop, step = key.indices(self._total)
            if step != 1:
                raise ValueError("only contiguous slices of the call log")
            if start >= stop:
                return []
            if start < first:
                raise CallsDropped(
                    f"calls before #{first} were let go (the log keeps {self.keep})"
                )
            return list(itertools.islice(self._calls, start - first, stop - first))
        index = key + self._total if key < 0 else key
        if not 0 <= index < self._total:
            raise IndexError(key)
        if index < first:
            raise CallsDropped(f"call #{index} was let go (keeping {self.keep})")
        return self._calls[index - first]
