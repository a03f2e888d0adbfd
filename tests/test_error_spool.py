"""The error spool: capped (what a full spool drops is counted, kept across restarts and
reported as a critical error when the spool is written back), its file work off the event loop,
and one drain at a time, in a process and across processes."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from core.enums import ErrorSeverity
from core.settings import ConfigError, Settings, load_settings
from database.models import ErrorOccurrence, ErrorRecord
from services.failures.classify import FailureContext
from services.failures.spool import ErrorSpool, SpoolBatch
from tests.conftest import ADMIN_TG_ID, World, make_world

ROOT = Path(__file__).resolve().parent.parent


def record(n: int, size: int = 100) -> dict[str, Any]:
    return {"reference": f"E-{n:06d}", "message": "x" * size}


def line_bytes(n: int, size: int = 100) -> int:
    return len(json.dumps(record(n, size)).encode()) + 1


async def test_a_full_spool_drops_and_counts(tmp_path: Path) -> None:
    spool = ErrorSpool(tmp_path / "spool.jsonl", max_bytes=3 * line_bytes(1))
    kept = [await spool.append(record(n)) for n in range(1, 11)]
    assert kept == [True] * 3 + [False] * 7
    assert spool.pending() == 3
    assert spool.dropped() == 7
    # The count is the spool's state on disk: a restart still knows it.
    assert ErrorSpool(spool.path, max_bytes=spool.max_bytes).dropped() == 7


async def test_the_cap_counts_the_file_being_drained_too(tmp_path: Path) -> None:
    spool = ErrorSpool(tmp_path / "spool.jsonl", max_bytes=3 * line_bytes(1))
    for n in range(1, 3):
        await spool.append(record(n))

    async def database_down(batch: SpoolBatch) -> None:
        raise ConnectionError("still down")

    with pytest.raises(ConnectionError):
        await spool.drain(database_down)  # the two records stay, aside in .draining
    assert spool.draining.exists() and not spool.path.exists()
    assert [await spool.append(record(n)) for n in range(3, 6)] == [True, False, False]
    assert (spool.pending(), spool.dropped()) == (3, 2)


async def test_a_failed_write_keeps_the_records_and_the_count(tmp_path: Path) -> None:
    spool = ErrorSpool(tmp_path / "spool.jsonl", max_bytes=2 * line_bytes(1))
    for n in range(1, 5):
        await spool.append(record(n))
    batches: list[SpoolBatch] = []

    async def fails(batch: SpoolBatch) -> None:
        batches.append(batch)
        raise ConnectionError("down")

    with pytest.raises(ConnectionError):
        await spool.drain(fails)
    assert (spool.pending(), spool.dropped()) == (2, 2)

    async def works(batch: SpoolBatch) -> None:
        batches.append(batch)

    assert await spool.drain(works) == 2
    assert [(len(b.records), b.dropped) for b in batches] == [(2, 2), (2, 2)]
    assert (spool.pending(), spool.dropped()) == (0, 0)
    assert await spool.drain(works) == 0 and len(batches) == 2  # nothing to hand over


async def test_drops_during_a_drain_wait_for_the_next_one(tmp_path: Path) -> None:
    spool = ErrorSpool(tmp_path / "spool.jsonl", max_bytes=line_bytes(1))
    await spool.append(record(1))
    await spool.append(record(2))  # dropped: 1

    async def meanwhile(batch: SpoolBatch) -> None:
        assert batch.dropped == 1
        assert not await spool.append(record(3))  # still full: the batch is not written yet

    assert await spool.drain(meanwhile) == 1
    assert spool.dropped() == 1  # the one dropped while writing, for the next drain


async def test_file_work_runs_off_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop_thread = threading.get_ident()
    threads: dict[str, set[int]] = {"fsync": set(), "read": set()}
    fsync, read_text = os.fsync, Path.read_text

    def watched_fsync(fd: int) -> None:
        threads["fsync"].add(threading.get_ident())
        fsync(fd)

    def watched_read(path: Path, *args: Any, **kwargs: Any) -> str:
        threads["read"].add(threading.get_ident())
        return read_text(path, *args, **kwargs)

    monkeypatch.setattr(os, "fsync", watched_fsync)
    monkeypatch.setattr(Path, "read_text", watched_read)
    spool = ErrorSpool(tmp_path / "spool.jsonl")
    await spool.append(record(1))

    async def write(batch: SpoolBatch) -> None:
        pass

    assert await spool.drain(write) == 1
    assert threads["fsync"] and loop_thread not in threads["fsync"]
    assert threads["read"] and loop_thread not in threads["read"]


async def test_one_drain_at_a_time_in_a_process(tmp_path: Path) -> None:
    spool = ErrorSpool(tmp_path / "spool.jsonl")
    for n in range(1, 4):
        await spool.append(record(n))
    release = asyncio.Event()
    written: list[list[str]] = []

    async def slow(batch: SpoolBatch) -> None:
        written.append([r["reference"] for r in batch.records])
        await release.wait()

    first = asyncio.create_task(spool.drain(slow))
    second = asyncio.create_task(spool.drain(slow))
    await asyncio.sleep(0.05)
    assert len(written) == 1  # the second waits for the first, it does not read the file
    release.set()
    assert sorted(await asyncio.gather(first, second)) == [0, 3]
    assert written == [["E-000001", "E-000002", "E-000003"]]


async def test_another_spool_on_the_same_file_does_not_drain_it_meanwhile(tmp_path: Path) -> None:
    path = tmp_path / "spool.jsonl"
    ours, theirs = ErrorSpool(path), ErrorSpool(path)  # as two processes see the file
    await ours.append(record(1))
    release = asyncio.Event()
    calls: list[str] = []

    async def slow(batch: SpoolBatch) -> None:
        calls.append("ours")
        await release.wait()

    async def fast(batch: SpoolBatch) -> None:
        calls.append("theirs")

    draining = asyncio.create_task(ours.drain(slow))
    await asyncio.sleep(0.05)
    assert await theirs.drain(fast) == 0  # the file lock is held: it leaves the file alone
    release.set()
    assert await draining == 1
    assert calls == ["ours"]


HOLD = """
import sys
from pathlib import Path
from services.failures.spool import ErrorSpool

