"""Benchmark the error correlator and the masker against the design seed's targets.

Run from the project root: ``.venv/bin/python benchmarks/bench_correlation.py`` (a few seconds).
Two cases side by side: a 10,000-error window of 500 problems, and the worst case, every error
its own fingerprint. Targets: under 1 MB held and under 1 ms per analysis (one error recorded
and the window reported) in both. Times are means over many calls measured with
``time.perf_counter``; memory is what ``tracemalloc`` sees allocated for a filled correlator.
1 MB is taken as 1,000,000 bytes.
"""

from __future__ import annotations

import gc
import random
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script, not installed

MAX_EVENTS = 10_000
FINGERPRINTS = 500
CATEGORIES = ("network", "database", "telegram_api", "validation", "timeout", "internal")
ONE_MB = 1_000_000
TEN_MS = 0.010
ONE_MS = 0.001
DISTINCT = None  # the worst case: every error its own fingerprint


def _fingerprint(i: int) -> str:
    # built per call, as an error handler would, so the correlator must share equal strings
    return f"TelegramNetworkError@handlers/requests.py:{100 + i}:approve_request"


def _events(n: int, seed: int = 1, problems: int | None = FINGERPRINTS) -> list[tuple[str, int]]:
    """`n` errors over `problems` fingerprints; `problems=None`: each its own (numbered from
    seed * 10**7, so two calls never share one)."""
    rng = random.Random(seed)
    return [
        (
            CATEGORIES[rng.randrange(len(CATEGORIES))],
            seed * 10**7 + i if problems is None else rng.randrange(problems),
        )
        for i in range(n)
    ]


def _mean_seconds(call: Callable[[], object], repeat: int) -> float:
    started = time.perf_counter()
    for _ in range(repeat):
        call()
    return (time.perf_counter() - started) / repeat


def _filled_correlator_bytes(
    max_events: int, problems: int | None = FINGERPRINTS
) -> tuple[int, int]:
    from utils.correlation import ErrorCorrelator

    events = _events(max_events * 2, seed=2, problems=problems)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    correlator = ErrorCorrelator(window_seconds=3600.0, max_events=max_events)
    for category, index in events:
        correlator.record(category, _fingerprint(index))
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return held, len(correlator)


def _largest_max_events_under(limit: int, problems: int | None) -> int:
    low, high = 1, MAX_EVENTS
    while low < high:
        middle = (low + high + 1) // 2
        if _filled_correlator_bytes(middle, problems)[0] < limit:
            low = middle
        else:
            high = middle - 1
    return low


def _traceback_text() -> str:
    frame = (
        '  File "/srv/workflow-bot/.venv/lib/python3.11/site-packages/aiogram/client/session/'
        'aiohttp.py", line {line}, in make_request\n'
        "    async with session.post(url, data=form, timeout=timeout) as response:\n"
    )
    lines = ["Traceback (most recent call last):\n"]
    lines += [frame.format(line=100 + i) for i in range(14)]
    lines.append(
        "aiohttp.client_exceptions.ClientConnectorError: Cannot connect to host "
        "api.telegram.org:443 ssl:default [url=https://api.telegram.org/"
        "bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0/sendMessage] "
        "while notifying ivan.petrov@example.com (+7 (912) 345-67-89) about request #4821 "
        "at 2026-01-01 12:30:45; db postgresql+asyncpg://bot:pg-Pa55word!@db:5432/app\n"
    )
    text = "".join(lines)
    return text + "x" * max(0, 3072 - len(text))


