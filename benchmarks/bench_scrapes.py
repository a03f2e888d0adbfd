"""Button presses while 200 scrapers hit /metrics, side by side in one run: no scrapes; 200
concurrent scrapers with the health report cached (HTTP_CACHE_SECONDS, default 5 s, one
check shared by concurrent requests); the same scrapers with HTTP_CACHE_SECONDS=0, every
request running its own health check (the behaviour before the cache).

Run from the project root:

    .venv/bin/python benchmarks/bench_scrapes.py              # SQLite (a temporary file)
    .venv/bin/python benchmarks/bench_scrapes.py --postgres   # and PostgreSQL
    BENCH_POSTGRES_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python benchmarks/bench_scrapes.py

The bot is built as production builds it (create_app, create_dispatcher, the real HTTP server
from bot/http.py on 127.0.0.1) with bench_dispatch.py's Telegram that answers at once. People
press "next page" under /my_requests (a callback update fed to the Dispatcher: the user, the
handler, its query, the edit); each press is timed from feed to answer. The scrapers run in a
separate process (as Prometheus would), each sending GET /metrics again as soon as the last one
is answered, so 200 are always in flight. Figures: press latency p50/p99/max, scrapes answered
per second, health checks run.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event as ProcessEvent
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script, not installed

import aiohttp
from aiogram import Bot, Dispatcher
from aiogram.types import Update

from benchmarks.bench_dispatch import (
    DATE,
    USER_ID,
    add_postgres_option,
    build_app,
    create_pg_database,
)
from bot.factory import App
from bot.http import bound_port, create_probes, create_web_app, start_http
from bot.scheduler import create_scheduler
from core.settings import HttpSettings
from handlers.callbacks import MyRequestsPage

SCRAPERS = 200


def press_update(update_id: int) -> Update:
    return Update.model_validate(
        {
            "update_id": update_id,
            "callback_query": {
                "id": f"q{update_id}",
                "from": {"id": USER_ID, "is_bot": False, "first_name": "Ann"},
                "chat_instance": "ci",
                "data": MyRequestsPage(page=1).pack(),
                "message": {
                    "message_id": 1,
                    "date": DATE,
                    "chat": {"id": USER_ID, "type": "private"},
                    "from": {"id": 4242, "is_bot": True, "first_name": "bot"},
                    "text": "Your requests",
                },
            },
        }
    )


# -- the scrapers' process --------------------------------------------------------------------


def scrape(url: str, scrapers: int, ready: ProcessEvent, stop: ProcessEvent, done: Any) -> None:
    asyncio.run(_scrape(url, scrapers, ready, stop, done))


async def _scrape(
    url: str, scrapers: int, ready: ProcessEvent, stop: ProcessEvent, done: Synchronized[int]
) -> None:
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:

        async def one() -> None:
            while not stop.is_set():
                try:
                    async with http.get(url) as response:
                        await response.read()
                        ok = response.status == 200
                except aiohttp.ClientError as exc:
                    if not stop.is_set():  # the server closing at the end is no failure
                        print("scrape failed:", exc, file=sys.stderr)
                    ok = False
                    await asyncio.sleep(0.1)
                if ok:
                    with done.get_lock():
                        done.value += 1
                    ready.set()

        await asyncio.gather(*(one() for _ in range(scrapers)))


# -- the bot's side ---------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    latencies: list[float] = field(default_factory=list)
    failed: int = 0
    scrapes: int = 0
    seconds: float = 0.0
    checks: int = 0


async def presses(
    dp: Dispatcher, bot: Bot, people: int, each: int, first_id: int
) -> tuple[list[float], int]:
    latencies: list[float] = []
    failed = 0
    ids = iter(range(first_id, first_id + people * each))
    # A press that fails is answered by the error middleware (feed_update does not raise):
    # count what the recorder saw.
    recorder = dp["recorder"]
    seen = recorder.on_recorded
    errors: list[object] = []

    def on_recorded(failure: Any) -> None:
        errors.append(failure)
        seen(failure)

    recorder.on_recorded = on_recorded

    async def person() -> None:
        nonlocal failed
        for _ in range(each):
            update = press_update(next(ids))
            started = time.perf_counter()
            try:
                await dp.feed_update(bot, update)
            except Exception:
                failed += 1
            latencies.append(time.perf_counter() - started)

    try:
        await asyncio.gather(*(person() for _ in range(people)))
    finally:
        recorder.on_recorded = seen
    if errors:
        print("  errors:", {str(e) for e in errors})
    return latencies, failed + len(errors)


async def scenario(
    name: str,
    app: App,
    dp: Dispatcher,
    bot: Bot,
    *,
    scrapers: int,
    cache_seconds: float,
    people: int,
    each: int,
    first_id: int,
) -> Result:
    # The app as production builds it, with this scenario's HTTP_CACHE_SECONDS.
    settings = app.settings.model_copy(update={"http": HttpSettings(cache_seconds=cache_seconds)})
    probes = create_probes(dataclasses.replace(app, settings=settings))
    runner = await start_http(create_web_app(app, probes=probes), "127.0.0.1", 0)
    url = f"http://127.0.0.1:{bound_port(runner)}/metrics"
    context = multiprocessing.get_context("spawn")
    ready, stop = context.Event(), context.Event()
    done = context.Value("l", 0)
    process = None
    result = Result(name)
    try:
        if scrapers:
            process = context.Process(target=scrape, args=(url, scrapers, ready, stop, done))
            process.start()
            while not ready.is_set():  # the scrapers are in flight before the first press
                await asyncio.sleep(0.05)
            await asyncio.sleep(1.0)
        before, started = done.value, time.perf_counter()
        result.latencies, result.failed = await presses(dp, bot, people, each, first_id)
        result.seconds = time.perf_counter() - started
        result.scrapes = done.value - before
        result.checks = probes.health.runs
    finally:
        stop.set()
        if process is not None:
            # In-flight scrapes end when the server goes; the process then sees `stop`.
            await runner.cleanup()
            await asyncio.to_thread(process.join, 30)
            if process.is_alive():
                process.kill()
        else:
            await runner.cleanup()
    return result


async def run(url: str, people: int, each: int) -> list[Result]:
    folder = Path(tempfile.mkdtemp(prefix="bench-scrapes-"))
    app, dp, bot, _counter = await build_app(url, folder)
    create_scheduler(app)  # the job series /metrics reports, as the runner registers them
    warm, _ = await presses(dp, bot, 1, 200, 1)
    assert warm, "no presses"
    default = HttpSettings().cache_seconds
    plans: list[tuple[str, int, float]] = [
        ("no scrapes", 0, default),
        (f"{SCRAPERS} scrapers, HTTP_CACHE_SECONDS={default:g} (default)", SCRAPERS, default),
        (f"{SCRAPERS} scrapers, HTTP_CACHE_SECONDS=0 (as before)", SCRAPERS, 0.0),
    ]
    results = []
    for n, (name, scrapers, cache_seconds) in enumerate(plans):
        results.append(
            await scenario(
                name,
                app,
                dp,
                bot,
                scrapers=scrapers,
                cache_seconds=cache_seconds,
                people=people,
                each=each,
                first_id=1000 * (n + 1) * each,
            )
        )
    await app.healer.shutdown()
    await app.bulk.shutdown()
    await dp.storage.close()
    await app.engine.dispose()
    return results


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(title: str, results: list[Result]) -> None:
    print(f"\n{title}")
    headers = ("scenario", "presses", "p50", "p99", "max", "failed", "scrapes/s", "checks run")
    rows = []
    for r in results:
        ms: Callable[[float], str] = lambda s: f"{s * 1000:,.1f} ms"  # noqa: E731
        rows.append(
            (
                r.name,
                str(len(r.latencies)),
                ms(statistics.median(r.latencies)),
                ms(percentile(r.latencies, 0.99)),
                ms(max(r.latencies)),
                str(r.failed),
                f"{r.scrapes / r.seconds:,.0f}" if r.seconds else "-",
                str(r.checks) if r.scrapes else "-",
            )
        )
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    for row in [headers, tuple("-" * w for w in widths), *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_postgres_option(parser)
    parser.add_argument("--people", type=int, default=5, help="people pressing at once")
    parser.add_argument("--presses", type=int, default=40, help="presses per person")
    args = parser.parse_args()
    print(
        f"{args.people} people × {args.presses} presses of 'next page' under /my_requests; "
        f"{SCRAPERS} concurrent scrapers of /metrics in another process; "
        f"{os.cpu_count()} CPUs"
    )
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{folder}/bench.sqlite3"
        report("SQLite (file, WAL)", await run(url, args.people, args.presses))
    if args.postgres:
        url, drop = await create_pg_database(args.postgres)
        try:
            report("PostgreSQL (asyncpg)", await run(url, args.people, args.presses))
        finally:
            await drop()


if __name__ == "__main__":
    asyncio.run(main())
