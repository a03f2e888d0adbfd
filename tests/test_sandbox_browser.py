"""The sandbox in a real browser (Debian's headless chromium, driven by Playwright), used as a
person would: an employee's request, the manager's approval, the clock button, and an admin
forcing it through /workflow_recovery with a reason; once as the people come prepared and once
after they switched their app's language. Buttons are pressed by their visible labels."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect
from sqlalchemy import select

from core.enums import RequestStatus, TransitionAction
from database.models import Request, RequestTransition
from simulators.sandbox.world import Sandbox
from tests.support.sandbox import sandbox_in, translate

CHROMIUM = Path("/usr/bin/chromium")
ANNA, BORIS, ADA = "Anna", "Boris", "Ada"
# SANDBOX_SCREENSHOT=docs/img/sandbox-admin.png keeps the admin menu's picture for the README.
SCREENSHOT = os.environ.get("SANDBOX_SCREENSHOT")


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    assert CHROMIUM.exists(), "no /usr/bin/chromium: run scripts/setup test (it installs it)"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield browser
        await browser.close()


class Person:
    """The page as one person sees it, in their language."""

    def __init__(self, page: Page, sandbox: Sandbox, name: str, locale: str) -> None:
        self.page, self.sandbox, self.name, self.locale = page, sandbox, name, locale

    def t(self, msgid: str) -> str:
        return translate(self.sandbox.app.i18n, self.locale, msgid)

    def pattern(self, msgid: str) -> re.Pattern[str]:
        """The translated text with its {placeholders} matching anything: a regex."""
        parts = re.split(r"\{[a-z_]+\}", self.t(msgid))
        return re.compile(".+?".join(re.escape(p) for p in parts))

    async def open(self) -> None:
        await self.page.locator("#people button", has_text=self.name).click()
        await expect(self.page.locator("#who")).to_contain_text(self.name)
        language = self.page.locator("#language")
        if await language.input_value() != self.locale:
            await language.select_option(self.locale)
            await expect(self.page.locator("#people button.current")).to_contain_text(self.locale)

    async def send(self, text: str) -> None:
        await self.page.locator("#text").fill(text)
        await self.page.locator("#text").press("Enter")

    async def press(self, label: str | re.Pattern[str], within: str | None = None) -> None:
        scope = self.page.locator("#messages li")
        if within is not None:
            scope = scope.filter(has_text=within)
        await scope.get_by_role("button", name=label, exact=True).last.click()

    async def sees(self, text: str | re.Pattern[str]) -> str:
        bubble = self.page.locator("#messages .message").filter(has_text=text).last
        await expect(bubble).to_be_visible()
        return await bubble.inner_text()


async def story(
    page: Page, sandbox: Sandbox, languages: dict[str, str], reason: str, *, first_round: bool
) -> int:
    anna, boris, ada = (Person(page, sandbox, n, languages[n]) for n in (ANNA, BORIS, ADA))
    for person in (boris, ada, anna):  # each in their app's language before anything is sent
        await person.open()
    await anna.send("/new_request")
    await anna.press(re.compile(r"^Paper A4 \("))
    await anna.sees(anna.pattern("How many of {item} do you need? In stock: {stock} {unit}."))
    await anna.send("2")
    await anna.press(anna.t("Submit request"))
    submitted = await anna.sees(
        anna.pattern("Request #{request_id} is submitted. It is now at {stage}, with {assignee}.")
    )
    request_id = int(re.findall(r"#(\d+)", submitted)[-1])

    await boris.open()
    if first_round:
        # An old notice's button (request #4 is completed): Telegram's alert box, with OK.
        await boris.press(boris.t("Approve"), within="#4 ")
        alert = page.locator("#alert")
        await expect(alert).to_be_visible()
        await expect(alert).to_contain_text(
            boris.t("This request is no longer waiting for that action.")
        )
        await alert.get_by_role("button", name="OK").click()
        await expect(alert).to_be_hidden()
    waiting = f"#{request_id} "
    await boris.press(boris.t("Approve"), within=waiting)
    await expect(page.locator("#toast")).to_have_text(boris.t("Done."))
    await boris.sees(boris.pattern("Approved. Request #{request_id} moved to {stage}."))

    await page.get_by_role("button", name="+2 days").click()
    await expect(page.locator("#toast")).to_contain_text("Clock moved on; jobs ran.")

    await ada.open()
    # The `/` menu: her staff commands, described in her language; a tap sends the command.
    await page.locator("#menu-button").click()
    entry = page.locator("#menu button", has_text="/workflow_recovery")
    await expect(entry).to_contain_text(ada.t("Stuck requests, errors, recovery log"))
    await entry.click()
    await ada.sees(ada.t("Workflow recovery. What needs attention?"))
    if SCREENSHOT and languages[ADA] == "en":
        await expect(page.locator("#toast")).to_be_hidden()
        await page.screenshot(path=SCREENSHOT)
    await ada.press(ada.pattern("Stuck workflows ({count})"))
    await ada.press(f"#{request_id}")
    await ada.sees(ada.pattern("Request #{request_id}: {status}, at {stage}, with {assignee}."))
    await ada.press(f"{ada.t('Force complete')} · {ada.t('high risk')}")
    await ada.sees(ada.t("Why? Choose a reason or type your own."))
    await ada.send(reason)
    confirm = await ada.sees(ada.pattern("Please confirm: {action} ({risk})."))
    assert reason in confirm
    await ada.press(ada.t("Confirm"))
    await ada.sees("✅ " + ada.t("Done."))
    return request_id


async def test_a_request_from_employee_to_forced_completion_in_two_languages(
    browser: Browser, tmp_path: Path
) -> None:
    async with sandbox_in(tmp_path / "sandbox") as sandbox:
        page = await browser.new_page(viewport={"width": 1280, "height": 800})
        page.set_default_timeout(10_000)
        expect.set_options(timeout=10_000)
        await page.goto(f"http://127.0.0.1:{sandbox.api.port}/?person=1001")
        prepared = {ANNA: "en", BORIS: "ru", ADA: "en"}
        first = await story(page, sandbox, prepared, "Handed over at the desk", first_round=True)
        switched = {ANNA: "es", BORIS: "en", ADA: "ru"}
        second = await story(
            page, sandbox, switched, "Выдано на складе вручную", first_round=False
        )
        async with sandbox.app.sessionmaker() as session:
            requests = {
                r.id: r
                for r in (await session.execute(select(Request))).unique().scalars()
                if r.id in (first, second)
            }
            forced = (
                await session.execute(
                    select(RequestTransition).where(
                        RequestTransition.action == TransitionAction.FORCE_COMPLETE
                    )
                )
            ).scalars()
            reasons = {t.request_id: t.reason for t in forced}
        assert {r.status for r in requests.values()} == {RequestStatus.COMPLETED}
        assert reasons == {
            first: "Handed over at the desk",
            second: "Выдано на складе вручную",
        }
        await page.close()
