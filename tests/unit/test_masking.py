from __future__ import annotations

import copy
import io
import logging
import random
import time
from collections.abc import Iterator

import pytest

from utils.masking import DEFAULT_SENSITIVE_KEYS, MASK, Masker, MaskingFilter

BOT_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
DB_PASSWORD = "pg-Pa55word!"
DB_URL = f"postgresql+asyncpg://bot:{DB_PASSWORD}@db.internal:5432/app"
OPERATOR_SECRET = "operator-webhook-secret"
EMAIL = "ivan.petrov+bot@example.co.uk"
PHONES = [
    "+7 (912) 345-67-89",
    "+1 555 123 4567",
    "89123456789",
    "+79123456789",
    "8 912 345 67 89",
    "8-912-345-67-89",
    "(555) 123-4567",
    "555.123.4567",
    "+44 20 7946 0958",
    "+49-30-1234567",
]
NOT_SECRETS = [
    "request #123 was approved",
    "request id 4821 by user 77",
    "copyright 2026, fiscal year 1999",
    '  File "/srv/bot/handlers/requests.py", line 42, in approve',
    "started at 12:30:45, finished 23:59:59.123",
    "due 2026-01-01, created 2025-12-31T23:59:59+00:00",
    "logged 2026-01-01 12:30:45,123 INFO",
    "on 01.01.2026 12:30",
    "uuid 550e8400-e29b-41d4-a716-446655440000",
    "uuid 12345678-1234-1234-1234-123456789012",
    "sha deadbeef1234567890abcdef, addr 0x7f1234567890",
    "chat -1001234567890 migrated",
    "host 192.168.100.200 port 5432",
    "took 3.14159265358 s at 1700000000.123456",
    "version 3.11.7, aiogram 3.31.0",
    "token is invalid",
    "password: str",
    "retry delays 1 2 4 8 16 32 64 s",
]


@pytest.fixture
def masker() -> Masker:
    return Masker(secrets=[DB_PASSWORD, OPERATOR_SECRET])


