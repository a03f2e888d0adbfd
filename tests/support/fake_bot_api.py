"""A local fake of the Telegram Bot API over HTTP, for end-to-end tests.

The bot under test talks to it exactly as it talks to Telegram (`TELEGRAM_API_URL` points
aiogram's `TelegramAPIServer.from_base()` here, so requests arrive as
`POST {base}/bot{token}/{method}` with form fields, nested values JSON-encoded).

It implements the subset of methods the bot uses, with Telegram's observable behaviour where it
matters to a bot: real long polling for getUpdates (offset confirms, timeout waits, an update
answers a waiting poll at once), per-chat message ids, HTML `parse_mode` turned into plain text
plus entities (so `Message.html_text` round-trips), editMessageText without `reply_markup`
removing the keyboard, and "message is not modified" / "message to edit not found" errors.

A test drives it as the people in the chats do (`push_message`, `push_callback`, `press`),
waits for what the bot does (`wait_for`) and reads every call it received (`calls`).
`fail_next` queues an error answer (429 with retry_after, 5xx, 403, ...) for the next matching
call of a method: the hook for fault-injection tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, ClassVar

from aiohttp import web

Params = dict[str, Any]
JsonDict = dict[str, Any]

# Fields whose form value is a plain string, never JSON (aiogram sends str values as they are).
STRING_FIELDS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "inline_message_id",
        "url",
        "language_code",
        "business_connection_id",
        "message_effect_id",
    }
)

DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request",
    500: "Internal Server Error",
    502: "Bad Gateway",
}

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a content and reply markup of the current message"
)
MAX_TEXT_LENGTH = 4096


@dataclass(frozen=True)
class FakeUser:
    """A person on the Telegram side; their private chat with the bot has their id."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = "en"

    def as_dict(self) -> JsonDict:
        data: JsonDict = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        return data

    def chat(self) -> JsonDict:
        chat: JsonDict = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.last_name:
            chat["last_name"] = self.last_name
        if self.username:
            chat["username"] = self.username
        return chat


@dataclass
class ApiCall:
    """One request the bot made. `status`/`response` are filled when it was answered."""

    index: int
    method: str
    params: Params
    at: float
    status: int | None = None
    response: JsonDict | None = None
    fault: Fault | None = None

    @property
    def ok(self) -> bool:
        return bool(self.response and self.response.get("ok"))

    @property
    def result(self) -> Any:
        return self.response.get("result") if self.response else None

    @property
    def chat_id(self) -> Any:
        return self.params.get("chat_id")

    @property
    def text(self) -> str:
        return str(self.params.get("text", ""))

    def buttons(self) -> list[str]:
        markup = self.params.get("reply_markup")
        return button_labels(markup if isinstance(markup, dict) else None)

    def __str__(self) -> str:
        shown = {k: v for k, v in self.params.items() if k != "reply_markup"}
        if self.buttons():
            shown["buttons"] = self.buttons()
        answer = "pending" if self.status is None else str(self.status)
        return f"#{self.index} {self.method} {json.dumps(shown, ensure_ascii=False)} -> {answer}"


@dataclass
class Fault:
    """An error answer waiting for the next call of `method` (for which `match` holds)."""

    method: str
    error_code: int
    description: str
    retry_after: int | None = None
    match: Callable[[Params], bool] | None = None
    times: int = 1
    hits: list[ApiCall] = field(default_factory=list)

    def applies(self, method: str, params: Params) -> bool:
        if self.times <= 0 or method.lower() != self.method.lower():
            return False
        return self.match is None or bool(self.match(params))

    def body(self) -> JsonDict:
        body: JsonDict = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


class ApiError(Exception):
    def __init__(self, error_code: int, description: str) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description

    def body(self) -> JsonDict:
        return {"ok": False, "error_code": self.error_code, "description": self.description}


