"""The sandbox's settings, its clock, and the refusal to run next to a real bot token."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from core.settings import ConfigError, Settings

# The sandbox bot's id; its token's secret half is new every run (new_token).
SANDBOX_BOT_ID = 777000
DEFAULT_PORT = 8090
DEFAULT_DATA_DIR = Path("data/sandbox")
TELEGRAM_HOSTS = ("api.telegram.org", "telegram.org")


def new_token() -> str:
    """The token the local Bot API server answers, random per run: a web page cannot guess
    it, so it cannot act as the bot (read people's updates, send in their chats)."""
    return f"{SANDBOX_BOT_ID}:{secrets.token_urlsafe(24)}"


def refuse_real_telegram(settings: Settings) -> None:
    """A real BOT_TOKEN aimed at Telegram in the environment or .env: the sandbox will not
    start, so that a mix-up can never make it message real people."""
    token = settings.bot_token.get_secret_value().strip() if settings.bot_token else ""
    if not token:
        return
    url = settings.telegram.api_url
    host = (urlsplit(url).hostname or "") if url else "api.telegram.org"
    if host in TELEGRAM_HOSTS or host.endswith(".telegram.org"):
        msg = (
            f"the sandbox refuses to start: BOT_TOKEN is set and the Bot API is {host} "
            "(Telegram itself), so a real bot is configured here. The sandbox must never "
            "message real people. Unset BOT_TOKEN (or remove it from .env) to try the sandbox; "
            "scripts/start without --sandbox runs the real bot."
        )
        raise ConfigError(msg)


def sandbox_settings(
    base: Settings, data_dir: Path, api_url: str, admin_id: int, token: str
) -> Settings:
    """The bot's settings in the sandbox: its own token, Bot API, database and spool; no
    webhook, no Redis, no HTTP server of its own (the page is served by the local Bot API)."""
    data_dir = data_dir.resolve()
    return Settings(
        bot_token=token,
        database_url=f"sqlite+aiosqlite:///{data_dir / 'bot.sqlite3'}",
        admin_ids=(admin_id,),
        workflows_file=base.workflows_file,
        log_level=base.log_level,
        default_locale=base.default_locale,
        redis_url=None,
        telegram={"api_url": api_url},
        http={"host": "127.0.0.1", "port": 0},
        webhook={"url": None, "secret": None},
        error={"spool_path": data_dir / "error_spool.jsonl"},
        # Replies in the page at once; the local server has no flood limits unless a fault says.
        outbox={"poll_seconds": 1.0, "per_chat_per_second": 20.0},
        throttle=base.throttle,  # the operator's flood control (THROTTLE_*), to try it here too
        _env_file=None,
    )


class OffsetClock:
    """The system clock plus an offset the page moves forward; kept in a file so a restart
    does not move the sandbox's time back behind its own rows."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.offset = timedelta(0)
        if path is not None and path.exists():
            try:
                seconds = float(json.loads(path.read_text(encoding="utf-8"))["offset_seconds"])
            except (ValueError, KeyError, TypeError) as exc:
                msg = f"{path} is not a sandbox clock file ({exc}); delete it to start over"
                raise ConfigError(msg) from None
            self.offset = timedelta(seconds=seconds)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta
        self._save()

    def shift(self, delta: timedelta) -> None:
        """Move the offset without saving (the demo data's past): `shift` back afterwards."""
        self.offset += delta

    def _save(self) -> None:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            body = {"offset_seconds": self.offset.total_seconds()}
            self.path.write_text(json.dumps(body), encoding="utf-8")