@pytest.fixture
def log() -> Iterator[tuple[logging.Logger, io.StringIO, list[logging.LogRecord]]]:
    stream = io.StringIO()
    records: list[logging.LogRecord] = []

    class ListHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    masking = MaskingFilter(Masker(secrets=[DB_PASSWORD, OPERATOR_SECRET]))
    stream_handler = logging.StreamHandler(stream)
    stream_handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    list_handler = ListHandler()
    for handler in (stream_handler, list_handler):
        handler.addFilter(masking)
    logger = logging.getLogger(f"test_masking.{time.perf_counter_ns()}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(stream_handler)
    logger.addHandler(list_handler)
    yield logger, stream, records
    logger.removeHandler(stream_handler)
    logger.removeHandler(list_handler)


# --- text: each kind separately -------------------------------------------------------------


def test_bot_token_in_text(masker: Masker) -> None:
    assert masker.text(f"bot token {BOT_TOKEN} rejected") == f"bot token {MASK} rejected"


def test_bot_token_inside_telegram_api_url(masker: Masker) -> None:
    url = f"https://api.telegram.org/bot{BOT_TOKEN}/sendMessage"
    assert masker.text(url) == f"https://api.telegram.org/bot{MASK}/sendMessage"


def test_bot_token_needs_no_configuration() -> None:
    assert BOT_TOKEN not in Masker().text(f"Unauthorized for {BOT_TOKEN}")


def test_a_configured_tokens_secret_half_is_masked_alone() -> None:
    """Callback data or a URL path can carry the part after the colon without the id."""
    secret = BOT_TOKEN.split(":", 1)[1]
    masker = Masker(secrets=[BOT_TOKEN])
    assert masker.text(f"data=x:{secret}") == f"data=x:{MASK}"
    assert masker.data({"callback_data": f"lang:{secret}"}) == {"callback_data": f"lang:{MASK}"}
    assert masker.text(f"/bot{secret[:10]}") == f"/bot{secret[:10]}"  # a part of it is not it


def test_a_short_secret_half_is_ordinary_text() -> None:
    masker = Masker(secrets=["42:TEST"])
    assert masker.text("TEST passed; 42:TEST leaked") == f"TEST passed; {MASK} leaked"


def test_database_password_in_url_without_configuration() -> None:
    masked = Masker().text(f"cannot connect to {DB_URL}")
    assert masked == f"cannot connect to postgresql+asyncpg://bot:{MASK}@db.internal:5432/app"


@pytest.mark.parametrize(
    "url",
    [
        "redis://:s3cr3t@localhost:6379/0",
        "amqp://guest:guest@rabbit/",
        "https://user:p%40ss@example.com/path",
    ],
)
def test_url_credentials_of_any_scheme(url: str) -> None:
    masked = Masker().text(url)
    assert masked.count(MASK) == 1
    assert masked.split("://")[1].split("@")[0].endswith(f":{MASK}")


def test_url_without_credentials_is_unchanged() -> None:
    text = "GET http://localhost:8080/health and https://example.com:443/a?b=1"
    assert Masker().text(text) == text


def test_database_password_as_literal_secret(masker: Masker) -> None:
    text = f'FATAL: password authentication failed, tried "{DB_PASSWORD}"'
    assert masker.text(text) == f'FATAL: password authentication failed, tried "{MASK}"'


def test_literal_secret_is_masked_in_url_encoded_form_too() -> None:
    masker = Masker(secrets=["p@ss:w/rd!"])
    assert masker.text("dsn host=db pass p%40ss%3Aw%2Frd%21 end") == f"dsn host=db pass {MASK} end"


@pytest.mark.parametrize("phone", PHONES)
def test_phone_numbers(masker: Masker, phone: str) -> None:
    assert masker.text(f"call {phone} today") == f"call {MASK} today"
    assert masker.text(phone) == MASK


def test_phone_after_a_label_or_an_id(masker: Masker) -> None:
    assert masker.text("tel:+79123456789") == f"tel:{MASK}"
    assert masker.text("phone=89123456789") == f"phone={MASK}"
    assert masker.text("user 12345 89123456789") == f"user 12345 {MASK}"
    assert masker.text("ref a12 89123456789") == f"ref a12 {MASK}"


def test_email(masker: Masker) -> None:
    assert masker.text(f"sent to <{EMAIL}>.") == f"sent to <{MASK}>."
    assert masker.text(f"mailto:{EMAIL}") == f"mailto:{MASK}"


def test_operator_configured_secret(masker: Masker) -> None:
    assert masker.text(f"x-hook: {OPERATOR_SECRET};") == f"x-hook: {MASK};"


def test_add_secret_applies_from_then_on() -> None:
    masker = Masker()
    assert masker.text("value late-added-secret") == "value late-added-secret"
    masker.add_secret("late-added-secret")
    assert masker.text("value late-added-secret") == f"value {MASK}"


@pytest.mark.parametrize("secret", ["", "a", "abc"])
def test_short_secrets_are_ignored(secret: str) -> None:
    masker = Masker(secrets=[secret])
    masker.add_secret(secret)
    assert masker.text("abc a bc request") == "abc a bc request"


def test_longest_secret_wins_when_secrets_overlap() -> None:
    masker = Masker(secrets=["abcd", "abcdefgh"])
    assert masker.text("xx abcdefgh yy abcd") == f"xx {MASK} yy {MASK}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("password=hunter2&user=bob", f"password={MASK}&user=bob"),
        ("?access_token=abc.def&x=1", f"?access_token={MASK}&x=1"),
        ("{'password': 'two words', 'user': 'bob'}", f"{{'password': '{MASK}', 'user': 'bob'}}"),
        ('{"api_key": "k-1", "n": 1}', f'{{"api_key": "{MASK}", "n": 1}}'),
        ("Authorization: Bearer abc.def.ghi", f"Authorization: Bearer {MASK}"),
        ("Cookie: sid=1; theme=dark", f"Cookie: {MASK}"),
        ("BOT_TOKEN=42:short", f"BOT_TOKEN={MASK}"),
        ("opts=password=abc,x=1", f"opts=password={MASK},x=1"),
        ("limit=5 retries=3", "limit=5 retries=3"),
    ],
)
def test_values_of_sensitive_keys_in_text(masker: Masker, text: str, expected: str) -> None:
    assert masker.text(text) == expected


