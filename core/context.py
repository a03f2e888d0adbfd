"""Task-local facts that cross layers without being passed down every call."""

from __future__ import annotations

from contextvars import ContextVar

# True while an update is being handled (the error middleware sets it): a reply Telegram answers
# with 429 is worth one wait and retry (bot/telegram.py). The outbox sender clears it around its
# own sends, also those an admin's "retry now" starts inside an update: they keep the sender's
# 429 policy (pause every send, write the wait on the row), not a second one in the session.
HANDLING_UPDATE: ContextVar[bool] = ContextVar("handling_update", default=False)
