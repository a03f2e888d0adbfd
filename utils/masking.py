"""Mask secrets and personal data before text or structured data is stored or logged.

:class:`Masker` hides, in free text: literal secrets it was given (and their URL-encoded form),
Telegram bot tokens, passwords in URL credentials, values assigned to sensitive keys
(``password=...``, ``"token": "..."``, ``Authorization: Bearer ...``), e-mail addresses and
phone numbers. A phone is 10-15 digits (7-15 after a ``+``) in at most six groups joined by
single spaces, dashes, dots or parentheses, so ids, years, line numbers, times, dates, IPv4
addresses, decimals and hex/uuid ids stay readable. A bare 10-digit number (a Telegram user id,
a Unix time) or a run like "100 200 300 400" cannot be told from a phone and is masked.
``text()`` is idempotent: it repeats its passes until nothing changes.

:meth:`Masker.data` walks dicts, lists, tuples and sets; under a sensitive key the whole value
is masked. :class:`MaskingFilter` applies the masker to every log record, traceback included.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
import re
import string
import uuid
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from urllib.parse import quote

MASK = "***"
MIN_SECRET_LENGTH = 4
MIN_TOKEN_SECRET_LENGTH = 8  # a shorter "secret half" (a test token's "TEST") is ordinary text
SENSITIVE_KEY_PARTS: tuple[str, ...] = ("password", "passwd", "secret", "token")
DEFAULT_SENSITIVE_KEYS: frozenset[str] = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "secret",
        "client_secret",
        "token",
        "bot_token",
        "access_token",
        "refresh_token",
        "api_key",
        "apikey",
        "x-api-key",
        "authorization",
        "proxy-authorization",
        "phone",
        "phone_number",
        "email",
        "e_mail",
        "database_url",
        "dsn",
        "cookie",
        "set-cookie",
        "session",
    }
)

# Passes repeat until the text stops changing; a mask that keeps creating matches gives up here.
_MAX_PASSES = 5
# Scalars that cannot carry free text pass through data() as they are.
_PASSTHROUGH = (int, float, complex, Decimal, dt.date, dt.time, dt.timedelta, uuid.UUID, enum.Enum)

# Every pattern starts on a literal or a small character set: a leading lookbehind or a
# case-insensitive word would make the regex engine try each position (about 10x slower).
_BOT_TOKEN = re.compile(r"[0-9]++:[A-Za-z0-9_-]{30,}")
# A configured token: its secret half is masked alone as well (any length a test token has).
_TOKEN_SHAPE = re.compile(r"[0-9]+:(?P<secret>[A-Za-z0-9_-]+)")
_URL_CREDENTIALS = re.compile(r"(?P<head>://[^\s:/?#@]*+:)[^\s@/?#]++@")
# the local part is read backwards from "@", which is much faster than matching it forwards
_EMAIL_DOMAIN = re.compile(r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_EMAIL_LOCAL = frozenset(string.ascii_letters + string.digits + "._%+-")
_PHONE = re.compile(
    # possessive digit runs and a bounded group count keep this linear on long digit runs;
    # the lookahead skips numbers too short to be phones without calling back into Python
    r"(?=[+(0-9][0-9 ().-]{6})(?:\+[ ]?)?(?:\([0-9]{1,5}\)|[0-9]++)"
    # at most six groups, later ones of two digits or more, so "1 2 4 8 16" is no phone
    r"(?:[ .-]?(?:\([0-9]{1,5}\)|[0-9]{2,}+)){0,5}"
    r"(?![\w]|:[0-9]|[.-][0-9])"
)
_PHONE_BAD_BEFORE = frozenset("+#/.-_")
_IPV4 = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}")
_DECIMAL = re.compile(r"[0-9]+\.[0-9]+")
# a quoted key and a colon, as in JSON or a repr; for key=value the key is read back from "="
_QUOTED_KEY = re.compile(r"""(?P<q>["'])(?P<key>[\w-]+)(?P=q)[ \t]*:[ \t]*""")
_VALUE = re.compile(r""""[^"\n]*"|'[^'\n]*'|[^\s&;,'"<>(){}\[\]]+""")
_HEADER = re.compile(
    r"(?P<head>(?<![\w-])(?:proxy-)?authorization[ \t]*:[ \t]*"
    r"(?:(?:bearer|basic|token|bot)[ \t]+)?)[^\s,;'\"]+"
    r"|(?P<chead>(?<![\w-])(?:set-)?cookie[ \t]*:[ \t]*)[^\r\n]+",
    re.IGNORECASE,
)
_CONTAINERS = (Mapping, list, tuple, set, frozenset)
_Container = (
    Mapping[object, object] | list[object] | tuple[object, ...] | set[object] | frozenset[object]
)
_STANDARD_RECORD_ATTRS = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None))
) | {"message", "asctime", "taskName"}


