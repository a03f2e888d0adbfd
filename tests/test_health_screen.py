"""System health in /workflow_recovery, walked by pressing buttons by their labels, as an admin
and as support in English, Russian and Spanish; /health for admins; `python -m bot health`."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from aiogram.methods import EditMessageText, SendMessage

from bot.cli import main
from core.clock import FrozenClock
from core.enums import Role
from tests.conftest import ADMIN_TG_ID, World
from tests.factories import person
from tests.support.client import strip_reference

SUPPORT = 700

SCREENS = {
    "en": ("System health", "🟢 System health: healthy.", "« Back", "Workflow recovery."),
    "ru": ("Состояние системы", "🟢 Состояние системы: исправно.", "« Вернуться", None),
    "es": ("Estado del sistema", "🟢 Estado del sistema: bien.", "« Volver", None),
}


@pytest.fixture(autouse=True)
def steady_database(request: pytest.FixtureRequest) -> None:
    if "world" in request.fixturenames:  # latency figures are not what these tests check
        world: World = request.getfixturevalue("world")
        world.app.health.timer = lambda: 0.0


async def take_snapshots(world: World, clock: FrozenClock) -> None:
    findings = [0]

    async def provider() -> int:
        return findings[0]

    world.app.health.open_findings = provider
    # Taken 30 h (healthy), 4 h (degraded) and 3 h (healthy) before the screen is opened.
    for advance, count in ((0, 0), (26, 3), (1, 0)):
        findings[0] = count
        clock.advance(timedelta(hours=advance))
        await world.app.health.snapshot()
        await world.deliver()  # the change alerts go out, as the running sender would do
    clock.advance(timedelta(hours=3))
    world.app.health.open_findings = world.app.reconciliation.open_count  # as in production


@pytest.mark.parametrize(
    ("who", "language"), [(ADMIN_TG_ID, "en"), (SUPPORT, "ru"), (ADMIN_TG_ID, "es")]
)
async def test_system_health_screen(
    world: World, clock: FrozenClock, who: int, language: str
) -> None:
    await world.app.users.ensure_admins()
    await person(world, SUPPORT, Role.SUPPORT)
    await take_snapshots(world, clock)
    client = world.client(who, "Staff", language_code=language)
    await client.send("/workflow_recovery")
    menu_text = client.last_reply()
    button, rollup, back, _home = SCREENS[language]
    edits_before = len(world.session.calls_of(EditMessageText))
    await client.click(button)
    screen = client.last_reply()
    lines = screen.split("\n")
    assert lines[0] == rollup
    assert len(lines) == 1 + 1 + 8 + 1 + 4  # roll-up, blank, 8 components, blank, trend
    if language == "en":
        assert lines[2].startswith("🟢 Database: answers in ")
        assert lines[3].startswith("🟢 Telegram API: circuit closed; calls take ")
        assert lines[4:10] == [
            "⚪ Background jobs: not measured here (runs inside the bot)",
            "🟢 Notification queue: 0 waiting, 0 retrying, 0 dead; oldest waits 0.0 min",
            "🟢 Errors in the last hour: none",
            "🟢 Stuck workflows: 0 stuck",
            "🟢 Inventory findings: 0 open finding(s)",
            "🟢 Recoveries in flight: 0 running of 10 at most",
        ]
        assert lines[11] == "Last 24 hours, one mark per hour, oldest first:"
        # The snapshot of 30 h ago is out of the window; 5 h ago degraded, 4 h ago healthy.
        assert lines[12] == "⚪" * 20 + "🟡🟢" + "⚪" * 2
        assert lines[13] == "2 snapshots: 1 healthy, 1 degraded, 0 unhealthy."
    if language == "ru":
        assert "🟢 Расхождения склада: открытых расхождений: 0" in screen
        assert "Снимков: 2; исправно: 1, с перебоями: 1, неисправно: 0." in screen
    assert len(client.buttons()) == 2 and client.buttons()[-1] == back  # Refresh, Back
    await client.click(back)
    assert client.last_reply() == menu_text
    # Everything after the command edited the one menu message in place.
    assert len(world.session.calls_of(EditMessageText)) == edits_before + 2
    assert not [
        c for c in world.session.calls_of(SendMessage) if c.chat_id == who and c.text == screen
    ]


async def test_requesters_cannot_open_it(world: World) -> None:
    await person(world, 321, Role.REQUESTER)
    client = world.client(321, "Ann")
    await client.send("/health")
    assert strip_reference(client.last_reply()) == "Only admins can see system health."


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "🟢 System health: healthy."),
        ("ru", "🟢 Состояние системы: исправно."),
    ],
)
async def test_health_command_for_admins(world: World, language: str, expected: str) -> None:
    await world.app.users.ensure_admins()
    client = world.client(ADMIN_TG_ID, "Root", language_code=language)
    await client.send("/health")
    assert client.last_reply() == expected

    async def provider() -> int:
        return 100

    world.app.health.open_findings = provider
    await client.send("/health")
    if language == "en":
        assert client.last_reply() == (
            "🔴 System health: unhealthy. Needs attention: Inventory findings."
        )


async def test_support_may_not_use_health_command(world: World) -> None:
    await person(world, SUPPORT, Role.SUPPORT)
    client = world.client(SUPPORT, "Sue")
    await client.send("/health")
    assert strip_reference(client.last_reply()) == "Only admins can see system health."


# -- python -m bot health ---------------------------------------------------------------------


def test_cli_health_exit_codes(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    fresh_database_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", fresh_database_url)
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    assert main(["migrate"]) == 0
    capsys.readouterr()

    assert main(["health"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "🟢 System health: healthy."
    assert out[1].startswith("🟢 Database: answers in ")
    assert out[2:] == [
        "⚪ Telegram API: not measured here (runs inside the bot)",
        "⚪ Background jobs: not measured here (runs inside the bot)",
        "🟢 Notification queue: 0 waiting, 0 retrying, 0 dead; oldest waits 0.0 min",
        "🟢 Errors in the last hour: none",
        "🟢 Stuck workflows: 0 stuck",
        "🟢 Inventory findings: 0 open finding(s)",
        "⚪ Recoveries in flight: not measured here (runs inside the bot)",
    ]

    # Any latency at all counts as degraded with these thresholds; then as unhealthy.
    monkeypatch.setenv("HEALTH_DB_LATENCY_MS", "0,100000")
    assert main(["health"]) == 1
    assert capsys.readouterr().out.startswith(
        "🟡 System health: degraded. Needs attention: Database."
    )
    monkeypatch.setenv("HEALTH_DB_LATENCY_MS", "0,0")
    assert main(["health"]) == 2
    assert capsys.readouterr().out.startswith("🔴 System health: unhealthy.")


def test_cli_health_with_the_database_down(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://nobody@127.0.0.1:1/none")
    assert main(["health"]) == 2
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "🔴 System health: unhealthy. Needs attention: Database."
    assert out[1].startswith("🔴 Database: check failed (")
    assert "⚪ Notification queue: not checked: the database is unreachable" in out


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "🟢 Errors in the last hour: none; 3 refused actions, not counted"),
        ("ru", "🟢 Ошибки за последний час: нет; 3 отказа в доступе, не учитываются"),
        ("es", "🟢 Errores en la última hora: ninguno; 3 acciones denegadas, no se cuentan"),
    ],
)
async def test_refusals_show_apart_and_do_not_grade(
    world: World, language: str, expected: str
) -> None:
    await world.app.users.ensure_admins()
    stranger = world.client(555, "Stranger")
    for _ in range(3):
        await stranger.send("/workflow_recovery")
    admin = world.client(ADMIN_TG_ID, "Root", language_code=language)
    await admin.send("/workflow_recovery")
    await admin.click(SCREENS[language][0])
    assert expected in admin.last_reply().split("\n")
