"""What travels over the Bot API wire: people, calls, error answers, HTML parse mode.

Shared by the local Bot API server's request handling and its methods; none of it does I/O."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, ClassVar

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
    """An error answer waiting for the next call of `method` (for which `match` holds).

    `method` "*" matches every method. With `until` set (the server's clock), the fault answers
    every matching call until then instead of counting `times` down: an outage "for a while".
    `delay` holds the answer back that many seconds first (a slow or timing-out server)."""

    method: str
    error_code: int
    description: str
    retry_after: int | None = None
    match: Callable[[Params], bool] | None = None
    times: int = 1
    hits: list[ApiCall] = field(default_factory=list)
    until: float | None = None
    delay: float = 0.0

    def applies(self, method: str, params: Params, now: float) -> bool:
        if self.until is not None:
            if now >= self.until:
                return False
        elif self.times <= 0:
            return False
        if self.method != "*" and method.lower() != self.method.lower():
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