@pytest.mark.parametrize("text", NOT_SECRETS)
def test_ordinary_numbers_and_words_are_not_masked(masker: Masker, text: str) -> None:
    assert masker.text(text) == text


def test_traceback_locations_survive_masking(masker: Masker) -> None:
    text = (
        "Traceback (most recent call last):\n"
        '  File "/srv/bot/handlers/requests.py", line 1234, in approve\n'
        "    await service.approve(request_id=4821, at=now)\n"
        f"RuntimeError: request #4821 of {EMAIL} failed at 2026-01-01 12:30:45\n"
    )
    assert masker.text(text) == text.replace(EMAIL, MASK)


# --- idempotence and safety ------------------------------------------------------------------

CORPUS = [
    f"{BOT_TOKEN} {DB_URL} {EMAIL} {OPERATOR_SECRET} {DB_PASSWORD}",
    " / ".join(PHONES),
    *NOT_SECRETS,
    "password=*** 'token': '***' Authorization: Bearer ***",
    f"redis://:{MASK}@host/0 https://user@example.com/",
    "1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0",
    f"{DB_PASSWORD}{DB_PASSWORD}{MASK}{OPERATOR_SECRET[:-3]}",
]


@pytest.mark.parametrize("text", CORPUS)
@pytest.mark.parametrize("mask", [MASK, "[REDACTED]", "REDACTED"])
def test_text_is_idempotent(text: str, mask: str) -> None:
    masker = Masker(secrets=[DB_PASSWORD, OPERATOR_SECRET, "ab***"], mask=mask)
    once = masker.text(text)
    assert masker.text(once) == once


@pytest.mark.parametrize("mask", [MASK, "[REDACTED]", "REDACTED", "#"])
def test_text_is_idempotent_on_random_fragments(mask: str) -> None:
    rng = random.Random(0)
    pieces = [
        *"0123456789" * 3, *" -.()+:@=*'\"/#_\n", *"abcxyzAB", "password", "token", "://",
        "u:p@h.com", "@ex.com", "+7", "Bearer ", "authorization: ", "ab***",
    ]  # fmt: skip
    masker = Masker(secrets=["ab***", "1234", "secret-x"], mask=mask)
    for _ in range(2_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randrange(1, 40)))
        once = masker.text(text)
        assert masker.text(once) == once, text


def test_secret_that_masking_would_recreate_is_still_idempotent() -> None:
    masker = Masker(secrets=["ab***"])
    once = masker.text("abab***")
    assert "ab***" not in once
    assert masker.text(once) == once


def test_word_like_mask_keeps_url_host() -> None:
    masker = Masker(mask="REDACTED")
    assert masker.text(DB_URL) == "postgresql+asyncpg://bot:REDACTED@db.internal:5432/app"


def test_empty_mask_is_rejected() -> None:
    with pytest.raises(ValueError, match="mask"):
        Masker(mask="")


def test_long_digit_runs_do_not_backtrack_catastrophically() -> None:
    hostile = "1 " * 20_000 + "x" + "(1)-" * 5_000 + "1" * 5_000 + ":"
    started = time.perf_counter()
    Masker().text(hostile)
    assert time.perf_counter() - started < 2.0


# --- data ------------------------------------------------------------------------------------