claim = ErrorSpool(Path(sys.argv[1]))._claim()
assert claim is not None
print(len(claim[1].records), flush=True)
sys.stdin.read()  # holds the drain until the test closes stdin
"""


async def test_a_second_process_cannot_drain_the_same_file(tmp_path: Path) -> None:
    spool = ErrorSpool(tmp_path / "spool.jsonl")
    await spool.append(record(1))
    other = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(spool.path)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert other.stdout is not None and other.stdin is not None
        assert await asyncio.to_thread(other.stdout.readline) == "1\n"  # it claimed the file
        batches: list[SpoolBatch] = []

        async def write(batch: SpoolBatch) -> None:
            batches.append(batch)

        assert await spool.drain(write) == 0
        assert batches == []
        other.stdin.close()  # it exits without writing: its claim stays on disk
        await asyncio.to_thread(other.wait, 10)
        assert await spool.drain(write) == 1  # the lock died with the process
        assert [r["reference"] for r in batches[0].records] == ["E-000001"]
    finally:
        other.kill()
        other.wait()
        for pipe in (other.stdin, other.stdout):
            if pipe is not None:
                pipe.close()


async def all_rows(world: World, model: type) -> list[Any]:
    async with world.app.sessionmaker() as session:
        return list((await session.execute(select(model).order_by(model.id))).scalars())


async def test_dropped_records_are_reported_when_the_spool_is_written_back(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await world.app.users.ensure_admins()
    recorder = world.app.recorder

    async def database_down(occurrences: Any, *, capped: bool) -> None:
        raise ConnectionError("database unreachable")

    store = recorder._store  # what record() and the write-back both write through
    monkeypatch.setattr(recorder, "_store", database_down)
    for n in range(10):
        recorded = await recorder.record(RuntimeError(f"boom {n}"), FailureContext(source="test"))
        assert recorded.spooled and recorded.reference
        if n == 0:  # room for three records like this one
            recorder.spool.max_bytes = recorder.spool.path.stat().st_size * 7 // 2
    kept, dropped = recorder.spool.pending(), recorder.spool.dropped()
    assert (kept, dropped) == (3, 7)

    monkeypatch.setattr(recorder, "_store", store)
    assert await recorder.flush_spool() == kept
    assert recorder.spool.dropped() == 0
    records = await all_rows(world, ErrorRecord)
    [report] = [r for r in records if r.exception_type == "ErrorSpoolFull"]
    assert report.severity is ErrorSeverity.CRITICAL
    assert report.message.startswith(f"{dropped} error record(s) were dropped")
    occurrences = await all_rows(world, ErrorOccurrence)
    assert len(occurrences) == kept + 1
    await world.deliver()
    assert world.client(ADMIN_TG_ID).inbox() == [
        f"⚠️ Critical problem {report.reference}: system, ErrorSpoolFull in error spool "
        f"({dropped} records dropped). Seen 1 time(s) so far. Repeats will only raise the count."
    ]
    assert await recorder.flush_spool() == 0  # reported once


def test_the_cap_is_a_setting(settings: Settings, engine: Any, clock: Any) -> None:
    capped = settings.model_copy(
        update={"error": settings.error.model_copy(update={"spool_max_bytes": 70_000})}
    )
    world = make_world(capped, engine, clock)
    assert world.app.recorder.spool.max_bytes == 70_000


def test_a_tiny_cap_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ERROR_SPOOL_MAX_BYTES", "100")
    with pytest.raises(ConfigError, match="ERROR_SPOOL_MAX_BYTES: Input should be greater"):
        load_settings(_env_file=None)


async def test_the_scheduler_sees_work_by_stat_alone(tmp_path: Path) -> None:
    spool = ErrorSpool(tmp_path / "spool.jsonl", max_bytes=3 * line_bytes(1))
    assert not spool.has_work()
    await spool.append(record(1))
    assert spool.has_work()

    async def written(batch: SpoolBatch) -> None:
        return None

    assert await spool.drain(written) == 1
    assert not spool.has_work()
    # A drop count left alone (drops during the last write-back) is work too: it is reported.
    spool.dropped_path.write_text("3", encoding="utf-8")
    assert spool.has_work()


async def test_a_file_removed_while_the_scheduler_looks_is_no_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = ErrorSpool(tmp_path / "spool.jsonl", max_bytes=3 * line_bytes(1))
    # Another process's drain removes the file between a look at it and its size.
    monkeypatch.setattr(Path, "exists", lambda self: True)
    assert not spool.has_work()
