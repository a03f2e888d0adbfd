"""A local Bot API server over HTTP: the bot talks to it exactly as it talks to Telegram.

`TELEGRAM_API_URL` points aiogram's `TelegramAPIServer.from_base()` here, so requests arrive
as `POST {base}/bot{token}/{method}` with form fields, nested values JSON-encoded. Tests use it
as their fake of Telegram; the sandbox and the chaos run use it in place of Telegram.

It implements the methods the bot uses (methods.py), with Telegram's observable behaviour where
it matters to a bot: real long polling for getUpdates (offset confirms, timeout waits, an update
answers a waiting poll at once), per-chat message ids, HTML `parse_mode` turned into plain text
plus entities (so `Message.html_text` round-trips), editMessageText without `reply_markup`
removing the keyboard, "message is not modified" / "message to edit not found" errors, and
Telegram's flood limits when `limits` is set (limits.py). Any other method is answered as
Telegram answers an unknown one (404 "Not Found").

The people in the chats are driven with `push_message`, `push_callback` and `press`; what the
bot did is read from `calls` (or awaited with `wait_for`). `fail_next` queues an error answer
(429 with retry_after, 5xx, 403, ...) for the next matching call of a method: the hook for
fault injection.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from simulators.local_api.calllog import KEEP, CallLog
from simulators.local_api.commands import CommandMenus
from simulators.local_api.guard import same_origin_only
from simulators.local_api.limits import FloodLimits
from simulators.local_api.methods import BotMethods
from simulators.local_api.reading import CallReading
from simulators.local_api.wire import (
    DEFAULT_DESCRIPTIONS,
    ApiCall,
    ApiError,
    FakeUser,
    Fault,
    JsonDict,
    Params,
    command_entities,
    decode_field,
)


class LocalBotAPI(BotMethods, CommandMenus, CallReading):
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
        # sendMessage calls answered 429 by the limits, the newest KEEP of them
        self.limited: list[ApiCall] = []
        self.flood = FloodLimits()  # replace with FloodLimits(clock=...) to drive it in tests
        self.calls = CallLog()  # the newest calls, and how many there were (calllog.py)
        self.updates: list[JsonDict] = []  # pushed and not yet confirmed by an offset
        self.messages: dict[tuple[int, int], JsonDict] = {}  # current state, edits applied
        self.callback_answers: dict[str, list[Params]] = {}  # query id -> answers received
        self.faults: list[Fault] = []
        self.clock: Callable[[], float] = time.monotonic  # when calls arrive; faults' windows
        self.allowed_updates: list[str] | None = None
        self.webhook: Params | None = None  # what setWebhook was given, until deleteWebhook
        self.users: dict[int, FakeUser] = {}
        self.command_menus: dict[tuple[str, str], list[JsonDict]] = {}  # (scope, language)
        self.revision = 0  # counts calls arriving and answered: `changed()` waits on it
        # Called with the server's aiohttp app before it starts: more routes (the sandbox page).
        self.setup_web: Callable[[web.Application], None] | None = None
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
            "setmycommands": self._set_my_commands,
            "deletemycommands": self._delete_my_commands,
            "getmycommands": self._get_my_commands,
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
        # Only requests addressed to this server (Host) from no page or its own (Origin).
        app = web.Application(middlewares=[same_origin_only(lambda: (self.host, self.port))])
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        if self.setup_web is not None:
            self.setup_web(app)
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

    async def __aenter__(self) -> LocalBotAPI:
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
        delay: float = 0.0,
    ) -> Fault:
        """Answer the next `times` calls of `method` (that `match`) with an error instead.

        A 429 gets "Too Many Requests: retry after N" and `parameters.retry_after` as Telegram
        sends them. The returned Fault lists the calls it answered in `hits`."""
        description, retry_after = _described(error_code, description, retry_after)
        fault = Fault(method, error_code, description, retry_after, match, times, delay=delay)
        self.faults.append(fault)
        return fault

    def fail_for(
        self,
        seconds: float,
        error_code: int,
        description: str | None = None,
        *,
        method: str = "*",
        retry_after: int | None = None,
        match: Callable[[Params], bool] | None = None,
        delay: float = 0.0,
    ) -> Fault:
        """Answer every call of `method` ("*": all) with an error for `seconds` from now.

        `calm()` ends it early. A 403 "blocked" for one chat is `match=lambda p: p.get(
        "chat_id") == chat`; an outage is a 502 (or a `delay` longer than the bot's timeout)."""
        description, retry_after = _described(error_code, description, retry_after)
        fault = Fault(
            method,
            error_code,
            description,
            retry_after,
            match,
            until=self.clock() + seconds,
            delay=delay,
        )
        self.faults.append(fault)
        return fault

    def calm(self) -> None:
        """Drop every queued or timed fault: the server answers normally from now on."""
        self.faults.clear()

    def _take_fault(self, method: str, params: Params) -> Fault | None:
        now = self.clock()
        self.faults = [f for f in self.faults if f.until is None or f.until > now]
        for fault in self.faults:
            if fault.applies(method, params, now):
                if fault.until is None:
                    fault.times -= 1
                return fault
        return None

    # -- HTTP --------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._read_params(request)
        call = ApiCall(len(self.calls), method, params, self.clock())
        self.calls.append(call)
        self._notify_calls()
        status, body = await self._answer(request.match_info["token"], call)
        call.status, call.response = status, body
        self._notify_calls()
        return web.json_response(body, status=status)

    async def _answer(self, token: str, call: ApiCall) -> tuple[int, JsonDict]:
        if token != self.token:
            return 401, ApiError(401, "Unauthorized").body()
        arrived = self.flood.clock()  # the flood limits judge a send by when it arrived
        if self.latency and call.method.lower() != "getupdates":
            await asyncio.sleep(self.latency)
        fault = self._take_fault(call.method, call.params)
        if fault is None and (retry_after := self._over_limit(call, arrived)) is not None:
            self.limited.append(call)
            if len(self.limited) > KEEP + KEEP // 10:  # trimmed in steps, not on every call
                del self.limited[:-KEEP]
            return 429, {
                "ok": False,
                "error_code": 429,
                "description": f"Too Many Requests: retry after {retry_after}",
                "parameters": {"retry_after": retry_after},
            }
        if fault is not None:
            call.fault = fault
            fault.hits.append(call)
            if fault.delay:
                await asyncio.sleep(fault.delay)
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

    def _over_limit(self, call: ApiCall, arrived: float) -> int | None:
        """The `retry_after` of a sendMessage that breaks the flood limits, else None."""
        if self.limits is None or call.method.lower() != "sendmessage":
            return None
        return self.flood.over(self.limits, arrived, call.params.get("chat_id"))

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
        self.revision += 1
        self._calls_changed.set()
        self._calls_changed = asyncio.Event()


def _described(
    error_code: int, description: str | None, retry_after: int | None
) -> tuple[str, int | None]:
    """Telegram's wording for an error code, and a 429's retry_after (1 s unless given)."""
    if description is not None:
        return description, retry_after
    if error_code == 429:
        retry_after = retry_after or 1
        return f"Too Many Requests: retry after {retry_after}", retry_after
    return DEFAULT_DESCRIPTIONS.get(error_code, f"Error {error_code}"), retry_after