def test_data_masks_every_kind_in_nested_values(masker: Masker) -> None:
    payload = {
        "event": "failure",
        "details": [
            {"url": DB_URL, "note": f"token {BOT_TOKEN}"},
            ("contact", f"{PHONES[0]} / {EMAIL}"),
            {f"secret {OPERATOR_SECRET}"},
        ],
        "count": 3,
    }
    masked = masker.data(payload)
    assert masked == {
        "event": "failure",
        "details": [
            {
                "url": f"postgresql+asyncpg://bot:{MASK}@db.internal:5432/app",
                "note": f"token {MASK}",
            },
            ("contact", f"{MASK} / {MASK}"),
            {f"secret {MASK}"},
        ],
        "count": 3,
    }


def test_sensitive_keys_mask_whole_values_at_any_depth(masker: Masker) -> None:
    payload = {
        "user": {
            "name": "Ivan",
            "Phone": 79123456789,
            "contacts": [{"EMAIL": "nobody"}, {"e_mail": None}],
            "auth": {"Password": {"old": "a", "new": "b"}, "session": ["s1", "s2"]},
        },
        "db": {"DATABASE_URL": "sqlite:///x.db", "dsn": "x"},
        "api": {"ApiKey": 12345, "authorization": "Basic x", "cookie": "c=1"},
        "telegram": {"bot_token": "anything", "webhook_secret_value": "v", "my_token_id": 7},
    }
    masked = masker.data(payload)
    assert masked == {
        "user": {
            "name": "Ivan",
            "Phone": MASK,
            "contacts": [{"EMAIL": MASK}, {"e_mail": MASK}],
            "auth": {"Password": MASK, "session": MASK},
        },
        "db": {"DATABASE_URL": MASK, "dsn": MASK},
        "api": {"ApiKey": MASK, "authorization": MASK, "cookie": MASK},
        "telegram": {"bot_token": MASK, "webhook_secret_value": MASK, "my_token_id": MASK},
    }


def test_default_sensitive_keys_cover_the_documented_names() -> None:
    required = {
        "password", "passwd", "secret", "token", "bot_token", "api_key", "apikey",
        "authorization", "phone", "phone_number", "email", "e_mail", "database_url", "dsn",
        "cookie", "session",
    }  # fmt: skip
    assert required <= DEFAULT_SENSITIVE_KEYS
    assert all(key == key.lower() for key in DEFAULT_SENSITIVE_KEYS)


def test_custom_sensitive_keys_still_catch_password_secret_token_parts() -> None:
    masker = Masker(sensitive_keys=["Chat_Title"])
    masked = masker.data({"chat_title": "x", "db_password": "y", "email": "plain", "n": 1})
    assert masked == {"chat_title": MASK, "db_password": MASK, "email": "plain", "n": 1}


def test_data_passes_scalars_and_keeps_container_types(masker: Masker) -> None:
    assert masker.data(42) == 42
    assert masker.data(1.5) == 1.5
    assert masker.data(True) is True
    assert masker.data(None) is None
    assert masker.data(("a", 1)) == ("a", 1)
    assert isinstance(masker.data(("a",)), tuple)
    assert isinstance(masker.data({"a"}), set)
    assert isinstance(masker.data(frozenset({"a"})), frozenset)


def test_data_masks_str_keys_and_unknown_objects(masker: Masker) -> None:
    class Opaque:
        def __str__(self) -> str:
            return f"Opaque(dsn={DB_URL})"

    masked = masker.data({EMAIL: 1, "obj": Opaque()})
    assert masked == {MASK: 1, "obj": f"Opaque(dsn={MASK})"}


def test_data_never_mutates_the_input(masker: Masker) -> None:
    inner = {"password": "p", "note": EMAIL}
    payload = {"list": [inner, {BOT_TOKEN}], "tuple": (inner,)}
    before = copy.deepcopy(payload)
    masked = masker.data(payload)
    assert payload == before
    assert isinstance(masked, dict)
    assert masked is not payload
    assert masked["list"] is not payload["list"]
    assert masked["list"][0] is not inner


def test_data_survives_self_reference(masker: Masker) -> None:
    loop: list[object] = [EMAIL]
    loop.append(loop)
    assert masker.data(loop) == [MASK, "..."]


