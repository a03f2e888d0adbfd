"""What the database and the local Bot API hold: the ground truth the report is made of.

Every figure here is read from rows and calls, compared with what the run injected and what
the people did; nothing asks the code under test how it thinks it is doing."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

from simulators.chaos.model import DataLost, FalsePositives
from simulators.chaos.people import People, answered
from simulators.chaos.world import Database
from simulators.local_api import LocalBotAPI

REFERENCE = re.compile(r"\bE-[0-9A-Z]{6,}\b")
OPEN = ("pending", "retrying")


def when(value: Any) -> datetime:
    """A timestamp as the driver returned it (SQLite gives text), aware in UTC."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def open_notifications(db: Database, before: datetime) -> int:
    rows = await db.rows("SELECT status, created_at FROM pending_notifications")
    return sum(1 for status, created in rows if status in OPEN and when(created) < before)


async def notifications_to(db: Database, chat: int) -> list[tuple[str, datetime]]:
    rows = await db.rows(
        "SELECT n.status, n.created_at FROM pending_notifications n "
        "JOIN users u ON u.id = n.recipient_id WHERE u.telegram_id = :chat",
        chat=chat,
    )
    return [(str(s), when(c)) for s, c in rows]


def unanswered(people: People, before: float | None = None) -> int:
    return sum(
        1
        for sent in people.sent
        if (before is None or sent.at < before) and answered(people.api, sent) is None
    )


# The default workflow's stage whose approval issues the lines from stock (issues_stock).
ISSUING_STAGE = "warehouse_issue"
# Lines (ri) of requests completed by an approval out of that stage.
ISSUED_LINE = (
    "WHERE EXISTS (SELECT 1 FROM requests r JOIN request_transitions rt ON rt.request_id = r.id "
    "WHERE r.id = ri.request_id AND r.status = 'completed' AND rt.from_stage = :stage "
    "AND rt.to_status = 'completed' AND rt.action = 'approve')"
)


def spool_empty(path: Path) -> bool:
    return not path.exists() or not path.read_text(encoding="utf-8").strip()


async def expected_stock(db: Database, initial: dict[str, int]) -> dict[str, int]:
    """Stock as the requests say it must be: the import minus the lines of every request
    approved out of the issuing stage.

    Computed from requests, lines and transitions, not from the ledger or the cached figure.
    A request force-completed (its stage gone from the workflow file) issued nothing: the
    confirmation says so."""
    rows = await db.rows(
        "SELECT i.sku, ri.quantity FROM request_items ri "
        "JOIN inventory_items i ON i.id = ri.item_id " + ISSUED_LINE,
        stage=ISSUING_STAGE,
    )
    out = dict(initial)
    for sku, quantity in rows:
        out[sku] -= int(quantity)
    return out


async def stock_and_ledger(db: Database) -> dict[str, tuple[int, int]]:
    rows = await db.rows(
        "SELECT i.sku, i.stock, COALESCE(SUM(CASE WHEN t.status = 'committed' "
        "THEN t.quantity ELSE 0 END), 0) FROM inventory_items i "
        "LEFT JOIN inventory_transactions t ON t.item_id = i.id GROUP BY i.sku, i.stock"
    )
    return {str(sku): (int(stock), int(ledger)) for sku, stock, ledger in rows}


async def item_whole(db: Database, sku: str, initial: dict[str, int]) -> bool:
    expected = (await expected_stock(db, initial))[sku]
    return (await stock_and_ledger(db))[sku] == (expected, expected)


