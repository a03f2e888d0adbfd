"""A bot session that records every Bot API call and answers like Telegram would.

Answers are synthesized per method (a sent message gets the next message id); a test can queue
an exception or result for the next call, consumed first-in-first-out, or an exception for the
next call of one method.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Any

from aiogram import Bot
from aiogram.client.session.base import BaseSession
from aiogram.methods import (
    EditMessageReplyMarkup,
    EditMessageText,
    GetMe,
    SendMessage,
    TelegramMethod,
)
from aiogram.methods.base import TelegramType
from aiogram.types import Chat, Message, User

BOT_ID = 4242
FIXED_DATE = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class RecordingSession(BaseSession):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[TelegramMethod[Any]] = []
        self.queued: deque[Any] = deque()
        self.refusals: list[tuple[type[TelegramMethod[Any]], BaseException]] = []
        self._next_message_id = 1000
        self.messages: dict[tuple[int, int], Message] = {}

    def queue(self, result_or_exception: Any) -> None:
        self.queued.append(result_or_exception)

    def refuse_next(self, kind: type[TelegramMethod[Any]], exception: BaseException) -> None:
        """Raise `exception` at the next call of `kind`; other calls go through."""
        self.refusals.append((kind, exception))

    async def close(self) -> None:
        pass

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        self.calls.append(method)
        for index, (kind, exception) in enumerate(self.refusals):
            if isinstance(method, kind):
                del self.refusals[index]
                raise exception
        if self.queued:
            queued = self.queued.popleft()
            if isinstance(queued, BaseException):
                raise queued
            return queued  # type: ignore[no-any-return]
        return self._answer(bot, method)  # type: ignore[return-value]

    async def stream_content(
        self,
        url: str,
        headers: dict[str, Any] | None = None,
        timeout: int = 30,
        chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        yield b""

    def _answer(self, bot: Bot, method: TelegramMethod[Any]) -> Any:
        if isinstance(method, GetMe):
            return User(id=BOT_ID, is_bot=True, first_name="Workflow bot", username="wf_bot")
        if isinstance(method, SendMessage):
            self._next_message_id += 1
            message = self._message(
                bot, int(method.chat_id), self._next_message_id, method.text, method.reply_markup
            )
            return message
        if isinstance(method, EditMessageText):
            assert method.chat_id is not None and method.message_id is not None
            return self._message(
                bot, int(method.chat_id), method.message_id, method.text, method.reply_markup
            )
        if isinstance(method, EditMessageReplyMarkup):
            assert method.chat_id is not None and method.message_id is not None
            old = self.messages.get((int(method.chat_id), method.message_id))
            return self._message(
                bot,
                int(method.chat_id),
                method.message_id,
                old.text if old else "",
                method.reply_markup,
            )
        return True

    def _message(self, bot: Bot, chat_id: int, message_id: int, text: str, markup: Any) -> Message:
        message = Message.model_validate(
            {
                "message_id": message_id,
                "date": FIXED_DATE,
                "chat": Chat(id=chat_id, type="private"),
                "from": User(id=BOT_ID, is_bot=True, first_name="Workflow bot"),
                "text": text,
                "reply_markup": markup,
            },
            context={"bot": bot},
        )
        self.messages[(chat_id, message_id)] = message
        return message

    def calls_of(self, kind: type[TelegramMethod[Any]]) -> list[Any]:
        return [c for c in self.calls if isinstance(c, kind)]
