"""The sandbox without a browser: its demo data, its JSON API (as the page calls it), the clock
and fault buttons, bad inputs, and the refusal to run next to a real bot token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from bot.cli import EXIT_USAGE, main
from core.enums import (
    DeadReason,
    ErrorCategory,
    HealthComponent,
    HealthStatus,
    NotificationStatus,
    RecoveryAction,
    RequestStatus,
)
from core.settings import ConfigError, Settings
from database.models import (
    ErrorRecord,
    InventoryItem,
    PendingNotification,
    Request,
    WorkflowRecoveryLog,
)
from simulators.sandbox.config import OffsetClock, refuse_real_telegram
from simulators.sandbox.main import Options, open_sandbox
from simulators.sandbox.world import Sandbox
from tests.support.sandbox import sandbox_in

ANNA, BORIS, CARMEN, SUE, ADA, OLAF = 1001, 1002, 1003, 1004, 1005, 1006
MENU = [
    "Stuck workflows (1)",
    "System health",
    "Inventory reconciliation",
    "Error statistics",
    "Notification retries",
    "Recovery log",
]


class Page:
    """The JSON API as the page calls it."""

    def __init__(self, sandbox: Sandbox, http: aiohttp.ClientSession) -> None:
        self.sandbox, self.http = sandbox, http
        self.base = f"http://127.0.0.1:{sandbox.api.port}"

    async def get(self, path: str) -> tuple[int, Any]:
        async with self.http.get(self.base + path) as response:
            return response.status, await response.json()

    async def post(self, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any]:
        if body is not None:
            kwargs["json"] = body
        async with self.http.post(self.base + path, **kwargs) as response:
            return response.status, await response.json()

    async def state(self, person: int) -> dict[str, Any]:
        status, body = await self.get(f"/api/state?person={person}")
        assert status == 200, body
        return dict(body)

    async def say(self, person: int, text: str) -> dict[str, Any]:
        """Send `text` and wait for the bot's answer (a new message or an edit)."""
        mark = self.sandbox.api.mark()
        status, body = await self.post("/api/send", {"person": person, "text": text})
        assert status == 200, body
        await self.answered(person, mark)
        return await self.state(person)

    async def press(self, person: int, label: str) -> dict[str, Any]:
        for message in reversed((await self.state(person))["messages"]):
            for row in message["keyboard"]:
                for button in row:
                    if button["text"] == label:
                        mark = self.sandbox.api.mark()
                        status, body = await self.post(
                            "/api/press",
                            {
                                "person": person,
                                "message_id": message["id"],
                                "data": button["callback_data"],
                            },
                        )
                        assert status == 200, body
                        await self.answered(person, mark)
                        return await self.state(person)
        raise AssertionError(f"no button {label!r} for {person}")

    async def answered(self, person: int, mark: int) -> None:
        methods = {"sendmessage", "editmessagetext"}
        await self.sandbox.api.wait_for(
            lambda c: c.method.lower() in methods and c.chat_id == person and c.ok,
            since=mark,
            what=f"the bot's answer to {person}",
        )


def last_text(state: dict[str, Any]) -> str:
    return str([m for m in state["messages"] if not m["mine"]][-1]["text"])


def last_buttons(state: dict[str, Any]) -> list[str]:
    message = [m for m in state["messages"] if not m["mine"]][-1]
    return [b["text"] for row in message["keyboard"] for b in row]


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[Sandbox]:
    async with sandbox_in(tmp_path / "sandbox") as running:
        yield running


@pytest.fixture
async def page(sandbox: Sandbox) -> AsyncIterator[Page]:
    async with aiohttp.ClientSession() as http:
        yield Page(sandbox, http)


async def rows(sandbox: Sandbox, model: type) -> list[Any]:
    async with sandbox.app.sessionmaker() as session:
        return list((await session.execute(select(model).order_by(model.id))).unique().scalars())


