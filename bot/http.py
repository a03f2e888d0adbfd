"""The HTTP server: liveness, readiness, Prometheus metrics and, in webhook mode, updates."""

from __future__ import annotations

import json
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy.engine import Connection

from bot.factory import App
from database.migrate import alembic_config

APP_KEY = web.AppKey("bot_app", App)
HEAD_KEY = web.AppKey("migration_head", str)


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def readiness(app: App, head: str | None) -> tuple[bool, dict[str, Any]]:
    """Ready = the database answers and its schema is the one this code was written for."""
    try:
        async with app.engine.connect() as conn:
            current = await conn.run_sync(_current_revision)
    except Exception as exc:
        return False, {"database": "unreachable", "error": type(exc).__name__}
    body = {"database": "ok", "revision": current, "head": head}
    return current == head, body


async def healthz(request: web.Request) -> web.Response:
    # Liveness only: the event loop answers. A database outage must not get us restarted.
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    ready, body = await readiness(request.app[APP_KEY], request.app[HEAD_KEY])
    body["status"] = "ready" if ready else "not ready"
    return web.json_response(body, status=200 if ready else 503)


async def metrics(request: web.Request) -> web.Response:
    app = request.app[APP_KEY]
    report = await app.health.check()
    app.metrics.refresh(report, [app.db_breaker, app.telegram_breaker])
    return web.Response(body=app.metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def health_json(request: web.Request) -> web.Response:
    report = await request.app[APP_KEY].health.check()
    body = {"status": report.status.value, "components": report.as_json()}
    return web.Response(text=json.dumps(body, default=str), content_type="application/json")


def create_web_app(
    app: App, dispatcher: Dispatcher | None = None, bot: Bot | None = None
) -> web.Application:
    web_app = web.Application()
    web_app[APP_KEY] = app
    script = ScriptDirectory.from_config(alembic_config(app.settings.database_url_value))
    web_app[HEAD_KEY] = script.get_current_head() or ""
    web_app.router.add_get("/healthz", healthz)
    web_app.router.add_get("/readyz", readyz)
    web_app.router.add_get("/metrics", metrics)
    web_app.router.add_get("/health", health_json)
    settings = app.settings
    if settings.webhook.enabled and dispatcher is not None and bot is not None:
        assert settings.webhook.secret is not None
        # aiogram compares X-Telegram-Bot-Api-Secret-Token and answers 401 on a mismatch.
        SimpleRequestHandler(
            dispatcher=dispatcher,
            bot=bot,
            secret_token=settings.webhook.secret.get_secret_value(),
        ).register(web_app, path=settings.webhook.path)
    return web_app


async def start_http(web_app: web.Application, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


def bound_port(runner: web.AppRunner) -> int:
    return int(runner.addresses[0][1])
