"""End to end, as the hostile-input report tried it: `python -m bot` as README starts it, long
polling the local Bot API; a stranger floods a staff command and an employee forges buttons.
Nobody pages the admins, nothing is recorded as a failure, and the flood is answered once."""

from __future__ import annotations

import asyncio
import io
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from bot import cli
from simulators.local_api import FakeUser, LocalBotAPI
from tests.test_e2e import (  # noqa: F401 (api, database_url: the fixtures it uses)
    ADMIN_ID,
    REQUESTER,
    api,
    database_url,
    expect,
    prepare,
    query_db,
    running_bot,
    say,
    sent,
)

pytestmark = pytest.mark.e2e

STRANGER = FakeUser(777, "Eve")
FLOOD = 60
BURST = 10  # THROTTLE_BURST's default: what a person may send at once before the notice
FORGED = (
    "mr:99999999999999999999",
    "dc:a:99999999999999999999:1",
    "it:99999999999999999999",
    "ip:-2",
    "wt:1:1:99999999999999999999",
)


async def test_a_flood_and_forged_buttons_page_nobody_and_record_no_failure(
    api: LocalBotAPI,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
    database_url: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await prepare(tmp_path, database_url, monkeypatch)
    async with running_bot(api, database_url, tmp_path) as bot:
        await say(api, bot, REQUESTER, "/start", "Hello, Rita!")
        start = api.mark()
        # Forged buttons under the requester's own message: the stale answer, nothing else.
        shown = api.push_message(REQUESTER, "/help")
        await expect(api, bot, sent("sendMessage", REQUESTER.id), "the help", since=start)
        for data in FORGED:
            query = api.push_callback(REQUESTER, shown, data)
            await expect(
                api,
                bot,
                lambda c, q=query: (
                    c.method == "answerCallbackQuery" and c.params.get("callback_query_id") == q
                ),
                f"the answer to {data}",
                since=start,
            )
            assert api.callback_answers[query][-1]["text"] == (
                "This button is no longer active. Start again from the menu: /help"
            )

        flood = api.mark()
        for _ in range(FLOOD):
            api.push_message(STRANGER, "/workflow_recovery")
        await expect(
            api,
            bot,
            sent("sendMessage", STRANGER.id, "You are sending a lot at once"),
            "the flood notice",
            since=flood,
        )
        # Updates are taken in order: once Rita's later one is answered, the flood was read.
        await say(api, bot, REQUESTER, "/help", "")
        await asyncio.sleep(0.5)  # the last refusals' records are written after their replies

        to_stranger = api.texts_to(STRANGER.id, since=flood)
        notices = [t for t in to_stranger if t.startswith("You are sending a lot at once")]
        refusals = [t for t in to_stranger if "for admins and support" in t]
        assert len(notices) == 1, to_stranger
        assert len(refusals) == BURST, to_stranger
        assert len(to_stranger) == BURST + 1
        assert api.texts_to(ADMIN_ID) == []  # nobody was paged

    # What the bot stored: one audited refusal record; no failure, no alert, no notification.
    records = query_db(database_url, "SELECT category, severity, count FROM error_records")
    assert records == [("business_logic", "medium", BURST)], records
    [(occurrences,)] = query_db(database_url, "SELECT count(*) FROM error_occurrences")
    assert occurrences <= 5  # ERROR_OCCURRENCES_PER_MINUTE
    assert query_db(database_url, "SELECT count(*) FROM pending_notifications") == [(0,)]

    out = io.StringIO()
    with redirect_stdout(out):
        await asyncio.to_thread(cli.main, ["health"])
    health = out.getvalue()
    assert "Errors in the last hour: none; 10 refused actions, not counted" in health, health