async def test_demo_data_gives_every_recovery_section_something(
    sandbox: Sandbox, page: Page
) -> None:
    items = {i.sku: i.stock for i in await rows(sandbox, InventoryItem)}
    assert items == {"PAPER-A4": 40, "PEN-BLUE": 25, "STAPLER": 5, "TONER-HP": 4, "USB-C": 12}
    requests = [(r.status, r.stage) for r in await rows(sandbox, Request)]
    assert requests == [
        (RequestStatus.ACTIVE, "manager_approval"),  # the stuck one, 30 hours old
        (RequestStatus.ACTIVE, "manager_approval"),
        (RequestStatus.ACTIVE, "warehouse_issue"),
        (RequestStatus.COMPLETED, None),
        (RequestStatus.REJECTED, None),
        (RequestStatus.ACTIVE, "warehouse_issue"),  # Olaf's
    ]
    assert await sandbox.app.stuck.count() == 1
    dead = [
        n for n in await rows(sandbox, PendingNotification) if n.status is NotificationStatus.DEAD
    ]
    assert [n.dead_reason for n in dead] == [DeadReason.BLOCKED]
    assert await sandbox.app.reconciliation.open_count() == 1
    logged = [(r.action, r.request_id, r.reason) for r in await rows(sandbox, WorkflowRecoveryLog)]
    assert (RecoveryAction.NUDGE, 1, "Demo: reminded Boris by hand") in logged
    [refused] = await rows(sandbox, ErrorRecord)
    assert refused.category is ErrorCategory.BUSINESS_LOGIC
    assert last_text(await page.state(ANNA)).startswith("This menu is for admins and support.")
    # Boris (Russian) has the requests waiting for him, in Russian.
    boris = await page.state(BORIS)
    assert any(
        m["text"].startswith("Заявка #2 от Anna ждёт вашего решения") for m in boris["messages"]
    )

    admin = await page.say(ADA, "/workflow_recovery")
    assert last_text(admin) == "Workflow recovery. What needs attention?"
    assert last_buttons(admin) == MENU
    for section, shows in (
        ("Stuck workflows (1)", "#1 Anna · Manager approval · with Boris"),
        ("System health", "1 dead"),
        ("Inventory reconciliation", "Open findings that need a person: 1."),
        ("Error statistics", "By category: business logic 1"),
        ("Notification retries", "Dead: 1"),
        ("Recovery log", "Demo: reminded Boris by hand"),
    ):
        shown = last_text(await page.press(ADA, section))
        assert shows in shown, shown
        await page.press(ADA, "« Back")


async def test_empty_sandbox_has_the_people_and_nothing_else(tmp_path: Path) -> None:
    async with sandbox_in(tmp_path / "empty", demo=False) as sandbox, aiohttp.ClientSession() as h:
        page = Page(sandbox, h)
        state = await page.state(ANNA)
        assert [(p["name"], p["role"], p["language"]) for p in state["people"]] == [
            ("Anna", "employee", "en"),
            ("Boris", "manager", "ru"),
            ("Carmen", "storekeeper", "es"),
            ("Sue", "support", "en"),
            ("Ada", "admin", "en"),
        ]
        assert state["messages"] == []
        assert await rows(sandbox, Request) == []
        assert await rows(sandbox, InventoryItem) == []


async def test_chat_view_buttons_edits_answers_and_command_menus(
    sandbox: Sandbox, page: Page
) -> None:
    state = await page.say(ANNA, "/new_request")
    assert last_text(state) == "Choose an item (page 1 of 1):"
    assert last_buttons(state)[0] == "Blue pens (25 box)"
    menu_id = state["messages"][-1]["id"]
    state = await page.press(ANNA, "Blue pens (25 box)")
    assert last_text(state).startswith("How many of Blue pens do you need?")
    state = await page.say(ANNA, "1")
    state = await page.press(ANNA, "Submit request")
    summary = state["messages"][-1]
    assert summary["edited"] is True  # the summary was edited in place, its keyboard gone
    assert summary["keyboard"] == []
    assert "Request #7 is submitted." in summary["text"]
    assert any(m["id"] == menu_id for m in state["messages"])
    # Boris approves in Russian: the toast is Telegram's callback answer to his press.
    await sandbox.api.wait_for(
        lambda c: c.method == "sendMessage" and c.chat_id == BORIS and "#7" in c.text
    )
    mark = sandbox.api.mark()
    state = await page.press(BORIS, "Одобрить")
    await sandbox.api.wait_for(lambda c: c.method == "answerCallbackQuery", since=mark)
    answers = (await page.state(BORIS))["answers"]
    assert [(a["text"], a["alert"]) for a in answers] == [("Готово.", False)]
    # HTML parse mode arrives as plain text plus entities, which the page renders.
    notice = next(m for m in state["messages"] if "Заявка #7" in m["text"])
    assert notice["entities"] or "<" not in notice["text"]
    menus = {p: [c["command"] for c in (await page.state(p))["commands"]] for p in (ANNA, ADA)}
    assert "workflow_recovery" not in menus[ANNA]
    assert menus[ADA][-1] == "health"
    boris_menu = (await page.state(BORIS))["commands"]
    assert boris_menu[0] == {"command": "new_request", "description": "Запросить товары со склада"}
    await page.post("/api/language", {"person": BORIS, "language": "es"})
    boris_menu = (await page.state(BORIS))["commands"]
    assert boris_menu[0]["description"] != "Запросить товары со склада"


