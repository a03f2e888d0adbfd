"""`python -m bot notifications ...` on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.cli import main
from core.enums import DeadReason, NotificationStatus
from database.engine import create_engine, create_sessionmaker
from database.models import PendingNotification, TransactionLog, User
from tests.support import db

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fresh_database_url: str) -> str:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", fresh_database_url)
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    return fresh_database_url


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def seed(url: str) -> None:
    async def work() -> None:
        engine = create_engine(url, null_pool=True)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                user = User(telegram_id=77, full_name="Ann", created_at=NOW)
                session.add(user)
                await session.flush()
                for n, status in enumerate(
                    [NotificationStatus.DEAD, NotificationStatus.DEAD, NotificationStatus.PENDING]
                ):
                    session.add(
                        PendingNotification(
                            recipient_id=user.id,
                            kind="request_completed",
                            payload={"request_id": n, "workflow": "inventory_request"},
                            idempotency_key=f"k{n}",
                            status=status,
                            attempts=1,
                            last_error="TelegramForbiddenError: blocked" if n < 2 else None,
                            dead_reason=DeadReason.BLOCKED if n < 2 else None,
                            next_attempt_at=NOW,
                            created_at=NOW,
                        )
                    )
        finally:
            await engine.dispose()

    db.run_in_thread(work())


def states(url: str) -> tuple[list[tuple[str, str | None]], list[str]]:
    async def work() -> tuple[list[tuple[str, str | None]], list[str]]:
        engine = create_engine(url, null_pool=True)
        try:
            async with create_sessionmaker(engine)() as session:
                rows = await session.execute(
                    select(PendingNotification).order_by(PendingNotification.id)
                )
                log = await session.execute(select(TransactionLog.operation))
                return (
                    [(r.status.value, r.discard_reason) for r in rows.unique().scalars()],
                    list(log.scalars()),
                )
        finally:
            await engine.dispose()

    return db.run_in_thread(work())


def test_stats_list_retry_discard(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "migrate")[0] == 0
    seed(env)
    code, out, _ = run(capsys, "notifications", "stats")
    assert (code, out) == (0, "pending\t1\nretrying\t0\nsent\t0\ndead\t2\ndiscarded\t0\n")
    code, out, _ = run(capsys, "notifications", "list", "--status", "dead", "--limit", "1")
    assert code == 0
    assert out == (
        "1\t77\trequest_completed\tattempts 1\tnext 2026-01-01 12:00\tblocked\t"
        "TelegramForbiddenError: blocked\n1-1 of 2 in all; next: --offset 1\n"
    )
    code, out, _ = run(capsys, "notifications", "retry", "1")
    assert (code, out) == (0, "1 notifications will be sent by the running bot now\n")
    code, out, _ = run(capsys, "notifications", "discard", "2", "--reason", "left")
    assert (code, out) == (0, "discarded 1 notifications\n")
    assert states(env) == (
        [("pending", None), ("discarded", "left"), ("pending", None)],
        ["retry_notification", "discard_notification"],
    )


def test_bad_arguments_say_what_is_wrong(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "migrate")[0] == 0
    seed(env)
    with pytest.raises(SystemExit) as exit_info:
        run(capsys, "notifications", "list", "--status", "sent")
    assert exit_info.value.code == 2
    assert (
        "unknown status 'sent'; choose one of pending, retrying, dead" in capsys.readouterr().err
    )
    with pytest.raises(SystemExit):
        run(capsys, "notifications", "discard", "1")
    assert "--reason" in capsys.readouterr().err
    code, _, err = run(capsys, "notifications", "retry")
    assert (code, err) == (2, "error: give notification ids or --all-dead (not both)\n")
    code, _, err = run(capsys, "notifications", "discard", "99", "--reason", "x")
    assert (code, err) == (1, "error: Those notifications are no longer waiting or dead.\n")
    code, _, err = run(capsys, "notifications", "discard", "1", "--reason", "  ")
    assert (code, err) == (1, "error: Please give a reason for discarding.\n")
    code, out, _ = run(capsys, "notifications", "retry", "--all-dead")
    assert (code, out) == (0, "2 notifications will be sent by the running bot now\n")


def claim(url: str, row_id: int, until: datetime) -> None:
    """A running bot's sender holds the row until `until` (its send is in flight)."""

    async def work() -> None:
        engine = create_engine(url, null_pool=True)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                row = await session.get(PendingNotification, row_id)
                assert row is not None
                row.claimed_by, row.claimed_until = "host:1:abcd/1", until
        finally:
            await engine.dispose()

    db.run_in_thread(work())


def test_rows_being_sent_are_left_alone(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "migrate")[0] == 0
    seed(env)
    claim(env, 3, datetime.now(UTC) + timedelta(minutes=2))
    code, _, err = run(capsys, "notifications", "discard", "3", "--reason", "x")
    message = "error: Notification #3 is being sent right now. Look again in a moment.\n"
    assert (code, err) == (1, message)
    code, _, err = run(capsys, "notifications", "retry", "3")
    assert (code, err) == (1, message)
    code, out, _ = run(capsys, "notifications", "discard", "2", "3", "--reason", "left")
    assert (code, out) == (
        0,
        "discarded 1 notifications\nleft alone 1 notifications being sent right now: 3\n"
        "look again in a moment\n",
    )
    assert states(env)[0] == [("dead", None), ("discarded", "left"), ("pending", None)]
    # A claim that expired belongs to nobody: the row is the operator's again.
    claim(env, 3, datetime.now(UTC) - timedelta(seconds=1))
    code, out, _ = run(capsys, "notifications", "discard", "3", "--reason", "late")
    assert (code, out) == (0, "discarded 1 notifications\n")