def _phone_digits_ok(candidate: str) -> bool:
    if _IPV4.fullmatch(candidate) or _DECIMAL.fullmatch(candidate):
        return False
    digits = sum(ch.isdigit() for ch in candidate)
    low = 7 if candidate.startswith("+") else 10
    return low <= digits <= 15


def _keys_before_equals(text: str) -> Iterator[tuple[str, int]]:
    """Yield (key, value start) for every "=", the key being the word right before it."""
    equals = text.find("=")
    while equals != -1:
        start = equals
        while start and (text[start - 1].isalnum() or text[start - 1] in "_-"):
            start -= 1
        yield text[start:equals], equals + 1
        equals = text.find("=", equals + 1)


class Masker:
    """Masks literal secrets, tokens, credentials, e-mails and phones in text and data."""

    def __init__(
        self,
        secrets: Iterable[str] = (),
        sensitive_keys: Iterable[str] = DEFAULT_SENSITIVE_KEYS,
        mask: str = MASK,
    ) -> None:
        if not mask:
            raise ValueError("mask must not be empty")
        self._mask = mask
        self._sensitive_keys = frozenset(key.strip().lower() for key in sensitive_keys)
        self._secrets: set[str] = set()
        self._secret_re: re.Pattern[str] | None = None
        for secret in secrets:
            self.add_secret(secret)

    @property
    def mask(self) -> str:
        return self._mask

    @property
    def sensitive_keys(self) -> frozenset[str]:
        return self._sensitive_keys

    def add_secret(self, value: str) -> None:
        """Hide ``value`` (and its URL-encoded form) wherever it appears from now on.

        A bot token's secret half (after the colon) is hidden on its own too: it is the part
        that must not leak, and it turns up alone (callback data, a URL path)."""
        if len(value) < MIN_SECRET_LENGTH or value in self._mask:
            return  # a short secret would shred ordinary text; one inside the mask never ends
        token = _TOKEN_SHAPE.fullmatch(value)
        if token is not None and len(token["secret"]) >= MIN_TOKEN_SECRET_LENGTH:
            self._secrets.update({token["secret"], quote(token["secret"], safe="")})
        self._secrets.update({value, quote(value, safe="")})
        ordered = sorted(self._secrets, key=len, reverse=True)  # longest first wins overlaps
        self._secret_re = re.compile("|".join(map(re.escape, ordered)))

    def is_sensitive_key(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        lowered = key.strip().lower()
        return lowered in self._sensitive_keys or any(p in lowered for p in SENSITIVE_KEY_PARTS)

    def text(self, value: str) -> str:
        current = str(value)
        for _ in range(_MAX_PASSES):
            masked = self._mask_once(current)
            if masked == current:
                return masked
            current = masked
        return current

    def data(self, value: object) -> object:
        """Return a masked copy: containers are rebuilt, the input is never mutated.

        str keys are masked too (a dict keyed by e-mail would leak otherwise); objects of other
        types become their masked ``str()``, since their repr could carry anything.
        """
        return self._data(value, set())

    def _data(self, value: object, active: set[int]) -> object:
        if isinstance(value, str):
            return self.text(value)
        if value is None or isinstance(value, _PASSTHROUGH):
            return value
        if not isinstance(value, _CONTAINERS):
            return self.text(str(value))
        if id(value) in active:
            return "..."  # a container that contains itself
        active.add(id(value))
        try:
            return self._container(value, active)
        finally:
            active.discard(id(value))

    def _container(self, value: _Container, active: set[int]) -> object:
        if isinstance(value, Mapping):
            return {
                self._data(key, active): (
                    self._mask if self.is_sensitive_key(key) else self._data(item, active)
                )
                for key, item in value.items()
            }
        items = [self._data(item, active) for item in value]
        if isinstance(value, list):
            return items
        if isinstance(value, tuple):
            return tuple(items)
        return frozenset(items) if isinstance(value, frozenset) else set(items)

    def _mask_once(self, value: str) -> str:
        mask = self._mask
        if self._secret_re is not None:
            value = self._secret_re.sub(mask, value)
        value = _BOT_TOKEN.sub(mask, value)
        if "://" in value:
            value = _URL_CREDENTIALS.sub(lambda m: f"{m['head']}{mask}@", value)
        value = self._mask_assignments(value)
        lowered = value.lower()
        if "authorization" in lowered or "cookie" in lowered:
            value = _HEADER.sub(lambda m: f"{m['head'] or m['chead']}{mask}", value)
        if "@" in value:
            value = self._mask_emails(value)
        return _PHONE.sub(self._mask_phone, value)

    def _mask_assignments(self, text: str) -> str:
        if "=" in text:
            text = self._mask_values(text, _keys_before_equals(text))
        if ":" in text:
            text = self._mask_values(
                text, ((m["key"], m.end()) for m in _QUOTED_KEY.finditer(text))
            )
        return text

    def _mask_values(self, text: str, candidates: Iterator[tuple[str, int]]) -> str:
        parts: list[str] = []
        done = 0
        for key, value_start in candidates:
            if value_start <= done:
                continue  # inside a value that is already masked
            if not key or not self.is_sensitive_key(key):
                continue
            found = _VALUE.match(text, value_start)
            if found is None:
                continue
            quote_char = found[0][0] if found[0][0] in "\"'" else ""
            parts += (text[done:value_start], quote_char, self._mask, quote_char)
            done = found.end()
        if not parts:
            return text
        parts.append(text[done:])
        return "".join(parts)

    def _mask_emails(self, text: str) -> str:
        parts: list[str] = []
        done = 0
        for match in _EMAIL_DOMAIN.finditer(text):
            at = start = match.start()
            while start > done and text[start - 1] in _EMAIL_LOCAL:
                start -= 1
            if start == at or text[start - 1 : start].isalnum() or text[start:at] == self._mask:
                continue  # no local part, the tail of a non-ASCII word, or an already masked URL
            parts += (text[done:start], self._mask)
            done = match.end()
        if not parts:
            return text
        parts.append(text[done:])
        return "".join(parts)

    def _mask_phone(self, match: re.Match[str]) -> str:
        candidate = match[0]
        if self._phone_may_start(match.string, match.start()) and _phone_digits_ok(candidate):
            return self._mask
        head, space, tail = candidate.partition(" ")
        if not space:
            return candidate
        # a rejected run such as "id 12345 89123456789" may still end in a phone
        return head + space + _PHONE.sub(self._mask_phone, tail)

    @staticmethod
    def _phone_may_start(text: str, start: int) -> bool:
        """False after a word, id, path, date or time that the number would be the tail of."""
        if start == 0:
            return True
        before = text[start - 1]
        if before.isalnum() or before in _PHONE_BAD_BEFORE:
            return False
        return not (before == ":" and start > 1 and text[start - 2].isdigit())


class MaskingFilter(logging.Filter):
    """Masks the formatted message, the traceback, the stack and ``extra`` fields of a record.

    Attach it to a handler: handler filters see records from every logger that propagates to
    the handler, while a logger's own filters miss records from its children.
    """

    def __init__(self, masker: Masker) -> None:
        super().__init__()
        self._masker = masker
        self._formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not crash the caller from inside a filter
            message = f"{record.msg!s} {record.args!r}"
        record.msg = self._masker.text(message)
        record.args = None
        if record.exc_info:
            record.exc_text = self._formatter.formatException(record.exc_info)
            record.exc_info = None  # handlers then print exc_text, which is masked below
        if record.exc_text:
            record.exc_text = self._masker.text(record.exc_text)
        if record.stack_info:
            record.stack_info = self._masker.text(record.stack_info)
        for name, value in list(vars(record).items()):
            if name not in _STANDARD_RECORD_ATTRS and isinstance(value, (str, *_CONTAINERS)):
                setattr(record, name, self._masker.data(value))
        return True
