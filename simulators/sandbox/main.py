"""`python -m bot sandbox`: the local Bot API server with the page, and the real bot on it.

One process, one event loop: the server (people's side of Telegram, and the page) starts
first, then the bot exactly as `bot.runner` starts it (factory, dispatcher, middlewares,
scheduler, outbox sender), long polling the server through `TELEGRAM_API_URL`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from bot.runner import running
from core.settings import ConfigError, Settings
from database.migrate import upgrade
from simulators.local_api import LocalBotAPI
from simulators.sandbox.config import (
    DEFAULT_DATA_DIR,
    OffsetClock,
    new_token,
    refuse_real_telegram,
    sandbox_settings,
)
from simulators.sandbox.demo import build_demo, has_data
from simulators.sandbox.people import ADMIN_ID
from simulators.sandbox.web import setup_routes
from simulators.sandbox.world import Sandbox

logger = logging.getLogger(__name__)
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class Options:
    host: str = "127.0.0.1"
    port: int = 8090
    data_dir: Path = DEFAULT_DATA_DIR
    demo: bool = True


@contextlib.asynccontextmanager
async def open_sandbox(base: Settings, options: Options) -> AsyncIterator[Sandbox]:
    """The sandbox, running, until the block ends (the tests use it as it is)."""
    refuse_real_telegram(base)
    options.data_dir.mkdir(parents=True, exist_ok=True)
    token = new_token()
    api = LocalBotAPI(
        token,
        host=options.host,
        port=options.port,
        bot_first_name="Workflow bot (sandbox)",
        bot_username="workflow_sandbox_bot",
    )
    clock = OffsetClock(options.data_dir / "clock.json")
    sandbox = Sandbox(api, clock, options.data_dir / "people.json")
    api.setup_web = lambda app: setup_routes(app, sandbox)
    try:
        await api.start()
    except OSError as exc:
        msg = (
            f"the sandbox cannot listen on {options.host}:{options.port}: {exc.strerror or exc}"
            " (is another sandbox running there? choose another with --port)"
        )
        raise ConfigError(msg) from None
    try:
        settings = sandbox_settings(base, options.data_dir, _api_url(api), ADMIN_ID, token)
        await asyncio.to_thread(upgrade, settings.database_url_value)  # alembic's own loop
        async with running(settings, sandbox.clock) as run:
            await sandbox.attach(run)
            polling = asyncio.create_task(
                run.dp.start_polling(
                    run.bot,
                    handle_signals=False,
                    close_bot_session=False,
                    allowed_updates=run.dp.resolve_used_update_types(),
                ),
                name="sandbox-polling",
            )
            try:
                if options.demo and not await has_data(sandbox):
                    await build_demo(sandbox)
                yield sandbox
            finally:
                with contextlib.suppress(RuntimeError):  # "Polling is not started" yet
                    await run.dp.stop_polling()
                polling.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await polling
    finally:
        await api.close()


def _api_url(api: LocalBotAPI) -> str:
    # The bot in this process reaches the server on the loopback even when it listens wider.
    host = "127.0.0.1" if api.host in ("0.0.0.0", "", *LOOPBACK) else api.host
    return f"http://{host}:{api.port}"


def sandbox_command(args: argparse.Namespace, settings: Settings) -> None:
    """Serves until Ctrl+C or SIGTERM; a refusal raises ConfigError, which the CLI reports."""
    options = Options(host=args.host, port=args.port, data_dir=args.data, demo=not args.empty)
    refuse_real_telegram(settings)  # before anything starts
    asyncio.run(_serve(settings, options))


async def _serve(settings: Settings, options: Options) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if options.host not in LOOPBACK:
        logger.warning(
            "the sandbox listens on %s: anyone who reaches it can act as any person in it",
            options.host,
        )
    async with open_sandbox(settings, options) as sandbox:
        url = f"http://{options.host}:{sandbox.api.port}/"
        print(f"Sandbox running: open {url} in a browser. Ctrl+C stops it.", flush=True)
        await stop.wait()
