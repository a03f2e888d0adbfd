"""A person talking to the bot: sends text and presses buttons by their label, through the real
Dispatcher, and reads what the bot sent back to their chat."""

from __future__ import annotations

import itertools
import re
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.methods import AnswerCallbackQuery, EditMessageText, SendMessage
from aiogram.types import InlineKeyboardMarkup, Message, Update

from tests.support.recording import FIXED_DATE, RecordingSession

_update_ids = itertools.count(1)
_message_ids = itertools.count(1)


class TelegramClient:
    def __init__(
        self,
        dp: Dispatcher,
        bot: Bot,
        user_id: int,
        first_name: str = "Ann",
        language_code: str | None = "en",
        username: str | None = None,
    ) -> None:
        self.dp, self.bot, self.user_id = dp, bot, user_id
        self.first_name, self.language_code, self.username = first_name, language_code, username
        self._mark = 0

    @property
    def session(self) -> RecordingSession:
        session = self.bot.session
        assert isinstance(session, RecordingSession)
        return session

    def _user(self) -> dict[str, Any]:
        return {
            "id": self.user_id,
            "is_bot": False,
            "first_name": self.first_name,
            "language_code": self.language_code,
            "username": self.username,
        }

    async def feed(self, update: dict[str, Any]) -> None:
        self._mark = len(self.session.calls)
        await self.dp.feed_update(
            self.bot, Update.model_validate(update, context={"bot": self.bot})
        )

    async def send(self, text: str) -> None:
        await self.feed(
            {
                "update_id": next(_update_ids),
                "message": {
                    "message_id": next(_message_ids),
                    "date": FIXED_DATE,
                    "chat": {"id": self.user_id, "type": "private"},
                    "from": self._user(),
                    "text": text,
                },
            }
        )

    async def click(self, label: str, *, data: str | None = None) -> None:
        """Press the button labelled `label` on the newest message that shows it.

        `data` forges the callback data (a modified client sends what it likes)."""
        message = self.find_button_message(label)
        await self.click_on(message, label, data=data)

    async def click_on(self, message: Message, label: str, *, data: str | None = None) -> None:
        """Press a button on a message kept from earlier (its keyboard may be gone since)."""
        markup = message.reply_markup
        assert isinstance(markup, InlineKeyboardMarkup), "that message has no buttons"
        button = next(b for row in markup.inline_keyboard for b in row if b.text == label)
        await self.press(message, data if data is not None else str(button.callback_data))

    async def press(self, message: Message, data: str) -> None:
        await self.feed(
            {
                "update_id": next(_update_ids),
                "callback_query": {
                    "id": str(next(_update_ids)),
                    "from": self._user(),
                    "chat_instance": "ci",
                    "data": data,
                    "message": message.model_dump(by_alias=True, exclude_none=True),
                },
            }
        )

    def find_button_message(self, label: str) -> Message:
        for (chat_id, _), message in reversed(list(self.session.messages.items())):
            markup = message.reply_markup
            if chat_id != self.user_id or not isinstance(markup, InlineKeyboardMarkup):
                continue
            if any(b.text == label for row in markup.inline_keyboard for b in row):
                return message
        raise AssertionError(f"no button {label!r} in chat {self.user_id}: {self.buttons()}")

    def buttons(self) -> list[str]:
        """Labels on the newest message with a keyboard in this chat."""
        for (chat_id, _), message in reversed(list(self.session.messages.items())):
            markup = message.reply_markup
            if chat_id == self.user_id and isinstance(markup, InlineKeyboardMarkup):
                return [b.text for row in markup.inline_keyboard for b in row]
        return []

    def replies(self) -> list[str]:
        """Texts the bot sent or edited in this chat during the last action."""
        out = []
        for call in self.session.calls[self._mark :]:
            if isinstance(call, SendMessage | EditMessageText) and call.chat_id == self.user_id:
                out.append(call.text)
        return out

    def last_reply(self) -> str:
        replies = self.replies()
        assert replies, "the bot said nothing in this chat"
        return replies[-1]

    def callback_answers(self) -> list[AnswerCallbackQuery]:
        return [c for c in self.session.calls[self._mark :] if isinstance(c, AnswerCallbackQuery)]

    def inbox(self) -> list[str]:
        """Every text sent to this chat so far (sent, not edited)."""
        return [
            c.text
            for c in self.session.calls
            if isinstance(c, SendMessage) and c.chat_id == self.user_id
        ]


_REFERENCE = re.compile(r"\n[^\n]*\b(E-[2-9A-HJKMNP-Z]{6})$")


def strip_reference(text: str | None) -> str:
    """The message without its last "Reference: E-XXXXXX" line (in whatever language)."""
    return _REFERENCE.sub("", text or "")


def reference_in(text: str | None) -> str | None:
    match = _REFERENCE.search(text or "")
    return match.group(1) if match else None
