"""Settings from the environment (and `.env`), with the names of SPEC §4.

Related settings form groups whose environment names begin with the group's name:
`OUTBOX_MAX_ATTEMPTS` is `settings.outbox.max_attempts`, `HEALTH_QUEUE_PENDING` is
`settings.health.queue_pending`. The names operators set are the same as before the groups.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.serving_settings import HttpSettings, WebhookSettings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_WORKFLOWS_FILE = PROJECT_ROOT / "config" / "workflows.toml"
LOCALES_DIR = PROJECT_ROOT / "locales"
SUPPORTED_LOCALES = ("en", "ru", "es")
LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")

# A pair "degraded,unhealthy": a figure at or above the first degrades, the second is unhealthy.
Thresholds = Annotated[tuple[float, float], NoDecode]


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable and the fix."""


class TelegramSettings(BaseModel):
    """TELEGRAM_*: where the Bot API is, and when its circuit breaker opens."""

    api_url: str | None = None
    breaker_failures: int = Field(default=5, ge=1)
    breaker_reset_seconds: float = Field(default=30.0, gt=0)

    @field_validator("api_url")
    @classmethod
    def _check_api_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not value.startswith(("http://", "https://")):
            msg = "must be an http:// or https:// base URL, e.g. http://127.0.0.1:8081"
            raise ValueError(msg)
        return value.rstrip("/")


class DatabaseBreakerSettings(BaseModel):
    """DB_BREAKER_*: when the database's circuit breaker opens, and for how long."""

    breaker_failures: int = Field(default=5, ge=1)
    # A trial connect every 5 s costs nothing while the database is away and notices it back
    # within seconds (the chaos run measured 64-72 s to recovery with 30 s here).
    breaker_reset_seconds: float = Field(default=5.0, gt=0)


class OutboxSettings(BaseModel):
    """OUTBOX_*: notification delivery (SPEC §3.3)."""

    poll_seconds: float = Field(default=5.0, gt=0)
    job_seconds: float = Field(default=60.0, gt=0)
    max_attempts: int = Field(default=5, ge=1)
    backoff_base_seconds: float = Field(default=30.0, gt=0)
    backoff_cap_seconds: float = Field(default=3600.0, gt=0)
    rate_per_second: float = Field(default=30.0, gt=0)
    per_chat_per_second: float = Field(default=1.0, gt=0)
    # Added to each limit's one-second window, for the jitter between leaving and arriving.
    rate_margin_seconds: float = Field(default=0.04, ge=0, le=1)
    per_chat_margin_seconds: float = Field(default=0.1, ge=0, le=1)
    claim_seconds: float = Field(default=120.0, gt=0)
    max_queue: int = Field(default=10000, ge=1)
    retention_days: int = Field(default=30, ge=1)


class ErrorSettings(BaseModel):
    """ERROR_*: the local spool, alert de-duplication and retention of error records."""

    spool_path: Path = Path("data/error_spool.jsonl")
    # Beyond this (the file and the one being drained) a record is dropped, counted, and the
    # count reported as a critical error once the database is back.
    spool_max_bytes: int = Field(default=50 * 1024 * 1024, ge=64 * 1024)
    alert_window_minutes: int = Field(default=60, ge=1)
    retention_days: int = Field(default=30, ge=1)
    # Occurrence rows kept per person and problem in any minute; the record counts them all.
    occurrences_per_minute: int = Field(default=5, ge=1, le=1000)


class ThrottleSettings(BaseModel):
    """THROTTLE_*: one person's flood of updates is answered once, then dropped for a while."""

    # At least one a second: a person who sends at most one update a second is never throttled.
    rate_per_second: float = Field(default=1.0, le=1000)
    burst: int = Field(default=10, ge=1, le=1_000_000)
    quiet_seconds: float = Field(default=30.0, gt=0, le=3600)
    max_people: int = Field(default=10_000, ge=100, le=10_000_000)  # remembered at once (LRU)

    @field_validator("rate_per_second")
    @classmethod
    def _check_rate(cls, value: float) -> float:
        if not value >= 1:  # also refuses NaN
            msg = "must be at least 1 (a second), so one update a second is never throttled"
            raise ValueError(msg)
        return value


class ReconciliationSettings(BaseModel):
    """RECONCILIATION_*: the hourly inventory check and the watch that calls it early."""

    interval_minutes: int = Field(default=60, ge=1)
    watch_seconds: int = Field(default=30, ge=5)
    pending_max_age_hours: int = Field(default=24, ge=1)


