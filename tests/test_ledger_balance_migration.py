"""Migration 0014 back-fills inventory_items.ledger_balance from the committed ledger, its
triggers (and on PostgreSQL the function's body) are those the models create, and downgrading
takes them away."""

from __future__ import annotations

from typing import Any

from database.migrate import downgrade, upgrade
from tests.support import db
from tests.test_row_counts import NOW, execute, triggers

ITEM = (
    "INSERT INTO inventory_items (id, sku, name, unit, stock, is_active, created_at, updated_at) "
    "VALUES (:i, :sku, 'x', 'pcs', 0, true, :t, :t)"
)
MOVE = (
    "INSERT INTO inventory_transactions (item_id, kind, quantity, status, created_at) "
    "VALUES (:i, 'receipt', :q, :s, :t)"
)
BALANCES = "SELECT sku, ledger_balance FROM inventory_items ORDER BY sku"
BODY = "SELECT prosrc FROM pg_proc WHERE proname = 'inventory_ledger_balance'"


def function_body(url: str) -> Any:
    if url.startswith("sqlite"):
        return None
    [rows] = execute(url, (BODY, {}))
    return str(rows[0][0]).strip() if rows else None


def test_the_migration_back_fills_the_balance_and_matches_the_models(
    fresh_database_url: str, tmp_path: Any
) -> None:
    url = fresh_database_url
    upgrade(url, "0013")
    execute(
        url,
        (ITEM, {"i": 1, "sku": "A", "t": NOW}),
        (ITEM, {"i": 2, "sku": "B", "t": NOW}),
        (ITEM, {"i": 3, "sku": "C", "t": NOW}),
        (MOVE, {"i": 1, "q": 10, "s": "committed", "t": NOW}),
        (MOVE, {"i": 1, "q": -4, "s": "committed", "t": NOW}),
        (MOVE, {"i": 1, "q": -2, "s": "pending", "t": NOW}),  # not counted
        (MOVE, {"i": 2, "q": -3, "s": "committed", "t": NOW}),
    )
    upgrade(url, "0014")
    [rows] = execute(url, (BALANCES, {}))
    assert [tuple(r) for r in rows] == [("A", 6), ("B", -3), ("C", 0)]
    commit = "UPDATE inventory_transactions SET status = 'committed' WHERE quantity = -2"
    execute(url, (commit, {}))
    [rows] = execute(url, (BALANCES, {}))
    assert [tuple(r) for r in rows] == [("A", 4), ("B", -3), ("C", 0)]  # triggers from here on

    migrated, body = triggers(url), function_body(url)
    assert {t[0] for t in migrated} >= {
        "trg_inventory_ledger_balance_insert",
        "trg_inventory_ledger_balance_delete",
        "trg_inventory_ledger_balance_update",
    }
    with db.schema_from_models(url, tmp_path / "data") as from_models:
        assert triggers(from_models) == migrated
        assert function_body(from_models) == body

    downgrade(url, "0013")
    assert not [t for t in triggers(url) if "ledger_balance" in t[0]]
    assert function_body(url) is None
    execute(url, (MOVE, {"i": 3, "q": 1, "s": "committed", "t": NOW}))  # no trigger left
