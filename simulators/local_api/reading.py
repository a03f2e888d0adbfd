"""Reading what the bot did on the local Bot API server: its calls and the chats as they are."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from simulators.local_api.calllog import CallLog
from simulators.local_api.wire import ApiCall, JsonDict, Params, button_labels


class CallReading:
    """A mixin of `LocalBotAPI`: queries over `calls` and `messages`, and `wait_for`."""

    calls: CallLog
    messages: dict[tuple[int, int], JsonDict]
    callback_answers: dict[str, list[Params]]
    _calls_changed: asyncio.Event
    revision: int

    async def changed(self, seen: int, timeout: float) -> int:
        """The revision once it differs from `seen` (a call arrived or was answered), or after
        `timeout` seconds the current one: how a page waits for the bot without polling."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.revision == seen and (remaining := deadline - loop.time()) > 0:
            changed = self._calls_changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)
        return self.revision

    def mark(self) -> int:
        """The index of the next call: pass it as `since` to look only at later calls."""
        return len(self.calls)

    def calls_of(self, method: str, since: int = 0) -> list[ApiCall]:
        return [c for c in self.calls[since:] if c.method.lower() == method.lower()]

    def texts_to(self, chat_id: int, since: int = 0) -> list[str]:
        """Texts sent (sendMessage) or edited (editMessageText) in a chat, in call order."""
        methods = {"sendmessage", "editmessagetext"}
        return [
            c.text
            for c in self.calls[since:]
            if c.method.lower() in methods and c.chat_id == chat_id
        ]

    def chat_messages(self, chat_id: int) -> list[JsonDict]:
        """The bot's messages in a chat as they are now, newest first."""
        found = [m for (chat, _), m in self.messages.items() if chat == chat_id]
        return sorted(found, key=lambda m: int(m["message_id"]), reverse=True)

    def find_button(
        self, chat_id: int, label: str | Callable[[str], bool]
    ) -> tuple[JsonDict, JsonDict]:
        matches = label if callable(label) else (lambda text: text == label)
        for message in self.chat_messages(chat_id):
            for row in message.get("reply_markup", {}).get("inline_keyboard", []):
                for button in row:
                    if matches(str(button.get("text"))):
                        return message, button
        shown = {
            m["message_id"]: button_labels(m.get("reply_markup"))
            for m in self.messages_with_buttons(chat_id)
        }
        raise AssertionError(f"no button {label!r} in chat {chat_id}; buttons there: {shown}")

    def messages_with_buttons(self, chat_id: int) -> list[JsonDict]:
        return [m for m in self.chat_messages(chat_id) if m.get("reply_markup")]

    def unanswered_callbacks(self) -> list[str]:
        return [qid for qid, answers in self.callback_answers.items() if not answers]

    def describe(self, since: int = 0, limit: int = 40) -> str:
        calls = [c for c in self.calls[since:] if c.method.lower() != "getupdates"]
        return "\n".join(str(c) for c in calls[-limit:]) or "(no calls)"

    async def wait_for(
        self,
        predicate: Callable[[ApiCall], bool],
        timeout: float = 10.0,
        *,
        since: int = 0,
        check: Callable[[], None] | None = None,
        what: str = "a matching call",
    ) -> ApiCall:
        """The first call from `since` on that satisfies `predicate`, waiting up to `timeout`.

        `check` runs on every short poll and may raise (e.g. "the bot process has exited")."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        seen = since
        while True:
            for call in self.calls[seen:]:
                if predicate(call):
                    return call
            seen = max(seen, len(self.calls))
            if check is not None:
                check()
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"timed out after {timeout:g}s waiting for {what}; calls since #{since}:\n"
                    + self.describe(since)
                )
            changed = self._calls_changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), min(remaining, 0.1))