async def test_clock_button_makes_requests_stuck_and_runs_the_jobs(
    sandbox: Sandbox, page: Page, tmp_path: Path
) -> None:
    assert await sandbox.app.stuck.count() == 1
    status, body = await page.post("/api/clock", {"minutes": 25 * 60})
    assert status == 200, body
    assert set(body["jobs"].values()) == {"ok"}
    assert "detect_stuck" in body["jobs"]
    assert await sandbox.app.stuck.count() == 2  # request #2 waited 25 h for Boris
    assert (await page.state(ADA))["clock"]["offset_minutes"] == 25 * 60
    assert OffsetClock(tmp_path / "sandbox" / "clock.json").offset.total_seconds() == 25 * 3600
    report = await sandbox.app.health.check()
    jobs = report.get(HealthComponent.SCHEDULER)
    assert (jobs.status, jobs.details["overdue"]) == (
        HealthStatus.HEALTHY,
        0,
    )  # the scheduler's real-time next runs follow the clock


async def test_fault_buttons_make_the_local_api_fail_for_a_while(
    sandbox: Sandbox, page: Page
) -> None:
    status, body = await page.post("/api/fault", {"kind": "blocked", "seconds": 30, "person": SUE})
    assert (status, body) == (201, {"kind": "blocked", "person": SUE})
    mark = sandbox.api.mark()
    await page.post("/api/send", {"person": SUE, "text": "/help"})
    call = await sandbox.api.wait_for(
        lambda c: c.method == "sendMessage" and c.chat_id == SUE, since=mark
    )
    assert call.status == 403
    faults = (await page.state(SUE))["faults"]
    assert [(f["kind"], f["person"]) for f in faults] == [("blocked", SUE)]
    assert 0 < faults[0]["seconds_left"] <= 30
    await page.post("/api/fault", {"kind": "flood", "seconds": 5})
    assert len((await page.state(SUE))["faults"]) == 2
    assert await page.post("/api/calm", {}) == (200, {"faults": []})
    assert (await page.state(SUE))["faults"] == []
    state = await page.say(SUE, "/help")
    assert last_text(state).startswith("What you can do:")


async def test_add_person(sandbox: Sandbox, page: Page) -> None:
    status, body = await page.post(
        "/api/people", {"name": "  Olga  Ivanova ", "role": "manager", "language": "ru"}
    )
    assert (status, body) == (
        201,
        {"id": 5001, "name": "Olga Ivanova", "role": "manager", "language": "ru"},
    )
    users = {u.telegram_id: u for u in await sandbox.app.users.list_users()}
    assert {r.value for r in users[5001].role_set} >= {"manager"}
    assert any(p["id"] == 5001 for p in (await page.state(ANNA))["people"])
    state = await page.say(5001, "/start")
    assert last_text(state).startswith("Здравствуйте")


BAD_INPUTS: list[tuple[str, str, Any, int, str]] = [
    ("get", "/api/state", None, 400, "person: give the person's numeric id"),
    ("get", "/api/state?person=abc", None, 400, "person: give the person's numeric id"),
    ("get", "/api/state?person=42", None, 404, "person 42 is not in the sandbox"),
    ("get", "/api/state?person=1001&since=x", None, 400, "since:"),
    ("post", "/api/send", "not json", 400, "not valid JSON"),
    ("post", "/api/send", [1, 2], 400, "send a JSON object"),
    ("post", "/api/send", {"person": 1001}, 400, "text: write something"),
    ("post", "/api/send", {"person": 1001, "text": "   "}, 400, "text: write something"),
    ("post", "/api/send", {"person": 1001, "text": "x" * 4097}, 400, "at most 4096"),
    ("post", "/api/send", {"person": True, "text": "hi"}, 400, "person:"),
    ("post", "/api/press", {"person": 1001, "message_id": "1", "data": "x"}, 400, "message_id"),
    ("post", "/api/press", {"person": 1001, "message_id": 999, "data": "x"}, 404, "message 999"),
    ("post", "/api/press", {"person": 1002, "message_id": 1, "data": ""}, 400, "data:"),
    ("post", "/api/press", {"person": 1002, "message_id": 1, "data": "forged"}, 400, "no button"),
    ("post", "/api/people", {"name": "", "role": "admin", "language": "en"}, 400, "name:"),
    ("post", "/api/people", {"name": "X" * 65, "role": "admin", "language": "en"}, 400, "64"),
    ("post", "/api/people", {"name": "Bo", "role": "king", "language": "en"}, 400, "role:"),
    ("post", "/api/people", {"name": "Bo", "role": "admin", "language": "de"}, 400, "language"),
    ("post", "/api/language", {"person": 1001, "language": "fr"}, 400, "language: one of"),
    ("post", "/api/fault", {"kind": "meteor", "seconds": 5}, 400, "kind: one of"),
    ("post", "/api/fault", {"kind": "flood", "seconds": 0}, 400, "between 1 and 600"),
    ("post", "/api/fault", {"kind": "flood", "seconds": "5"}, 400, "seconds: give a number"),
    ("post", "/api/fault", {"kind": "blocked", "seconds": 5}, 400, "person:"),
    ("post", "/api/clock", {"minutes": 0}, 400, "between 1 and 10080"),
    ("post", "/api/clock", {"minutes": 1.5}, 400, "whole number"),
    ("post", "/api/clock", {"minutes": 10081}, 400, "between 1 and 10080"),
    ("get", "/api/send", None, 405, "Method Not Allowed"),
    ("get", "/api/nothing", None, 404, "Not Found"),
]


