"""Settings and workflow files: every bad value gets a message naming what to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import ConfigError, load_settings
from core.workflows import load_workflows

ENV_NAMES = [
    "BOT_TOKEN",
    "DATABASE_URL",
    "ADMIN_IDS",
    "LOG_LEVEL",
    "TELEGRAM_API_URL",
    "HTTP_PORT",
    "WORKFLOWS_FILE",
    "MAX_QUANTITY",
    "WEBHOOK_URL",
    "WEBHOOK_SECRET",
    "HEALTH_QUEUE_PENDING",
    "HEALTH_SNAPSHOT_MINUTES",
]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_defaults_match_the_spec() -> None:
    settings = load_settings()
    assert settings.database_url_value == "sqlite+aiosqlite:///data/bot.sqlite3"
    assert (settings.http.host, settings.http.port, settings.log_level) == (
        "127.0.0.1",
        8080,
        "INFO",
    )
    assert settings.admin_ids == ()
    assert settings.telegram.api_url is None


def test_values_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_IDS", " 1, 22 ,333")
    monkeypatch.setenv("TELEGRAM_API_URL", "http://127.0.0.1:8081/")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    settings = load_settings()
    assert settings.admin_ids == (1, 22, 333)
    assert settings.telegram.api_url == "http://127.0.0.1:8081"
    assert settings.log_level == "DEBUG"


def test_env_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("BOT_TOKEN=1:abc\nADMIN_IDS=5\n")
    settings = load_settings()
    assert settings.require_token() == "1:abc"
    assert settings.admin_ids == (5,)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("ADMIN_IDS", "12,abc", "ADMIN_IDS: Value error, must be comma-separated numeric"),
        ("DATABASE_URL", "mysql://x", "DATABASE_URL: Value error, must start with sqlite"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL: Value error, must be one of"),
        ("HTTP_PORT", "99999", "HTTP_PORT: Input should be less than or equal to 65535"),
        ("TELEGRAM_API_URL", "localhost:8081", "TELEGRAM_API_URL: Value error, must be an http"),
        ("MAX_QUANTITY", "0", "MAX_QUANTITY: Input should be greater than or equal to 1"),
        ("WEBHOOK_URL", "bot.example.com", "WEBHOOK_URL: Value error, must be the public"),
        ("WEBHOOK_URL", "https://bot.example.com", "WEBHOOK_URL: Value error, must be the public"),
        ("WEBHOOK_SECRET", "has space", "WEBHOOK_SECRET: Value error, must be 1-256 characters"),
        ("HEALTH_QUEUE_PENDING", "50", "HEALTH_QUEUE_PENDING: Value error, must be two numbers"),
        ("HEALTH_QUEUE_PENDING", "a,b", "HEALTH_QUEUE_PENDING: Value error, must be two numbers"),
        ("HEALTH_QUEUE_PENDING", "200,50", "HEALTH_QUEUE_PENDING: Value error, must be 'degraded"),
        ("HEALTH_SNAPSHOT_MINUTES", "0", "HEALTH_SNAPSHOT_MINUTES: Input should be greater than"),
        ("THROTTLE_RATE_PER_SECOND", "0.5", "RATE_PER_SECOND: Value error, must be at least 1"),
        ("THROTTLE_RATE_PER_SECOND", "nan", "THROTTLE_RATE_PER_SECOND: Input should be"),
        ("THROTTLE_BURST", "0", "THROTTLE_BURST: Input should be greater than or equal to 1"),
        ("THROTTLE_QUIET_SECONDS", "0", "THROTTLE_QUIET_SECONDS: Input should be greater than 0"),
        ("THROTTLE_MAX_PEOPLE", "10", "THROTTLE_MAX_PEOPLE: Input should be greater than or"),
        ("ERROR_OCCURRENCES_PER_MINUTE", "0", "ERROR_OCCURRENCES_PER_MINUTE: Input should be"),
    ],
)
def test_bad_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert expected in str(error.value)


def test_missing_token_says_where_to_get_one() -> None:
    with pytest.raises(ConfigError, match=r"BOT_TOKEN is not set.*@BotFather.*\.env"):
        load_settings().require_token()


def test_database_password_is_not_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://bot:s3cret@db/bot")
    assert "s3cret" not in repr(load_settings())


WORKFLOW = """
[[workflow]]
key = "w"
[[workflow.stage]]
key = "a"
role = "manager"
stuck_after = "{after}"
"""

STAGE = '[[workflow.stage]]\nkey = "b"\nrole = "manager"\nstuck_after = "1h"\n'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("this is = = not toml", "not valid TOML"),
        ("", "workflow: Field required"),
        (WORKFLOW.format(after="soon"), "'soon' is not a duration"),
        (WORKFLOW.format(after="24h").replace("manager", "requester"), "cannot be acted on"),
        (WORKFLOW.format(after="24h").replace("manager", "boss"), "role: Input should be"),
        (WORKFLOW.format(after="1h") * 2, "workflow keys repeat"),
        (WORKFLOW.format(after="1h").replace('key = "a"', 'key = "Bad Key"'), "should match"),
        (  # filter buttons carry an index of at most 999
            WORKFLOW.format(after="1h") + STAGE * 1000,
            "stage: Tuple should have at most 1000 items",
        ),
    ],
)
def test_bad_workflow_files_are_refused(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "wf.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="WORKFLOWS_FILE") as error:
        load_workflows(path)
    assert expected in str(error.value)


def test_missing_workflow_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_workflows(tmp_path / "nope.toml")


def test_shipped_workflow() -> None:
    registry = load_workflows(Path(__file__).parent.parent / "config" / "workflows.toml")
    flow = registry.default
    assert [(s.key, s.role.value, s.issues_stock) for s in flow.stages] == [
        ("manager_approval", "manager", False),
        ("warehouse_issue", "storekeeper", True),
    ]
    assert flow.stages[0].stuck_after.total_seconds() == 24 * 3600
    assert flow.stages[0].display("ru") == "Согласование руководителем"
    assert flow.stages[0].display("de") == "Manager approval"


def test_logs_are_masked(capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    from bot.logs import configure_logging

    settings = load_settings(bot_token="123456:SECRET-TOKEN-VALUE-abcdefghijklmnopqrstu")
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    root.handlers.clear()  # as in a fresh process
    try:
        handler = configure_logging(settings)
        assert handler is not None
        try:
            raise RuntimeError("user mail ann@example.com")
        except RuntimeError:
            logging.getLogger("demo").exception(
                "calling with %s", "123456:SECRET-TOKEN-VALUE-abcdefghijklmnopqrstu"
            )
        handler.flush()
    finally:
        root.handlers[:] = saved
        root.setLevel(level)
    err = capsys.readouterr().err
    assert "calling with ***" in err
    assert "SECRET-TOKEN" not in err and "ann@example.com" not in err
    assert "RuntimeError" in err


def test_webhook_url_and_secret_go_together(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOK_URL", "https://bot.example.com/telegram/webhook")
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert "WEBHOOK_URL and WEBHOOK_SECRET go together" in str(error.value)
    monkeypatch.setenv("WEBHOOK_SECRET", "abc_DEF-123")
    settings = load_settings()
    assert (settings.webhook.enabled, settings.webhook.path) == (True, "/telegram/webhook")
    assert "abc_DEF-123" in settings.secrets()  # masked in logs like the token


def test_health_thresholds_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEALTH_QUEUE_PENDING", " 10 , 40 ")
    settings = load_settings()
    assert settings.health.queue_pending == (10.0, 40.0)
    assert settings.health.db_latency_ms == (200.0, 1000.0)
    assert (settings.health.snapshot_minutes, settings.webhook.enabled) == (5.0, False)
