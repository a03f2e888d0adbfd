"""The HTTP server: liveness, readiness, Prometheus metrics and, in webhook mode, updates.

Health, metrics and readiness are answered from one check shared by every request for
`HTTP_CACHE_SECONDS` (`Probes`), so scrapers cannot take the database pool that people's
updates need; with `HTTP_INTERNAL_PORT` /health and /metrics move to a server of their own,
apart from the webhook's (`create_web_app(..., health=False)` for the webhook's side).
Updates are taken by bot/webhook.py (answered after they are handled); `stop_servers` drains
them before the servers close.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiogram import Bot, Dispatcher
from aiohttp import web
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy.engine import Connection

from bot.factory import App
from bot.webhook import WebhookUpdates
from database.migrate import alembic_config
from services.health.model import Report
from utils.single_flight import CachedCall

Readiness = tuple[bool, dict[str, Any]]


@dataclass(frozen=True)
class Probes:
    """The checks behind the endpoints, each cached and shared by concurrent requests; one
    instance for every server of a process, so two ports still cost one check."""

    health: CachedCall[Report]
    ready: CachedCall[Readiness]
    # The rendered /metrics page (rendering costs ~7 ms: 200 scrapes would spend 1.4 s of the
    # event loop on it), made from the cached report.
    metrics: CachedCall[bytes]


PROBES_KEY = web.AppKey("probes", Probes)
WEBHOOK_KEY = web.AppKey("webhook", WebhookUpdates)


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


def create_probes(app: App, monotonic: Callable[[], float] = time.monotonic) -> Probes:
    script = ScriptDirectory.from_config(alembic_config(app.settings.database_url_value))
    head = script.get_current_head() or ""
    ttl = app.settings.http.cache_seconds
    health = CachedCall(app.health.check, ttl=ttl, clock=monotonic)

    async def render_metrics() -> bytes:
        report = await health.get()
        app.metrics.refresh(report, [app.db_breaker, app.telegram_breaker])
        return app.metrics.render()

    return Probes(
        health=health,
        ready=CachedCall(lambda: readiness(app, head), ttl=ttl, clock=monotonic),
        metrics=CachedCall(render_metrics, ttl=ttl, clock=monotonic),
    )


async def readyz(request: web.Request) -> web.Response:
    ready, body = await request.app[PROBES_KEY].ready.get()
    body = {**body, "status": "ready" if ready else "not ready"}  # the cached dict stays as is
    return web.json_response(body, status=200 if ready else 503)


async def metrics(request: web.Request) -> web.Response:
    body = await request.app[PROBES_KEY].metrics.get()  # at most HTTP_CACHE_SECONDS old
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def health_json(request: web.Request) -> web.Response:
    report = await request.app[PROBES_KEY].health.get()
    body = {"status": report.status.value, "components": report.as_json()}
    return web.Response(text=json.dumps(body, default=str), content_type="application/json")


def create_web_app(
    app: App,
    dispatcher: Dispatcher | None = None,
    bot: Bot | None = None,
    *,
    probes: Probes | None = None,
    health: bool = True,
) -> web.Application:
    """Liveness and readiness always; /health and /metrics unless `health=False` (they are on
    the internal server); updates at the webhook's path when given a dispatcher and a bot in
    webhook mode. Servers of one process share `probes`."""
    web_app = web.Application()
    web_app[PROBES_KEY] = probes or create_probes(app)
    web_app.router.add_get("/healthz", healthz)
    web_app.router.add_get("/readyz", readyz)
    if health:
        web_app.router.add_get("/metrics", metrics)
        web_app.router.add_get("/health", health_json)
    settings = app.settings
    if settings.webhook.enabled and dispatcher is not None and bot is not None:
        assert settings.webhook.secret is not None
        # Compares X-Telegram-Bot-Api-Secret-Token (401 on a mismatch); answers 200 only
        # once the update is handled.
        webhook = WebhookUpdates(
            dispatcher,
            bot,
            secret=settings.webhook.secret.get_secret_value(),
            sessionmaker=app.sessionmaker,
            clock=app.clock,
            max_updates=settings.webhook.max_updates,
            claim_seconds=settings.webhook.claim_seconds,
        )
        webhook.register(web_app, settings.webhook.path)
        web_app[WEBHOOK_KEY] = webhook
    return web_app


async def start_servers(
    app: App, dispatcher: Dispatcher | None = None, bot: Bot | None = None
) -> list[web.AppRunner]:
    """The servers the settings ask for: HTTP_HOST:HTTP_PORT (in webhook mode, or when the
    port is not 0) and, with HTTP_INTERNAL_PORT, the internal one for /health and /metrics."""
    http = app.settings.http
    probes = create_probes(app)
    runners: list[web.AppRunner] = []
    try:
        if app.settings.webhook.enabled or http.port:
            main = create_web_app(app, dispatcher, bot, probes=probes, health=not http.internal)
            runners.append(await start_http(main, http.host, http.port))
        if http.internal:
            internal = create_web_app(app, probes=probes)
            runners.append(await start_http(internal, http.internal_host, http.internal_port))
    except BaseException:
        for runner in runners:
            await runner.cleanup()
        raise
    return runners


async def stop_servers(runners: list[web.AppRunner], drain_seconds: float) -> None:
    """Drain the webhook's updates in hand (bounded by `drain_seconds`; new ones are answered
    503 meanwhile), then close every server."""
    for runner in runners:
        webhook = runner.app.get(WEBHOOK_KEY)
        if webhook is not None:
            await webhook.drain(drain_seconds)
    for runner in runners:
        await runner.cleanup()


async def start_http(web_app: web.Application, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


def bound_port(runner: web.AppRunner) -> int:
    return int(runner.addresses[0][1])
