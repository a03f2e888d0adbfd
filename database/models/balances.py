"""`inventory_items.ledger_balance`: SUM(quantity) of the item's committed ledger rows, kept by
triggers on `inventory_transactions`, so the reconciliation watch compares two columns of the
items table instead of aggregating the ledger.

The figure is the watch's hint only: the full reconciliation run still sums the ledger itself,
and the app's code never writes the column. The triggers run in the writer's transaction (a
rollback undoes them) and follow every path: the services' inserts, raw SQL, an UPDATE of
status, quantity or item_id (pending → committed), DELETE, and on PostgreSQL TRUNCATE.

- SQLite: row triggers, one UPDATE of the item per committed row written.
- PostgreSQL: statement triggers with transition tables, one UPDATE per item a statement
  moved (none when it moved nothing). Every stock writer of the app has already row-locked
  its items (`lock_items`), so the trigger's UPDATE of the same rows takes no new lock.

Created with the table when the schema comes from the metadata and by migration 0014 in a
migrated database; tests/test_ledger_balance_migration.py checks that both give the same
triggers. A SQLite migration that copies the ledger table (batch mode) drops them: it must
create them again (`trigger_sql`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import FromClause, Table, event
from sqlalchemy.engine import Connection

LEDGER = "inventory_transactions"
TRIGGER = "trg_inventory_ledger_balance"
FUNCTION = "inventory_ledger_balance"

# Net committed quantity per item of a transition table (negated for old rows).
_MOVED = "SELECT item_id, {sign}quantity AS moved FROM {rows} WHERE status = 'committed'"
_NEW, _OLD = _MOVED.format(sign="", rows="new_rows"), _MOVED.format(sign="-", rows="old_rows")

PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE inventory_items SET ledger_balance = 0 WHERE ledger_balance <> 0;
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        UPDATE inventory_items SET ledger_balance = inventory_items.ledger_balance + d.moved
        FROM (SELECT item_id, sum(moved) AS moved FROM ({_NEW}) AS m
              GROUP BY item_id HAVING sum(moved) <> 0) AS d
        WHERE inventory_items.id = d.item_id;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE inventory_items SET ledger_balance = inventory_items.ledger_balance + d.moved
        FROM (SELECT item_id, sum(moved) AS moved FROM ({_OLD}) AS m
              GROUP BY item_id HAVING sum(moved) <> 0) AS d
        WHERE inventory_items.id = d.item_id;
    ELSE
        UPDATE inventory_items SET ledger_balance = inventory_items.ledger_balance + d.moved
        FROM (SELECT item_id, sum(moved) AS moved FROM ({_NEW}
              UNION ALL {_OLD}) AS m
              GROUP BY item_id HAVING sum(moved) <> 0) AS d
        WHERE inventory_items.id = d.item_id;
    END IF;
    RETURN NULL;
END
$$
"""


def trigger_sql(dialect: str) -> list[str]:
    """The statements that create the balance's triggers (on PostgreSQL with its function)."""
    if dialect == "sqlite":

        def bump(sign: str, row: str) -> str:
            return (
                f"UPDATE inventory_items SET ledger_balance = ledger_balance {sign} "
                f"{row}.quantity WHERE id = {row}.item_id"
            )

        return [
            f"CREATE TRIGGER {TRIGGER}_insert AFTER INSERT ON {LEDGER} "
            f"WHEN new.status = 'committed' BEGIN {bump('+', 'new')}; END",
            f"CREATE TRIGGER {TRIGGER}_delete AFTER DELETE ON {LEDGER} "
            f"WHEN old.status = 'committed' BEGIN {bump('-', 'old')}; END",
            f"CREATE TRIGGER {TRIGGER}_update AFTER UPDATE OF status, quantity, item_id "
            f"ON {LEDGER} WHEN old.status = 'committed' OR new.status = 'committed' "
            f"BEGIN {bump('-', 'old')} AND old.status = 'committed'; "
            f"{bump('+', 'new')} AND new.status = 'committed'; END",
        ]
    run = f"FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()"
    return [
        PG_FUNCTION,
        f"CREATE TRIGGER {TRIGGER}_insert AFTER INSERT ON {LEDGER} "
        f"REFERENCING NEW TABLE AS new_rows {run}",
        f"CREATE TRIGGER {TRIGGER}_delete AFTER DELETE ON {LEDGER} "
        f"REFERENCING OLD TABLE AS old_rows {run}",
        # A column list is not allowed with transition tables: every UPDATE runs it, and one
        # that moved no committed quantity changes nothing (HAVING ... <> 0).
        f"CREATE TRIGGER {TRIGGER}_update AFTER UPDATE ON {LEDGER} "
        f"REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows {run}",
        f"CREATE TRIGGER {TRIGGER}_truncate AFTER TRUNCATE ON {LEDGER} {run}",
    ]


def drop_sql(dialect: str) -> list[str]:
    if dialect == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {TRIGGER}_{e}" for e in ("insert", "delete", "update")]
    events = ("insert", "delete", "update", "truncate")
    return [
        *[f"DROP TRIGGER IF EXISTS {TRIGGER}_{e} ON {LEDGER}" for e in events],
        f"DROP FUNCTION IF EXISTS {FUNCTION}()",
    ]


# The migration's back-fill: each item's committed ledger, summed once.
BACK_FILL = (
    "UPDATE inventory_items SET ledger_balance = COALESCE((SELECT sum(t.quantity) "
    f"FROM {LEDGER} t WHERE t.item_id = inventory_items.id AND t.status = 'committed'), 0)"
)


def balanced(ledger: FromClause) -> None:
    """Keep `inventory_items.ledger_balance` true whenever the metadata creates the ledger
    (created after the items table: its foreign key already orders them)."""
    assert isinstance(ledger, Table)

    def created(_target: Table, connection: Connection, **_kw: Any) -> None:
        for sql in trigger_sql(connection.dialect.name):
            connection.exec_driver_sql(sql)

    event.listen(ledger, "after_create", created)
