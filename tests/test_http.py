"""The HTTP server, over real HTTP on 127.0.0.1: /healthz, /readyz, /metrics, webhook updates;
and the operator files (alert rules, dashboard) only name metrics /metrics really exports."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from aiogram.methods import SendMessage
from alembic.script import ScriptDirectory
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.http import bound_port, create_probes, create_web_app, start_http
from bot.scheduler import create_scheduler
from core.clock import FrozenClock
from core.settings import Settings, WebhookSettings
from database.migrate import alembic_config, upgrade
from tests.conftest import World, make_world
from tests.support import db

ROOT = Path(__file__).resolve().parent.parent
SECRET = "s3cret-token_1"

# The newest migration: what a migrated database must be at.
HEAD = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


@pytest.fixture
async def served(world: World, clock: FrozenClock) -> AsyncIterator[str]:
    create_scheduler(world.app)  # registers the jobs (and their series), as the runner does
    # The health report is cached on the world's clock (HTTP_CACHE_SECONDS).
    probes = create_probes(world.app, monotonic=lambda: clock.now().timestamp())
    web_app = create_web_app(world.app, world.dp, world.bot, probes=probes)
    runner = await start_http(web_app, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{bound_port(runner)}"
    finally:
        await runner.cleanup()


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def test_liveness(served: str) -> None:
    assert await get(f"{served}/healthz") == (200, '{"status": "ok"}')


async def test_not_ready_without_migrations(served: str) -> None:
    # The test schema is made with create_all: no alembic revision, so not at head.
    status, body = await get(f"{served}/readyz")
    assert status == 503
    assert json.loads(body) == {
        "database": "ok",
        "revision": None,
        "head": HEAD,
        "status": "not ready",
    }


async def test_ready_when_migrated(
    fresh_database_url: str, settings: Settings, clock: FrozenClock
) -> None:
    await asyncio.to_thread(upgrade, fresh_database_url)
    engine: AsyncEngine = db.new_engine(fresh_database_url)
    world = make_world(settings, engine, clock)
    runner = await start_http(create_web_app(world.app), "127.0.0.1", 0)
    try:
        base = f"http://127.0.0.1:{bound_port(runner)}"
        status, body = await get(f"{base}/readyz")
        assert (status, json.loads(body)) == (
            200,
            {"database": "ok", "revision": HEAD, "head": HEAD, "status": "ready"},
        )
    finally:
        await runner.cleanup()
        await world.dp.storage.close()
        await engine.dispose()


async def test_not_ready_when_the_database_is_unreachable(
    settings: Settings, clock: FrozenClock
) -> None:
    engine = db.new_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    world = make_world(settings, engine, clock)
    runner = await start_http(create_web_app(world.app), "127.0.0.1", 0)
    try:
        status, body = await get(f"http://127.0.0.1:{bound_port(runner)}/readyz")
    finally:
        await runner.cleanup()
        await world.dp.storage.close()
        await engine.dispose()
    assert status == 503
    assert json.loads(body)["database"] == "unreachable"


def metric_value(text: str, series: str) -> float:
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{series} not in /metrics")


async def test_metrics_count_what_happens(
    served: str, world: World, clock: FrozenClock, settings: Settings
) -> None:
    await world.client(4242, "Zoe").send("/start")
    status, text = await get(f"{served}/metrics")
    assert status == 200
    assert metric_value(text, 'bot_updates_total{type="message"}') == 1.0
    assert metric_value(text, 'bot_breaker_state{breaker="telegram"}') == 0.0
    assert metric_value(text, 'bot_breaker_state{breaker="database"}') == 0.0
    assert metric_value(text, 'bot_queue_depth{status="pending"}') == 0.0
    assert metric_value(text, "bot_health_status") == 0.0
    # 0: healthy, reconciliation's count is known in production (-1 would be unknown)
    assert metric_value(text, 'bot_health_component_status{component="inventory"}') == 0.0
    assert metric_value(text, 'bot_errors_total{category="system",severity="high"}') == 0.0
    assert metric_value(text, 'bot_notifications_total{outcome="sent"}') == 0.0
    assert metric_value(text, 'bot_notifications_total{outcome="lost"}') == 0.0  # claims lost
    assert metric_value(text, "bot_telegram_api_latency_seconds_count") == 1.0  # the reply
    # An error and a delivered notification move their counters.
    from services.failures.classify import FailureContext

    await world.app.recorder.record(RuntimeError("boom"), FailureContext(source="test"))
    # /metrics is rendered once per HTTP_CACHE_SECONDS: the next one shows the error.
    clock.advance(timedelta(seconds=settings.http.cache_seconds))
    _, text = await get(f"{served}/metrics")
    errors = [
        line
        for line in text.splitlines()
        if line.startswith("bot_errors_total{") and not line.endswith(" 0.0")
    ]
    assert len(errors) == 1 and errors[0].endswith(" 1.0")
    assert (
        sum(
            metric_value(text, f'bot_errors_last_hour{{category="{c}",severity="{s}"}}')
            for c, s in [tuple(re.findall(r'"([a-z_]+)"', errors[0]))]
        )
        == 1.0
    )


def exported_names(metrics_text: str) -> set[str]:
    return {
        line.split("{")[0].split(" ")[0]
        for line in metrics_text.splitlines()
        if line and not line.startswith("#")
    }


def rule_expressions(path: Path) -> list[str]:
    """A tiny reader for the one shape our rules file has: `expr:` on a single line."""
    try:
        import yaml  # type: ignore[import-untyped]
    except ImportError:
        return [
            line.split("expr:", 1)[1].strip()
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip().startswith("expr:")
        ]
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [rule["expr"] for group in data["groups"] for rule in group["rules"]]


def metric_names_in(expr: str) -> set[str]:
    return set(re.findall(r"\bbot_[a-z_]+\b", expr))


async def test_alert_rules_and_dashboard_use_exported_metrics(served: str) -> None:
    _, text = await get(f"{served}/metrics")
    exported = exported_names(text)
    rules = rule_expressions(ROOT / "ops" / "prometheus" / "alerts.yml")
    assert len(rules) == 7
    alerts = re.findall(
        r"alert: (\w+)", (ROOT / "ops" / "prometheus" / "alerts.yml").read_text("utf-8")
    )
    runbook = (ROOT / "docs" / "runbook.md").read_text("utf-8")
    for name in alerts:
        assert name in runbook, f"{name} is not in the runbook"
    for expr in rules:
        names = metric_names_in(expr)
        assert names, expr
        assert names <= exported, f"{expr}: {names - exported} not exported"
    dashboard = json.loads((ROOT / "ops" / "grafana" / "dashboard.json").read_text("utf-8"))
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    for expr in exprs:
        assert metric_names_in(expr) <= exported, expr


async def test_each_app_has_its_own_registry(
    world: World, settings: Settings, clock: FrozenClock
) -> None:
    other = make_world(settings, world.app.engine, clock)
    world.app.metrics.updates.labels("message").inc()
    assert b'bot_updates_total{type="message"} 1.0' in world.app.metrics.render()
    assert b'bot_updates_total{type="message"} 0.0' in other.app.metrics.render()
    await other.dp.storage.close()


@pytest.fixture
def webhook_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "webhook": WebhookSettings(
                url="https://bot.example.com/tg/hook", secret=SecretStr(SECRET)
            ),
        }
    )


async def test_webhook_takes_updates_with_the_right_secret(
    webhook_settings: Settings, engine: AsyncEngine, clock: FrozenClock
) -> None:
    world = make_world(webhook_settings, engine, clock)
    runner = await start_http(create_web_app(world.app, world.dp, world.bot), "127.0.0.1", 0)
    update = {
        "update_id": 1,
        "message": {
            "message_id": 1,
            "date": 1700000000,
            "chat": {"id": 555, "type": "private", "first_name": "Wes"},
            "from": {"id": 555, "is_bot": False, "first_name": "Wes", "language_code": "en"},
            "text": "/start",
        },
    }
    url = f"http://127.0.0.1:{bound_port(runner)}/tg/hook"
    try:
        async with aiohttp.ClientSession() as http:
            wrong = {"X-Telegram-Bot-Api-Secret-Token": "nope"}
            async with http.post(url, json=update, headers=wrong) as response:
                assert response.status == 401
            async with http.post(url, json={**update, "update_id": 2}) as response:
                assert response.status == 401  # no header at all
            assert world.session.calls_of(SendMessage) == []
            right = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
            async with http.post(url, json={**update, "update_id": 3}, headers=right) as response:
                assert response.status == 200
            for _ in range(100):
                if world.session.calls_of(SendMessage):
                    break
                await asyncio.sleep(0.02)
        [reply] = world.session.calls_of(SendMessage)
        assert reply.chat_id == 555 and reply.text.startswith("Hello, Wes!")
    finally:
        await runner.cleanup()
        await world.dp.storage.close()
