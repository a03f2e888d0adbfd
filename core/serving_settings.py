"""The settings of the bot's HTTP side: HTTP_* (the health, metrics and webhook server) and
WEBHOOK_* (webhook mode). Groups of `core.settings.Settings`, which the rest of the code reads."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator

# Telegram accepts 1-256 characters of A-Z, a-z, 0-9, _ and - as a webhook secret token.
WEBHOOK_SECRET_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,256}")


class HttpSettings(BaseModel):
    """HTTP_*: the health, metrics and webhook server."""

    host: str = "127.0.0.1"
    # 0 = no HTTP server in polling mode (webhook mode needs one)
    port: int = Field(default=8080, ge=0, le=65535)
    # A second server for /health and /metrics only, apart from the webhook's (0 = none: they
    # are served on HTTP_PORT as before).
    internal_host: str = "127.0.0.1"
    internal_port: int = Field(default=0, ge=0, le=65535)
    # How long one health check answers /health, /metrics and /readyz; concurrent requests
    # share one check. 0 = every request runs its own (the old, unbounded way).
    cache_seconds: float = Field(default=5.0, ge=0, le=300)

    @field_validator("host", "internal_host")
    @classmethod
    def _check_host(cls, value: str) -> str:
        if not value.strip():
            msg = "must be an address to listen on, e.g. 127.0.0.1 or 0.0.0.0"
            raise ValueError(msg)
        return value.strip()

    @model_validator(mode="after")
    def _apart(self) -> HttpSettings:
        if self.internal_port and self.internal_port == self.port:
            msg = (
                "HTTP_INTERNAL_PORT must differ from HTTP_PORT: it is a second server for "
                "/health and /metrics (0 = serve them on HTTP_PORT)"
            )
            raise ValueError(msg)
        return self

    @property
    def internal(self) -> bool:
        """Health and metrics have their own server, apart from the webhook's."""
        return self.internal_port != 0


class WebhookSettings(BaseModel):
    """WEBHOOK_*: both set = webhook mode, both empty = long polling."""

    url: str | None = None
    secret: SecretStr | None = None
    # On SIGTERM, how long the updates in hand may take to finish (their 200 goes after their
    # commit); one still running then is cancelled unanswered, so Telegram sends it again.
    drain_seconds: float = Field(default=10.0, gt=0, le=600)
    # Updates handled at once by this process; past it Telegram is answered 503 and retries.
    max_updates: int = Field(default=40, ge=1, le=1000)
    # An update claimed longer ago than this and not done is taken over by its next delivery
    # (the process handling it died); it must exceed the longest handling of one update.
    claim_seconds: float = Field(default=120.0, gt=0, le=3600)

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc or not parts.path.strip("/"):
            msg = (
                "must be the public https:// URL Telegram posts updates to, with a path, "
                "e.g. https://bot.example.com/telegram/webhook"
            )
            raise ValueError(msg)
        return value.strip()

    @field_validator("secret")
    @classmethod
    def _check_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if not WEBHOOK_SECRET_PATTERN.fullmatch(value.get_secret_value()):
            msg = "must be 1-256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule)"
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _pair(self) -> WebhookSettings:
        if (self.url is None) != (self.secret is None):
            msg = (
                "WEBHOOK_URL and WEBHOOK_SECRET go together: set both for webhook mode, "
                "or neither for long polling"
            )
            raise ValueError(msg)
        return self

    @property
    def enabled(self) -> bool:
        return self.url is not None

    @property
    def path(self) -> str:
        """The local path the HTTP server takes updates at: the path of WEBHOOK_URL."""
        return urlsplit(self.url or "").path or "/"
