"""The Bot API methods the local server implements, with Telegram's observable behaviour.

A mixin of `LocalBotAPI` (server.py): it reads and writes the server's state (messages,
updates, webhook) and raises `ApiError` where Telegram answers an error."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time

from simulators.local_api.wire import (
    MAX_TEXT_LENGTH,
    NOT_MODIFIED,
    ApiError,
    FakeUser,
    JsonDict,
    Params,
    bad_request,
    parse_text,
    utf16_len,
)


class BotMethods:
    """State and handlers for getMe, webhooks, getUpdates, messages and callback answers."""

    bot_user: JsonDict
    max_poll_seconds: float
    updates: list[JsonDict]
    messages: dict[tuple[int, int], JsonDict]
    callback_answers: dict[str, list[Params]]
    allowed_updates: list[str] | None
    webhook: Params | None
    users: dict[int, FakeUser]
    _chat_message_ids: dict[int, itertools.count[int]]
    _updates_changed: asyncio.Event
    _closing: bool

    def _next_message_id(self, chat_id: int) -> int:
        counter = self._chat_message_ids.setdefault(chat_id, itertools.count(1))
        return next(counter)

    def _get_me(self, params: Params) -> JsonDict:
        return dict(self.bot_user)

    def _delete_webhook(self, params: Params) -> bool:
        if params.get("drop_pending_updates") is True:
            self.updates.clear()
        self.webhook = None
        return True

    def _set_webhook(self, params: Params) -> bool:
        # Like Telegram: with a webhook set, getUpdates is refused (see _get_updates).
        self.webhook = dict(params)
        return True

    def _get_webhook_info(self, params: Params) -> JsonDict:
        webhook = self.webhook or {}
        return {
            "url": webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self.updates),
            "allowed_updates": webhook.get("allowed_updates"),
        }

    async def _get_updates(self, params: Params) -> list[JsonDict]:
        if self.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = params.get("offset")
        limit = int(params.get("limit") or 100)
        timeout = min(float(params.get("timeout") or 0), self.max_poll_seconds)
        if "allowed_updates" in params:
            self.allowed_updates = list(params["allowed_updates"] or []) or None
        if isinstance(offset, int):  # everything below the offset is confirmed: forget it
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            ready = [u for u in self.updates if self._allowed(u)][:limit]
            remaining = deadline - loop.time()
            if ready or self._closing or remaining <= 0:
                return ready
            changed = self._updates_changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)

    def _allowed(self, update: JsonDict) -> bool:
        if self.allowed_updates is None:
            return True
        return any(kind in update for kind in self.allowed_updates)

    def _chat(self, params: Params) -> JsonDict:
        chat_id = params.get("chat_id")
        if not isinstance(chat_id, int):
            raise bad_request("chat not found")
        user = self.users.get(chat_id)
        return user.chat() if user else {"id": chat_id, "type": "private"}

    def _content(self, params: Params) -> tuple[str, list[JsonDict]]:
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise bad_request("message text is empty")
        plain, entities = parse_text(text, params.get("parse_mode"))
        if utf16_len(plain) > MAX_TEXT_LENGTH:
            raise bad_request("message is too long")
        if not plain.strip():
            raise bad_request("message text is empty")
        return plain, entities

    @staticmethod
    def _markup(params: Params) -> JsonDict | None:
        markup = params.get("reply_markup")
        if not isinstance(markup, dict) or not markup.get("inline_keyboard"):
            return None
        return markup

    def _send_message(self, params: Params) -> JsonDict:
        chat = self._chat(params)
        plain, entities = self._content(params)
        message: JsonDict = {
            "message_id": self._next_message_id(chat["id"]),
            "from": dict(self.bot_user),
            "chat": chat,
            "date": int(time.time()),
            "text": plain,
        }
        if entities:
            message["entities"] = entities
        if markup := self._markup(params):
            message["reply_markup"] = markup
        self.messages[(chat["id"], message["message_id"])] = message
        return message

    def _existing(self, params: Params) -> JsonDict:
        if params.get("inline_message_id"):
            raise bad_request("inline messages are not supported by this server")
        chat = self._chat(params)
        message_id = params.get("message_id")
        message = (
            self.messages.get((chat["id"], message_id)) if isinstance(message_id, int) else None
        )
        if message is None:
            raise bad_request("message to edit not found")
        return message

    def _edit_message_text(self, params: Params) -> JsonDict:
        message = self._existing(params)
        plain, entities = self._content(params)
        markup = self._markup(params)  # no reply_markup: the keyboard goes away, as in Telegram
        if (
            plain == message["text"]
            and entities == message.get("entities", [])
            and markup == message.get("reply_markup")
        ):
            raise bad_request(NOT_MODIFIED.removeprefix("Bad Request: "))
        return self._store_edit(message, plain, entities, markup)

    def _edit_message_reply_markup(self, params: Params) -> JsonDict:
        message = self._existing(params)
        markup = self._markup(params)
        if markup == message.get("reply_markup"):
            raise bad_request(NOT_MODIFIED.removeprefix("Bad Request: "))
        return self._store_edit(message, message["text"], message.get("entities", []), markup)

    def _store_edit(
        self,
        message: JsonDict,
        plain: str,
        entities: list[JsonDict],
        markup: JsonDict | None,
    ) -> JsonDict:
        edited = {k: v for k, v in message.items() if k not in ("entities", "reply_markup")}
        edited["text"], edited["edit_date"] = plain, int(time.time())
        if entities:
            edited["entities"] = entities
        if markup:
            edited["reply_markup"] = markup
        self.messages[(message["chat"]["id"], message["message_id"])] = edited
        return edited

    def _answer_callback_query(self, params: Params) -> bool:
        query_id = params.get("callback_query_id")
        answers = self.callback_answers.get(str(query_id))
        if answers is None:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        answers.append(params)
        return True