def _correlator_case(problems: int | None) -> dict[str, float]:
    from utils.correlation import ErrorCorrelator

    # timing: a full correlator in steady state, so every record() also evicts the oldest event
    correlator = ErrorCorrelator(window_seconds=3600.0, max_events=MAX_EVENTS)
    for category, index in _events(MAX_EVENTS, problems=problems):
        correlator.record(category, _fingerprint(index))
    assert len(correlator) == MAX_EVENTS

    stream = iter(_events(80_000, seed=3, problems=problems))

    def record_one() -> int:
        category, index = next(stream)
        return correlator.record(category, _fingerprint(index))

    def analysis() -> object:  # what the error recorder asks per error, plus a full report
        category, index = next(stream)
        fingerprint = _fingerprint(index)
        correlator.record(category, fingerprint)
        correlator.is_storm(fingerprint)
        return correlator.report()

    record_s = _mean_seconds(record_one, 50_000)
    report_s = _mean_seconds(correlator.report, 2_000)
    count_s = _mean_seconds(lambda: correlator.count(_fingerprint(7)), 20_000)
    analysis_s = _mean_seconds(analysis, 2_000)
    report = correlator.report()
    memory, held = _filled_correlator_bytes(MAX_EVENTS, problems)
    return {
        "record": record_s,
        "report": report_s,
        "count": count_s,
        "analysis": analysis_s,
        "memory": memory,
        "held": held,
        "dominant": report.dominant_count,
        "problems": problems or held,
    }


def main() -> None:
    from utils.masking import Masker

    cases = {
        "500 problems": _correlator_case(FINGERPRINTS),
        "all distinct": _correlator_case(None),
    }

    held_fingerprints = [_fingerprint(index) for _, index in _events(MAX_EVENTS, seed=4)]
    naive_s = _mean_seconds(lambda: Counter(held_fingerprints).most_common(1), 200)

    masker = Masker(secrets=["pg-Pa55word!", "operator-configured-secret"])
    dirty = _traceback_text()
    clean = masker.text(dirty)
    mask_dirty_s = _mean_seconds(lambda: masker.text(dirty), 500)
    mask_clean_s = _mean_seconds(lambda: masker.text(clean), 500)

    def ms(seconds: float) -> str:
        return f"{seconds * 1e3:.4f} ms"

    def verdict(ok: bool) -> str:
        return "meets" if ok else "MISSES"

    def both(key: str, target: float, show: Callable[[float], str] = ms) -> list[str]:
        cells = [f"{show(c[key])} {verdict(c[key] < target)}" for c in cases.values()]
        return cells

    def mb(value: float) -> str:
        return f"{value / 1e6:.3f} MB ({value / MAX_EVENTS:.0f} B/event)"

    rows = [
        ("record() per event", *both("record", TEN_MS), "< 10 ms correlation"),
        ("count() per call", *both("count", TEN_MS), "< 10 ms correlation"),
        ("report() per call", *both("report", ONE_MS), "< 1 ms analysis"),
        ("analysis: record + is_storm + report", *both("analysis", ONE_MS), "< 1 ms analysis"),
        (f"memory, {MAX_EVENTS:,} events held", *both("memory", ONE_MB, mb), "< 1 MB"),
        (
            "baseline Counter(10k).most_common(1)",
            ms(naive_s),
            "",
            "(naive recount of 500 problems, no target)",
        ),
        (
            f"Masker.text, {len(dirty):,} B traceback with secrets",
            ms(mask_dirty_s),
            f"{len(dirty) / mask_dirty_s / 1e6:.1f} MB/s",
            "(no target)",
        ),
        (
            f"Masker.text, {len(clean):,} B same text, already masked",
            ms(mask_clean_s),
            f"{len(clean) / mask_clean_s / 1e6:.1f} MB/s",
            "(no target)",
        ),
    ]
    for name, case in cases.items():
        if case["memory"] >= ONE_MB:
            largest = _largest_max_events_under(ONE_MB, FINGERPRINTS if "500" in name else None)
            rows.append((f"largest max_events under 1 MB, {name}", f"{largest:,}", "", "< 1 MB"))

    print(
        f"ErrorCorrelator: max_events={MAX_EVENTS:,}, {len(CATEGORIES)} categories; "
        f"fingerprints like {_fingerprint(0)!r} ({len(_fingerprint(0))} chars)"
    )
    print(f"Python {sys.version.split()[0]} on {sys.platform}\n")
    headers = ("measurement", *cases, "target")
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(4)]
    for row in [headers, tuple("-" * w for w in widths), *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))
    fits = all(c["memory"] < ONE_MB and c["analysis"] < ONE_MS for c in cases.values())
    print(f"\nBoth cases {'meet' if fits else 'do NOT meet'} 1 MB and 1 ms per analysis.")


if __name__ == "__main__":
    main()