class HealthSettings(BaseModel):
    """HEALTH_*: snapshots, and the (degraded, unhealthy) thresholds of each component."""

    snapshot_minutes: float = Field(default=5.0, gt=0)
    snapshot_retention_days: int = Field(default=14, ge=1)
    db_latency_ms: Thresholds = (200.0, 1000.0)
    telegram_latency_ms: Thresholds = (1500.0, 5000.0)
    queue_pending: Thresholds = (50.0, 200.0)
    queue_oldest_minutes: Thresholds = (10.0, 60.0)
    queue_dead: Thresholds = (1.0, 20.0)
    errors_per_hour: Thresholds = (10.0, 50.0)
    critical_errors_per_hour: Thresholds = (1.0, 5.0)
    stuck_workflows: Thresholds = (5.0, 20.0)
    inventory_findings: Thresholds = (1.0, 10.0)
    recoveries_in_flight: Thresholds = (5.0, 10.0)
    job_failures: Thresholds = (1.0, 3.0)

    @field_validator(
        "db_latency_ms",
        "telegram_latency_ms",
        "queue_pending",
        "queue_oldest_minutes",
        "queue_dead",
        "errors_per_hour",
        "critical_errors_per_hour",
        "stuck_workflows",
        "inventory_findings",
        "recoveries_in_flight",
        "job_failures",
        mode="before",
    )
    @classmethod
    def _split_thresholds(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [part.strip() for part in value.split(",")]
            try:
                value = tuple(float(part) for part in parts)
            except ValueError:
                value = ()
        if not isinstance(value, tuple | list) or len(value) != 2:
            msg = "must be two numbers 'degraded,unhealthy', e.g. 50,200"
            raise ValueError(msg)
        degraded, unhealthy = (float(v) for v in value)
        if degraded < 0 or unhealthy < degraded:
            msg = "must be 'degraded,unhealthy' with 0 <= degraded <= unhealthy, e.g. 50,200"
            raise ValueError(msg)
        return (degraded, unhealthy)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        # OUTBOX_MAX_ATTEMPTS -> outbox.max_attempts: a group's name is its variables' prefix.
        env_nested_delimiter="_",
        env_nested_max_split=1,
    )

    bot_token: SecretStr | None = None
    database_url: SecretStr = SecretStr("sqlite+aiosqlite:///data/bot.sqlite3")
    admin_ids: Annotated[tuple[int, ...], NoDecode] = ()
    workflows_file: Path = DEFAULT_WORKFLOWS_FILE
    log_level: str = "INFO"
    redis_url: SecretStr | None = None
    default_locale: str = "en"
    max_quantity: int = Field(default=1000, ge=1)
    items_page_size: int = Field(default=8, ge=1, le=20)
    transaction_log_retention_days: int = Field(default=90, ge=1)
    sensitive_values: Annotated[tuple[str, ...], NoDecode] = ()
    max_concurrent_recoveries: int = Field(default=10, ge=1)
    spool_flush_seconds: float = Field(default=5.0, gt=0)  # a file check when empty
    stuck_check_minutes: float = Field(default=30.0, gt=0)
    command_menu_seconds: float = Field(default=60.0, gt=0)
    bulk_actions_per_second: float = Field(default=5.0, gt=0)
    cleanup_hours: float = Field(default=6.0, gt=0)
    job_misfire_grace_seconds: int = Field(default=60, ge=1)
    # How long a person's user row and roles are answered from memory; a change made by
    # another process (replica, command line) is seen after at most this long. 0: always read.
    user_cache_seconds: float = Field(default=30.0, ge=0)
    # How long a confirmation screen's "Yes" stays valid (CONFIRMATION_MINUTES).
    confirmation_minutes: int = Field(default=15, ge=1, le=24 * 60)

    telegram: TelegramSettings = TelegramSettings()
    db: DatabaseBreakerSettings = DatabaseBreakerSettings()
    http: HttpSettings = HttpSettings()
    outbox: OutboxSettings = OutboxSettings()
    error: ErrorSettings = ErrorSettings()
    throttle: ThrottleSettings = ThrottleSettings()
    reconciliation: ReconciliationSettings = ReconciliationSettings()
    webhook: WebhookSettings = WebhookSettings()
    health: HealthSettings = HealthSettings()

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_admin_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [part.strip() for part in value.split(",") if part.strip()]
            try:
                return tuple(int(part) for part in parts)
            except ValueError:
                msg = "must be comma-separated numeric Telegram user ids, e.g. 12345,67890"
                raise ValueError(msg) from None
        if isinstance(value, int):
            return (value,)
        return value

    @field_validator("sensitive_values", mode="before")
    @classmethod
    def _split_sensitive(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        if value.upper() not in LOG_LEVELS:
            msg = f"must be one of {', '.join(LOG_LEVELS)}"
            raise ValueError(msg)
        return value.upper()

    @field_validator("default_locale")
    @classmethod
    def _check_locale(cls, value: str) -> str:
        if value not in SUPPORTED_LOCALES:
            msg = f"must be one of {', '.join(SUPPORTED_LOCALES)}"
            raise ValueError(msg)
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: SecretStr) -> SecretStr:
        url = value.get_secret_value()
        if not url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            msg = (
                "must start with sqlite+aiosqlite:// or postgresql+asyncpg:// "
                "(e.g. postgresql+asyncpg://user:password@host:5432/dbname)"
            )
            raise ValueError(msg)
        return value

    @property
    def database_url_value(self) -> str:
        return self.database_url.get_secret_value()

    def secrets(self) -> list[str]:
        """Values to mask wherever they might appear: in logs, error records, audit rows."""
        values = [*self.sensitive_values]
        if self.webhook.secret is not None:
            values.append(self.webhook.secret.get_secret_value())
        if self.bot_token is not None:
            values.append(self.bot_token.get_secret_value())
        from sqlalchemy.engine import make_url  # here: a config error must not wait for it

        for url in (self.database_url, self.redis_url):
            password = make_url(url.get_secret_value()).password if url else None
            if password:
                values.append(str(password))
        return values

    def require_token(self) -> str:
        if self.bot_token is None or not self.bot_token.get_secret_value().strip():
            msg = (
                "BOT_TOKEN is not set. Create a bot with @BotFather in Telegram "
                "(https://t.me/BotFather, command /newbot), then put the token it gives you "
                "into the environment (export BOT_TOKEN=123456:ABC...) or into a .env file "
                "in the project folder (see .env.example)."
            )
            raise ConfigError(msg)
        return self.bot_token.get_secret_value()


def load_settings(**overrides: object) -> Settings:
    """Build settings, turning pydantic's errors into one message per bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            # ("outbox", "max_attempts") is the variable OUTBOX_MAX_ATTEMPTS
            name = "_".join(str(part) for part in err["loc"]).upper() or "settings"
            lines.append(f"  {name}: {err['msg']}")
        raise ConfigError("Invalid configuration:\n" + "\n".join(lines)) from None
