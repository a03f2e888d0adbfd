"""A short chaos run on each engine: nothing lost, no false alarm, the same seed the same run.

The run (simulators/chaos/) drives the real app on a simulated clock; its figures come from the
database rows and the local Bot API's calls, so these asserts read ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.cli.parser import build_parser
from outbox.sender import CONCURRENCY
from simulators.chaos.model import Report
from simulators.chaos.run import Run
from tests.support.db import PG_ADMIN_URL

SEED, REQUESTS, HOURS = 3, 6, 0.4


async def short_run(backend: str, folder: Path) -> Report:
    url = PG_ADMIN_URL if backend == "postgresql" else None
    return await Run(SEED, REQUESTS, HOURS, folder, url).execute()


def incidents(report: Report) -> list[tuple[Any, ...]]:
    return [(i.kind, round(i.injected_at), i.detail.split(" (")[0]) for i in report.incidents]


async def test_short_chaos_run_loses_nothing_and_raises_no_false_alarm(
    backend: str, tmp_path: Path
) -> None:
    report = await short_run(backend, tmp_path / "one")
    kinds = {i.kind for i in report.incidents}
    assert {"tg_429_burst", "tg_outage", "tg_timeout", "db_outage", "db_lock_conflict"} <= kinds
    assert {"kill_mid_drain", "kill_mid_reconciliation", "inv_orphan"} <= kinds, kinds
    assert ("db_drop" in kinds) is (backend == "postgresql")
    assert report.data_lost.total == 0, report.data_lost
    assert report.false_positives.total == 0, report.false_positives
    # A process killed between Telegram's answer and the rows' update sends those rows again
    # (the outbox is at-least-once): at most the sends in flight of each kill mid-drain.
    drains = sum(i.kind == "kill_mid_drain" for i in report.incidents)
    assert report.duplicates_sent <= drains * CONCURRENCY
    # Inventory faults too: the watch sees them within seconds (not the hourly run).
    machine = [i for i in report.incidents if i.effect and not i.needs_person]
    assert all(i.recovered_at is not None for i in machine), [
        (i.kind, i.detail) for i in machine if i.recovered_at is None
    ]
    outages = [i for i in report.incidents if i.kind == "db_outage"]
    assert all((i.recovery_seconds or 0) <= 30 for i in outages), outages
    if backend == "sqlite":
        again = await short_run(backend, tmp_path / "two")
        assert incidents(again) == incidents(report)
        assert again.summary() == report.summary()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--hours", "0.5"], "the day lasts from 1 to 24 hours"),
        (["--hours", "many"], "'many' is not a number of hours"),
        (["--requests", "0"], "must be at least 1"),
        (["--seed", "x"], "invalid int value"),
    ],
)
def test_chaos_arguments_are_checked(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc_info:
        build_parser().parse_args(["chaos", *argv])
    assert exc_info.value.code == 2
    assert message in capsys.readouterr().err


async def test_a_reply_that_gets_429_waits_and_is_sent_again() -> None:
    """While an update is handled, a 429 is waited out (the simulated sleep records it); the
    outbox's sends (no update in hand) are left to their own schedule."""
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.exceptions import TelegramRetryAfter

    from bot.telegram import ReplyRetryMiddleware
    from core.context import HANDLING_UPDATE
    from simulators.local_api import LocalBotAPI

    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async with LocalBotAPI("42:T") as api:
        session = AiohttpSession()
        session.api = TelegramAPIServer.from_base(api.base_url)
        bot = Bot("42:T", session=session)
        bot.session.middleware(ReplyRetryMiddleware(sleep))
        try:
            api.fail_next("sendMessage", 429, retry_after=7)
            with pytest.raises(TelegramRetryAfter):
                await bot.send_message(5, "from the outbox")
            api.fail_next("sendMessage", 429, retry_after=7, times=2)
            token = HANDLING_UPDATE.set(True)
            try:
                sent = await bot.send_message(5, "a reply")
                api.fail_next("sendMessage", 429, retry_after=61)
                with pytest.raises(TelegramRetryAfter):  # 61 s: past the 60 s a reply may wait
                    await bot.send_message(5, "too long a wait")
            finally:
                HANDLING_UPDATE.reset(token)
        finally:
            await bot.session.close()
    assert sent.text == "a reply"
    assert waits == [7.0, 7.0]
    assert [c.status for c in api.calls_of("sendMessage")] == [429, 429, 429, 200, 429]