async def test_bad_inputs_get_a_clear_4xx(sandbox: Sandbox, page: Page) -> None:
    for method, path, body, status, error in BAD_INPUTS:
        if method == "get":
            got = await page.get(path)
        elif isinstance(body, str):
            got = await page.post(path, data=body, headers={"Content-Type": "application/json"})
        else:
            got = await page.post(path, body)
        assert got[0] == status, (path, body, got)
        assert error in got[1]["error"], (path, body, got)
    # Nothing reached the bot: no update was queued for anyone.
    assert sandbox.api.updates == []


async def test_plain_form_body_is_refused(page: Page) -> None:
    status, body = await page.post("/api/send", data={"person": "1001", "text": "hi"})
    assert status == 415
    assert body["error"] == "send a JSON object with Content-Type: application/json"


def test_refuses_a_real_token_aimed_at_telegram() -> None:
    real = Settings(bot_token="123456:ABC", _env_file=None)  # type: ignore[arg-type,call-arg]
    with pytest.raises(ConfigError, match="must never message real people"):
        refuse_real_telegram(real)
    aimed = Settings(
        bot_token="123456:ABC",  # type: ignore[arg-type]
        telegram={"api_url": "https://api.telegram.org"},  # type: ignore[arg-type]
        _env_file=None,  # type: ignore[call-arg]
    )
    with pytest.raises(ConfigError, match=r"api\.telegram\.org"):
        refuse_real_telegram(aimed)
    refuse_real_telegram(Settings(_env_file=None))  # type: ignore[call-arg]
    local = Settings(
        bot_token="123456:ABC",  # type: ignore[arg-type]
        telegram={"api_url": "http://127.0.0.1:8081"},  # type: ignore[arg-type]
        _env_file=None,  # type: ignore[call-arg]
    )
    refuse_real_telegram(local)  # a local Bot API server: not Telegram's


def test_command_line_refuses_with_a_real_token_in_dot_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    monkeypatch.delenv("TELEGRAM_API_URL", raising=False)
    (tmp_path / ".env").write_text("BOT_TOKEN=123456:REAL-TOKEN\n", encoding="utf-8")
    assert main(["sandbox", "--data", str(tmp_path / "sb")]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "the sandbox refuses to start" in err
    assert "must never message real people" in err
    assert "REAL-TOKEN" not in err
    assert not (tmp_path / "sb").exists()  # nothing started, nothing written


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["sandbox", "--port", "http"], "'http' is not a port number"),
        (["sandbox", "--port", "70000"], "a port is a number from 0 to 65535"),
    ],
)
def test_bad_command_line_arguments(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


async def test_a_restart_keeps_the_data_the_people_and_the_clock(tmp_path: Path) -> None:
    folder = tmp_path / "kept"
    async with sandbox_in(folder) as sandbox, aiohttp.ClientSession() as http:
        status, _ = await Page(sandbox, http).post("/api/clock", {"minutes": 60})
        assert status == 200
        await Page(sandbox, http).post("/api/language", {"person": BORIS, "language": "en"})
        await Page(sandbox, http).post(
            "/api/people", {"name": "Olga", "role": "support", "language": "es"}
        )
    async with sandbox_in(folder) as sandbox, aiohttp.ClientSession() as http:
        state = await Page(sandbox, http).state(ANNA)
        assert len(await rows(sandbox, Request)) == 6  # the demo did not run twice
        assert [(p["id"], p["name"], p["role"]) for p in state["people"]][-2:] == [
            (OLAF, "Olaf", "employee"),
            (5001, "Olga", "support"),  # never wrote to the bot: the sandbox kept the name
        ]
        assert state["clock"]["offset_minutes"] == 60
        boris = next(p for p in state["people"] if p["id"] == BORIS)
        assert boris == {"id": BORIS, "name": "Boris", "role": "manager", "language": "en"}
        assert state["messages"] == []  # chats live in the local server's memory only


async def test_a_port_in_use_is_a_clear_error(sandbox: Sandbox, tmp_path: Path) -> None:
    base = Settings(_env_file=None)  # type: ignore[call-arg]
    options = Options(port=sandbox.api.port, data_dir=tmp_path / "second")
    with pytest.raises(ConfigError, match=r"cannot listen on 127\.0\.0\.1:\d+: .*--port"):
        async with open_sandbox(base, options):
            pass