def test_data_is_idempotent(masker: Masker) -> None:
    payload = {"a": [DB_URL, {"token": 1}, (EMAIL, PHONES[1])], "b": {OPERATOR_SECRET}}
    once = masker.data(payload)
    assert masker.data(once) == once


# --- logging ---------------------------------------------------------------------------------


def test_filter_masks_message_and_args(
    log: tuple[logging.Logger, io.StringIO, list[logging.LogRecord]],
) -> None:
    logger, stream, records = log
    logger.warning("user %s (%s) failed with %r", EMAIL, PHONES[0], {"password": "p"})
    assert stream.getvalue() == (
        f"WARNING {logger.name} user {MASK} ({MASK}) failed with {{'password': '{MASK}'}}\n"
    )
    (record,) = records
    assert record.args is None
    assert record.getMessage() == f"user {MASK} ({MASK}) failed with {{'password': '{MASK}'}}"


def test_filter_masks_a_logged_exception_traceback(
    log: tuple[logging.Logger, io.StringIO, list[logging.LogRecord]],
) -> None:
    logger, stream, records = log
    try:
        raise ConnectionError(f"{DB_URL} {BOT_TOKEN}")
    except ConnectionError:
        try:
            raise RuntimeError(f"notify {EMAIL} {PHONES[1]} hook {OPERATOR_SECRET}") from None
        except RuntimeError:
            logger.exception("handler failed for %s", PHONES[2])
    try:
        raise ValueError(f"again {DB_PASSWORD}")
    except ValueError:
        logger.error("second", exc_info=True)

    output = stream.getvalue()
    for secret in (BOT_TOKEN, DB_PASSWORD, EMAIL, PHONES[1], PHONES[2], OPERATOR_SECRET):
        assert secret not in output
    assert "Traceback (most recent call last):" in output
    assert f"RuntimeError: notify {MASK} {MASK} hook {MASK}" in output
    assert f"ValueError: again {MASK}" in output
    assert "test_masking.py" in output  # locations are kept
    first, second = records
    assert first.exc_info is None
    assert first.exc_text is not None
    assert OPERATOR_SECRET not in first.exc_text
    assert f"handler failed for {MASK}" in first.getMessage()
    assert second.exc_text is not None
    assert DB_PASSWORD not in second.exc_text


def test_filter_masks_a_traceback_whose_source_line_holds_a_secret(
    log: tuple[logging.Logger, io.StringIO, list[logging.LogRecord]],
) -> None:
    logger, stream, _ = log
    try:
        raise KeyError("123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0")
    except KeyError:
        logger.exception("lookup")
    output = stream.getvalue()
    assert BOT_TOKEN not in output
    assert f'raise KeyError("{MASK}")' in output  # the code line shown in the traceback


def test_filter_masks_stack_info_and_extra_fields(
    log: tuple[logging.Logger, io.StringIO, list[logging.LogRecord]],
) -> None:
    logger, _, records = log
    logger.info("hello", stack_info=True, extra={"contact": EMAIL, "ctx": {"token": "t"}, "n": 7})
    (record,) = records
    assert record.__dict__["contact"] == MASK
    assert record.__dict__["ctx"] == {"token": MASK}
    assert record.__dict__["n"] == 7
    assert record.stack_info is not None
    assert "Stack (most recent call last)" in record.stack_info


def test_filter_never_raises_on_a_bad_format_string(
    log: tuple[logging.Logger, io.StringIO, list[logging.LogRecord]],
) -> None:
    logger, _, records = log
    logger.info("%d items for %s", "not-a-number", EMAIL)
    (record,) = records
    assert EMAIL not in record.getMessage()
    assert "%d items for" in record.getMessage()


def test_filter_always_returns_true() -> None:
    masking = MaskingFilter(Masker())
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "to %s", (EMAIL,), None)
    assert masking.filter(record) is True
    assert record.msg == f"to {MASK}"