async def data_lost(db: Database, people: People, api: LocalBotAPI) -> DataLost:
    missed = [s for s in people.sent if answered(api, s) is None]
    lost = DataLost(
        updates_not_answered=len(missed),
        unanswered=[f"{s.at:.0f} s {s.user} {s.kind}" for s in missed],
    )
    shown = {
        ref
        for c in api.calls
        if c.ok and c.method in ("sendMessage", "editMessageText")
        for ref in REFERENCE.findall(c.text)
    }
    stored = {str(r) for (r,) in await db.rows("SELECT reference FROM error_occurrences")}
    stored |= {str(r) for (r,) in await db.rows("SELECT reference FROM error_records")}
    shown.discard("E-XXXXXX")  # the help text's placeholder
    lost.error_records_missing = len(shown - stored)
    lost.missing_references = sorted(shown - stored)
    rows = await db.rows(
        "SELECT u.telegram_id, n.status, n.dead_reason FROM pending_notifications n "
        "JOIN users u ON u.id = n.recipient_id"
    )
    lost.notifications_lost = sum(
        1 for _, status, reason in rows if status in OPEN or (status == "dead" and not reason)
    )
    sent_rows = Counter(int(chat) for chat, status, _ in rows if status == "sent")
    sends = Counter(int(c.chat_id) for c in api.calls_of("sendMessage") if c.ok)
    lost.notifications_sent_unseen = sum(
        max(0, n - sends.get(chat, 0)) for chat, n in sent_rows.items()
    )
    # Every line approved out of the issuing stage has its committed issue in the ledger.
    missing = await db.rows(
        "SELECT ri.id FROM request_items ri " + ISSUED_LINE + " AND NOT EXISTS (SELECT 1 "
        "FROM inventory_transactions t WHERE t.request_item_id = ri.id AND t.kind = 'issue' "
        "AND t.status = 'committed')",
        stage=ISSUING_STAGE,
    )
    lost.ledger_rows_lost = len(missing)
    return lost


async def false_positives(
    db: Database,
    *,
    stuck_ok: set[int],
    findings_ok: set[int],
    blocked: set[int],
    threshold_seconds: float,
) -> FalsePositives:
    """Marks, findings and dead letters the run did not cause: each one is a false alarm.

    A stuck mark is right for a request a silent or deactivated person held, and for one that
    had waited in its stage past the threshold of the workflow file the run wrote."""
    marks = await db.rows("SELECT request_id, stage_entered_at, detected_at FROM stuck_marks")
    wrong_marks = sum(
        1
        for r, entered, detected in marks
        if int(r) not in stuck_ok
        and (when(detected) - when(entered)).total_seconds() < threshold_seconds
    )
    findings = await db.rows(
        "SELECT item_id FROM inventory_reconciliation_log WHERE item_id IS NOT NULL"
    )
    dead = await db.rows(
        "SELECT u.telegram_id FROM pending_notifications n JOIN users u "
        "ON u.id = n.recipient_id WHERE n.dead_reason = 'blocked'"
    )
    return FalsePositives(
        stuck_marks=wrong_marks,
        findings=sum(1 for (i,) in findings if int(i) not in findings_ok),
        dead_blocked=sum(1 for (chat,) in dead if int(chat) not in blocked),
    )


def duplicates(api: LocalBotAPI) -> tuple[int, int]:
    """Texts with a request number a person got twice in one chat: (duplicates, re-asked).

    A repeat is "re-asked" when Telegram delivered an update of that person again (in a
    second getUpdates answer, as it does when the killed process had not confirmed the
    batch) between the two sends: the handler ran again for the same press, and, the
    conversation state having died with the process, asking again is the recovery."""
    again: list[tuple[int, float]] = []  # (person, when their update came a second time)
    seen: set[int] = set()
    for call in api.calls_of("getUpdates"):
        for update in (call.response or {}).get("result") or []:
            if update["update_id"] in seen:
                again.append((_sender(update), call.at))
            seen.add(update["update_id"])
    sends: dict[tuple[int | None, str], list[float]] = {}
    for c in api.calls_of("sendMessage"):
        if c.ok and "#" in c.text:
            sends.setdefault((c.chat_id, c.text), []).append(c.at)
    duplicated = reasked = 0
    for (chat, _), times in sends.items():
        for first, later in pairwise(times):
            if any(who == chat and first <= at <= later for who, at in again):
                reasked += 1
            else:
                duplicated += 1
    return duplicated, reasked


def _sender(update: dict[str, Any]) -> int:
    for key in ("message", "callback_query", "edited_message"):
        if key in update:
            return int(update[key]["from"]["id"])
    return 0


async def database_errors(db: Database, since: datetime) -> int:
    """Error occurrences a person could have seen for a database fault since `since`."""
    rows = await db.rows(
        "SELECT o.occurred_at FROM error_occurrences o JOIN error_records e "
        "ON e.id = o.error_id WHERE e.category IN ('transient', 'system')"
    )
    return sum(1 for (at,) in rows if when(at) >= since)  # SQLite gives text: compare here