def bad_request(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


def button_labels(markup: JsonDict | None) -> list[str]:
    if not markup:
        return []
    return [str(b.get("text")) for row in markup.get("inline_keyboard", []) for b in row]


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class _HtmlEntities(HTMLParser):
    """Telegram's HTML parse mode: plain text plus entities, refusing tags it does not know."""

    TAGS: ClassVar[dict[str, str]] = {
        "b": "bold",
        "strong": "bold",
        "i": "italic",
        "em": "italic",
        "u": "underline",
        "ins": "underline",
        "s": "strikethrough",
        "strike": "strikethrough",
        "del": "strikethrough",
        "tg-spoiler": "spoiler",
        "span": "spoiler",
        "a": "text_link",
        "code": "code",
        "pre": "pre",
        "blockquote": "blockquote",
    }

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.position = 0
        self.open: list[tuple[str, int, dict[str, str | None]]] = []
        self.entities: list[JsonDict] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.TAGS:
            raise bad_request(f'can\'t parse entities: Unsupported start tag "{tag}"')
        self.open.append((tag, self.position, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1][0] != tag:
            raise bad_request(f'can\'t parse entities: Unmatched end tag "{tag}"')
        name, start, attrs = self.open.pop()
        if self.position == start:
            return  # Telegram drops empty entities
        entity: JsonDict = {
            "type": self.TAGS[name],
            "offset": start,
            "length": self.position - start,
        }
        if name == "a":
            entity["url"] = attrs.get("href") or ""
        self.entities.append(entity)

    def handle_data(self, data: str) -> None:
        self.parts.append(data)
        self.position += utf16_len(data)

    def result(self) -> tuple[str, list[JsonDict]]:
        self.close()
        if self.open:
            tag = self.open[-1][0]
            raise bad_request(
                f"can't parse entities: Can't find end tag corresponding to start tag \"{tag}\""
            )
        entities = sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.parts), entities


def parse_text(text: str, parse_mode: str | None) -> tuple[str, list[JsonDict]]:
    if parse_mode and parse_mode.upper() == "HTML":
        parser = _HtmlEntities()
        parser.feed(text)
        return parser.result()
    return text, []


def command_entities(text: str) -> list[JsonDict]:
    if not text.startswith("/"):
        return []
    command = text.split(maxsplit=1)[0]
    return [{"type": "bot_command", "offset": 0, "length": utf16_len(command)}]


def decode_field(key: str, value: Any) -> Any:
    if not isinstance(value, str) or key in STRING_FIELDS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


class FakeBotAPI:
    """An aiohttp server on 127.0.0.1 answering one bot token. Use as an async context manager."""

    def __init__(
        self,
        token: str = "123456:TEST",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        bot_first_name: str = "Workflow bot",
        bot_username: str = "workflow_test_bot",
        max_poll_seconds: float = 30.0,
    ) -> None:
        self.token = token
        self.host, self.port = host, port
        self.bot_user: JsonDict = {
            "id": int(token.split(":", 1)[0]),
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.max_poll_seconds = max_poll_seconds
        # Slow responses: every non-polling call waits this long before it is answered.
        self.latency = 0.0
        # Telegram's flood limits, enforced with 429s when set: (overall per second, per chat).
        self.limits: tuple[float, float] | None = None
        self.limited: list[ApiCall] = []  # sendMessage calls answered 429 by the limits
        self._sends: list[tuple[float, Any]] = []
        self.calls: list[ApiCall] = []
        self.updates: list[JsonDict] = []  # pushed and not yet confirmed by an offset
        self.messages: dict[tuple[int, int], JsonDict] = {}  # current state, edits applied
        self.callback_answers: dict[str, list[Params]] = {}  # query id -> answers received
        self.faults: list[Fault] = []
        self.allowed_updates: list[str] | None = None
        self.webhook: Params | None = None  # what setWebhook was given, until deleteWebhook
        self.users: dict[int, FakeUser] = {}
        self._update_ids = itertools.count(1)
        self._query_ids = itertools.count(1)
        self._chat_message_ids: dict[int, itertools.count[int]] = {}
        self._updates_changed = asyncio.Event()
        self._calls_changed = asyncio.Event()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._handlers: dict[str, Callable[[Params], Any]] = {
            "getme": self._get_me,
            "deletewebhook": self._delete_webhook,
            "setwebhook": self._set_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "setmycommands": lambda params: True,
            "sendmessage": self._send_message,
            "editmessagetext": self._edit_message_text,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "answercallbackquery": self._answer_callback_query,
        }

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """What the bot's TELEGRAM_API_URL should be."""
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def close(self) -> None:
        self._closing = True
        self._notify_updates()  # waiting long polls answer now instead of at their timeout
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeBotAPI:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- what the people in the chats do ----------------------------------------------------

    def push_update(self, update: JsonDict) -> JsonDict:
        """Queue a raw update (an `update_id` is assigned when missing) and wake a long poll."""
        update.setdefault("update_id", next(self._update_ids))
        self.updates.append(update)
        self._notify_updates()
        return update

    def push_message(self, user: FakeUser, text: str) -> JsonDict:
        """`user` writes `text` in their private chat with the bot; returns the message."""
        self.users[user.id] = user
        message: JsonDict = {
            "message_id": self._next_message_id(user.id),
            "from": user.as_dict(),
            "chat": user.chat(),
            "date": int(time.time()),
            "text": text,
        }
        if entities := command_entities(text):
            message["entities"] = entities
        self.push_update({"message": message})
        return message

    def push_callback(self, user: FakeUser, message: JsonDict, data: str) -> str:
        """`user` presses a button with callback `data` under `message`; returns the query id."""
        self.users[user.id] = user
        query_id = f"{user.id}{next(self._query_ids):08d}"
        self.callback_answers[query_id] = []
        self.push_update(
            {
                "callback_query": {
                    "id": query_id,
                    "from": user.as_dict(),
                    "message": message,
                    "chat_instance": f"ci-{message['chat']['id']}",
                    "data": data,
                }
            }
        )
        return query_id

    def press(self, user: FakeUser, label: str | Callable[[str], bool]) -> str:
        """Press the button labelled `label` on the newest message in `user`'s chat showing it."""
        message, button = self.find_button(user.id, label)
        return self.push_callback(user, message, str(button["callback_data"]))

    # -- reading what the bot did ------------------------------------------------------------

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

    # -- fault injection ---------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        error_code: int,
        description: str | None = None,
        *,
        retry_after: int | None = None,
        times: int = 1,
        match: Callable[[Params], bool] | None = None,
    ) -> Fault:
        """Answer the next `times` calls of `method` (that `match`) with an error instead.

        A 429 gets "Too Many Requests: retry after N" and `parameters.retry_after` as Telegram
        sends them. The returned Fault lists the calls it answered in `hits`."""
        if description is None:
            if error_code == 429:
                description = f"Too Many Requests: retry after {retry_after or 1}"
                retry_after = retry_after or 1
            else:
                description = DEFAULT_DESCRIPTIONS.get(error_code, f"Error {error_code}")
        fault = Fault(method, error_code, description, retry_after, match, times)
        self.faults.append(fault)
        return fault

    def _take_fault(self, method: str, params: Params) -> Fault | None:
        for fault in self.faults:
            if fault.applies(method, params):
                fault.times -= 1
                return fault
        return None

    # -- HTTP --------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._read_params(request)
        call = ApiCall(len(self.calls), method, params, time.monotonic())
        self.calls.append(call)
        self._notify_calls()
        status, body = await self._answer(request.match_info["token"], call)
        call.status, call.response = status, body
        self._notify_calls()
        return web.json_response(body, status=status)

    async def _answer(self, token: str, call: ApiCall) -> tuple[int, JsonDict]:
        if token != self.token:
            return 401, ApiError(401, "Unauthorized").body()
        if self.latency and call.method.lower() != "getupdates":
            await asyncio.sleep(self.latency)
        fault = self._take_fault(call.method, call.params)
        if fault is None and call.method.lower() == "sendmessage" and self._over_limit(call):
            self.limited.append(call)
            return 429, {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 1",
                "parameters": {"retry_after": 1},
            }
        if fault is not None:
            call.fault = fault
            fault.hits.append(call)
            return fault.error_code, fault.body()
        name = call.method.lower()
        try:
            if name == "getupdates":
                result: Any = await self._get_updates(call.params)
            else:
                handler = self._handlers.get(name)
                if handler is None:
                    raise ApiError(404, "Not Found: method not found")
                result = handler(call.params)
        except ApiError as exc:
            return exc.error_code, exc.body()
        return 200, {"ok": True, "result": result}

    def _over_limit(self, call: ApiCall) -> bool:
        """A rolling one-second window per chat and overall, like Telegram's flood control."""
        if self.limits is None:
            return False
        overall, per_chat = self.limits
        now, chat = time.monotonic(), call.params.get("chat_id")
        # 50 ms of slack for the network between two calls a sender spaced exactly.
        self._sends = [(t, c) for t, c in self._sends if now - t < 0.95]
        if len(self._sends) >= overall or sum(c == chat for _, c in self._sends) >= per_chat:
            return True
        self._sends.append((now, chat))
        return False

    @staticmethod
    async def _read_params(request: web.Request) -> Params:
        raw: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                body = await request.json()
                return {**raw, **body} if isinstance(body, dict) else raw
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    raw[key] = {"filename": value.filename, "data": value.file.read()}
                else:
                    raw[key] = value
        return {key: decode_field(key, value) for key, value in raw.items()}

    def _notify_updates(self) -> None:
        self._updates_changed.set()
        self._updates_changed = asyncio.Event()

    def _notify_calls(self) -> None:
        self._calls_changed.set()
        self._calls_changed = asyncio.Event()

    def _next_message_id(self, chat_id: int) -> int:
        counter = self._chat_message_ids.setdefault(chat_id, itertools.count(1))
        return next(counter)

    # -- methods -----------------------------------------------------------------------------

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
            raise bad_request("inline messages are not supported by this fake")
        chat = self._chat(params)
        message = self.messages.get((chat["id"], params.get("message_id")))
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
