"""A short chaos run on each engine: nothing lost, no false alarm, the same seed the same run.

The run (bot/chaos/) drives the real app on a simulated clock; its figures come from the
database rows and the local Bot API's calls, so these asserts read ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.chaos.model import Report
from bot.chaos.run import Run
from outbox.sender import CONCURRENCY
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
    assert {"tg_429_burst", "tg_outage", "db_outage", "kill_mid_drain"} <= kinds, kinds
    assert ("db_drop" in kinds) is (backend == "postgresql")
    assert report.data_lost.total == 0, report.data_lost
    assert report.false_positives.total == 0, report.false_positives
    # A process killed between Telegram's answer and the rows' update sends those rows again
    # (the outbox is at-least-once): at most the sends in flight of each kill mid-drain.
    drains = sum(i.kind == "kill_mid_drain" for i in report.incidents)
    assert report.duplicates_sent <= drains * CONCURRENCY
    # Inventory faults wait for the hourly reconciliation, which a short day does not reach.
    machine = [i for i in report.incidents if i.kind.startswith(("tg_", "db_", "kill_"))]
    machine = [i for i in machine if i.effect]
    assert all(i.recovered_at is not None for i in machine), [
        (i.kind, i.detail) for i in machine if i.recovered_at is None
    ]
    outages = [i for i in report.incidents if i.kind == "db_outage"]
    assert all((i.recovery_seconds or 0) <= 30 for i in outages), outages
    if backend == "sqlite":
        again = await short_run(backend, tmp_path / "two")
        assert incidents(again) == incidents(report)
        assert again.summary() == report.summary()
