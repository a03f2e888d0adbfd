"""Scrapers cannot starve the bot: /health, /metrics and /readyz answer from one shared,
briefly cached check, and HTTP_INTERNAL_PORT moves /health and /metrics off the webhook's port.
Over real HTTP on 127.0.0.1, with the world's FrozenClock as the cache's clock."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.http import bound_port, create_probes, create_web_app, start_http, start_servers
from bot.scheduler import create_scheduler
from core.clock import FrozenClock
from core.settings import ConfigError, HttpSettings, Settings, WebhookSettings, load_settings
from services.health.model import Report
from tests.conftest import World, make_world

SECRET = "probe-secret"


class Counted:
    """Counts health checks and the database sessions they open."""

    def __init__(self, world: World) -> None:
        self.checks = 0
        self.sessions = 0
        health = world.app.health
        check, sessionmaker = health.check, health.sessionmaker

        async def counted_check() -> Report:
            self.checks += 1
            await asyncio.sleep(0.05)  # a check takes a while: the scrapes overlap it
            return await check()

        def counted_sessionmaker(*args: Any, **kwargs: Any) -> Any:
            self.sessions += 1
            return sessionmaker(*args, **kwargs)

        health.check = counted_check  # type: ignore[method-assign]
        health.sessionmaker = counted_sessionmaker  # type: ignore[assignment]


def monotonic_of(clock: FrozenClock) -> Callable[[], float]:
    return lambda: clock.now().timestamp()


@pytest.fixture
async def counted_server(world: World, clock: FrozenClock) -> AsyncIterator[tuple[str, Counted]]:
    create_scheduler(world.app)
    counted = Counted(world)
    probes = create_probes(world.app, monotonic=monotonic_of(clock))
    runner = await start_http(
        create_web_app(world.app, world.dp, world.bot, probes=probes), "127.0.0.1", 0
    )
    try:
        yield f"http://127.0.0.1:{bound_port(runner)}", counted
    finally:
        await runner.cleanup()


async def get_all(urls: list[str]) -> list[int]:
    async with aiohttp.ClientSession() as http:

        async def one(url: str) -> int:
            async with http.get(url) as response:
                await response.read()
                return response.status

        return list(await asyncio.gather(*(one(url) for url in urls)))


async def test_fifty_concurrent_scrapes_run_one_health_check(
    counted_server: tuple[str, Counted], clock: FrozenClock, settings: Settings
) -> None:
    base, counted = counted_server
    statuses = await get_all([f"{base}/{('health', 'metrics')[i % 2]}" for i in range(50)])
    assert statuses == [200] * 50
    assert counted.checks == 1
    burst_sessions = counted.sessions
    # What one check costs, for comparison: one scrape after the cache's time.
    clock.advance(timedelta(seconds=settings.http.cache_seconds))
    await get_all([f"{base}/health"])
    assert counted.checks == 2
    assert burst_sessions == counted.sessions - burst_sessions >= 3


async def test_the_cache_expires_by_the_clock(
    counted_server: tuple[str, Counted], clock: FrozenClock, settings: Settings
) -> None:
    base, counted = counted_server
    ttl = settings.http.cache_seconds
    assert await get_all([f"{base}/health", f"{base}/metrics"]) == [200, 200]
    assert counted.checks == 1
    clock.advance(timedelta(seconds=ttl - 0.5))
    await get_all([f"{base}/health"])
    assert counted.checks == 1  # still fresh
    clock.advance(timedelta(seconds=1))
    await get_all([f"{base}/health", f"{base}/metrics"])
    assert counted.checks == 2


async def test_readiness_is_shared_too(world: World, clock: FrozenClock) -> None:
    checkouts: list[object] = []

    def checked_out(*args: object) -> None:
        checkouts.append(args)

    pool = world.app.engine.sync_engine
    event.listen(pool, "checkout", checked_out)
    probes = create_probes(world.app, monotonic=monotonic_of(clock))
    runner = await start_http(create_web_app(world.app, probes=probes), "127.0.0.1", 0)
    try:
        base = f"http://127.0.0.1:{bound_port(runner)}"
        statuses = await get_all([f"{base}/readyz"] * 50)
    finally:
        await runner.cleanup()
        event.remove(pool, "checkout", checked_out)
    # One answer for all: 503 on a create_all schema, 200 once another test ran the command
    # line (which migrates) against the session's PostgreSQL database.
    assert len(set(statuses)) == 1 and statuses[0] in (200, 503)
    assert len(checkouts) == 1


async def test_cache_seconds_zero_is_the_old_uncached_way(
    settings: Settings, engine: AsyncEngine, clock: FrozenClock
) -> None:
    world = make_world(
        settings.model_copy(update={"http": HttpSettings(cache_seconds=0)}), engine, clock
    )
    counted = Counted(world)
    runner = await start_http(create_web_app(world.app), "127.0.0.1", 0)
    try:
        base = f"http://127.0.0.1:{bound_port(runner)}"
        assert await get_all([f"{base}/health"] * 5) == [200] * 5
    finally:
        await runner.cleanup()
        await world.dp.storage.close()
    assert counted.checks == 5


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def status_of(http: aiohttp.ClientSession, method: str, url: str, **kw: Any) -> int:
    async with http.request(method, url, **kw) as response:
        await response.read()
        return response.status


@pytest.fixture
def internal_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "http": HttpSettings(host="127.0.0.1", port=0, internal_port=free_port()),
            "webhook": WebhookSettings(
                url="https://bot.example.com/tg/hook", secret=SecretStr(SECRET)
            ),
        }
    )


@contextlib.asynccontextmanager
async def servers_of(world: World) -> AsyncIterator[list[str]]:
    runners = await start_servers(world.app, world.dp, world.bot)
    try:
        yield [f"http://127.0.0.1:{bound_port(r)}" for r in runners]
    finally:
        for runner in runners:
            await runner.cleanup()
        await world.dp.storage.close()


async def test_the_internal_port_serves_health_and_the_webhook_port_no_longer_does(
    internal_settings: Settings, engine: AsyncEngine, clock: FrozenClock
) -> None:
    world = make_world(internal_settings, engine, clock)
    create_scheduler(world.app)
    async with servers_of(world) as (public, internal):
        assert internal.endswith(f":{internal_settings.http.internal_port}")
        async with aiohttp.ClientSession() as http:
            # The webhook's port: updates (a wrong secret is still refused) and the probes a
            # load balancer needs, but no health report and no metrics.
            assert await status_of(http, "POST", f"{public}/tg/hook", json={}) == 401
            assert await status_of(http, "GET", f"{public}/healthz") == 200
            assert await status_of(http, "GET", f"{public}/health") == 404
            assert await status_of(http, "GET", f"{public}/metrics") == 404
            # The internal port: health and metrics, no updates.
            assert await status_of(http, "GET", f"{internal}/health") == 200
            assert await status_of(http, "GET", f"{internal}/metrics") == 200
            assert await status_of(http, "GET", f"{internal}/healthz") == 200
            assert await status_of(http, "POST", f"{internal}/tg/hook", json={}) == 404


async def test_without_the_internal_port_one_server_serves_everything(
    settings: Settings, engine: AsyncEngine, clock: FrozenClock
) -> None:
    one = settings.model_copy(update={"http": HttpSettings(port=free_port())})
    world = make_world(one, engine, clock)
    create_scheduler(world.app)
    async with servers_of(world) as servers:
        assert len(servers) == 1
        async with aiohttp.ClientSession() as http:
            for path in ("/healthz", "/health", "/metrics"):
                assert await status_of(http, "GET", servers[0] + path) == 200


async def test_polling_without_any_port_starts_no_server(
    settings: Settings, engine: AsyncEngine, clock: FrozenClock
) -> None:
    world = make_world(settings.model_copy(update={"http": HttpSettings(port=0)}), engine, clock)
    async with servers_of(world) as servers:
        assert servers == []


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"HTTP_PORT": "9000", "HTTP_INTERNAL_PORT": "9000"}, "HTTP_INTERNAL_PORT must differ"),
        ({"HTTP_INTERNAL_PORT": "70000"}, "HTTP_INTERNAL_PORT: Input should be less than"),
        ({"HTTP_CACHE_SECONDS": "-1"}, "HTTP_CACHE_SECONDS: Input should be greater than"),
        ({"HTTP_INTERNAL_HOST": " "}, "HTTP_INTERNAL_HOST: Value error, must be an address"),
    ],
)
def test_bad_http_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as error:
        load_settings(_env_file=None)
    assert expected in str(error.value)


def test_http_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_INTERNAL_HOST", "10.0.0.5")
    monkeypatch.setenv("HTTP_INTERNAL_PORT", "9100")
    monkeypatch.setenv("HTTP_CACHE_SECONDS", "2.5")
    http = load_settings(_env_file=None).http
    assert (http.internal_host, http.internal_port, http.cache_seconds) == ("10.0.0.5", 9100, 2.5)
    assert http.internal
